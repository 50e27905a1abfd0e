"""Drafts: GUI edits of a fabric's resources that are not in Git yet.

A draft remembers its base -- the desired spec and commit it was made on -- the first time it
is made; later edits of the same draft keep that base. A draft that says exactly what desired
already says is no draft at all and is cleared. Every write sets `state` with
`bot.core.states.resource_state`.

The reads the HNP API needs beyond bot/storage/resources.py live here too (one resource by
kind and name, a fabric's resources filtered by kind and state).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, overload

import asyncpg

from bot.core.render import strict_equal
from bot.core.resource import Resource  # one resource type for every reader
from bot.core.states import resource_state
from bot.storage import Connection, Executor

DEFAULT_NAMESPACE = "default"


_COLUMNS = """r.id, r.fabric_id, r.kind, r.namespace, r.name, r.desired_spec, r.desired_metadata,
 r.desired_sha, r.desired_at, r.draft_spec, r.draft_metadata, r.draft_delete, r.drafted_at,
 r.drafted_by, r.draft_base_spec, r.draft_base_sha, r.base_moved, r.actual_spec,
 r.actual_reported_at, r.file_path, r.document_index, r.blob_sha, r.state, r.pull_request_id,
 r.created_at, r.updated_at,
 EXISTS (SELECT 1 FROM conflict c WHERE c.resource_id = r.id AND c.status = 'open') AS open_conflict,
 p.number AS pr_number, p.html_url AS pr_url"""
_FROM = "resource r LEFT JOIN pull_request p ON p.id = r.pull_request_id"


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
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE r.fabric_id = $1 AND r.kind = $2 AND r.namespace = $3 "
            "AND r.name = $4",
            fabric_id,
            kind,
            namespace,
            name,
        )
    )


async def list_for_fabric(
    db: Executor, fabric_id: int, *, kind: str | None = None, state: str | None = None, limit: int = 10_000
) -> list[Resource]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE r.fabric_id = $1 AND ($2::text IS NULL OR r.kind = $2) "
        "AND ($3::text IS NULL OR r.state = $3) ORDER BY r.kind, r.namespace, r.name LIMIT $4",
        fabric_id,
        kind,
        state,
        limit,
    )
    return [_resource(r) for r in rows]


async def with_drafts(db: Executor, fabric_id: int) -> list[Resource]:
    """Every resource of the fabric that carries a draft, in a stable order."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE r.fabric_id = $1 AND (r.draft_spec IS NOT NULL OR r.draft_delete) "
        "ORDER BY r.kind, r.namespace, r.name",
        fabric_id,
    )
    return [_resource(r) for r in rows]


async def by_ids(db: Executor, ids: Iterable[int]) -> list[Resource]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM {_FROM} WHERE r.id = ANY($1::bigint[]) ORDER BY r.id", list(ids))
    return [_resource(r) for r in rows]


# --------------------------------------------------------------------------------------------
# Writes


def _orphaned(row: Resource) -> bool:
    # The orphaned fact lives only in `state` (its document vanished from the branch): keep it
    # across draft edits, so that discarding a draft of an orphan makes it an orphan again.
    return row.state == "orphaned" or (row.desired_spec is not None and row.file_path is None)


def _metadata_equal(draft_metadata: dict | None, desired_metadata: dict | None) -> bool:
    """Labels/annotations a draft sets agree with desired (a draft that sets none agrees)."""
    desired = desired_metadata or {}
    for key, value in (draft_metadata or {}).items():
        if not strict_equal(value or {}, desired.get(key) or {}):
            return False
    return True


def equals_desired(row: Resource, spec: Any, metadata: dict | None, delete: bool) -> bool:
    """Would this draft change nothing? (Then it is cleared instead of stored.)"""
    if delete:
        return row.desired_spec is None and row.file_path is None
    return (
        row.desired_spec is not None
        and strict_equal(spec, row.desired_spec)
        and _metadata_equal(metadata, row.desired_metadata)
    )


async def put_draft(
    conn: Connection,
    fabric_id: int,
    kind: str,
    name: str,
    *,
    spec: Any = None,
    metadata: dict | None = None,
    delete: bool = False,
    user: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
) -> Resource | None:
    """Store a draft (the caller validated it). Returns the row after the write, or None
    when the draft cleared itself away on a resource that exists only as a draft."""
    row = await _lock(conn, fabric_id, kind, namespace, name)
    if row is None:
        if delete:
            return None  # nothing to delete: the caller answers 404
        rid = await conn.fetchval(
            "INSERT INTO resource (fabric_id, kind, namespace, name, draft_spec, draft_metadata, "
            "drafted_at, drafted_by, state) VALUES ($1, $2, $3, $4, $5, $6, now(), $7, 'draft') RETURNING id",
            fabric_id,
            kind,
            namespace,
            name,
            spec,
            metadata or None,
            user,
        )
        return (await by_ids(conn, [rid]))[0]
    if equals_desired(row, spec, metadata, delete):
        return await _clear(conn, row)
    first = not row.has_draft
    state = resource_state(
        desired_spec=row.desired_spec,
        draft_spec=None if delete else spec,
        draft_delete=delete,
        actual_spec=row.actual_spec,
        orphaned=_orphaned(row),
        in_open_pr=row.pull_request_id is not None,
        has_open_conflict=row.open_conflict,
    )
    await conn.execute(
        """UPDATE resource SET draft_spec = $2, draft_metadata = $3, draft_delete = $4, drafted_at = now(),
               drafted_by = $5, state = $6, updated_at = now(),
               draft_base_spec = CASE WHEN $7 THEN desired_spec ELSE draft_base_spec END,
               draft_base_sha = CASE WHEN $7 THEN desired_sha ELSE draft_base_sha END,
               base_moved = CASE WHEN $7 THEN false ELSE base_moved END
           WHERE id = $1""",
        row.id,
        None if delete else spec,
        None if delete else (metadata or None),
        delete,
        user,
        state,
        first,
    )
    return (await by_ids(conn, [row.id]))[0]


async def discard_draft(
    conn: Connection, fabric_id: int, kind: str, name: str, namespace: str = DEFAULT_NAMESPACE
) -> tuple[bool, Resource | None]:
    """(found, row after): found is False when the resource does not exist at all."""
    row = await _lock(conn, fabric_id, kind, namespace, name)
    if row is None:
        return False, None
    return True, await _clear(conn, row)


async def _lock(conn: Connection, fabric_id: int, kind: str, namespace: str, name: str) -> Resource | None:
    await conn.execute(
        "SELECT 1 FROM resource WHERE fabric_id = $1 AND kind = $2 AND namespace = $3 AND name = $4 FOR UPDATE",
        fabric_id,
        kind,
        namespace,
        name,
    )
    return await get(conn, fabric_id, kind, name, namespace)


async def _clear(conn: Connection, row: Resource) -> Resource | None:
    defined = row.desired_spec is not None or row.actual_spec is not None or _orphaned(row)
    if not defined:
        # It existed only as a draft: without the draft nothing defines it.
        await conn.execute("DELETE FROM resource WHERE id = $1", row.id)
        return None
    state = resource_state(
        desired_spec=row.desired_spec,
        draft_spec=None,
        draft_delete=False,
        actual_spec=row.actual_spec,
        orphaned=_orphaned(row),
    )
    await conn.execute(
        "UPDATE resource SET draft_spec = NULL, draft_metadata = NULL, draft_delete = false, drafted_at = NULL, "
        "drafted_by = NULL, draft_base_spec = NULL, draft_base_sha = NULL, base_moved = false, "
        "pull_request_id = NULL, state = $2, updated_at = now() WHERE id = $1",
        row.id,
        state,
    )
    return (await by_ids(conn, [row.id]))[0]


async def clear_fulfilled(conn: Connection, resource_ids: list[int]) -> int:
    """Clear the drafts among these resources that say nothing desired does not (their pull
    request is closed as empty); states recomputed. Returns how many were cleared."""
    cleared = 0
    for row in await by_ids(conn, resource_ids):
        if row.has_draft and equals_desired(row, row.draft_spec, row.draft_metadata, row.draft_delete):
            await _clear(conn, row)
            cleared += 1
    return cleared


async def attach_to_pull_request(conn: Connection, resource_ids: list[int], pull_request_id: int) -> None:
    """Drafts published in an open bot pull request: state pending_pr (unless in conflict)."""
    rows = await by_ids(conn, resource_ids)
    for row in rows:
        if not row.has_draft:
            continue
        state = resource_state(
            desired_spec=row.desired_spec,
            draft_spec=row.draft_spec,
            draft_delete=row.draft_delete,
            actual_spec=row.actual_spec,
            orphaned=_orphaned(row),
            in_open_pr=True,
            has_open_conflict=row.open_conflict,
        )
        await conn.execute(
            "UPDATE resource SET pull_request_id = $2, state = $3, updated_at = now() WHERE id = $1",
            row.id,
            pull_request_id,
            state,
        )


async def release_from_pull_request(conn: Connection, pull_request_id: int) -> int:
    """The pull request is gone (closed, merged, or its sync cancelled): its resources leave
    pending_pr. Drafts stay (closed unmerged: back to draft; merged: the merge commit's ingest
    clears the drafts it made true). Returns how many resources it touched."""
    ids = [
        r["id"]
        for r in await conn.fetch("SELECT id FROM resource WHERE pull_request_id = $1 FOR UPDATE", pull_request_id)
    ]
    for row in await by_ids(conn, ids):
        state = resource_state(
            desired_spec=row.desired_spec,
            draft_spec=row.draft_spec,
            draft_delete=row.draft_delete,
            actual_spec=row.actual_spec,
            orphaned=_orphaned(row),
            in_open_pr=False,
            has_open_conflict=row.open_conflict,
        )
        await conn.execute(
            "UPDATE resource SET pull_request_id = NULL, state = $2, updated_at = now() WHERE id = $1", row.id, state
        )
    return len(ids)
