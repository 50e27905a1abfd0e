"""Reconciliation: a missed webhook must not leave a fabric stale.

Every RECONCILE_INTERVAL seconds one 'reconcile' job runs (one across all `serve`
processes: the job is queued only when none was queued within the interval). It reads each
fabric's branch head with a conditional GET (If-None-Match: the ETag stored on the fabric;
GitHub does not count a 304 against the rate limit) and queues an 'ingest' job
{fabric_id, head_sha, trigger: 'reconcile'} when the head is not the last ingested commit.

The ETag is stored only once the head has been ingested: while an ingest is still due every
check reads the head in full, so a lost or failed ingest is queued again next time (the
dedupe key keeps it to one waiting ingest per fabric and head).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import asyncpg

from bot import logs
from bot.features import installations
from bot.github.client import CallCounter, GitHub
from bot.github.errors import GitHubError, NotFound, PermissionDenied
from bot.github.repository import Repository
from bot.jobs.kinds import JobKind
from bot.jobs.queue import JobContext, JobHandlers, enqueue
from bot.retry import RetryLater
from bot.storage import database
from bot.storage import fabrics as fabric_store
from bot.storage import installations as installation_store
from bot.storage import jobs as job_store
from bot.storage.fabrics import Fabric

log = logging.getLogger(__name__)


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


async def reconcile_once(pool: asyncpg.Pool, github: GitHub, *, concurrency: int = 8) -> ReconcileReport:
    """Check every fabric once. A fabric that fails is logged and skipped; a rate limit
    (RetryLater) stops the round and is raised, so the job is deferred as a whole."""
    report = ReconcileReport()
    limit = asyncio.Semaphore(concurrency)

    async def one(fabric: Fabric) -> None:
        async with limit:
            with logs.context(fabric=fabric.name):
                try:
                    await reconcile_fabric(pool, github, fabric, report)
                except RetryLater:
                    raise
                except (GitHubError, asyncpg.PostgresError) as failure:
                    report.unreachable[fabric.id] = f"{failure.__class__.__name__}: {failure}"
                    log.warning("reconciling %s failed: %s", fabric.name, failure)

    try:
        async with asyncio.TaskGroup() as group:
            for fabric in await fabric_store.list_all(pool):
                group.create_task(one(fabric))
    except* RetryLater as deferred:
        raise deferred.exceptions[0] from None
    log.info(
        "reconciled %d fabric(s): %d unchanged, %d in sync, %d ingest(s) queued, %d unreachable, %d GitHub call(s)",
        report.checked,
        report.unchanged,
        report.in_sync,
        len(report.enqueued),
        len(report.unreachable),
        report.counter.calls,
    )
    return report


async def run_reconcile_job(ctx: JobContext) -> None:
    if ctx.github is None:
        raise RuntimeError("reconcile needs the GitHub layer")
    await reconcile_once(ctx.pool, ctx.github)


JOBS: JobHandlers = {JobKind.RECONCILE: run_reconcile_job}


async def schedule_forever(pool: asyncpg.Pool, interval: float) -> None:
    """Queue the 'reconcile' job about every `interval` seconds, until cancelled. Checks a few
    times per interval, so a process that took over from a stopped one keeps the rhythm."""
    while True:
        try:
            await job_store.schedule_periodic(pool, JobKind.RECONCILE, interval)
        except database.DATABASE_ERRORS as failure:
            log.warning("could not schedule reconciliation: %s", failure.__class__.__name__)
        await asyncio.sleep(max(0.05, min(interval / 4, 60.0)))
