-- 001: the domain of hnp-gitops.
--
-- A fabric is a directory of Hedgehog YAML on one branch of one GitHub repository. Each
-- resource in it has three states: draft (edited in the GUI, not yet in Git), desired (what
-- the branch says) and actual (what the running fabric reports). Sync operations move state
-- between GitHub and this database; conflicts are recorded where both sides changed a field.
-- Webhook deliveries are stored before they are acknowledged, and work is done by jobs taken
-- from a queue with FOR UPDATE SKIP LOCKED.

-- GitHub App installations and the repositories each one can reach (kept current by the
-- installation and installation_repositories webhooks).
CREATE TABLE installation (
    id          bigint PRIMARY KEY,                       -- GitHub's installation id
    account     text NOT NULL,
    suspended   boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE installation_repository (
    installation_id bigint NOT NULL REFERENCES installation (id) ON DELETE CASCADE,
    repository      text NOT NULL CHECK (repository ~ '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$'),
    PRIMARY KEY (installation_id, repository)
);
CREATE INDEX installation_repository_by_repository ON installation_repository (lower(repository));

CREATE TABLE fabric (
    id                 bigserial PRIMARY KEY,
    name               text NOT NULL UNIQUE
                       CHECK (name ~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' AND length(name) <= 63),
    repository         text NOT NULL CHECK (repository ~ '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$'),
    -- Directory inside the repository, without leading or trailing slash; '' is the root.
    -- It never climbs out of the repository.
    directory          text NOT NULL DEFAULT ''
                       CHECK (directory !~ '(^/|/$|(^|/)\.\.?(/|$)|//|\\)'),
    branch             text NOT NULL DEFAULT 'main'
                       CHECK (branch <> '' AND branch !~ '(\.\.|[\s~^:?*\[\\]|^/|/$|\.lock$|@\{)'),
    installation_id    bigint,                            -- null until known
    last_ingested_sha  text CHECK (last_ingested_sha ~ '^[0-9a-f]{40}$'),
    last_ingested_at   timestamptz,
    branch_etag        text,                              -- for the reconciler's conditional GET
    connection_status  text NOT NULL DEFAULT 'unknown'
                       CHECK (connection_status IN ('unknown', 'connected', 'disconnected', 'branch_missing')),
    status_detail      text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fabric_by_repository ON fabric (lower(repository));

-- A bot-made pull request of a fabric.
CREATE TABLE pull_request (
    id                      bigserial PRIMARY KEY,
    fabric_id               bigint NOT NULL REFERENCES fabric (id) ON DELETE CASCADE,
    number                  integer CHECK (number > 0),    -- null until GitHub has answered
    branch                  text NOT NULL,
    head_sha                text CHECK (head_sha ~ '^[0-9a-f]{40}$'),
    base_sha                text CHECK (base_sha ~ '^[0-9a-f]{40}$'),
    operation_id            uuid,                          -- the sync that opened it
    state                   text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'merged', 'closed')),
    html_url                text,
    validate_check_run_id   bigint,
    conflicts_check_run_id  bigint,
    comment_id              bigint,                        -- the one bot comment, edited in place
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    closed_at               timestamptz,
    UNIQUE (fabric_id, number),
    CHECK ((state = 'open') = (closed_at IS NULL))
);
-- One open pull request per branch.
CREATE UNIQUE INDEX pull_request_open_branch ON pull_request (fabric_id, branch) WHERE state = 'open';

CREATE TABLE resource (
    id                bigserial PRIMARY KEY,
    fabric_id         bigint NOT NULL REFERENCES fabric (id) ON DELETE CASCADE,
    kind              text NOT NULL CHECK (kind IN (
                          'VPC', 'VPCAttachment', 'VPCPeering', 'External', 'ExternalAttachment',
                          'ExternalPeering', 'IPv4Namespace', 'VLANNamespace', 'Connection',
                          'Server', 'Switch', 'SwitchGroup')),
    namespace         text NOT NULL DEFAULT 'default'
                      CHECK (namespace ~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' AND length(namespace) <= 63),
    name              text NOT NULL
                      CHECK (name ~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'
                             AND length(name) <= 253),

    -- desired: what the branch says, and the commit it came from
    desired_spec      jsonb,
    desired_metadata  jsonb,                              -- labels and annotations, kept as found
    desired_sha       text CHECK (desired_sha ~ '^[0-9a-f]{40}$'),
    desired_at        timestamptz,                        -- time of that commit

    -- draft: edited in the GUI, not yet in Git; remembers the base it was drafted on
    draft_spec        jsonb,
    draft_metadata    jsonb,
    draft_delete      boolean NOT NULL DEFAULT false,     -- the GUI asked to delete the resource
    drafted_at        timestamptz,
    drafted_by        text,
    draft_base_spec   jsonb,
    draft_base_sha    text CHECK (draft_base_sha ~ '^[0-9a-f]{40}$'),
    base_moved        boolean NOT NULL DEFAULT false,     -- desired changed under the draft

    -- actual: what the running fabric reports
    actual_spec       jsonb,
    actual_reported_at timestamptz,

    -- where it lives in the repository
    file_path         text CHECK (file_path !~ '(^/|(^|/)\.\.(/|$))'),
    document_index    integer CHECK (document_index >= 0),
    blob_sha          text CHECK (blob_sha ~ '^[0-9a-f]{40}$'),

    state             text NOT NULL DEFAULT 'in_sync' CHECK (state IN (
                          'in_sync',     -- desired is all there is (and actual agrees, if reported)
                          'draft',       -- a GUI draft waits to be published
                          'pending_pr',  -- the draft is in an open bot pull request
                          'conflict',    -- the draft and Git changed the same field
                          'drifted',     -- actual differs from desired
                          'orphaned')),  -- its document disappeared from the repository
    pull_request_id   bigint REFERENCES pull_request (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),

    UNIQUE (fabric_id, kind, namespace, name),
    CHECK (NOT (draft_delete AND draft_spec IS NOT NULL)),
    -- a draft always says when it was made
    CHECK ((draft_spec IS NOT NULL OR draft_delete) = (drafted_at IS NOT NULL)),
    CHECK ((file_path IS NULL) = (document_index IS NULL)),
    CHECK (desired_spec IS NULL OR desired_sha IS NOT NULL),
    CHECK (actual_spec IS NULL OR actual_reported_at IS NOT NULL),
    -- the states that speak of a draft need one, and in_sync needs none
    CHECK (state NOT IN ('draft', 'pending_pr', 'conflict') OR draft_spec IS NOT NULL OR draft_delete),
    CHECK (state <> 'in_sync' OR (draft_spec IS NULL AND NOT draft_delete)),
    -- something must define the resource
    CHECK (desired_spec IS NOT NULL OR draft_spec IS NOT NULL OR draft_delete OR state = 'orphaned'
           OR actual_spec IS NOT NULL)
);
CREATE INDEX resource_by_fabric_state ON resource (fabric_id, state);
CREATE INDEX resource_by_file ON resource (fabric_id, file_path);
CREATE INDEX resource_drafts ON resource (fabric_id) WHERE draft_spec IS NOT NULL OR draft_delete;

CREATE TABLE sync_operation (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fabric_id            bigint NOT NULL REFERENCES fabric (id) ON DELETE CASCADE,
    direction            text NOT NULL CHECK (direction IN ('gui_to_github', 'github_to_gui', 'bidirectional')),
    status               text NOT NULL DEFAULT 'pending' CHECK (status IN (
                             'pending', 'initializing', 'detecting_conflicts', 'github_to_gui_sync',
                             'gui_to_github_sync', 'completed', 'failed', 'cancelled')),
    conflict_resolution  text NOT NULL DEFAULT 'user_guided' CHECK (conflict_resolution IN (
                             'timestamp_wins', 'gui_wins', 'github_wins', 'user_guided', 'merge_strategy')),
    trigger              text NOT NULL DEFAULT 'api'
                         CHECK (trigger IN ('api', 'push', 'pull_request', 'reconcile', 'command', 'check_run')),
    request              jsonb NOT NULL DEFAULT '{}',
    requested_by         text,
    head_sha             text CHECK (head_sha ~ '^[0-9a-f]{40}$'),
    progress_done        integer NOT NULL DEFAULT 0 CHECK (progress_done >= 0),
    progress_total       integer NOT NULL DEFAULT 0 CHECK (progress_total >= 0),
    cancel_requested     boolean NOT NULL DEFAULT false,
    result               jsonb,                 -- the SyncResult, once finished
    error                text,                  -- why it failed
    created_at           timestamptz NOT NULL DEFAULT now(),
    started_at           timestamptz,
    completed_at         timestamptz,
    CHECK (progress_done <= progress_total OR progress_total = 0),
    CHECK ((status IN ('completed', 'failed', 'cancelled')) = (completed_at IS NOT NULL)),
    CHECK (status <> 'failed' OR error IS NOT NULL)
);
CREATE INDEX sync_operation_by_fabric ON sync_operation (fabric_id, created_at DESC);
CREATE INDEX sync_operation_active ON sync_operation (fabric_id)
    WHERE status NOT IN ('completed', 'failed', 'cancelled');

ALTER TABLE pull_request
    ADD CONSTRAINT pull_request_operation_fk
    FOREIGN KEY (operation_id) REFERENCES sync_operation (id) ON DELETE SET NULL;

CREATE TABLE conflict (
    id                  bigserial PRIMARY KEY,
    fabric_id           bigint NOT NULL REFERENCES fabric (id) ON DELETE CASCADE,
    resource_id         bigint REFERENCES resource (id) ON DELETE CASCADE,
    operation_id        uuid REFERENCES sync_operation (id) ON DELETE SET NULL,
    pull_request_id     bigint REFERENCES pull_request (id) ON DELETE SET NULL,
    type                text NOT NULL CHECK (type IN (
                            'concurrent_modification', 'missing_resource', 'schema_mismatch',
                            'file_corruption', 'dependency_violation', 'permission_denied')),
    severity            text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    field_path          text,                   -- e.g. spec.subnets.default.vlan
    base_value          jsonb,
    gui_value           jsonb,
    git_value           jsonb,
    message             text NOT NULL,
    resolution_options  jsonb NOT NULL DEFAULT '[]',
    status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'superseded')),
    resolution          text CHECK (resolution IN ('gui_wins', 'github_wins', 'merge', 'manual', 'timestamp_wins')),
    resolved_by         text,
    resolved_at         timestamptz,
    detected_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'resolved') = (resolution IS NOT NULL)),
    CHECK ((resolution IS NULL) = (resolved_at IS NULL))
);
-- The same open conflict is recorded once, however often it is re-checked.
CREATE UNIQUE INDEX conflict_open_once ON conflict (fabric_id, coalesce(resource_id, 0), type, coalesce(field_path, ''))
    WHERE status = 'open';

-- Every webhook delivery, stored before it is acknowledged. The body is kept as received
-- (bytes), so intake does no JSON work in the database.
CREATE TABLE webhook_delivery (
    delivery_id      text PRIMARY KEY CHECK (delivery_id <> '' AND length(delivery_id) <= 100),
    event            text NOT NULL,
    action           text,
    installation_id  bigint,
    repository       text,
    body             bytea NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    processed_at     timestamptz,
    outcome          text NOT NULL DEFAULT 'pending'
                     CHECK (outcome IN ('pending', 'processed', 'ignored', 'failed', 'dead')),
    detail           text,
    CHECK ((outcome = 'pending') = (processed_at IS NULL))
);
CREATE INDEX webhook_delivery_pending ON webhook_delivery (received_at) WHERE outcome = 'pending';

-- The durable job queue. Jobs that share an ordering_key (one per fabric) run one at a time in
-- id order; workers take them with FOR UPDATE SKIP LOCKED and hold a lease while they work.
CREATE TABLE job (
    id                bigserial PRIMARY KEY,
    kind              text NOT NULL,           -- webhook, sync, reconcile, ...
    ordering_key      text NOT NULL,           -- e.g. 'fabric:3', 'delivery:<id>'
    fabric_id         bigint REFERENCES fabric (id) ON DELETE CASCADE,
    delivery_id       text REFERENCES webhook_delivery (delivery_id) ON DELETE CASCADE,
    operation_id      uuid REFERENCES sync_operation (id) ON DELETE CASCADE,
    payload           jsonb NOT NULL DEFAULT '{}',
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'done', 'dead', 'cancelled')),
    attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts      integer NOT NULL DEFAULT 8 CHECK (max_attempts > 0),
    run_after         timestamptz NOT NULL DEFAULT now(),
    leased_by         text,
    lease_expires_at  timestamptz,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    CHECK ((status = 'running') = (lease_expires_at IS NOT NULL)),
    CHECK ((status IN ('done', 'dead', 'cancelled')) = (finished_at IS NOT NULL)),
    CHECK (attempts <= max_attempts)
);
CREATE INDEX job_ready ON job (run_after, id) WHERE status IN ('queued', 'running');
CREATE INDEX job_by_key ON job (ordering_key, id) WHERE status IN ('queued', 'running');
CREATE INDEX job_by_delivery ON job (delivery_id);
CREATE INDEX job_by_operation ON job (operation_id);
