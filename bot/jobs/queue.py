"""The durable job queue (the `job` table) and the workers that run it inside `serve`.

How work is ordered
    Every job has an ordering_key. Jobs that share a key run one at a time, in the order they
    were queued; different keys run side by side. Keys in use:
      - 'fabric:<id>'   work on one fabric (ingest, sync, publish): one writer per fabric.
      - 'repo:<owner/name>' (lower case)   webhook deliveries about a repository.
      - 'installation:<id>'   installation events without a repository.
      - 'delivery:<id>'   any other delivery.
      - 'reconcile:<installation id>'   one installation's reconcile checks.
    Which runnable job goes first: the lane that had the fewest jobs lately (bot.storage.jobs). A job's lane is the installation it works for, so one installation's
    burst cannot delay another's pushes: they wait for a free worker, not behind the burst. Work that reads the
    latest state when it runs (a push's ingest) is queued with `coalesce=True`: pushes arriving
    while an ingest of the fabric still waits are served by that one ingest.
    A webhook handler that does fabric work should queue a 'fabric:<id>' job for it
    (`await ctx.enqueue(kind, payload, fabric_id=...)`) rather than do it inline: deliveries of
    one repository run in delivery order, so the fabric jobs they queue are queued in that
    order too, and they then also run in order with API syncs and reconciles of the fabric.

Handlers
    Workers run each job with the handler its kind maps to in the registry they are given
    (`handlers`; the app composes it from the features' `JOBS`, bot.web.app.job_handlers). A
    kind with no handler fails like any error.

Webhook deliveries
    Intake stores each delivery with a row in `delivery_inbox` (so the acknowledgement writes
    one narrow row, not a job with its indexes). Workers turn the inbox into 'webhook' jobs in
    bulk, in arrival order, before taking work (`Workers.dispatch_inbox`); while a burst is
    being acknowledged they step back, so the burst is answered first and queued after.

Failure
    A handler that raises is retried with exponential backoff and jitter until max_attempts,
    then the job is 'dead' (logged at error level with its delivery id, listed by
    `list_dead_jobs`, and its delivery's outcome is 'dead'). A failure no retry can change (a
    bad payload, a programming error: PERMANENT_FAILURES) makes the job dead at once, so the
    jobs behind it on its ordering key do not wait out its backoff. `bot.retry.RetryLater(seconds)` (raised e.g.
    by the GitHub gateway when a rate limit is exhausted) defers the job without spending an
    attempt: waiting for GitHub is not a failure of the job. When the wait is an installation's
    (its primary rate limit is spent), that installation's lane is paused until the reset, in
    every process: its other jobs wait too, other installations' jobs run as usual.

Leases
    A taken job is leased to one worker; the lease is renewed while the handler runs. A worker
    that dies (SIGKILL, lost machine) stops renewing; when the lease expires any process
    reclaims the job and runs it again. A job interrupted by a clean shutdown is handed back
    at once, its attempt not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from gidgethub import routing, sansio

from bot import logs, process_metrics
from bot.config import Config
from bot.core import payload
from bot.github.client import GitHub
from bot.retry import RetryLater, backoff_delay
from bot.storage import Connection, Executor, database
from bot.storage import deliveries as delivery_store
from bot.storage import jobs as job_store
from bot.storage.jobs import Job

log = logging.getLogger(__name__)


class PermanentFailure(Exception):
    """The job cannot succeed however often it runs: it is dead at once, with this reason."""


# Failures that running the job again cannot change: the job's input is wrong (a payload intake
# accepted but a handler cannot use) or the code is. Retrying them with backoff only holds up
# the jobs queued behind them on their ordering key, so they make the job dead at once.
PERMANENT_FAILURES: tuple[type[BaseException], ...] = (
    PermanentFailure,
    TypeError,
    ValueError,  # includes payload.BadPayload, json and Unicode errors
    LookupError,  # KeyError, IndexError
    AttributeError,
    RecursionError,
    AssertionError,
    NotImplementedError,
    asyncpg.DataError,  # SQLSTATE class 22: a value PostgreSQL cannot take (a NUL, out of range)
)


def permanent(error: BaseException) -> bool:
    return isinstance(error, PERMANENT_FAILURES)


@dataclass(frozen=True)
class QueueSettings:
    lease_seconds: float = 60.0  # a dead worker's job is retried this long after it died
    heartbeat_seconds: float = 20.0  # lease renewal interval (well inside the lease)
    intake_yield_seconds: float = 1.0  # longest a worker steps back for a webhook burst
    poll_seconds: float = 2.0  # fallback when no wake-up arrives (NOTIFY lost, timers)
    reclaim_seconds: float = 5.0  # how often a process looks for expired leases
    backoff_base: float = 5.0  # first retry after ~this, doubling each attempt
    backoff_max: float = 900.0

    @classmethod
    def for_lease(cls, lease_seconds: float, **changes: float) -> QueueSettings:
        """Settings scaled to a lease (tests use short ones)."""
        values = dict(
            lease_seconds=lease_seconds,
            heartbeat_seconds=lease_seconds / 3,
            reclaim_seconds=max(0.05, lease_seconds / 4),
            poll_seconds=min(2.0, lease_seconds / 2),
        )
        values.update(changes)
        return cls(**values)


DISPATCH_BATCH = 2000  # inbox rows turned into jobs per statement
DISPATCH_DURING_BURST = 64  # at most this many per turn while webhooks are pouring in

# --- what handlers receive ------------------------------------------------------------------


@dataclass
class JobContext:
    """Everything a job handler (or a webhook event handler, as its second argument) needs:
    no globals. `github` is None only in processes started without GitHub settings."""

    pool: asyncpg.Pool
    config: Config
    github: GitHub | None
    job: Job
    router: routing.Router | None = None

    async def enqueue(self, kind: str, payload: dict[str, Any] | None = None, **options: Any) -> int | None:
        """Queue follow-up work (same arguments as `enqueue`)."""
        return await enqueue(self.pool, kind, payload, **options)


JobHandler = Callable[[JobContext], Awaitable[None]]
JobHandlers = Mapping[str, JobHandler]  # job kind -> the handler that runs its jobs


async def enqueue(
    db: Executor,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    ordering_key: str | None = None,
    fabric_id: int | None = None,
    delivery_id: str | None = None,
    operation_id: uuid.UUID | None = None,
    max_attempts: int = 8,
    delay: float = 0.0,
    dedupe_key: str | None = None,
    coalesce: bool = False,
    installation_id: int | None = None,
) -> int | None:
    """Queue a job; returns its id, or None when an unfinished job already has `dedupe_key`.

    ordering_key defaults to 'fabric:<fabric_id>'; a job with neither gets a key of its own
    (it orders with nothing). Pass a connection inside a transaction to queue atomically with
    other writes (workers are woken when that transaction commits). A job's lane (whose turn
    it waits for) is its fabric's or delivery's installation, else `installation_id`.

    `coalesce`: for work that reads the latest state when it runs (an ingest reads the branch
    head), a job of the same kind still queued on the key does this one's work too; it is made
    due now, so a later request is never held up by an earlier one's retry backoff."""
    if ordering_key is None:
        ordering_key = f"fabric:{fabric_id}" if fabric_id is not None else f"job:{uuid.uuid4()}"
    if coalesce:
        if dedupe_key is not None or delivery_id is not None or operation_id is not None or delay:
            raise TypeError("a coalesced job has no dedupe_key, delivery, operation or delay")
        return await job_store.insert_or_coalesce(
            db,
            kind=kind,
            ordering_key=ordering_key,
            payload=payload or {},
            fabric_id=fabric_id,
            max_attempts=max_attempts,
        )
    return await job_store.insert(
        db,
        kind=kind,
        ordering_key=ordering_key,
        payload=payload or {},
        fabric_id=fabric_id,
        delivery_id=delivery_id,
        operation_id=operation_id,
        max_attempts=max_attempts,
        run_after_seconds=delay,
        dedupe_key=dedupe_key,
        installation_id=installation_id,
    )


async def list_dead_jobs(pool: Executor, limit: int = 100) -> list[dict[str, Any]]:
    """Jobs that used up their attempts, newest first (for the API and operators)."""
    return await job_store.list_dead(pool, limit=limit)


# --- the built-in 'webhook' job: dispatch a stored delivery through the router ---------------


async def run_webhook_job(ctx: JobContext) -> None:
    delivery_id = ctx.job.delivery_id
    row = await delivery_store.get(ctx.pool, delivery_id) if delivery_id is not None else None
    if row is None:  # the delivery was deleted (retention); nothing left to do
        return
    # Decoded as intake decoded it when it accepted the delivery (a BadPayload here is permanent).
    event = sansio.Event(payload.decode(bytes(row["body"])), event=row["event"], delivery_id=row["delivery_id"])
    if ctx.router is None:
        raise RuntimeError("no event router configured")
    await ctx.router.dispatch(event, ctx)


# --- workers -------------------------------------------------------------------------------


@dataclass
class Workers:
    """`count` workers in this process, taking jobs from the shared queue."""

    pool: asyncpg.Pool
    config: Config
    handlers: JobHandlers
    router: routing.Router | None = None
    github: GitHub | None = None
    count: int = 4
    settings: QueueSettings = field(default_factory=QueueSettings)
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")

    def __post_init__(self) -> None:
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._listen_conn: PoolConnectionProxy | None = None
        self._stopping = False
        self.jobs_run = 0
        # Set by webhook intake: True while a burst of deliveries is arriving.
        self.intake_busy: Callable[[], bool] | None = None
        # Acknowledged deliveries may wait in the inbox (always at start: a previous process may
        # have died before dispatching them).
        self._inbox_waiting = True

    def wake(self, *, inbox: bool = False) -> None:
        """New work may be waiting (called after a commit in this process, or on NOTIFY);
        `inbox`: acknowledged deliveries wait to become jobs."""
        if inbox:
            self._inbox_waiting = True
        self._wakeup.set()

    async def start(self) -> None:
        await self._listen()
        self._tasks = [
            asyncio.create_task(self._work(f"{self.name}/{i}"), name=f"worker-{i}") for i in range(self.count)
        ]
        self._tasks.append(asyncio.create_task(self._reclaim_loop(), name="job-reclaimer"))
        log.info("started %d job workers (%s)", self.count, self.name)

    async def stop(self) -> None:
        """Stop taking work; jobs in progress are interrupted and handed back to the queue."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        conn = self._listen_conn
        if conn is not None and self._listening():
            try:
                await conn.remove_listener(job_store.CHANNEL, self._on_notify)
                await self.pool.release(conn)
            except database.DATABASE_ERRORS:
                pass
        self._listen_conn = None

    async def _listen(self) -> None:
        """LISTEN on a held pool connection so other processes' commits wake us at once."""
        if self._listening():
            return
        try:
            conn = await self.pool.acquire()
            await conn.add_listener(job_store.CHANNEL, self._on_notify)
        except database.DATABASE_ERRORS as error:
            log.warning("cannot LISTEN for new jobs (%s); polling only", error.__class__.__name__)
            return
        self._listen_conn = conn

    def _listening(self) -> bool:
        conn = self._listen_conn
        if conn is None:
            return False
        try:
            return not conn.is_closed()
        except asyncpg.InterfaceError:  # released back to the pool after the server closed it
            return False

    def _on_notify(self, connection: object, pid: int, channel: str, payload: object) -> None:
        self.wake(inbox=payload == delivery_store.INBOX_NOTICE)

    async def _reclaim_loop(self) -> None:
        while not self._stopping:  # as in _work: a swallowed cancel must not outlive stop()
            try:
                await self.reclaim()
                if not self._listening():
                    # The server dropped the LISTEN connection (restart, terminated backend);
                    # asyncpg has already taken it back, so forget it and listen anew.
                    self._listen_conn = None
                    await self._listen()
            except database.DATABASE_ERRORS as error:
                log.warning("job reclaim failed: %s", error.__class__.__name__)
            await asyncio.sleep(self.settings.reclaim_seconds)

    async def reclaim(self) -> int:
        async with self.pool.acquire() as conn:
            rows = await job_store.reclaim_expired(conn)
        for row in rows:
            if row["status"] == "dead":
                log.error(
                    "job %d (%s) is dead: %s",
                    row["id"],
                    row["kind"],
                    row["last_error"],
                    extra={"delivery_id": row["delivery_id"]},
                )
            else:
                log.warning(
                    "job %d (%s) reclaimed: %s",
                    row["id"],
                    row["kind"],
                    row["last_error"],
                    extra={"delivery_id": row["delivery_id"]},
                )
        if rows:
            self.wake()
        return len(rows)

    async def _yield_to_intake(self) -> None:
        """Wait (at most intake_yield_seconds) while webhook deliveries are pouring in."""
        deadline = time.monotonic() + self.settings.intake_yield_seconds
        while self.intake_busy is not None and self.intake_busy() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def _work(self, worker: str) -> None:
        # Looks at _stopping as well as being cancelled: a cancel that something swallowed (a
        # handler, a library) must not keep a worker taking jobs after stop().
        while not self._stopping:
            await self._yield_to_intake()
            self._wakeup.clear()
            try:
                ran = await self.run_one(worker)
            except asyncio.CancelledError:
                raise
            except database.DATABASE_ERRORS as error:
                log.warning("taking a job failed (%s); retrying", error.__class__.__name__)
                ran = False
            if ran:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.poll_seconds):
                    await self._wakeup.wait()

    async def run_one(self, worker: str | None = None) -> bool:
        """Take one job and run it to its end. False when nothing was runnable.
        Acknowledged deliveries become jobs here first (when some may wait in the inbox, and
        whenever the queue looks empty, which also covers a lost wake-up)."""
        worker = worker or f"{self.name}/manual"
        # During a burst only a slice is queued, enough to keep the workers going: queueing is
        # PostgreSQL work that would otherwise compete with acknowledging the burst.
        most = DISPATCH_DURING_BURST if self.intake_busy is not None and self.intake_busy() else None
        async with self.pool.acquire() as conn:
            if self._inbox_waiting:
                await self.dispatch_inbox(conn, most=most)
            job = await job_store.take(conn, worker=worker, lease_seconds=self.settings.lease_seconds)
            if job is None and await self.dispatch_inbox(conn, most=most):
                job = await job_store.take(conn, worker=worker, lease_seconds=self.settings.lease_seconds)
        if job is None:
            return False
        await self._run(job, worker)
        self.jobs_run += 1
        return True

    async def dispatch_inbox(self, conn: Connection, *, most: int | None = None) -> int:
        """Turn the acknowledged deliveries waiting in the inbox (every one, or the `most`
        oldest) into their 'webhook' jobs; how many were taken."""
        self._inbox_waiting = False
        total = 0
        try:
            while True:
                limit = DISPATCH_BATCH if most is None else min(DISPATCH_BATCH, most - total)
                taken = await delivery_store.dispatch_inbox(conn, limit=limit)
                total += taken
                if taken < limit:
                    return total
                if most is not None and total >= most:
                    self._inbox_waiting = True  # the rest on a later turn
                    return total
        except BaseException:
            self._inbox_waiting = True  # try again on the next turn
            raise

    async def _run(self, job: Job, worker: str) -> None:
        ctx = JobContext(pool=self.pool, config=self.config, github=self.github, job=job, router=self.router)
        handler = self.handlers.get(job.kind)
        with logs.context(
            delivery_id=job.delivery_id,
            operation_id=str(job.operation_id) if job.operation_id else None,
            fabric=str(job.fabric_id) if job.fabric_id is not None else None,
        ):
            task = asyncio.current_task()
            lease_lost = asyncio.Event()
            heartbeat = asyncio.create_task(self._heartbeat(job, worker, task, lease_lost))
            began, outcome = time.monotonic(), "failed"
            try:
                if handler is None:
                    raise LookupError(f"no handler is registered for job kind {job.kind!r}")
                await handler(ctx)
                outcome = "done"
            except RetryLater as later:
                outcome = "deferred"
                heartbeat.cancel()
                log.info("job %d (%s) deferred %.1f s: %s", job.id, job.kind, later.seconds, later.reason)
                await job_store.retry(
                    self.pool, job, worker=worker, delay_seconds=later.seconds, error=str(later), count_attempt=False
                )
                if later.installation_id is not None:
                    # The installation's other jobs would only meet the same spent limit.
                    await job_store.pause_lane(self.pool, later.installation_id, later.seconds)
            except asyncio.CancelledError:
                heartbeat.cancel()
                if lease_lost.is_set() and not self._stopping:
                    # Someone else owns the job now; drop our run quietly.
                    log.warning("job %d (%s) lost its lease; abandoned", job.id, job.kind)
                    if task is not None:
                        task.uncancel()
                    return
                await asyncio.shield(job_store.release(self.pool, job, worker=worker))
                log.info("job %d (%s) handed back at shutdown", job.id, job.kind)
                raise
            except Exception as error:  # a handler's failure is the job's, never the worker's
                heartbeat.cancel()
                await self._failed(job, worker, error)
            else:
                heartbeat.cancel()
                async with self.pool.acquire() as conn:
                    if not await job_store.finish(conn, job, worker=worker):
                        log.warning("job %d (%s) finished after its lease was lost", job.id, job.kind)
            finally:
                heartbeat.cancel()
                process_metrics.record_job(job.kind, outcome, time.monotonic() - began)

    async def _failed(self, job: Job, worker: str, error: Exception) -> None:
        reason = f"{error.__class__.__name__}: {error}"[:2000]
        if permanent(error) or job.attempts >= job.max_attempts:
            why = "a failure no retry can change" if permanent(error) else f"{job.attempts} attempts"
            async with self.pool.acquire() as conn:
                await job_store.bury(conn, job, worker=worker, error=reason)
            log.error("job %d (%s) is dead after %s: %s", job.id, job.kind, why, reason, exc_info=error)
            return
        delay = backoff_delay(job.attempts, base=self.settings.backoff_base, cap=self.settings.backoff_max)
        await job_store.retry(self.pool, job, worker=worker, delay_seconds=delay, error=reason)
        log.warning(
            "job %d (%s) attempt %d/%d failed, retrying in %.1f s: %s",
            job.id,
            job.kind,
            job.attempts,
            job.max_attempts,
            delay,
            reason,
        )

    async def _heartbeat(self, job: Job, worker: str, task: asyncio.Task | None, lost: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                mine = await job_store.renew_lease(
                    self.pool, job.id, worker=worker, lease_seconds=self.settings.lease_seconds
                )
            except database.DATABASE_ERRORS as error:
                log.warning("lease renewal of job %d failed (%s)", job.id, error.__class__.__name__)
                continue
            if not mine:
                lost.set()
                if task is not None:
                    task.cancel()
                return

    async def drain(self, timeout: float = 30.0) -> None:
        """Run jobs in this task until none is runnable (tests and the CLI)."""
        async with asyncio.timeout(timeout):
            while await self.run_one():
                pass
