"""The durable job queue: order per fabric, concurrency across fabrics, retries with
backoff, dead jobs, deferral, leases and shutdown."""

from __future__ import annotations

import asyncio
import io
import json
import logging

from bot import logs
from bot.jobs.queue import JobContext, QueueSettings, Workers, enqueue, list_dead_jobs
from bot.retry import RetryLater, backoff_delay
from bot.storage import jobs as job_store
from tests.conftest import wait_for
from tests.intake.intake_helpers import gate, make_config, record_tables, recording_handlers

FAST = QueueSettings.for_lease(2.0, poll_seconds=0.2, backoff_base=0.05, backoff_max=0.2)


def workers(pool, handlers, count=4, settings=FAST) -> Workers:
    return Workers(pool=pool, config=make_config(), handlers=handlers, count=count, settings=settings)


async def _done(pool, kind="test.record"):
    return await pool.fetchval("SELECT count(*) FROM job WHERE kind = $1 AND status = 'done'", kind)


async def test_jobs_of_one_fabric_run_in_order_while_two_fabrics_run_concurrently(pool):
    await record_tables(pool)
    both_started = gate("fabric-2-started")
    # fabric 1's first job waits until fabric 2's job has run: only possible if they overlap
    await enqueue(pool, "test.record", {"n": 1, "wait_for_gate": "fabric-2-started"}, ordering_key="fabric:1")
    for n in range(2, 6):
        await enqueue(pool, "test.record", {"n": n, "seconds": 0.01}, ordering_key="fabric:1")
    await enqueue(pool, "test.record", {"n": 100}, ordering_key="fabric:2")
    running = workers(pool, recording_handlers(), count=4)
    await running.start()
    try:
        await wait_for(
            lambda: pool.fetchval("SELECT count(*) FROM job_run WHERE key = 'fabric:2'"),
            message="fabric 2's job to run while fabric 1 is busy",
        )
        both_started.set()
        await wait_for(lambda: pool.fetchval("SELECT count(*) = 6 FROM job WHERE status = 'done'"), timeout=15)
    finally:
        await running.stop()
    rows = await pool.fetch(
        "SELECT payload, started_at, finished_at FROM job_run WHERE key = 'fabric:1' ORDER BY started_at"
    )
    assert [r["payload"]["n"] for r in rows] == [1, 2, 3, 4, 5]
    for earlier, later in zip(rows, rows[1:]):  # one at a time: each began after the previous ended
        assert later["started_at"] >= earlier["finished_at"]
    fabric_2 = await pool.fetchrow("SELECT finished_at FROM job_run WHERE key = 'fabric:2'")
    assert fabric_2["finished_at"] < rows[0]["finished_at"]  # it ran while fabric 1's first job waited


async def test_many_workers_never_run_two_jobs_of_one_key_at_once(pool):
    active: dict[str, int] = {}
    overlaps: list[str] = []
    order: dict[str, list[int]] = {}

    async def exclusive(ctx: JobContext) -> None:
        key = ctx.job.ordering_key
        active[key] = active.get(key, 0) + 1
        if active[key] > 1:
            overlaps.append(key)
        order.setdefault(key, []).append(ctx.job.payload["n"])
        await asyncio.sleep(0.002)  # wait-ok: a yield inside the job so others could overlap
        active[key] -= 1

    for n in range(120):
        await enqueue(pool, "test.exclusive", {"n": n}, ordering_key=f"fabric:{n % 4}")
    running = workers(pool, {"test.exclusive": exclusive}, count=12)
    await running.start()
    try:
        await wait_for(
            lambda: pool.fetchval("SELECT count(*) = 120 FROM job WHERE status = 'done'"),
            timeout=30,
            message="all jobs done",
        )
    finally:
        await running.stop()
    assert overlaps == []
    for key, ns in order.items():
        assert ns == sorted(ns), key
    assert sum(len(ns) for ns in order.values()) == 120


async def test_a_failing_job_is_retried_with_backoff_then_dead_and_listed(pool):
    attempts_seen = []

    async def broken(ctx: JobContext) -> None:
        attempts_seen.append(ctx.job.attempts)
        raise RuntimeError("GitHub keeps answering 502, unreadable")

    await pool.execute("INSERT INTO webhook_delivery (delivery_id, event, body) VALUES ('d-doomed', 'push', '\\x7b7d')")
    job_id = await enqueue(pool, "test.broken", {}, ordering_key="repo:acme/x", delivery_id="d-doomed", max_attempts=3)
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.setup("json", [], stream=stream)
    running = workers(pool, {"test.broken": broken}, count=2)
    await running.start()
    try:
        await wait_for(
            lambda: pool.fetchval("SELECT status = 'dead' FROM job WHERE id = $1", job_id),
            message="the job to die",
            timeout=15,
        )
    finally:
        await running.stop()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert attempts_seen == [1, 2, 3]
    job = await pool.fetchrow("SELECT attempts, last_error, finished_at FROM job WHERE id = $1", job_id)
    assert job["attempts"] == 3 and "unreadable" in job["last_error"] and job["finished_at"] is not None
    dead = await list_dead_jobs(pool)
    assert [d["id"] for d in dead] == [job_id] and dead[0]["delivery_id"] == "d-doomed"
    delivery = await pool.fetchrow("SELECT outcome, detail FROM webhook_delivery WHERE delivery_id = 'd-doomed'")
    assert delivery["outcome"] == "dead" and "unreadable" in delivery["detail"]
    errors = [json.loads(line) for line in stream.getvalue().splitlines() if '"level": "error"' in line]
    assert any(e.get("delivery_id") == "d-doomed" and "dead" in e["message"] for e in errors)


async def test_a_failure_no_retry_can_change_is_dead_at_once_and_the_key_moves_on(pool):
    ran: list[str] = []

    async def poisoned(ctx: JobContext) -> None:
        ran.append("poisoned")
        raise RecursionError("maximum recursion depth exceeded")

    async def later(ctx: JobContext) -> None:
        ran.append("later")

    first = await enqueue(pool, "test.poisoned", {}, ordering_key="repo:acme/poison", max_attempts=8)
    second = await enqueue(pool, "test.later", {}, ordering_key="repo:acme/poison")
    running = workers(pool, {"test.poisoned": poisoned, "test.later": later}, count=2)
    await running.start()
    try:
        await wait_for(
            lambda: pool.fetchval("SELECT status = 'done' FROM job WHERE id = $1", second),
            message="the later job of the key to run",
            timeout=15,
        )
    finally:
        await running.stop()
    job = await pool.fetchrow("SELECT status, attempts, last_error FROM job WHERE id = $1", first)
    assert (job["status"], job["attempts"]) == ("dead", 1), dict(job)
    assert job["last_error"].startswith("RecursionError"), job["last_error"]
    assert ran == ["poisoned", "later"]


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    low = [backoff_delay(n, base=2, cap=60, rand=lambda: 0.0) for n in range(1, 8)]
    high = [backoff_delay(n, base=2, cap=60, rand=lambda: 1.0) for n in range(1, 8)]
    assert low == [1, 2, 4, 8, 16, 30, 30]
    assert high == [2, 4, 8, 16, 32, 60, 60]


async def test_retry_later_defers_the_job_without_spending_an_attempt(pool):
    runs = []

    async def rate_limited(ctx: JobContext) -> None:
        runs.append((ctx.job.attempts, asyncio.get_running_loop().time()))
        if len(runs) < 3:
            raise RetryLater(0.3, "rate limit spent")

    job_id = await enqueue(pool, "test.limited", {}, max_attempts=1)
    running = workers(pool, {"test.limited": rate_limited}, count=1)
    await running.start()
    try:
        await wait_for(
            lambda: pool.fetchval("SELECT status = 'done' FROM job WHERE id = $1", job_id),
            message="the deferred job to finish",
            timeout=10,
        )
    finally:
        await running.stop()
    assert [attempt for attempt, _ in runs] == [1, 1, 1]  # max_attempts=1, yet it ran three times
    assert runs[1][1] - runs[0][1] >= 0.25 and runs[2][1] - runs[1][1] >= 0.25


async def test_an_expired_lease_is_reclaimed_and_the_job_run_by_another_worker(pool):
    await record_tables(pool)
    job_id = await enqueue(pool, "test.record", {"n": 1}, ordering_key="fabric:9")
    async with pool.acquire() as conn:  # a worker that takes the job and then vanishes
        taken = await job_store.take(conn, worker="vanished-worker", lease_seconds=0.3)
    assert taken.id == job_id
    # Its own lease is long: a stall of the busy machine must not expire it too.
    running = workers(pool, recording_handlers(), count=1, settings=QueueSettings.for_lease(2.0, poll_seconds=0.1))
    await running.start()
    try:
        await wait_for(lambda: _done(pool), message="the reclaimed job to finish", timeout=10)
    finally:
        await running.stop()
    job = await pool.fetchrow("SELECT attempts, leased_by FROM job WHERE id = $1", job_id)
    assert job["attempts"] == 2 and job["leased_by"] != "vanished-worker"


async def test_a_long_job_keeps_its_lease_by_heartbeat(pool):
    await record_tables(pool)
    # 2.5 leases long; a renewal every third of a lease, so one may come 0.6 s late.
    job_id = await enqueue(pool, "test.record", {"seconds": 2.5}, ordering_key="fabric:1")
    settings = QueueSettings.for_lease(1.0, poll_seconds=0.1)
    a, b = (
        workers(pool, recording_handlers(), count=1, settings=settings),
        workers(pool, recording_handlers(), count=1, settings=settings),
    )
    await a.start()
    await b.start()
    try:
        await wait_for(lambda: _done(pool), message="the long job", timeout=10)
    finally:
        await a.stop()
        await b.stop()
    # ran once, never reclaimed, though it took longer than two leases
    assert await pool.fetchval("SELECT count(*) FROM job_run WHERE job_id = $1", job_id) == 1
    assert await pool.fetchval("SELECT attempts FROM job WHERE id = $1", job_id) == 1


async def test_shutdown_hands_an_interrupted_job_back_to_the_queue(pool):
    started = asyncio.Event()

    async def endless(ctx: JobContext) -> None:
        started.set()
        await asyncio.Event().wait()

    job_id = await enqueue(pool, "test.endless", {}, ordering_key="fabric:1")
    running = workers(pool, {"test.endless": endless}, count=1)
    await running.start()
    async with asyncio.timeout(10):
        await started.wait()
    await running.stop()
    job = await pool.fetchrow("SELECT status, attempts, lease_expires_at FROM job WHERE id = $1", job_id)
    assert dict(job) == {"status": "queued", "attempts": 0, "lease_expires_at": None}


async def test_stop_returns_and_no_job_is_taken_after_it_even_when_a_cancel_is_swallowed(pool):
    """A cancel can be swallowed: by a handler that catches it, or (Python 3.11) by
    asyncio.wait_for when the awaited wake-up lands in the same turn as the cancel. The worker
    still stops at once, and the job queued meanwhile stays queued for the next process."""
    started = asyncio.Event()
    ran: list[str] = []

    async def swallows_the_cancel(ctx: JobContext) -> None:
        ran.append(ctx.job.payload["n"])
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass  # returns as if its work were done

    await enqueue(pool, "test.swallow", {"n": "first"}, ordering_key="fabric:1")
    running = workers(pool, {"test.swallow": swallows_the_cancel}, count=1)
    await running.start()
    async with asyncio.timeout(10):
        await started.wait()
    waiting = await enqueue(pool, "test.swallow", {"n": "second"}, ordering_key="fabric:2")
    async with asyncio.timeout(10):
        await running.stop()
    assert ran == ["first"]
    assert await pool.fetchval("SELECT status FROM job WHERE id = $1", waiting) == "queued"


async def test_a_dedupe_key_keeps_one_unfinished_copy_of_a_job(pool):
    first = await enqueue(
        pool, "ingest", {"head_sha": "a" * 40}, fabric_id=None, ordering_key="fabric:1", dedupe_key="ingest:1:aaaa"
    )
    again = await enqueue(pool, "ingest", {"head_sha": "a" * 40}, ordering_key="fabric:1", dedupe_key="ingest:1:aaaa")
    assert first is not None and again is None
    await pool.execute("UPDATE job SET status = 'done', finished_at = now() WHERE id = $1", first)
    assert await enqueue(pool, "ingest", {}, ordering_key="fabric:1", dedupe_key="ingest:1:aaaa") is not None


async def test_a_coalesced_job_still_queued_serves_the_next_request_and_is_due_at_once(pool):
    first = await enqueue(pool, "test.latest", {"head_sha": "a"}, ordering_key="fabric:7", coalesce=True)
    # It failed twice and waits out its backoff, as a push ingest does while GitHub answers 500.
    await pool.execute(
        "UPDATE job SET attempts = 2, last_error = 'GitHubError: 500', run_after = now() + interval '10 minutes' "
        "WHERE id = $1",
        first,
    )
    again = await enqueue(pool, "test.latest", {"head_sha": "b"}, ordering_key="fabric:7", coalesce=True)
    row = await pool.fetchrow("SELECT payload, attempts, run_after <= now() AS due FROM job WHERE id = $1", first)
    assert again == first and dict(row) == {"payload": {"head_sha": "b"}, "attempts": 0, "due": True}
    assert await pool.fetchval("SELECT count(*) FROM job WHERE kind = 'test.latest'") == 1
    # Once it runs it may already have read the old state: the next request is a job of its own.
    await pool.execute(
        "UPDATE job SET status = 'running', attempts = 1, leased_by = 'w', lease_expires_at = now() + interval '1 minute' "
        "WHERE id = $1",
        first,
    )
    third = await enqueue(pool, "test.latest", {"head_sha": "c"}, ordering_key="fabric:7", coalesce=True)
    assert third not in (None, first)
    assert await enqueue(pool, "test.latest", {"head_sha": "d"}, ordering_key="fabric:8", coalesce=True) not in (
        first,
        third,
    )


async def test_an_unknown_job_kind_fails_like_any_error(pool):
    job_id = await enqueue(pool, "no.such.kind", {}, max_attempts=1)
    running = workers(pool, {}, count=1)
    await running.start()
    try:
        await wait_for(lambda: pool.fetchval("SELECT status = 'dead' FROM job WHERE id = $1", job_id), timeout=10)
    finally:
        await running.stop()
    assert "no handler" in await pool.fetchval("SELECT last_error FROM job WHERE id = $1", job_id)
