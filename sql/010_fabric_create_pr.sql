-- 010: a fabric's own default for a sync's `create_pr`. The HNP contract's default is false (a
-- direct commit onto the fabric's branch); a fabric whose branch is protected wants every sync
-- to open a pull request unless the request says otherwise.
ALTER TABLE fabric ADD COLUMN create_pr boolean NOT NULL DEFAULT false;
