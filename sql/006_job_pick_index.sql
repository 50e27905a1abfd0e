-- 006: workers pick the oldest runnable job by walking queued jobs in id order and stopping at
-- the first whose ordering key is free. Without an index of queued jobs alone, that walk passes
-- over every finished job too, and the pick grows slower as history accumulates.
CREATE INDEX job_queued_by_id ON job (id) WHERE status = 'queued';
