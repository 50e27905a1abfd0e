-- 002: idempotent enqueue.
--
-- Some work must not be queued twice while a copy of it still waits or runs: the reconciler
-- finding the same new branch head on every tick, a webhook job re-run after its worker died
-- queueing its follow-up again, one `reconcile` job per interval across several processes.
-- A job may carry a dedupe_key; among unfinished jobs (queued or running) a key appears at
-- most once. Once that job is finished, the same key may be queued again.
ALTER TABLE job ADD COLUMN dedupe_key text CHECK (dedupe_key <> '');
CREATE UNIQUE INDEX job_dedupe_unfinished ON job (dedupe_key)
    WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running');

-- Dead jobs are what an operator looks at; find them without scanning finished work.
CREATE INDEX job_dead ON job (finished_at DESC) WHERE status = 'dead';

-- Periodic work (one 'reconcile' per interval across all processes) looks up the latest job
-- of its kind.
CREATE INDEX job_by_kind ON job (kind, created_at DESC);
