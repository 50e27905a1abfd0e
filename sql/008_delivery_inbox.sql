-- 008: the webhook inbox. Acknowledging a delivery now stores the delivery and one narrow inbox
-- row (in one transaction) instead of the delivery and its job. A job row carries eight indexes
-- and a foreign key, and writing it was about 40% of PostgreSQL's work per acknowledged delivery;
-- the inbox row has one index. Workers turn inbox rows into 'webhook' jobs in bulk
-- (bot.storage.deliveries.dispatch_inbox), in arrival order, under an advisory lock, after a
-- burst has been acknowledged. Deleting the inbox rows and inserting their jobs is one statement,
-- so a process that dies in between leaves either the inbox rows or the jobs, never neither.
CREATE TABLE delivery_inbox (
    seq           bigserial PRIMARY KEY,   -- arrival order: jobs are created in this order
    delivery_id   text NOT NULL,           -- no foreign key: the dispatcher skips deleted deliveries
    ordering_key  text NOT NULL CHECK (ordering_key <> '')
);

