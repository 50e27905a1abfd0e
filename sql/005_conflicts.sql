-- 005: conflicts as people handle them.
--
-- A resource's state is `conflict` while its draft has an open conflict; every re-check asks
-- that question for many resources at once, so open conflicts are indexed by resource.
CREATE INDEX conflict_open_by_resource ON conflict (resource_id) WHERE status = 'open';
CREATE INDEX conflict_by_fabric ON conflict (fabric_id, detected_at DESC);

-- Commands typed in pull request comments (`/hnp resolve gui`, `/hnp recheck`, ...). GitHub
-- may deliver a comment twice and a person may press "re-run": a comment is acted on once,
-- and the row says who asked, whether they were allowed to, and what came of it.
CREATE TABLE pr_command (
    comment_id       bigint PRIMARY KEY,                    -- GitHub's issue comment id
    pull_request_id  bigint REFERENCES pull_request (id) ON DELETE CASCADE,
    command          text NOT NULL,                         -- the command line as typed
    actor            text NOT NULL,                         -- the commenter's login
    permission       text,                                  -- admin / write / read / none, as GitHub said
    allowed          boolean NOT NULL,
    outcome          text,                                  -- what the bot did, in a sentence
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- The conflicts check run is made on a pull request's head commit; when the head moves a new
-- run is made there, and a re-check of the same head edits the run it already has.
ALTER TABLE pull_request ADD COLUMN conflicts_check_sha text CHECK (conflicts_check_sha ~ '^[0-9a-f]{40}$');
