-- 020: fairness across installations.
--
-- Every job belongs to a lane: the GitHub App installation whose repositories it works on
-- (0 for work of no installation: the periodic reconcile, deliveries without one). Each lane has
-- a place in line, `turn_at`, which moves on with each job taken from it and comes back with
-- time (bot.storage.jobs); workers take the oldest runnable job of the lane whose turn comes
-- first. So a burst of one installation's pushes cannot hold up another's, and an installation
-- that sends little goes ahead of those that send much.
-- A lane whose installation has spent its GitHub rate limit is paused until the reset
-- (`paused_until`): its jobs wait, every other lane runs as usual, in every process.
ALTER TABLE job ADD COLUMN installation_id bigint;

CREATE TABLE job_lane (
    lane          bigint PRIMARY KEY,                          -- installation id, 0: none
    turn_at       timestamptz NOT NULL DEFAULT '-infinity',   -- its place in line (see above)
    paused_until  timestamptz                                  -- its installation's rate limit resets
);

-- The pick walks one lane's queued jobs in id order.
CREATE INDEX job_queued_by_lane ON job ((coalesce(installation_id, 0)), id) WHERE status = 'queued';

-- A job's installation is its fabric's, else its delivery's, whichever path queued it (enqueue,
-- the inbox dispatcher, a coalesced push): one rule, in one place.
CREATE FUNCTION job_installation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.installation_id IS NULL AND NEW.fabric_id IS NOT NULL THEN
        SELECT installation_id INTO NEW.installation_id FROM fabric WHERE id = NEW.fabric_id;
    END IF;
    IF NEW.installation_id IS NULL AND NEW.delivery_id IS NOT NULL THEN
        SELECT installation_id INTO NEW.installation_id FROM webhook_delivery WHERE delivery_id = NEW.delivery_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER job_installation BEFORE INSERT ON job FOR EACH ROW EXECUTE FUNCTION job_installation();

-- Each lane a job may be in has its row (once per statement, however many jobs it inserts).
CREATE FUNCTION job_lanes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_lane (lane)
    SELECT DISTINCT coalesce(installation_id, 0) FROM inserted
    ON CONFLICT (lane) DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER job_lanes AFTER INSERT ON job REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION job_lanes();

-- Jobs queued before this migration join their lanes.
UPDATE job j SET installation_id = coalesce(
    (SELECT f.installation_id FROM fabric f WHERE f.id = j.fabric_id),
    (SELECT d.installation_id FROM webhook_delivery d WHERE d.delivery_id = j.delivery_id))
WHERE j.status IN ('queued', 'running');
INSERT INTO job_lane (lane)
SELECT DISTINCT coalesce(installation_id, 0) FROM job WHERE status IN ('queued', 'running')
ON CONFLICT (lane) DO NOTHING;
