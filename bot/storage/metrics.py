"""The read model behind `GET /metrics`: every database-derived figure, read in one snapshot."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from bot.storage import Connection, returned_row
from bot.storage import deliveries as delivery_store

JOB_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
SYNC_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass
class Figures:
    deliveries: list[asyncpg.Record]  # event, outcome, n
    oldest_pending: float
    inbox: int
    queue: list[asyncpg.Record]  # kind, state (ready | delayed | running), n
    oldest_ready: float
    expired_leases: int
    dead: list[asyncpg.Record]  # kind, n
    job_latency: list[asyncpg.Record]  # kind, status, n, total, le_<i> per JOB_LATENCY_BUCKETS
    sync_duration: list[asyncpg.Record]  # direction, status, n, total, le_<i> per SYNC_DURATION_BUCKETS
    active_syncs: list[asyncpg.Record]  # status, n
    sync_calls: list[asyncpg.Record]  # direction, n
    fabrics: list[asyncpg.Record]  # id, name, connection_status, ingested
    resources: dict[tuple[int, str], int]  # (fabric id, state) -> count
    open_conflicts: dict[tuple[int, str], int]  # (fabric id, type) -> count
    open_pulls: dict[int, int]  # fabric id -> count
    rate_limit_remaining: dict[int, Any]  # fabric id -> as its latest finished sync recorded


def _bucket_columns(expression: str, buckets: Iterable[float]) -> str:
    # The bucket bounds are our own constants, never user input.
    return ", ".join(f"count(*) FILTER (WHERE {expression} <= {float(b)!r}) AS le_{i}" for i, b in enumerate(buckets))


async def read(conn: Connection) -> Figures:
    """Call inside a repeatable-read transaction, so the figures agree with each other."""
    queue = returned_row(
        await conn.fetchrow(
            "SELECT coalesce(extract(epoch FROM now() - min(run_after) "
            "  FILTER (WHERE status = 'queued' AND run_after <= now())), 0)::float8 AS oldest_ready, "
            "count(*) FILTER (WHERE status = 'running' AND lease_expires_at < now()) AS expired "
            "FROM job WHERE status IN ('queued', 'running')"
        )
    )
    lat = "extract(epoch FROM finished_at - created_at)"
    took = "extract(epoch FROM completed_at - coalesce(started_at, created_at))"
    return Figures(
        deliveries=await conn.fetch(
            "SELECT event, outcome, count(*) AS n FROM webhook_delivery GROUP BY event, outcome ORDER BY event, outcome"
        ),
        oldest_pending=await conn.fetchval(
            "SELECT coalesce(extract(epoch FROM now() - min(received_at)), 0)::float8 "
            "FROM webhook_delivery WHERE outcome = 'pending'"
        ),
        inbox=await delivery_store.inbox_depth(conn),
        queue=await conn.fetch(
            "SELECT kind, CASE WHEN status = 'running' THEN 'running' WHEN run_after <= now() THEN 'ready' "
            "ELSE 'delayed' END AS state, count(*) AS n FROM job WHERE status IN ('queued', 'running') "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        oldest_ready=queue["oldest_ready"],
        expired_leases=queue["expired"],
        dead=await conn.fetch("SELECT kind, count(*) AS n FROM job WHERE status = 'dead' GROUP BY kind ORDER BY kind"),
        job_latency=await conn.fetch(
            f"SELECT kind, status, count(*) AS n, sum({lat}) AS total, "
            f"{_bucket_columns(lat, JOB_LATENCY_BUCKETS)} FROM job WHERE finished_at IS NOT NULL "
            f"GROUP BY kind, status ORDER BY kind, status"
        ),
        sync_duration=await conn.fetch(
            f"SELECT direction, status, count(*) AS n, sum({took}) AS total, "
            f"{_bucket_columns(took, SYNC_DURATION_BUCKETS)} FROM sync_operation "
            f"WHERE completed_at IS NOT NULL GROUP BY direction, status ORDER BY direction, status"
        ),
        active_syncs=await conn.fetch(
            "SELECT status, count(*) AS n FROM sync_operation "
            "WHERE status NOT IN ('completed', 'failed', 'cancelled') "
            "GROUP BY status ORDER BY status"
        ),
        sync_calls=await conn.fetch(
            "SELECT direction, sum(CASE WHEN jsonb_typeof(result #> '{github_integration,api_calls_made}') "
            "= 'number' THEN (result #>> '{github_integration,api_calls_made}')::numeric ELSE 0 END)::float8 "
            "AS n FROM sync_operation WHERE completed_at IS NOT NULL GROUP BY direction ORDER BY direction"
        ),
        fabrics=await conn.fetch(
            "SELECT id, name, connection_status, extract(epoch FROM last_ingested_at)::float8 AS ingested "
            "FROM fabric ORDER BY name"
        ),
        resources={
            (row["fabric_id"], row["state"]): row["n"]
            for row in await conn.fetch(
                "SELECT fabric_id, state, count(*) AS n FROM resource GROUP BY fabric_id, state"
            )
        },
        open_conflicts={
            (row["fabric_id"], row["type"]): row["n"]
            for row in await conn.fetch(
                "SELECT fabric_id, type, count(*) AS n FROM conflict WHERE status = 'open' GROUP BY fabric_id, type"
            )
        },
        open_pulls={
            row["fabric_id"]: row["n"]
            for row in await conn.fetch(
                "SELECT fabric_id, count(*) AS n FROM pull_request WHERE state = 'open' GROUP BY fabric_id"
            )
        },
        rate_limit_remaining={
            row["fabric_id"]: row["n"]
            for row in await conn.fetch(
                "SELECT DISTINCT ON (fabric_id) fabric_id, "
                "(result #>> '{github_integration,rate_limit_remaining}')::float8 AS n FROM sync_operation "
                "WHERE completed_at IS NOT NULL "
                "AND jsonb_typeof(result #> '{github_integration,rate_limit_remaining}') = 'number' "
                "ORDER BY fabric_id, completed_at DESC"
            )
        },
    )
