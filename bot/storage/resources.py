"""Resources: one row per (fabric, kind, namespace, name), holding draft, desired and actual.

Reads (for the HNP API, publishing and conflicts)
    get(db, fabric_id, kind, name, namespace="default") -> Resource | None
    get_by_id(db, resource_id) -> Resource | None
    list_for_fabric(db, fabric_id, kind=None, state=None) -> list[Resource]  (kind, namespace, name order)
    in_file(db, fabric_id, path) -> list[Resource]  (document order)
    count_by_state(db, fabric_id) -> {state: n}

Where a resource stands in Git
    `file_path` / `document_index` (documents.py numbering: the file's non-empty documents) /
    `blob_sha` say where its document was at the last ingested commit. An *orphaned* resource
    (its document disappeared) keeps its last desired spec and loses its location:
    desired_spec IS NOT NULL AND file_path IS NULL (`Resource.orphaned`). A resource made in
    the GUI and not yet in Git has neither.

Writes of desired state (ingestion only)
    rows_for_ingest() locks and reads the rows an ingest may change; apply_plan() writes a
    `snapshot.Plan` in a few batched statements (jsonb_to_recordset: one round trip per
    statement, whatever the number of rows). Both run in the caller's transaction, which holds
    the fabric's row lock. Every written state comes from `bot.core.states.resource_state`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import overload

import asyncpg

from bot.core.resource import Resource
from bot.core.snapshot import Current, Identity, Plan
from bot.core.states import resource_state
from bot.storage import Connection, Executor

DEFAULT_NAMESPACE = "default"


_COLUMNS = (
    "id, fabric_id, kind, namespace, name, desired_spec, desired_metadata, desired_sha, desired_at, "
    "draft_spec, draft_metadata, draft_delete, drafted_at, drafted_by, draft_base_spec, draft_base_sha, "
    "base_moved, actual_spec, actual_reported_at, file_path, document_index, blob_sha, state, "
    "pull_request_id, created_at, updated_at"
)


@overload
def _resource(row: asyncpg.Record) -> Resource: ...
@overload
def _resource(row: None) -> None: ...
def _resource(row: asyncpg.Record | None) -> Resource | None:
    return Resource(**dict(row)) if row is not None else None


async def get(
    db: Executor, fabric_id: int, kind: str, name: str, namespace: str = DEFAULT_NAMESPACE
) -> Resource | None:
    return _resource(
        await db.fetchrow(
            f"SELECT {_COLUMNS} FROM resource WHERE fabric_id = $1 AND kind = $2 AND namespace = $3 AND name = $4",
            fabric_id,
            kind,
            namespace,
            name,
        )
    )


async def get_by_id(db: Executor, resource_id: int) -> Resource | None:
    return _resource(await db.fetchrow(f"SELECT {_COLUMNS} FROM resource WHERE id = $1", resource_id))


async def list_for_fabric(
    db: Executor, fabric_id: int, *, kind: str | None = None, state: str | None = None
) -> list[Resource]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM resource WHERE fabric_id = $1 AND ($2::text IS NULL OR kind = $2) "
        "AND ($3::text IS NULL OR state = $3) ORDER BY kind, namespace, name",
        fabric_id,
        kind,
        state,
    )
    return [_resource(r) for r in rows]


async def in_file(db: Executor, fabric_id: int, path: str) -> list[Resource]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM resource WHERE fabric_id = $1 AND file_path = $2 ORDER BY document_index",
        fabric_id,
        path,
    )
    return [_resource(r) for r in rows]


async def count_by_state(db: Executor, fabric_id: int) -> dict[str, int]:
    rows = await db.fetch("SELECT state, count(*) AS n FROM resource WHERE fabric_id = $1 GROUP BY state", fabric_id)
    return {row["state"]: row["n"] for row in rows}


# ---------------------------------------------------------------------------------------------
# Ingestion


async def rows_for_ingest(
    conn: Connection, fabric_id: int, identities: Iterable[Identity], paths: Iterable[str], *, lock: bool = True
) -> list[Current]:
    """Read (and lock, unless lock=False) the rows an ingest may change: those of the given
    identities (documents read now) and those located in the given paths (read or removed)."""
    kinds, namespaces, names = [], [], []
    for kind, namespace, name in identities:
        kinds.append(kind)
        namespaces.append(namespace)
        names.append(name)
    rows = await conn.fetch(
        """SELECT r.id, r.kind, r.namespace, r.name, r.desired_spec, r.desired_metadata, r.file_path,
                  r.document_index, r.blob_sha, r.draft_spec, r.draft_metadata, r.draft_delete, r.actual_spec,
                  r.base_moved, r.pull_request_id, r.state,
                  EXISTS (SELECT 1 FROM conflict c WHERE c.resource_id = r.id AND c.status = 'open') AS open_conflict
           FROM resource r
           WHERE r.fabric_id = $1
             AND (r.file_path = ANY($2::text[])
                  OR (r.kind, r.namespace, r.name) IN
                     (SELECT * FROM unnest($3::text[], $4::text[], $5::text[])))
           ORDER BY r.id"""
        + (" FOR UPDATE OF r" if lock else ""),
        fabric_id,
        list(paths),
        kinds,
        namespaces,
        names,
    )
    return [Current(**dict(row)) for row in rows]


_NEW_STATE = resource_state(desired_spec={}, draft_spec=None, draft_delete=False, actual_spec=None)


async def apply_plan(conn: Connection, fabric_id: int, plan: Plan, *, sha: str, committed_at: datetime | None) -> None:
    """Write a plan (in the caller's transaction): inserts, updates, then deletions."""
    if plan.inserts:
        await conn.execute(
            """INSERT INTO resource (fabric_id, kind, namespace, name, desired_spec, desired_metadata,
                                     desired_sha, desired_at, file_path, document_index, blob_sha, state)
               SELECT $1, r.kind, r.namespace, r.name, r.spec, nullif(r.metadata, 'null'::jsonb), $3, $4,
                      r.path, r.index, r.blob_sha, $5
               FROM jsonb_to_recordset($2::jsonb) AS r(kind text, namespace text, name text, spec jsonb,
                                                       metadata jsonb, path text, index int, blob_sha text)""",
            fabric_id,
            [
                {
                    "kind": r.kind,
                    "namespace": r.namespace,
                    "name": r.name,
                    "spec": r.spec,
                    "metadata": r.metadata,
                    "path": r.path,
                    "index": r.index,
                    "blob_sha": r.blob_sha,
                }
                for r in plan.inserts
            ],
            sha,
            committed_at,
            _NEW_STATE,
        )
    if plan.updates:
        await conn.execute(
            """UPDATE resource t SET
                   desired_spec = nullif(u.spec, 'null'::jsonb),
                   desired_metadata = nullif(u.metadata, 'null'::jsonb),
                   desired_sha = CASE WHEN nullif(u.spec, 'null'::jsonb) IS NULL THEN NULL
                                      WHEN u.changed THEN $3 ELSE t.desired_sha END,
                   desired_at = CASE WHEN nullif(u.spec, 'null'::jsonb) IS NULL THEN NULL
                                     WHEN u.changed THEN $4 ELSE t.desired_at END,
                   file_path = u.path, document_index = u.index, blob_sha = u.blob_sha,
                   base_moved = u.base_moved,
                   draft_spec = CASE WHEN u.clear THEN NULL ELSE t.draft_spec END,
                   draft_metadata = CASE WHEN u.clear THEN NULL ELSE t.draft_metadata END,
                   draft_delete = CASE WHEN u.clear THEN false ELSE t.draft_delete END,
                   drafted_at = CASE WHEN u.clear THEN NULL ELSE t.drafted_at END,
                   drafted_by = CASE WHEN u.clear THEN NULL ELSE t.drafted_by END,
                   draft_base_spec = CASE WHEN u.clear THEN NULL ELSE t.draft_base_spec END,
                   draft_base_sha = CASE WHEN u.clear THEN NULL ELSE t.draft_base_sha END,
                   pull_request_id = CASE WHEN u.clear THEN NULL ELSE t.pull_request_id END,
                   state = u.state,
                   updated_at = now()
               FROM jsonb_to_recordset($2::jsonb) AS u(id bigint, spec jsonb, metadata jsonb, changed boolean,
                                                       path text, index int, blob_sha text, base_moved boolean,
                                                       clear boolean, state text)
               WHERE t.id = u.id AND t.fabric_id = $1""",
            fabric_id,
            [
                {
                    "id": u.id,
                    "spec": u.desired_spec,
                    "metadata": u.desired_metadata,
                    "changed": u.desired_changed,
                    "path": u.file_path,
                    "index": u.document_index,
                    "blob_sha": u.blob_sha,
                    "base_moved": u.base_moved,
                    "clear": u.clear_draft,
                    "state": u.state,
                }
                for u in plan.updates
            ],
            sha,
            committed_at,
        )
    if plan.deletes:
        await conn.execute(
            "DELETE FROM resource WHERE fabric_id = $1 AND id = ANY($2::bigint[])", fabric_id, plan.deletes
        )
