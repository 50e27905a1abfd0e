-- 011: each fabric's latest `hnp-gitops/validate` result on its branch, for the status page:
-- the commit, the conclusion, how many documents failed, and the check run's page on GitHub.
ALTER TABLE fabric
    ADD COLUMN validate_sha         text CHECK (validate_sha ~ '^[0-9a-f]{40}$'),
    ADD COLUMN validate_conclusion  text,
    ADD COLUMN validate_failures    integer CHECK (validate_failures >= 0),
    ADD COLUMN validate_url         text,
    ADD COLUMN validated_at         timestamptz;
