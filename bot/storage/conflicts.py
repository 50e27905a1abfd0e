"""Conflict rows, and the bulk reads and writes a conflict check makes.

A check is one pass over a fabric: `load_for_check` reads every resource once, the pure core
decides, and the writes go back in a few set-based statements (`record`, `supersede`,
`write_resources`), never one statement per resource. Every resource write sets `state` with
the one rule of bot.core.states (its SQL form), so a draft with an open conflict is in state
`conflict` the moment the conflict row exists, and leaves it when the last one is resolved.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, overload

import asyncpg

from bot.core.threeway import auto_resolvable
from bot.storage import Connection, Executor
from bot.storage.resources import STATE_SQL

# Same as bot.storage.drafts._orphaned: the orphaned fact lives in `state` (its document
# vanished from the branch) or in a desired spec that no longer has a file.
ORPHANED_SQL = "(state = 'orphaned' OR (desired_spec IS NOT NULL AND file_path IS NULL))"

# Types a person may acknowledge without changing the draft (the file is broken, a reference
# dangles, the app lacks a permission): once resolved, the same finding is not reopened.
ACKNOWLEDGEABLE = ("file_corruption", "dependency_violation", "permission_denied")


@dataclass(frozen=True)
class Conflict:
    id: int
    fabric_id: int
    resource_id: int | None
    operation_id: uuid.UUID | None
    pull_request_id: int | None
    type: str
    severity: str
    field_path: str | None
    base_value: Any
    gui_value: Any
    git_value: Any
    message: str
    resolution_options: list[str]
    status: str
    resolution: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    detected_at: datetime
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    file_path: str | None = None
    gui_modified_at: datetime | None = None  # the resource's drafted_at
    git_modified_at: datetime | None = None  # the time of the commit that last changed it in Git

    @property
    def resource(self) -> str:
        return f"{self.kind}/{self.name}" if self.kind else ""

    def to_json(self) -> dict[str, Any]:
        """The contract's `ResourceConflict.to_dict()` keys first, then this bot's detail."""
        fields = [self.field_path] if self.field_path else []
        where = self.field_path or "spec"
        return {
            "resource_id": self.resource_id,
            "resource_name": self.name,
            "resource_kind": self.kind,
            "conflict_type": self.type,
            "detected_at": self.detected_at.isoformat(),
            "details": {
                "gui_modification_time": _iso(self.gui_modified_at),
                "github_modification_time": _iso(self.git_modified_at),
                "conflicting_fields": fields,
                "gui_values": {} if self.gui_value is None else {where: self.gui_value},
                "github_values": {} if self.git_value is None else {where: self.git_value},
            },
            "resolution": {
                "options": list(self.resolution_options or []),
                "auto_resolvable": auto_resolvable(self.type),
                "severity": self.severity,
            },
            "id": self.id,
            "type": self.type,
            "severity": self.severity,
            "status": self.status,
            "resource": None
            if self.kind is None
            else {"kind": self.kind, "namespace": self.namespace, "name": self.name, "file": self.file_path},
            "field_path": self.field_path,
            "base_value": self.base_value,
            "gui_value": self.gui_value,
            "git_value": self.git_value,
            "message": self.message,
            "resolution_options": list(self.resolution_options or []),
            "resolved_with": self.resolution,
            "resolved_by": self.resolved_by,
            "resolved_at": _iso(self.resolved_at),
            "operation_id": str(self.operation_id) if self.operation_id else None,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


_COLUMNS = """c.id, c.fabric_id, c.resource_id, c.operation_id, c.pull_request_id, c.type, c.severity,
 c.field_path, c.base_value, c.gui_value, c.git_value, c.message, c.resolution_options, c.status,
 c.resolution, c.resolved_by, c.resolved_at, c.detected_at, r.kind, r.namespace, r.name, r.file_path,
 r.drafted_at AS gui_modified_at, r.desired_at AS git_modified_at"""
_FROM = "conflict c LEFT JOIN resource r ON r.id = c.resource_id"


@overload
def _conflict(row: asyncpg.Record) -> Conflict: ...
@overload
def _conflict(row: None) -> None: ...
def _conflict(row: asyncpg.Record | None) -> Conflict | None:
    return Conflict(**dict(row)) if row is not None else None


async def get(db: Executor, conflict_id: int) -> Conflict | None:
    return _conflict(await db.fetchrow(f"SELECT {_COLUMNS} FROM {_FROM} WHERE c.id = $1", conflict_id))


async def list_for_fabric(
    db: Executor,
    fabric_id: int,
    *,
    status: str | None = "open",
    resource_ids: Sequence[int] | None = None,
    pull_request_id: int | None = None,
    limit: int = 10_000,
) -> list[Conflict]:
    """A fabric's conflicts, most severe first. `pull_request_id` keeps those of resources
    that sit in that pull request now (not where they were found)."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM {_FROM} WHERE c.fabric_id = $1 "
        "AND ($2::text IS NULL OR c.status = $2) "
        "AND ($3::bigint[] IS NULL OR c.resource_id = ANY($3)) "
        "AND ($4::bigint IS NULL OR r.pull_request_id = $4) "
        "ORDER BY array_position(ARRAY['critical','high','medium','low'], c.severity), "
        "r.kind, r.name, c.field_path, c.id LIMIT $5",
        fabric_id,
        status,
        list(resource_ids) if resource_ids is not None else None,
        pull_request_id,
        limit,
    )
    return [_conflict(r) for r in rows]


# --------------------------------------------------------------------------------------------
# The check's one read

CHECK_COLUMNS = """id, kind, namespace, name, desired_spec, desired_sha, desired_at, draft_spec,
 draft_delete, drafted_at, draft_base_spec, draft_base_sha, file_path, pull_request_id, state,
 (desired_spec IS NOT DISTINCT FROM draft_base_spec) AS base_same,
 (draft_spec IS NOT NULL OR draft_delete) AS has_draft"""


async def load_for_check(conn: Connection, fabric_id: int) -> list[asyncpg.Record]:
    """Every resource of the fabric, with what a check needs. Specs of resources without a
    draft are read too: a draft may refer to them (dependencies), or delete what they use."""
    return await conn.fetch(f"SELECT {CHECK_COLUMNS} FROM resource WHERE fabric_id = $1 ORDER BY id", fabric_id)


async def broken_files(conn: Connection, fabric_id: int) -> list[asyncpg.Record]:
    """The fabric's files that had errors at the last ingest (written by the ingest, sql/003)."""
    return await conn.fetch(
        "SELECT path, unidentified, documents, problems FROM fabric_file WHERE fabric_id = $1 AND error_count > 0",
        fabric_id,
    )


# --------------------------------------------------------------------------------------------
# Writing findings

_KEY_MATCH = (
    "k.resource_id IS NOT DISTINCT FROM c.resource_id AND k.type = c.type "
    "AND coalesce(k.field_path, '') = coalesce(c.field_path, '')"
)
_RECORDSET = """jsonb_to_recordset($2::jsonb) AS k(resource_id bigint, pull_request_id bigint, type text,
  severity text, field_path text, base_value jsonb, gui_value jsonb, git_value jsonb, message text,
  resolution_options jsonb, resolution text)"""


def _dedupe(found: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One finding per (resource, type, field): the unique index allows no more while open."""
    out: dict[tuple, dict[str, Any]] = {}
    for item in found:
        out.setdefault((item.get("resource_id"), item["type"], item.get("field_path") or ""), item)
    return list(out.values())


async def record_open(
    conn: Connection, fabric_id: int, found: Sequence[dict[str, Any]], *, operation_id: uuid.UUID | None = None
) -> tuple[int, set[tuple[int | None, str, str]]]:
    """Open each finding, or refresh the open row that says the same (the unique index keeps
    one per resource, type and field however often it is re-checked). A finding a person has
    already acknowledged (ACKNOWLEDGEABLE types, same values) stays resolved. Returns how many
    rows are newly open, and the (resource id, type, field path) of every open one."""
    found = _dedupe(found)
    if not found:
        return 0, set()
    rows = await conn.fetch(
        f"""INSERT INTO conflict AS c (fabric_id, resource_id, operation_id, pull_request_id, type, severity,
                field_path, base_value, gui_value, git_value, message, resolution_options)
            SELECT $1, k.resource_id, $3, k.pull_request_id, k.type, k.severity, k.field_path, k.base_value,
                   k.gui_value, k.git_value, k.message, coalesce(k.resolution_options, '[]')
            FROM {_RECORDSET}
            WHERE NOT (k.type = ANY($4::text[]) AND EXISTS (
                SELECT 1 FROM conflict c WHERE c.fabric_id = $1 AND c.status = 'resolved' AND {_KEY_MATCH}
                  AND c.gui_value IS NOT DISTINCT FROM k.gui_value AND c.git_value IS NOT DISTINCT FROM k.git_value))
            ON CONFLICT (fabric_id, (coalesce(resource_id, 0)), type, (coalesce(field_path, ''))) WHERE status = 'open'
            DO UPDATE SET severity = EXCLUDED.severity, base_value = EXCLUDED.base_value,
                gui_value = EXCLUDED.gui_value, git_value = EXCLUDED.git_value, message = EXCLUDED.message,
                resolution_options = EXCLUDED.resolution_options,
                pull_request_id = coalesce(EXCLUDED.pull_request_id, c.pull_request_id),
                operation_id = coalesce(EXCLUDED.operation_id, c.operation_id)
            RETURNING (xmax = 0) AS inserted, c.resource_id, c.type, c.field_path""",
        fabric_id,
        found,
        operation_id,
        list(ACKNOWLEDGEABLE),
    )
    return (sum(1 for r in rows if r["inserted"]), {(r["resource_id"], r["type"], r["field_path"] or "") for r in rows})


async def record_resolved(
    conn: Connection,
    fabric_id: int,
    found: Sequence[dict[str, Any]],
    *,
    resolved_by: str | None,
    operation_id: uuid.UUID | None = None,
) -> int:
    """Findings a strategy or a person settled (each with its `resolution`): the open row, if
    any, becomes resolved; otherwise a resolved row is written, so every conflict the bot saw
    is a row saying how it ended and who decided. Returns how many were resolved."""
    found = _dedupe(found)
    if not found:
        return 0
    return await conn.fetchval(
        f"""WITH k AS (SELECT * FROM {_RECORDSET}),
            closed AS (
                UPDATE conflict c SET status = 'resolved', resolution = k.resolution, resolved_by = $3,
                    resolved_at = now(), gui_value = k.gui_value, git_value = k.git_value
                FROM k WHERE c.fabric_id = $1 AND c.status = 'open' AND {_KEY_MATCH}
                RETURNING c.resource_id, c.type, c.field_path),
            added AS (
                INSERT INTO conflict (fabric_id, resource_id, operation_id, pull_request_id, type, severity,
                    field_path, base_value, gui_value, git_value, message, resolution_options, status,
                    resolution, resolved_by, resolved_at)
                SELECT $1, k.resource_id, $4, k.pull_request_id, k.type, k.severity, k.field_path, k.base_value,
                       k.gui_value, k.git_value, k.message, coalesce(k.resolution_options, '[]'), 'resolved',
                       k.resolution, $3, now()
                FROM k WHERE NOT EXISTS (SELECT 1 FROM closed c WHERE {_KEY_MATCH})
                RETURNING 1)
            SELECT (SELECT count(*) FROM closed) + (SELECT count(*) FROM added)""",
        fabric_id,
        found,
        resolved_by,
        operation_id,
    )


async def supersede(
    conn: Connection,
    fabric_id: int,
    still_open: Sequence[dict[str, Any]],
    *,
    types: Sequence[str],
    resource_ids: Sequence[int] | None = None,
) -> int:
    """Open conflicts of `types` (within `resource_ids`, or the whole fabric) that the check
    no longer finds: nobody resolved them, the condition went away (the draft was edited or
    discarded, Git changed back). Returns how many."""
    keys = [
        {"resource_id": f.get("resource_id"), "type": f["type"], "field_path": f.get("field_path")} for f in still_open
    ]
    return len(
        await conn.fetch(
            f"""UPDATE conflict c SET status = 'superseded'
            WHERE c.fabric_id = $1 AND c.status = 'open' AND c.type = ANY($3::text[])
              AND ($4::bigint[] IS NULL OR c.resource_id = ANY($4))
              AND NOT EXISTS (SELECT 1 FROM jsonb_to_recordset($2::jsonb)
                              AS k(resource_id bigint, type text, field_path text) WHERE {_KEY_MATCH})
            RETURNING c.id""",
            fabric_id,
            keys,
            list(types),
            list(resource_ids) if resource_ids is not None else None,
        )
    )


async def mark_resolved(
    conn: Connection, conflict_ids: Sequence[int], resolution: str, resolved_by: str | None
) -> list[int]:
    """Resolve open conflicts by id; returns the ids that were open (others are left alone,
    so a second click or a redelivered webhook changes nothing)."""
    rows = await conn.fetch(
        "UPDATE conflict SET status = 'resolved', resolution = $2, resolved_by = $3, resolved_at = now() "
        "WHERE id = ANY($1::bigint[]) AND status = 'open' RETURNING id",
        list(conflict_ids),
        resolution,
        resolved_by,
    )
    return [r["id"] for r in rows]


# --------------------------------------------------------------------------------------------
# Writing resources


def _state_expr() -> str:
    open_conflict = "EXISTS (SELECT 1 FROM conflict oc WHERE oc.resource_id = n0.id AND oc.status = 'open')"
    return STATE_SQL.format(orphaned="n0.orphaned", open_conflict=open_conflict)


async def write_resources(conn: Connection, fabric_id: int, changes: Sequence[dict[str, Any]]) -> int:
    """Apply the check's decisions and set every touched resource's state, in one statement.

    Each change is {"id", "op"} with op:
      "set"   the draft becomes `draft_spec` (or `draft_delete`), its base `base_spec` /
              `base_sha` (the draft was merged with Git, or a side won);
      "clear" the draft goes away (it said nothing Git does not say);
      "state" only the state is recomputed (a conflict opened or closed).
    A cleared resource that nothing else defines (it existed only as a draft) is deleted.
    Returns how many rows changed.
    """
    if not changes:
        return 0
    # The CASE of STATE_SQL must see the *new* values, so they are computed first (n0) and
    # the state from them (n); the UPDATE then writes both.
    sql = f"""
        WITH x AS (
            SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(id bigint, op text, draft_spec jsonb,
                draft_delete boolean, base_spec jsonb, base_sha text)),
        n0 AS (
            SELECT r.id,
                CASE x.op WHEN 'set' THEN NULLIF(x.draft_spec, 'null'::jsonb)
                          WHEN 'clear' THEN NULL ELSE r.draft_spec END AS draft_spec,
                CASE x.op WHEN 'set' THEN coalesce(x.draft_delete, false)
                          WHEN 'clear' THEN false ELSE r.draft_delete END AS draft_delete,
                CASE x.op WHEN 'set' THEN NULLIF(x.base_spec, 'null'::jsonb)
                          WHEN 'clear' THEN NULL ELSE r.draft_base_spec END AS draft_base_spec,
                CASE x.op WHEN 'set' THEN x.base_sha WHEN 'clear' THEN NULL ELSE r.draft_base_sha END AS draft_base_sha,
                CASE x.op WHEN 'clear' THEN NULL ELSE r.pull_request_id END AS pull_request_id,
                CASE x.op WHEN 'state' THEN r.base_moved ELSE false END AS base_moved,
                x.op, r.desired_spec, r.actual_spec,
                (r.state = 'orphaned' OR (r.desired_spec IS NOT NULL AND r.file_path IS NULL)) AS orphaned
            FROM x JOIN resource r ON r.id = x.id AND r.fabric_id = $1),
        n AS (SELECT n0.*, {_state_expr()} AS state FROM n0),
        gone AS (
            DELETE FROM resource r USING n
            WHERE r.id = n.id AND n.op = 'clear' AND n.desired_spec IS NULL AND n.actual_spec IS NULL
              AND NOT n.orphaned
            RETURNING r.id),
        changed AS (
            UPDATE resource r SET draft_spec = n.draft_spec, draft_delete = n.draft_delete,
                draft_base_spec = n.draft_base_spec, draft_base_sha = n.draft_base_sha,
                base_moved = n.base_moved, pull_request_id = n.pull_request_id, state = n.state,
                drafted_at = CASE WHEN n.draft_spec IS NULL AND NOT n.draft_delete THEN NULL
                                  ELSE coalesce(r.drafted_at, now()) END,
                drafted_by = CASE WHEN n.draft_spec IS NULL AND NOT n.draft_delete THEN NULL ELSE r.drafted_by END,
                draft_metadata = CASE WHEN n.draft_spec IS NULL THEN NULL ELSE r.draft_metadata END,
                updated_at = now()
            FROM n WHERE r.id = n.id AND n.id NOT IN (SELECT id FROM gone)
              AND (n.op <> 'state' OR r.state IS DISTINCT FROM n.state)
            RETURNING r.id)
        SELECT (SELECT count(*) FROM changed) + (SELECT count(*) FROM gone)"""
    return await conn.fetchval(sql, fabric_id, list(changes))


async def refresh_states(conn: Connection, fabric_id: int, resource_ids: Sequence[int]) -> int:
    """Recompute the state of these resources (after conflicts opened or closed)."""
    return await write_resources(conn, fabric_id, [{"id": i, "op": "state"} for i in resource_ids])


async def blocked_resources(conn: Connection, fabric_id: int) -> set[int]:
    """The fabric's resources whose draft an open conflict holds back."""
    rows = await conn.fetch("SELECT id FROM resource WHERE fabric_id = $1 AND state = 'conflict'", fabric_id)
    return {r["id"] for r in rows}


async def resolve_superseded(conn: Connection, ids: Sequence[int], resolution: str, resolved_by: str | None) -> None:
    """Conflicts a person's decision made go away are resolved by that person, not superseded."""
    await conn.execute(
        "UPDATE conflict SET status = 'resolved', resolution = $2, resolved_by = $3, resolved_at = now() "
        "WHERE id = ANY($1::bigint[]) AND status = 'superseded'",
        list(ids),
        resolution,
        resolved_by,
    )


async def statuses(conn: Connection, ids: Sequence[int]) -> list[asyncpg.Record]:
    """(id, status, reopened) of these conflicts: reopened when an equal one is open again."""
    return await conn.fetch(
        "SELECT c.id, c.status, EXISTS (SELECT 1 FROM conflict o WHERE o.fabric_id = c.fabric_id "
        "  AND o.status = 'open' AND o.resource_id IS NOT DISTINCT FROM c.resource_id AND o.type = c.type "
        "  AND coalesce(o.field_path, '') = coalesce(c.field_path, '')) AS reopened "
        "FROM conflict c WHERE c.id = ANY($1::bigint[])",
        list(ids),
    )


async def resources_named(conn: Connection, fabric_id: int, resource_ids: Sequence[int]) -> list[asyncpg.Record]:
    """(id, kind, name, pull_request_id) of these resources of the fabric."""
    return await conn.fetch(
        "SELECT id, kind, name, pull_request_id FROM resource WHERE id = ANY($1::bigint[]) AND fabric_id = $2",
        list(resource_ids),
        fabric_id,
    )


async def supersede_permission_denied(
    conn: Connection, fabric_id: int, resource_ids: Sequence[int] | None
) -> list[int]:
    """Open permission_denied conflicts (of these resources, or all) superseded; their resources."""
    rows = await conn.fetch(
        "UPDATE conflict SET status = 'superseded' WHERE fabric_id = $1 AND status = 'open' "
        "AND type = 'permission_denied' AND ($2::bigint[] IS NULL OR resource_id = ANY($2)) RETURNING resource_id",
        fabric_id,
        list(resource_ids) if resource_ids is not None else None,
    )
    return [r["resource_id"] for r in rows]
