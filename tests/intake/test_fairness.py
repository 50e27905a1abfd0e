"""Fairness across installations: lanes take turns, the one that had fewer jobs goes first, a
spent rate limit holds up only its own installation."""

from __future__ import annotations

import base64
from collections import Counter

import aiohttp

from bot.config import Config
from bot.jobs.queue import JobContext, QueueSettings, Workers, enqueue
from bot.storage import fabrics as fabric_store
from bot.storage import jobs as job_store
from tests.conftest import wait_for
from tests.intake.intake_helpers import bot_on, github_world, make_config, record_tables


def vpc(name: str, vlan: int) -> str:
    return (
        f"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: {name}\nspec:\n  subnets:\n"
        f"    default:\n      subnet: 10.0.{vlan - 1000}.0/24\n      vlan: {vlan}\n"
    )


async def take_in_order(pool, count: int) -> list[dict]:
    """Run `count` jobs one at a time with one worker; the payloads in the order they ran."""
    ran: list[dict] = []

    async def record(ctx: JobContext) -> None:
        ran.append(ctx.job.payload)

    workers = Workers(
        pool=pool,
        config=make_config(),
        handlers={"test.lane": record},
        count=1,
        settings=QueueSettings.for_lease(5.0),
    )
    for _ in range(count):
        assert await workers.run_one()
    return ran


async def test_a_quiet_installation_is_served_next_whatever_the_backlog_of_another(pool):
    for n in range(30):  # a busy installation's burst, queued first, every job runnable
        await enqueue(pool, "test.lane", {"installation": 1, "n": n}, ordering_key=f"k1-{n}", installation_id=1)
    await enqueue(pool, "test.lane", {"installation": 2, "n": 0}, ordering_key="k2-0", installation_id=2)
    ran = await take_in_order(pool, 3)
    # first come, first served would run it 31st; lanes take turns, so it runs first or second
    assert {"installation": 2, "n": 0} in ran[:2], ran
    assert [r["n"] for r in ran if r["installation"] == 1] == sorted(r["n"] for r in ran if r["installation"] == 1)


async def test_lanes_take_turns_and_each_runs_its_jobs_oldest_first(pool):
    for lane in (1, 2, 3):
        for n in range(6):
            await enqueue(
                pool, "test.lane", {"installation": lane, "n": n}, ordering_key=f"k{lane}-{n}", installation_id=lane
            )
    ran = await take_in_order(pool, 9)
    assert Counter(r["installation"] for r in ran) == {1: 3, 2: 3, 3: 3}, ran
    for rounds in (ran[0:3], ran[3:6], ran[6:9]):  # each round serves every lane once
        assert {r["installation"] for r in rounds} == {1, 2, 3}, ran
    for lane in (1, 2, 3):
        assert [r["n"] for r in ran if r["installation"] == lane] == [0, 1, 2]


async def test_the_installation_that_had_fewer_jobs_goes_first_not_the_one_served_longest_ago(pool):
    for n in range(3):  # installation 1 had three jobs
        await enqueue(pool, "test.lane", {"installation": 1}, ordering_key=f"k1-{n}", installation_id=1)
    await take_in_order(pool, 3)
    await enqueue(pool, "test.lane", {"installation": 2}, ordering_key="k2-a", installation_id=2)
    await take_in_order(pool, 1)  # then installation 2 had one: it was served last
    await enqueue(pool, "test.lane", {"installation": 1}, ordering_key="k1-b", installation_id=1)
    await enqueue(pool, "test.lane", {"installation": 2}, ordering_key="k2-b", installation_id=2)
    assert await take_in_order(pool, 2) == [{"installation": 2}, {"installation": 1}]


async def test_a_job_of_a_fabric_or_a_delivery_is_in_its_installations_lane(pool):
    fabric = await fabric_store.create(
        pool, name="dc1", repository="acme/fabric", directory="", branch="main", installation_id=77
    )
    await pool.execute(
        "INSERT INTO webhook_delivery (delivery_id, event, installation_id, body) VALUES ('d-1', 'push', 88, '\\x7b7d')"
    )
    on_fabric = await enqueue(pool, "test.lane", {}, fabric_id=fabric.id)
    on_delivery = await enqueue(pool, "test.lane", {}, delivery_id="d-1", ordering_key="repo:acme/fabric")
    coalesced = await enqueue(pool, "test.other", {}, fabric_id=fabric.id, coalesce=True)
    neither = await enqueue(pool, "test.lane", {})
    lanes = dict(await pool.fetch("SELECT id, installation_id FROM job"))
    assert [lanes[on_fabric], lanes[on_delivery], lanes[coalesced], lanes[neither]] == [77, 88, 77, None]
    assert {r["lane"] for r in await pool.fetch("SELECT lane FROM job_lane")} == {0, 77, 88}


async def test_a_paused_lane_waits_while_the_others_run(pool):
    await enqueue(pool, "test.lane", {"installation": 1}, ordering_key="k1", installation_id=1)
    await enqueue(pool, "test.lane", {"installation": 2}, ordering_key="k2", installation_id=2)
    await job_store.pause_lane(pool, 1, 600)
    assert await take_in_order(pool, 1) == [{"installation": 2}]
    workers = Workers(pool=pool, config=make_config(), handlers={}, count=1, settings=QueueSettings.for_lease(5.0))
    assert not await workers.run_one()  # installation 1's job waits for the reset
    await pool.execute("UPDATE job_lane SET paused_until = now() WHERE lane = 1")
    assert await take_in_order(pool, 1) == [{"installation": 1}]


async def _push(sim, token: str, repository: str, path: str, text: str) -> str:
    """A person's commit through the contents API (ghsim sends the push webhook)."""
    url = f"{sim.base_url}/repos/{repository}/contents/{path}"
    headers = {"Authorization": f"token {token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=headers, params={"ref": "main"}) as r:
            existing = await r.json() if r.status == 200 else None
        body = {"message": "change", "content": base64.b64encode(text.encode()).decode(), "branch": "main"}
        if existing:
            body["sha"] = existing["sha"]
        async with session.put(url, headers=headers, json=body) as r:
            answer = await r.json()
            assert r.status in (200, 201), answer
    return answer["commit"]["sha"]


async def test_an_installation_whose_rate_limit_is_spent_holds_up_only_its_own_pushes(tmp_path, pool):
    await record_tables(pool)  # the test router beside the bot's records every push
    async with github_world(tmp_path) as world:
        sim = world.sim
        await sim.create_repo("globex", "fabric", auto_init=True, files={"fabric/vpc-1.yaml": vpc("vpc-1", 1001)})
        other = (await sim.create_installation(world.app["id"], "globex", ["globex/fabric"]))["id"]
        token = await sim.create_user("alice", "write", ["acme/fabric", "globex/fabric"])
        spent = await fabric_store.create(
            pool,
            name="acme",
            repository="acme/fabric",
            directory="fabric",
            branch="main",
            installation_id=world.installation_id,
        )
        fine = await fabric_store.create(
            pool, name="globex", repository="globex/fabric", directory="fabric", branch="main", installation_id=other
        )
        await fabric_store.set_ingested(pool, spent.id, await world.head())
        async with aiohttp.ClientSession(headers={"Authorization": f"token {token}"}) as session:
            async with session.get(f"{sim.base_url}/repos/globex/fabric/git/ref/heads/main") as r:
                await fabric_store.set_ingested(pool, fine.id, (await r.json())["object"]["sha"])
        config: Config = world.config()
        async with bot_on(world, pool, config=config):
            await wait_for(  # the start-up reconciliation finds both in sync before the limit is spent
                lambda: pool.fetchval(
                    "SELECT count(*) = 2 FROM job WHERE kind = 'reconcile_installation' AND status = 'done'"
                ),
                timeout=30,
                message="the start-up reconciliation",
            )
            await sim.wait_deliveries_idle()
            await sim.set_rate_limit(installation_id=world.installation_id, remaining=0, reset_in=600)
            mark = (await sim.requests())[-1]["seq"]
            held = await _push(sim, token, "acme/fabric", "fabric/vpc-2.yaml", vpc("vpc-2", 1002))
            for n in range(3):  # the other installation pushes on as usual
                head = await _push(
                    sim, token, "globex/fabric", f"fabric/vpc-{n + 2}.yaml", vpc(f"vpc-{n + 2}", 1002 + n)
                )
                await wait_for(
                    lambda: pool.fetchval("SELECT last_ingested_sha = $1 FROM fabric WHERE id = $2", head, fine.id),
                    timeout=30,
                    message="the other installation's push to be ingested",
                )
            paused = await wait_for(
                lambda: pool.fetchval(
                    "SELECT paused_until > now() + interval '60 seconds' FROM job_lane WHERE lane = $1",
                    world.installation_id,
                ),
                timeout=30,
                message="the spent installation's lane to be paused",
            )
            job = await pool.fetchrow(
                "SELECT status, attempts, run_after > now() AS later FROM job WHERE kind = 'ingest' AND fabric_id = $1",
                spent.id,
            )
            requests = await sim.requests(since=mark)
        assert paused and dict(job) == {"status": "queued", "attempts": 0, "later": True}, dict(job)
        assert (await fabric_store.get(pool, spent.id)).last_ingested_sha != held
        refused = [r for r in requests if r.get("installation_id") == world.installation_id]
        assert len(refused) == 1 and refused[0]["status"] == 403, refused  # asked once, then waited
        assert not [r for r in requests if r.get("installation_id") == other and r["status"] >= 400]
