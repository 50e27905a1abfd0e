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
from bot.core.states import ConflictType, ResourceState
from bot.process_metrics import PREFIX, PROCESS_REGISTRY
from bot.storage import Connection, database
from bot.storage import metrics as metric_store
from bot.web.keys import POOL

log = logging.getLogger(__name__)

CONTENT_TYPE = getattr(exposition, "CONTENT_TYPE_PLAIN_0_0_4", exposition.CONTENT_TYPE_LATEST)

SNAPSHOT_MAX_AGE = 1.0  # seconds: scrapes closer together than this share one set of queries
QUERY_TIMEOUT = 5.0

# --- database-derived metrics ---------------------------------------------------------------


def _histogram(
    family: HistogramMetricFamily, labels: list[str], row: asyncpg.Record, buckets: tuple[float, ...]
) -> None:
    counts = [(repr(float(b)), row[f"le_{i}"]) for i, b in enumerate(buckets)]
    counts.append(("+Inf", row["n"]))
    family.add_metric(labels, counts, sum_value=float(row["total"] or 0.0))


async def collect_database(conn: Connection) -> list[Metric]:
    """Every database-derived metric family, read in one repeatable-read snapshot."""
    return families(await metric_store.read(conn))


def families(f: metric_store.Figures) -> list[Metric]:
    out: list[Metric] = []

    # Webhook deliveries.
    deliveries = CounterMetricFamily(
        f"{PREFIX}_webhook_deliveries",
        "Webhook deliveries stored, by event and outcome (pending, processed, ignored, failed, dead)",
        labels=["event", "outcome"],
    )
    for row in f.deliveries:
        deliveries.add_metric([row["event"], row["outcome"]], row["n"])
    out.append(deliveries)
    out.append(
        GaugeMetricFamily(
            f"{PREFIX}_webhook_oldest_pending_age_seconds",
            "Age of the oldest stored delivery not yet processed (0 when none waits)",
            value=f.oldest_pending,
        )
    )
    out.append(
        GaugeMetricFamily(
            f"{PREFIX}_webhook_inbox",
            "Acknowledged deliveries not yet turned into jobs (a burst is answered first and queued after)",
            value=f.inbox,
        )
    )

    # The job queue.
    depth = GaugeMetricFamily(
        f"{PREFIX}_queue_jobs",
        "Unfinished jobs by kind and state: ready (may run now), delayed "
        "(waiting for a retry or a rate-limit reset) and running (leased by a worker)",
        labels=["kind", "state"],
    )
    for row in f.queue:
        depth.add_metric([row["kind"], row["state"]], row["n"])
    out.append(depth)
    out.append(
        GaugeMetricFamily(
            f"{PREFIX}_queue_oldest_ready_age_seconds",
            "How long the oldest job that may run now has waited (0 when none)",
            value=f.oldest_ready,
        )
    )
    out.append(
        GaugeMetricFamily(
            f"{PREFIX}_queue_expired_leases",
            "Running jobs whose lease has expired (their worker died; another takes them over)",
            value=f.expired_leases,
        )
    )
    dead = GaugeMetricFamily(f"{PREFIX}_queue_dead_jobs", "Jobs that failed every attempt, by kind", labels=["kind"])
    for row in f.dead:
        dead.add_metric([row["kind"]], row["n"])
    out.append(dead)
    latency = HistogramMetricFamily(
        f"{PREFIX}_job_latency_seconds",
        "Time from a job's enqueueing to its end (waiting, retries and "
        "work), for finished jobs by kind and status (done, dead, cancelled)",
        labels=["kind", "status"],
    )
    for row in f.job_latency:
        _histogram(latency, [row["kind"], row["status"]], row, metric_store.JOB_LATENCY_BUCKETS)
    out.append(latency)

    # Sync operations.
    duration = HistogramMetricFamily(
        f"{PREFIX}_sync_duration_seconds",
        "Duration of finished sync operations (from start to end), "
        "by direction and status (completed, failed, cancelled)",
        labels=["direction", "status"],
    )
    for row in f.sync_duration:
        _histogram(duration, [row["direction"], row["status"]], row, metric_store.SYNC_DURATION_BUCKETS)
    out.append(duration)
    active = GaugeMetricFamily(
        f"{PREFIX}_sync_operations_active", "Sync operations not finished yet, by status", labels=["status"]
    )
    for row in f.active_syncs:
        active.add_metric([row["status"]], row["n"])
    out.append(active)
    calls = CounterMetricFamily(
        f"{PREFIX}_sync_github_api_calls",
        "GitHub API calls made by finished sync operations (the api_calls_made of their results), by direction",
        labels=["direction"],
    )
    for row in f.sync_calls:
        calls.add_metric([row["direction"]], row["n"])
    out.append(calls)

    # Per fabric: resources per state, open conflicts by type, open PRs, last ingest, rate limit.
    resources = GaugeMetricFamily(
        f"{PREFIX}_resources", 'Resources by fabric and state (drift: state="drifted")', labels=["fabric", "state"]
    )
    conflicts = GaugeMetricFamily(
        f"{PREFIX}_conflicts_open", "Open conflicts by fabric and type", labels=["fabric", "type"]
    )
    pulls = GaugeMetricFamily(
        f"{PREFIX}_pull_requests_open", "Open pull requests the bot made, by fabric", labels=["fabric"]
    )
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
    for row in f.fabrics:
        fabric_id, name = row["id"], row["name"]
        for state in ResourceState:
            resources.add_metric([name, state], f.resources.get((fabric_id, state), 0))
        for kind in ConflictType:
            conflicts.add_metric([name, kind], f.open_conflicts.get((fabric_id, kind), 0))
        pulls.add_metric([name], f.open_pulls.get(fabric_id, 0))
        if row["ingested"] is not None:
            ingested.add_metric([name], row["ingested"])
        connection.add_metric([name, row["connection_status"]], 1)
        if fabric_id in f.rate_limit_remaining:
            remaining.add_metric([name], f.rate_limit_remaining[fabric_id])
    out += [resources, conflicts, pulls, ingested, connection, remaining]
    out.append(GaugeMetricFamily(f"{PREFIX}_fabrics", "Fabrics registered", value=len(f.fabrics)))
    return out


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
                except database.UNAVAILABLE as error:
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
