"""The status page's read model: everything it shows, as plain data, read in the caller's
(read-only, repeatable-read) transaction.

    overview(conn) -> {fabrics, active, recent, conflicts, open_conflicts, drifted, queue}
    resource_detail(conn, fabric_name, kind, name, namespace) -> dict | None
"""

from __future__ import annotations

from typing import Any

from bot.core.kinds import DEFAULT_NAMESPACE
from bot.storage import Connection, returned_row

LIMIT_RECENT = 20
LIMIT_CONFLICTS = 100
LIMIT_DRIFT = 50

_OPERATION_COLUMNS = (
    "o.id, f.name AS fabric, o.direction, o.status, o.trigger, o.conflict_resolution, o.progress_done, "
    "o.progress_total, o.error, o.created_at, o.started_at, o.completed_at, o.requested_by, "
    "o.result #>> '{github_integration,pull_request_url}' AS pull_request_url, "
    "o.result #>> '{github_integration,commit_sha}' AS commit_sha, "
    "o.result #>> '{statistics,resources_created}' AS created, "
    "o.result #>> '{statistics,resources_updated}' AS updated, "
    "o.result #>> '{statistics,resources_deleted}' AS deleted, "
    "o.result #>> '{statistics,conflicts_detected}' AS conflicts_detected, "
    "o.result #>> '{github_integration,api_calls_made}' AS api_calls"
)
_CONFLICT_COLUMNS = (
    "c.id, f.name AS fabric, r.kind, r.name, r.namespace, c.type, c.severity, c.field_path, "
    "c.base_value::text AS base_value, c.gui_value::text AS gui_value, c.git_value::text AS git_value, "
    "c.message, c.status, c.detected_at, c.resolved_at, c.resolution, p.number AS pr_number, p.html_url AS pr_url"
)
_CONFLICT_JOINS = (
    "FROM conflict c JOIN fabric f ON f.id = c.fabric_id LEFT JOIN resource r ON r.id = c.resource_id "
    "LEFT JOIN pull_request p ON p.id = coalesce(c.pull_request_id, r.pull_request_id)"
)


async def overview(conn: Connection) -> dict[str, Any]:
    fabrics = [
        dict(r)
        for r in await conn.fetch(
            "SELECT id, name, repository, directory, branch, last_ingested_sha, last_ingested_at, "
            "connection_status, status_detail, validate_sha, validate_conclusion, validate_failures, "
            "validate_url, validated_at FROM fabric ORDER BY name"
        )
    ]
    states = await conn.fetch("SELECT fabric_id, state, count(*) AS n FROM resource GROUP BY fabric_id, state")
    drift = await conn.fetch(
        "SELECT fabric_id, count(*) FILTER (WHERE actual_spec IS NOT NULL AND actual_spec <> desired_spec) AS n, "
        "count(*) FILTER (WHERE actual_spec IS NULL) AS unreported "
        "FROM resource WHERE desired_spec IS NOT NULL GROUP BY fabric_id"
    )
    pulls = await conn.fetch(
        "SELECT fabric_id, number, html_url FROM pull_request WHERE state = 'open' ORDER BY number"
    )
    conflict_counts = await conn.fetch(
        "SELECT fabric_id, count(*) AS n FROM conflict WHERE status = 'open' GROUP BY fabric_id"
    )
    by_id = {f["id"]: f for f in fabrics}
    for fabric in fabrics:
        fabric.update(states={}, drifted=0, unreported=0, pull_requests=[], conflicts=0)
    for row in states:
        by_id[row["fabric_id"]]["states"][row["state"]] = row["n"]
    for row in drift:
        by_id[row["fabric_id"]]["drifted"] = row["n"]
        by_id[row["fabric_id"]]["unreported"] = row["unreported"]
    for row in pulls:
        by_id[row["fabric_id"]]["pull_requests"].append({"number": row["number"], "html_url": row["html_url"]})
    for row in conflict_counts:
        by_id[row["fabric_id"]]["conflicts"] = row["n"]

    active = [
        dict(r)
        for r in await conn.fetch(
            f"SELECT {_OPERATION_COLUMNS} FROM sync_operation o JOIN fabric f ON f.id = o.fabric_id "
            f"WHERE o.status NOT IN ('completed', 'failed', 'cancelled') ORDER BY o.created_at DESC LIMIT 100"
        )
    ]
    recent = [
        dict(r)
        for r in await conn.fetch(
            f"SELECT {_OPERATION_COLUMNS} FROM sync_operation o JOIN fabric f ON f.id = o.fabric_id "
            f"WHERE o.status IN ('completed', 'failed', 'cancelled') ORDER BY o.completed_at DESC LIMIT $1",
            LIMIT_RECENT,
        )
    ]
    conflicts = [
        dict(r)
        for r in await conn.fetch(
            f"SELECT {_CONFLICT_COLUMNS} {_CONFLICT_JOINS} WHERE c.status = 'open' "
            "ORDER BY c.detected_at DESC, c.id DESC LIMIT $1",
            LIMIT_CONFLICTS,
        )
    ]
    drifted = [
        dict(r)
        for r in await conn.fetch(
            "SELECT f.name AS fabric, r.kind, r.namespace, r.name, r.actual_reported_at FROM resource r "
            "JOIN fabric f ON f.id = r.fabric_id WHERE r.actual_spec IS NOT NULL AND r.desired_spec IS NOT NULL "
            "AND r.actual_spec <> r.desired_spec ORDER BY f.name, r.kind, r.name LIMIT $1",
            LIMIT_DRIFT,
        )
    ]
    queue = dict(
        returned_row(
            await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE status = 'queued') AS queued, "
                "count(*) FILTER (WHERE status = 'running') AS running, "
                "count(*) FILTER (WHERE status = 'dead') AS dead FROM job "
                "WHERE status IN ('queued', 'running', 'dead')"
            )
        )
    )
    queue["pending_deliveries"] = await conn.fetchval("SELECT count(*) FROM webhook_delivery WHERE outcome = 'pending'")
    return {
        "fabrics": fabrics,
        "active": active,
        "recent": recent,
        "conflicts": conflicts,
        "open_conflicts": sum(f["conflicts"] for f in fabrics),
        "drifted": drifted,
        "queue": queue,
    }


async def resource_detail(
    conn: Connection, fabric_name: str, kind: str, name: str, namespace: str = DEFAULT_NAMESPACE
) -> dict[str, Any] | None:
    """One resource with its fabric, its draft / desired / actual specs, where its document is
    (file and line at the last ingested commit), its pull request and its conflicts."""
    row = await conn.fetchrow(
        "SELECT r.id, r.kind, r.namespace, r.name, r.state, r.desired_spec::text AS desired_spec, r.desired_sha, "
        "r.desired_at, r.draft_spec::text AS draft_spec, r.draft_delete, r.drafted_at, r.drafted_by, "
        "r.draft_base_spec::text AS draft_base_spec, r.base_moved, r.actual_spec::text AS actual_spec, "
        "r.actual_reported_at, r.file_path, r.document_index, r.updated_at, "
        "f.name AS fabric, f.repository, f.branch, f.directory, f.last_ingested_sha, "
        "p.number AS pr_number, p.html_url AS pr_url, p.state AS pr_state, "
        "(SELECT (d ->> 1)::int FROM fabric_file ff, jsonb_array_elements(ff.documents) d "
        " WHERE ff.fabric_id = r.fabric_id AND ff.path = r.file_path AND (d ->> 0)::int = r.document_index "
        " LIMIT 1) AS line "
        "FROM resource r JOIN fabric f ON f.id = r.fabric_id LEFT JOIN pull_request p ON p.id = r.pull_request_id "
        "WHERE f.name = $1 AND r.kind = $2 AND r.namespace = $3 AND r.name = $4",
        fabric_name,
        kind,
        namespace,
        name,
    )
    if row is None:
        return None
    detail = dict(row)
    detail["conflicts"] = [
        dict(r)
        for r in await conn.fetch(
            f"SELECT {_CONFLICT_COLUMNS} {_CONFLICT_JOINS} WHERE c.resource_id = $1 "
            "ORDER BY (c.status = 'open') DESC, c.detected_at DESC, c.id DESC LIMIT $2",
            detail["id"],
            LIMIT_CONFLICTS,
        )
    ]
    return detail
