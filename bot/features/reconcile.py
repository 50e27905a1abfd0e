"""Reconciliation: a missed webhook must not leave a fabric stale.

Every RECONCILE_INTERVAL seconds one 'reconcile' job runs (one across all `serve`
processes: the job is queued only when none was queued within the interval). It does no
GitHub call itself: it queues one 'reconcile_installation' job per installation, each at a
random moment of the first half of the interval (so a sweep of hundreds of fabrics is spread
out, not one wave, and differently every round; the first sweep, and the first after the bot
was down for more than two intervals, is not delayed), in that installation's lane (see
bot.storage.jobs: one installation's sweep never holds up another's pushes).

A 'reconcile_installation' job checks the fabrics of its installation one after the other, at
most CHECKS_PER_SECOND, with one installation token. Each check reads the fabric's branch
head with a conditional GET (If-None-Match: the ETag stored on the fabric; GitHub does not
count a 304 against the rate limit) and queues an 'ingest' job
{fabric_id, head_sha, trigger: 'reconcile'} when the head is not the last ingested commit.
An installation whose rate limit is spent defers its own sweep only.

The ETag is stored only once the head has been ingested: while an ingest is still due every
check reads the head in full, so a lost or failed ingest is queued again next time (the
dedupe key keeps it to one waiting ingest per fabric and head).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

from bot import logs
from bot.features import installations
from bot.github.client import CallCounter, GitHub
from bot.github.errors import GitHubError, NotFound, PermissionDenied
from bot.github.repository import Repository
from bot.jobs.kinds import JobKind
from bot.jobs.queue import JobContext, JobHandlers, enqueue
from bot.storage import database
from bot.storage import fabrics as fabric_store
from bot.storage import installations as installation_store
from bot.storage import jobs as job_store
from bot.storage.fabrics import Fabric

log = logging.getLogger(__name__)

CHECKS_PER_SECOND = 10.0  # one installation's branch checks, at most
SPREAD_OF_INTERVAL = 0.5  # installations' sweeps start at random within this share of the interval


@dataclass
class ReconcileReport:
    checked: int = 0
    unchanged: int = 0  # 304: nothing moved since the last check
    in_sync: int = 0  # read in full; the head is the last ingested commit
    enqueued: dict[int, str] = field(default_factory=dict)  # fabric id -> head sha queued for ingest
    unreachable: dict[int, str] = field(default_factory=dict)  # fabric id -> why
    counter: CallCounter = field(default_factory=CallCounter)


async def reconcile_fabric(pool: asyncpg.Pool, github: GitHub, fabric: Fabric, report: ReconcileReport) -> None:
    report.checked += 1
    try:
        gh = await installations.client(pool, github, fabric, report.counter)
    except installations.NotInstalled:
        report.unreachable[fabric.id] = "the GitHub App is not installed on the repository"
        return
    repo = Repository(gh, fabric.owner, fabric.repo)
    try:
        status, head, etag = await repo.branch_head_if_changed(fabric.branch, fabric.branch_etag)
    except NotFound:
        # GitHub answers 404 both for a missing branch and for a repository the installation
        # cannot see (any more): tell them apart, so the fabric says the right thing.
        try:
            await repo.get()
        except NotFound:
            detail = f"{fabric.repository} is not reachable through the GitHub App's installation"
            if gh.installation_id is not None:  # always, for a client of an installation
                await installation_store.disconnect_fabrics(
                    pool, gh.installation_id, repositories=[fabric.repository], detail=detail
                )
        else:
            detail = f"branch {fabric.branch} does not exist in {fabric.repository}"
            await fabric_store.set_connection(pool, fabric.id, "branch_missing", detail)
            await fabric_store.set_branch_etag(pool, fabric.id, None)
        report.unreachable[fabric.id] = detail
        return
    except PermissionDenied as denied:
        detail = f"GitHub refused to show {fabric.repository}: {denied}"
        await fabric_store.set_connection(pool, fabric.id, "disconnected", detail)
        report.unreachable[fabric.id] = detail
        return
    if status == 304:
        report.unchanged += 1
        return
    if head is None:  # a 200 always carries the ref
        raise ValueError(f"GitHub answered the head of {fabric.branch} without a sha")
    if fabric.connection_status in ("branch_missing", "unknown"):
        await fabric_store.set_connection(pool, fabric.id, "connected")
    if head == fabric.last_ingested_sha:
        report.in_sync += 1
        await fabric_store.set_branch_etag(pool, fabric.id, etag)
        return
    await fabric_store.set_branch_etag(pool, fabric.id, None)
    await enqueue(
        pool,
        JobKind.INGEST,
        {"fabric_id": fabric.id, "head_sha": head, "trigger": "reconcile"},
        fabric_id=fabric.id,
        dedupe_key=f"ingest:{fabric.id}:{head}",
    )
    report.enqueued[fabric.id] = head
    log.info(
        "branch %s of %s is at %s, last ingested %s: ingest queued",
        fabric.branch,
        fabric.repository,
        head[:12],
        (fabric.last_ingested_sha or "nothing")[:12],
    )


async def reconcile_once(pool: asyncpg.Pool, github: GitHub) -> ReconcileReport:
    """Check every fabric now, installation by installation (the periodic sweep spreads the
    same checks out). A rate limit (RetryLater) stops the round and is raised."""
    report = ReconcileReport()
    for installation_id in await fabric_store.installations_in_use(pool):
        await reconcile_installation(pool, github, installation_id, rate=math.inf, report=report)
    return report


async def run_reconcile_job(ctx: JobContext) -> None:
    """The periodic sweep: one 'reconcile_installation' job per installation, spread out.
    Payload {"spread_seconds": s} overrides the spread (tests, benchmarks)."""
    interval = ctx.config.reconcile_interval
    if "spread_seconds" in ctx.job.payload:
        spread = float(ctx.job.payload["spread_seconds"])
    elif await job_store.finished_since(ctx.pool, JobKind.RECONCILE, 2 * interval):
        spread = interval * SPREAD_OF_INTERVAL
    else:  # the first sweep, or the first after the bot was down: checks are overdue, none waits
        spread = 0.0
    queued = await queue_sweep(ctx.pool, spread)
    log.info("reconciliation of %d installation(s) queued over %.0f s", queued, spread)


async def queue_sweep(pool: asyncpg.Pool, spread: float, *, rand: Callable[[], float] = random.random) -> int:
    """Queue each installation's check at a random moment within `spread` seconds; how many were
    queued (an installation whose previous check still waits or runs is left to it)."""
    queued = 0
    for installation_id in await fabric_store.installations_in_use(pool):
        key = f"reconcile:{installation_id if installation_id is not None else 'unknown'}"
        job_id = await enqueue(
            pool,
            JobKind.RECONCILE_INSTALLATION,
            {"installation_id": installation_id},
            ordering_key=key,
            dedupe_key=key,
            delay=rand() * spread,
            installation_id=installation_id,
        )
        queued += job_id is not None
    return queued


async def reconcile_installation(
    pool: asyncpg.Pool,
    github: GitHub,
    installation_id: int | None,
    *,
    rate: float = CHECKS_PER_SECOND,
    report: ReconcileReport | None = None,
) -> ReconcileReport:
    """Check the fabrics of one installation, one after the other, at most `rate` per second. A
    fabric that fails is logged and skipped; a rate limit (RetryLater) stops it and is raised."""
    report = report if report is not None else ReconcileReport()
    gap = 1.0 / rate
    next_at = time.monotonic()
    for fabric in await fabric_store.for_installation(pool, installation_id):
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        next_at = time.monotonic() + gap
        with logs.context(fabric=fabric.name):
            try:
                await reconcile_fabric(pool, github, fabric, report)
            except (GitHubError, asyncpg.PostgresError) as failure:
                report.unreachable[fabric.id] = f"{failure.__class__.__name__}: {failure}"
                log.warning("reconciling %s failed: %s", fabric.name, failure)
    log.info(
        "reconciled installation %s: %d fabric(s), %d unchanged, %d in sync, %d ingest(s) queued, %d unreachable, "
        "%d GitHub call(s) (%d of them 304)",
        installation_id,
        report.checked,
        report.unchanged,
        report.in_sync,
        len(report.enqueued),
        len(report.unreachable),
        report.counter.calls,
        report.counter.not_modified,
    )
    return report


async def run_reconcile_installation_job(ctx: JobContext) -> None:
    if ctx.github is None:
        raise RuntimeError("reconcile needs the GitHub layer")
    installation_id = ctx.job.payload.get("installation_id")
    await reconcile_installation(ctx.pool, ctx.github, int(installation_id) if installation_id is not None else None)


JOBS: JobHandlers = {
    JobKind.RECONCILE: run_reconcile_job,
    JobKind.RECONCILE_INSTALLATION: run_reconcile_installation_job,
}


async def schedule_forever(pool: asyncpg.Pool, interval: float) -> None:
    """Queue the 'reconcile' job about every `interval` seconds, until cancelled. Checks a few
    times per interval, so a process that took over from a stopped one keeps the rhythm."""
    while True:
        try:
            await job_store.schedule_periodic(pool, JobKind.RECONCILE, interval)
        except database.DATABASE_ERRORS as failure:
            log.warning("could not schedule reconciliation: %s", failure.__class__.__name__)
        await asyncio.sleep(max(0.05, min(interval / 4, 60.0)))
