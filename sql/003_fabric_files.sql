-- 003: the YAML files of each fabric at its last ingested commit.
--
-- One row per *.yaml / *.yml file under the fabric's directory, with the blob sha it had. The
-- next push compares the branch's tree against these shas and reads only the files whose blob
-- changed (new, modified, renamed), whatever the push's commit list says: force-pushes, first
-- syncs and missed webhooks are all the same comparison.
--
-- A file's documents and problems are kept too, so that a push which changes one file can
-- still (a) find an identity defined twice across an unchanged and a changed file, and
-- (b) report every invalid document of the commit on its `hnp-gitops/validate` check run, not
-- only those of the files it touched.
CREATE TABLE fabric_file (
    fabric_id       bigint NOT NULL REFERENCES fabric (id) ON DELETE CASCADE,
    path            text NOT NULL CHECK (path <> '' AND path !~ '(^/|(^|/)\.\.(/|$))'),
    blob_sha        text NOT NULL CHECK (blob_sha ~ '^[0-9a-f]{40}$'),
    -- Hedgehog documents naming a resource: [[index, line, kind, namespace, name, valid], ...]
    documents       jsonb NOT NULL DEFAULT '[]',
    document_count  integer NOT NULL DEFAULT 0 CHECK (document_count >= 0),
    -- [{line, message, level: error|warning, document, kind, name, field, duplicate}, ...]
    problems        jsonb NOT NULL DEFAULT '[]',
    error_count     integer NOT NULL DEFAULT 0 CHECK (error_count >= 0),
    -- A document whose resource could not be told (a parse error, no name): the resources
    -- recorded in this file are not orphaned while it stays broken.
    unidentified    boolean NOT NULL DEFAULT false,
    read_sha        text CHECK (read_sha ~ '^[0-9a-f]{40}$'),  -- commit it was last read at
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fabric_id, path)
);
CREATE INDEX fabric_file_with_errors ON fabric_file (fabric_id) WHERE error_count > 0;
