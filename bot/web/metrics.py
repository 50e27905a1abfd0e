"""`GET /metrics` in the Prometheus text format.

Two sources:

- The database, read at scrape time: webhook deliveries by event and outcome, the job queue
  (depth, oldest ready job, expired leases, dead jobs, latency from enqueue to finish), sync
  operations (durations, active ones, GitHub API calls their results counted), open conflicts,
  resources per state (drift is state `drifted`) and open bot pull requests. These are the
  same from whichever `serve` process Prometheus asks, so several processes behind one load
  balancer still give true numbers.
- This process, for what only it sees as it happens (bot.process_metrics): GitHub API calls,
  the rate limit GitHub last reported, webhook acknowledgement latency, jobs this process ran,
  plus the standard process_* and python_* metrics. Scrape every process for these.

Access: /metrics is open (no token), as Prometheus scrapers expect. It carries no secrets and
no payload data: label values are fabric names (identifiers the operator chose), webhook event
names, job kinds, directions, statuses, conflict types and resource states; never repository
contents, resource names, field values, tokens or delivery bodies. Put it behind the network
boundary of your monitoring if fabric names are sensitive to you.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry, exposition, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from bot import __version__
from bot.process_metrics import PREFIX, PROCESS_REGISTRY
from bot.storage import Connection, returned_row
from bot.storage import deliveries as delivery_store
from bot.web.keys import POOL

log = logging.getLogger(__name__)

CONTENT_TYPE = getattr(exposition, "CONTENT_TYPE_PLAIN_0_0_4", exposition.CONTENT_TYPE_LATEST)

RESOURCE_STATES = ("in_sync", "draft", "pending_pr", "conflict", "drifted", "orphaned")
CONFLICT_TYPES = (
    "concurrent_modification",
    "missing_resource",
    "schema_mismatch",
    "file_corruption",
    "dependency_violation",
    "permission_denied",
)
JOB_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
SYNC_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
SNAPSHOT_MAX_AGE = 1.0  # seconds: scrapes closer together than this share one set of queries
QUERY_TIMEOUT = 5.0

# --- database-derived metrics ---------------------------------------------------------------


def _bucket_columns(expression: str, buckets: Iterable[float]) -> str:
    # The bucket bounds are our own constants, never user input.
    return ", ".join(f"count(*) FILTER (WHERE {expression} <= {float(b)!r}) AS le_{i}" for i, b in enumerate(buckets))


def _histogram(
    family: HistogramMetricFamily, labels: list[str], row: asyncpg.Record, buckets: tuple[float, ...]
) -> None:
    counts = [(repr(float(b)), row[f"le_{i}"]) for i, b in enumerate(buckets)]
    counts.append(("+Inf", row["n"]))
    family.add_metric(labels, counts, sum_value=float(row["total"] or 0.0))


async def collect_database(conn: Connection) -> list[Metric]:
    """Every database-derived metric family, read in one repeatable-read snapshot."""
    families: list[Metric] = []

    # Webhook deliveries.
    deliveries = CounterMetricFamily(
        f"{PREFIX}_webhook_deliveries",
        "Webhook deliveries stored, by event and outcome (pending, processed, ignored, failed, dead)",
        labels=["event", "outcome"],
    )
    for row in await conn.fetch(
        "SELECT event, outcome, count(*) AS n FROM webhook_delivery GROUP BY event, outcome ORDER BY event, outcome"
    ):
        deliveries.add_metric([row["event"], row["outcome"]], row["n"])
    families.append(deliveries)
    oldest_pending = await conn.fetchval(
        "SELECT coalesce(extract(epoch FROM now() - min(received_at)), 0)::float8 "
        "FROM webhook_delivery WHERE outcome = 'pending'"
    )
    families.append(
        GaugeMetricFamily(
            f"{PREFIX}_webhook_oldest_pending_age_seconds",
            "Age of the oldest stored delivery not yet processed (0 when none waits)",
            value=oldest_pending,
        )
    )

    families.append(
        GaugeMetricFamily(
            f"{PREFIX}_webhook_inbox",
            "Acknowledged deliveries not yet turned into jobs (a burst is answered first and queued after)",
            value=await delivery_store.inbox_depth(conn),
        )
    )

    # The job queue.
    depth = GaugeMetricFamily(
        f"{PREFIX}_queue_jobs",
        "Unfinished jobs by kind and state: ready (may run now), delayed "
        "(waiting for a retry or a rate-limit reset) and running (leased by a worker)",
        labels=["kind", "state"],
    )
    queue_rows = await conn.fetch(
        "SELECT kind, CASE WHEN status = 'running' THEN 'running' WHEN run_after <= now() THEN 'ready' "
        "ELSE 'delayed' END AS state, count(*) AS n FROM job WHERE status IN ('queued', 'running') "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    )
    for row in queue_rows:
        depth.add_metric([row["kind"], row["state"]], row["n"])
    families.append(depth)
    queue = returned_row(
        await conn.fetchrow(
            "SELECT coalesce(extract(epoch FROM now() - min(run_after) "
            "  FILTER (WHERE status = 'queued' AND run_after <= now())), 0)::float8 AS oldest_ready, "
            "count(*) FILTER (WHERE status = 'running' AND lease_expires_at < now()) AS expired "
            "FROM job WHERE status IN ('queued', 'running')"
        )
    )
    families.append(
        GaugeMetricFamily(
            f"{PREFIX}_queue_oldest_ready_age_seconds",
            "How long the oldest job that may run now has waited (0 when none)",
            value=queue["oldest_ready"],
        )
    )
    families.append(
        GaugeMetricFamily(
            f"{PREFIX}_queue_expired_leases",
            "Running jobs whose lease has expired (their worker died; another takes them over)",
            value=queue["expired"],
        )
    )
    dead = GaugeMetricFamily(f"{PREFIX}_queue_dead_jobs", "Jobs that failed every attempt, by kind", labels=["kind"])
    for row in await conn.fetch(
        "SELECT kind, count(*) AS n FROM job WHERE status = 'dead' GROUP BY kind ORDER BY kind"
    ):
        dead.add_metric([row["kind"]], row["n"])
    families.append(dead)
    latency = HistogramMetricFamily(
        f"{PREFIX}_job_latency_seconds",
        "Time from a job's enqueueing to its end (waiting, retries and "
        "work), for finished jobs by kind and status (done, dead, cancelled)",
        labels=["kind", "status"],
    )
    lat = "extract(epoch FROM finished_at - created_at)"
    for row in await conn.fetch(
        f"SELECT kind, status, count(*) AS n, sum({lat}) AS total, "
        f"{_bucket_columns(lat, JOB_LATENCY_BUCKETS)} FROM job WHERE finished_at IS NOT NULL "
        f"GROUP BY kind, status ORDER BY kind, status"
    ):
        _histogram(latency, [row["kind"], row["status"]], row, JOB_LATENCY_BUCKETS)
    families.append(latency)

    # Sync operations.
    duration = HistogramMetricFamily(
        f"{PREFIX}_sync_duration_seconds",
        "Duration of finished sync operations (from start to end), "
        "by direction and status (completed, failed, cancelled)",
        labels=["direction", "status"],
    )
    took = "extract(epoch FROM completed_at - coalesce(started_at, created_at))"
    for row in await conn.fetch(
        f"SELECT direction, status, count(*) AS n, sum({took}) AS total, "
        f"{_bucket_columns(took, SYNC_DURATION_BUCKETS)} FROM sync_operation "
        f"WHERE completed_at IS NOT NULL GROUP BY direction, status ORDER BY direction, status"
    ):
        _histogram(duration, [row["direction"], row["status"]], row, SYNC_DURATION_BUCKETS)
    families.append(duration)
    active = GaugeMetricFamily(
        f"{PREFIX}_sync_operations_active", "Sync operations not finished yet, by status", labels=["status"]
    )
    for row in await conn.fetch(
        "SELECT status, count(*) AS n FROM sync_operation "
        "WHERE status NOT IN ('completed', 'failed', 'cancelled') "
        "GROUP BY status ORDER BY status"
    ):
        active.add_metric([row["status"]], row["n"])
    families.append(active)
    calls = CounterMetricFamily(
        f"{PREFIX}_sync_github_api_calls",
        "GitHub API calls made by finished sync operations (the api_calls_made of their results), by direction",
        labels=["direction"],
    )
    for row in await conn.fetch(
        "SELECT direction, sum(CASE WHEN jsonb_typeof(result #> '{github_integration,api_calls_made}') "
        "= 'number' THEN (result #>> '{github_integration,api_calls_made}')::numeric ELSE 0 END)::float8 "
        "AS n FROM sync_operation WHERE completed_at IS NOT NULL GROUP BY direction ORDER BY direction"
    ):
        calls.add_metric([row["direction"]], row["n"])
    families.append(calls)

    # Per fabric: resources per state, open conflicts by type, open PRs, last ingest, rate limit.
    fabric_rows = await conn.fetch(
        "SELECT id, name, connection_status, extract(epoch FROM last_ingested_at)::float8 AS ingested "
        "FROM fabric ORDER BY name"
    )
    names = {row["id"]: row["name"] for row in fabric_rows}
    resources = GaugeMetricFamily(
        f"{PREFIX}_resources", 'Resources by fabric and state (drift: state="drifted")', labels=["fabric", "state"]
    )
    counts = {
        (row["fabric_id"], row["state"]): row["n"]
        for row in await conn.fetch("SELECT fabric_id, state, count(*) AS n FROM resource GROUP BY fabric_id, state")
    }
    conflicts = GaugeMetricFamily(
        f"{PREFIX}_conflicts_open", "Open conflicts by fabric and type", labels=["fabric", "type"]
    )
    open_conflicts = {
        (row["fabric_id"], row["type"]): row["n"]
        for row in await conn.fetch(
            "SELECT fabric_id, type, count(*) AS n FROM conflict WHERE status = 'open' GROUP BY fabric_id, type"
        )
    }
    pulls = GaugeMetricFamily(
        f"{PREFIX}_pull_requests_open", "Open pull requests the bot made, by fabric", labels=["fabric"]
    )
    open_pulls = {
        row["fabric_id"]: row["n"]
        for row in await conn.fetch(
            "SELECT fabric_id, count(*) AS n FROM pull_request WHERE state = 'open' GROUP BY fabric_id"
        )
    }
    ingested = GaugeMetricFamily(
        f"{PREFIX}_fabric_last_ingest_timestamp_seconds",
        "When the fabric's branch was last ingested (Unix time)",
        labels=["fabric"],
    )
    connection = GaugeMetricFamily(
        f"{PREFIX}_fabric_connection",
        "1 for the fabric's connection status (unknown, connected, disconnected, branch_missing)",
        labels=["fabric", "status"],
    )
    remaining = GaugeMetricFamily(
        f"{PREFIX}_sync_rate_limit_remaining",
        "GitHub rate limit remaining as recorded by the fabric's latest finished sync operation",
        labels=["fabric"],
    )
    last_remaining = {
        row["fabric_id"]: row["n"]
        for row in await conn.fetch(
            "SELECT DISTINCT ON (fabric_id) fabric_id, "
            "(result #>> '{github_integration,rate_limit_remaining}')::float8 AS n FROM sync_operation "
            "WHERE completed_at IS NOT NULL "
            "AND jsonb_typeof(result #> '{github_integration,rate_limit_remaining}') = 'number' "
            "ORDER BY fabric_id, completed_at DESC"
        )
    }
    for row in fabric_rows:
        fabric_id, name = row["id"], row["name"]
        for state in RESOURCE_STATES:
            resources.add_metric([name, state], counts.get((fabric_id, state), 0))
        for kind in CONFLICT_TYPES:
            conflicts.add_metric([name, kind], open_conflicts.get((fabric_id, kind), 0))
        pulls.add_metric([name], open_pulls.get(fabric_id, 0))
        if row["ingested"] is not None:
            ingested.add_metric([name], row["ingested"])
        connection.add_metric([name, row["connection_status"]], 1)
        if fabric_id in last_remaining:
            remaining.add_metric([name], last_remaining[fabric_id])
    families += [resources, conflicts, pulls, ingested, connection, remaining]
    families.append(GaugeMetricFamily(f"{PREFIX}_fabrics", "Fabrics registered", value=len(names)))
    return families


class _Families:
    """A collector that yields families gathered beforehand (collect() cannot await)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self.families)


class _Snapshots:
    """The database part of a scrape, shared by scrapes less than SNAPSHOT_MAX_AGE apart."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.taken_at = 0.0
        self.families: list[Metric] = []
        self.up = False

    async def get(self, pool: asyncpg.Pool) -> tuple[list[Metric], bool]:
        async with self.lock:
            if time.monotonic() - self.taken_at >= SNAPSHOT_MAX_AGE:
                try:
                    async with asyncio.timeout(QUERY_TIMEOUT):
                        async with pool.acquire() as conn:
                            async with conn.transaction(isolation="repeatable_read", readonly=True):
                                self.families = await collect_database(conn)
                    self.up = True
                except (TimeoutError, OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError) as error:
                    log.warning("metrics: the database did not answer (%s)", error.__class__.__name__)
                    self.families, self.up = [], False
                except asyncpg.PostgresError:
                    # A query the schema no longer fits: the process metrics still go out.
                    log.exception("metrics: a database query failed")
                    self.families, self.up = [], False
                self.taken_at = time.monotonic()
            return self.families, self.up


SNAPSHOTS = web.AppKey("metrics_snapshots", _Snapshots)


async def render(pool: asyncpg.Pool, snapshots: _Snapshots | None = None) -> bytes:
    families, up = await (snapshots or _Snapshots()).get(pool)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        _Families(
            families
            + [
                GaugeMetricFamily(
                    f"{PREFIX}_database_up", "1 when the database answered this scrape", value=1 if up else 0
                ),
                _build_info(),
            ]
        )
    )
    return generate_latest(registry) + generate_latest(PROCESS_REGISTRY)


def _build_info() -> Metric:
    info = GaugeMetricFamily(f"{PREFIX}_build_info", "The running version", labels=["version"])
    info.add_metric([__version__], 1)
    return info


async def metrics_handler(request: web.Request) -> web.Response:
    body = await render(request.app[POOL], request.app[SNAPSHOTS])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app[SNAPSHOTS] = _Snapshots()
    app.router.add_get("/metrics", metrics_handler)
