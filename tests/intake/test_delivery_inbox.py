"""The webhook inbox: an acknowledged delivery is stored with one narrow inbox row, and the
workers turn inbox rows into 'webhook' jobs afterwards, in bulk and in arrival order.

What must hold: nothing acknowledged is lost or queued twice (redeliveries, two dispatchers at
once, a process that dies before dispatching), and the jobs of one repository keep the order
their deliveries arrived in, across dispatch batches.
"""

from __future__ import annotations

import asyncio

from bot.jobs.kinds import JobKind
from bot.jobs.queue import DISPATCH_DURING_BURST, QueueSettings, Workers, run_webhook_job
from bot.storage import deliveries as delivery_store
from bot.storage import jobs as job_store
from bot.storage.deliveries import NewDelivery
from tests.conftest import wait_for
from tests.intake.intake_helpers import make_config, record_tables, test_router

WEBHOOK_JOB = {JobKind.WEBHOOK: run_webhook_job}  # deliveries through the test router only
FAST = QueueSettings.for_lease(2.0, poll_seconds=0.2, backoff_base=0.05, backoff_max=0.2)


def delivery(n: int, repository: str = "acme/fabric", handled: bool = True) -> NewDelivery:
    return NewDelivery(
        delivery_id=f"d-{n}",
        event="push",
        action=None,
        installation_id=1,
        repository=repository,
        body=b'{"ref": "refs/heads/main"}',
        ordering_key=f"repo:{repository}" if handled else None,
    )


async def count(pool, sql: str) -> int:
    return await pool.fetchval(sql)


async def webhook_job_order(pool, key: str) -> list[int]:
    rows = await pool.fetch("SELECT delivery_id FROM job WHERE kind = 'webhook' AND ordering_key = $1 ORDER BY id", key)
    return [int(r["delivery_id"].split("-")[1]) for r in rows]


async def test_a_batch_is_stored_with_inbox_rows_only_for_handled_new_deliveries(pool):
    new = await delivery_store.insert_batch(pool, [delivery(1), delivery(2, handled=False), delivery(3)])
    assert new == {"d-1", "d-2", "d-3"}
    # a redelivery of d-1 in a later batch: not new, no second inbox row
    assert await delivery_store.insert_batch(pool, [delivery(1), delivery(4)]) == {"d-4"}
    inbox = await pool.fetch("SELECT delivery_id, ordering_key FROM delivery_inbox ORDER BY seq")
    assert [(r["delivery_id"], r["ordering_key"]) for r in inbox] == [
        ("d-1", "repo:acme/fabric"),
        ("d-3", "repo:acme/fabric"),
        ("d-4", "repo:acme/fabric"),
    ]
    assert await count(pool, "SELECT count(*) FROM job") == 0
    assert await delivery_store.inbox_depth(pool) == 3
    assert await job_store.outstanding(pool) == 3


async def test_dispatch_keeps_arrival_order_across_batches_and_queues_nothing_twice(pool):
    for start in range(0, 50, 10):  # five commits, interleaving two repositories
        await delivery_store.insert_batch(
            pool, [delivery(n, "acme/a" if n % 2 else "acme/b") for n in range(start, start + 10)]
        )
    async with pool.acquire() as conn:
        taken = [await delivery_store.dispatch_inbox(conn, limit=7) for _ in range(9)]
    assert taken == [7, 7, 7, 7, 7, 7, 7, 1, 0]
    assert await webhook_job_order(pool, "repo:acme/a") == list(range(1, 50, 2))
    assert await webhook_job_order(pool, "repo:acme/b") == list(range(0, 50, 2))
    assert await count(pool, "SELECT count(DISTINCT delivery_id) FROM job") == 50
    assert await job_store.outstanding(pool) == 50  # now as queued jobs


async def test_two_dispatchers_at_once_queue_each_delivery_once_in_order(pool):
    await delivery_store.insert_batch(pool, [delivery(n) for n in range(400)])

    async def dispatcher() -> int:
        async with pool.acquire() as conn:
            total = 0
            while taken := await delivery_store.dispatch_inbox(conn, limit=13):
                total += taken
            return total

    totals = await asyncio.gather(*(dispatcher() for _ in range(4)))
    assert sum(totals) == 400
    assert await webhook_job_order(pool, "repo:acme/fabric") == list(range(400))


async def test_a_delivery_deleted_before_dispatch_gets_no_job_and_leaves_the_inbox(pool):
    await delivery_store.insert_batch(pool, [delivery(1), delivery(2)])
    await pool.execute("DELETE FROM webhook_delivery WHERE delivery_id = 'd-1'")
    async with pool.acquire() as conn:
        assert await delivery_store.dispatch_inbox(conn) == 2
    assert await count(pool, "SELECT count(*) FROM delivery_inbox") == 0
    assert [r["delivery_id"] for r in await pool.fetch("SELECT delivery_id FROM job")] == ["d-2"]


async def test_deliveries_left_in_the_inbox_by_a_dead_process_are_run_by_the_next_one(pool):
    """A process acknowledged deliveries and died before dispatching them: the inbox rows are all
    that is left. A new process's workers, started with no wake-up at all, still run them."""
    await record_tables(pool)
    await delivery_store.insert_batch(pool, [delivery(n) for n in range(5)])
    workers = Workers(
        pool=pool, config=make_config(), handlers=WEBHOOK_JOB, router=test_router, count=2, settings=FAST
    )  # records each push it is given in seen_event
    await workers.start()
    try:

        async def processed() -> bool:
            return await count(pool, "SELECT count(*) FROM webhook_delivery WHERE outcome = 'processed'") == 5

        await wait_for(processed, timeout=30, message="the left-over deliveries to be processed")
    finally:
        await workers.stop()
    assert await job_store.outstanding(pool) == 0
    seen = await pool.fetch("SELECT delivery_id FROM seen_event ORDER BY job_id")
    assert [r["delivery_id"] for r in seen] == [f"d-{n}" for n in range(5)]


async def test_during_a_burst_a_worker_queues_only_a_slice_and_the_rest_once_it_is_over(pool):
    await record_tables(pool)
    await delivery_store.insert_batch(pool, [delivery(n) for n in range(300)])
    workers = Workers(pool=pool, config=make_config(), handlers=WEBHOOK_JOB, router=test_router, count=1, settings=FAST)
    burst = True
    workers.intake_busy = lambda: burst
    assert await workers.run_one()
    assert await count(pool, "SELECT count(*) FROM job WHERE kind = 'webhook'") == DISPATCH_DURING_BURST
    assert await delivery_store.inbox_depth(pool) == 300 - DISPATCH_DURING_BURST
    burst = False
    assert await workers.run_one()
    assert await delivery_store.inbox_depth(pool) == 0
    assert await webhook_job_order(pool, "repo:acme/fabric") == list(range(300))
    assert await count(pool, "SELECT count(*) FROM seen_event") == 2
