-- 004: what a publishing sync has done on GitHub so far.
--
-- A sync that publishes drafts makes a tree, a commit, moves (or creates) a ref and opens or
-- updates a pull request. The process may die between any two of those steps, and a
-- cancelled sync must undo them. Each step is recorded here as soon as GitHub has answered,
-- so a re-run skips what is done and a cancel removes exactly what this sync made:
--   {"target": "pr" | "branch", "branch": "hnp-sync/...", "base_sha": "...",
--    "previous_head": "..." (the ref's head before this sync moved it; null if it made it),
--    "commit_sha": "...", "ref_created": true, "ref_moved": true,
--    "pr_number": 12, "pr_created": true}
ALTER TABLE sync_operation ADD COLUMN publish_progress jsonb NOT NULL DEFAULT '{}';

