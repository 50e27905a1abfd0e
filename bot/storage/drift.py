"""Drift: actual specs the running fabric reports, and the resources where they differ from desired."""

from __future__ import annotations

from typing import Any

import asyncpg

from bot.storage import Connection, Executor
from bot.storage.resources import STATE_SQL


async def desired_specs(
    conn: Connection, fabric_id: int, identities: list[tuple[str, str, str]]
) -> dict[tuple[str, str, str], Any]:
    """(kind, namespace, name) -> desired spec, of these resources of the fabric."""
    rows = await conn.fetch(
        "SELECT kind, namespace, name, desired_spec FROM resource WHERE fabric_id = $1 "
        "AND (kind, namespace, name) IN (SELECT * FROM unnest($2::text[], $3::text[], $4::text[]))",
        fabric_id,
        [i[0] for i in identities],
        [i[1] for i in identities],
        [i[2] for i in identities],
    )
    return {(r["kind"], r["namespace"], r["name"]): r["desired_spec"] for r in rows}


async def set_actual(conn: Connection, fabric_id: int, items: list[dict[str, Any]]) -> list[asyncpg.Record]:
    """Record reported actual specs ({kind, namespace, name, spec}) and the states that follow,
    in one statement; (kind, namespace, name, state) of each resource updated."""
    state = STATE_SQL.format(
        orphaned="n0.orphaned",
        open_conflict="EXISTS (SELECT 1 FROM conflict oc WHERE oc.resource_id = n0.id AND oc.status = 'open')",
    )
    rows = await conn.fetch(
        f"""WITH x AS (SELECT DISTINCT ON (kind, namespace, name) * FROM jsonb_to_recordset($2::jsonb)
                       AS x(kind text, namespace text, name text, spec jsonb)),
            n0 AS (SELECT r.id, x.spec AS actual_spec, r.desired_spec, r.draft_spec, r.draft_delete,
                          r.pull_request_id,
                          (r.state = 'orphaned' OR (r.desired_spec IS NOT NULL AND r.file_path IS NULL)) AS orphaned
                   FROM x JOIN resource r ON r.fabric_id = $1 AND r.kind = x.kind AND r.namespace = x.namespace
                                          AND r.name = x.name),
            n AS (SELECT n0.id, n0.actual_spec, {state} AS state FROM n0)
        UPDATE resource r SET actual_spec = n.actual_spec, actual_reported_at = now(), state = n.state,
                              updated_at = now()
        FROM n WHERE r.id = n.id
        RETURNING r.kind, r.namespace, r.name, r.state""",
        fabric_id,
        items,
    )
    return rows


async def drifted(db: Executor, fabric_id: int, kind: str | None = None) -> list[asyncpg.Record]:
    """Resources whose reported actual spec differs from desired (of one kind, or all)."""
    rows = await db.fetch(
        "SELECT kind, namespace, name, state, desired_spec, actual_spec, actual_reported_at FROM resource "
        "WHERE fabric_id = $1 AND actual_spec IS NOT NULL AND desired_spec IS NOT NULL "
        "AND actual_spec <> desired_spec AND ($2::text IS NULL OR kind = $2) ORDER BY kind, namespace, name",
        fabric_id,
        kind,
    )
    return rows


async def not_reported(db: Executor, fabric_id: int, kind: str | None, limit: int) -> list[asyncpg.Record]:
    """(kind, namespace, name, total) of the first `limit` resources Git describes whose
    actual state was never reported; `total` counts them all."""
    return await db.fetch(
        "SELECT kind, namespace, name, count(*) OVER () AS total FROM resource "
        "WHERE fabric_id = $1 AND desired_spec IS NOT NULL AND actual_spec IS NULL "
        "AND ($2::text IS NULL OR kind = $2) ORDER BY kind, namespace, name LIMIT $3",
        fabric_id,
        kind,
        limit,
    )
