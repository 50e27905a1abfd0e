"""End to end: the emulator delivers real webhooks to the bot running in this process; pushes
are ingested, other branches ignored, late deliveries change nothing, and pull requests get
their validate check. Every wait is on a database or GitHub condition with a deadline."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

from aiohttp.test_utils import TestServer

from bot.jobs.queue import QueueSettings
from bot.storage import operations, resources
from bot.web.app import Tuning, create_app
from tests.conftest import wait_for
from tests.ingest.conftest import DIRECTORY, OWNER, REPO, World, git
from tests.ingest.test_snapshot import vpc


@contextlib.asynccontextmanager
async def bot_serving(world: World) -> AsyncIterator[None]:
    tuning = Tuning(queue=QueueSettings.for_lease(5.0, poll_seconds=0.2, backoff_base=0.05))
    app = create_app(world.config.replace(reconcile_interval=3600), world.pool, tuning=tuning)
    server = TestServer(app)
    await server.start_server()
    try:
        await world.sim.set_webhook_url(world.app["id"], str(server.make_url("/webhook")), "webhook-secret")
        # The start-up reconcile notes the (still empty) branch head first.
        await wait_for(lambda: world.refresh(), timeout=20, message="the start-up reconcile")
        await wait_for(lambda: _ingested(world), timeout=20, message="the start-up reconcile")
        yield
    finally:
        await world.sim.set_webhook_url(world.app["id"], None)
        await server.close()


async def _ingested(world: World) -> bool:
    return (await world.refresh()).last_ingested_sha is not None


async def idle(world: World) -> None:
    """Every delivery made, stored, and every job it caused finished."""
    await world.sim.wait_deliveries_idle()

    async def settled() -> bool:
        busy = await world.pool.fetchval(
            "SELECT (SELECT count(*) FROM job WHERE status IN ('queued', 'running') AND kind NOT LIKE 'reconcile%') "
            "+ (SELECT count(*) FROM webhook_delivery WHERE outcome = 'pending')"
        )
        return busy == 0

    await wait_for(settled, timeout=30, message="the bot's queue to drain")
    failed = await world.pool.fetch("SELECT kind, last_error FROM job WHERE last_error IS NOT NULL")
    assert not failed, [dict(r) for r in failed]
    await world.refresh()


async def test_pushes_are_ingested_through_webhooks_and_other_branches_are_ignored(world: World) -> None:
    async with bot_serving(world):
        world.tree.write(f"{DIRECTORY}/a.yaml", vpc("vpc-a"))
        head = await world.tree.commit_and_push("a VPC")
        await wait_for(lambda: _at(world, head), timeout=30, message="the push to be ingested")
        await idle(world)
        row = await resources.get(world.pool, world.fabric.id, "VPC", "vpc-a")
        assert row.state == "in_sync" and row.desired_sha == head
        ops = await operations.for_fabric(world.pool, world.fabric.id)
        assert [(o.trigger, o.status) for o in ops] == [("push", "completed")]
        [run] = await world.check_runs(head)
        assert run["name"] == "hnp-gitops/validate" and run["conclusion"] == "success"

        # A push to another branch is not ingested.
        world.tree.write(f"{DIRECTORY}/a.yaml", vpc("vpc-a", 1900))
        feature = await world.tree.commit_and_push("on a feature branch", branch="feature")
        await idle(world)
        assert world.fabric.last_ingested_sha == head
        assert await operations.for_fabric(world.pool, world.fabric.id) == ops
        assert await world.check_runs(feature) == []


async def test_an_older_push_delivered_after_a_newer_one_changes_nothing(world: World) -> None:
    async with bot_serving(world):
        # The older push's delivery is lost on the way, and sent again once the newer is in.
        await world.sim.add_fault(mode="drop", event="push", count=1)
        world.tree.write(f"{DIRECTORY}/a.yaml", vpc("vpc-a", 1001))
        older = await world.tree.commit_and_push("older")
        world.tree.write(f"{DIRECTORY}/a.yaml", vpc("vpc-a", 1002))
        newer = await world.tree.commit_and_push("newer")
        await wait_for(lambda: _at(world, newer), timeout=30, message="the newer push to be ingested")
        await idle(world)
        [dropped] = [d for d in await world.sim.deliveries(event="push") if d["payload"]["after"] == older]
        await world.sim.redeliver(dropped["id"])
        await idle(world)
        received = await world.pool.fetch("SELECT body FROM webhook_delivery WHERE event = 'push' ORDER BY received_at")
        assert [json.loads(bytes(r["body"]))["after"] for r in received] == [newer, older]  # the older came last
        assert world.fabric.last_ingested_sha == newer
        row = await resources.get(world.pool, world.fabric.id, "VPC", "vpc-a")
        assert row.desired_spec["subnets"]["default"]["vlan"] == 1002
        ops = await operations.for_fabric(world.pool, world.fabric.id)
        assert [o.result["github_integration"]["commit_sha"] for o in ops] == [newer]
        assert await world.check_runs(older) == []


async def test_a_pull_request_touching_the_fabric_gets_a_validate_check_on_its_head(world: World) -> None:
    async with bot_serving(world):
        world.tree.write(f"{DIRECTORY}/a.yaml", vpc("vpc-a"))
        base = await world.tree.commit_and_push("a VPC")
        await wait_for(lambda: _at(world, base), timeout=30, message="the push to be ingested")

        # A branch that breaks the VPC, and one that touches only the docs.
        world.tree.write(f"{DIRECTORY}/a.yaml", vpc("vpc-a", 99999))
        broken = await world.tree.commit_and_push("bad VLAN", branch="bad-vlan")
        await git(world.tree.path, "reset", "-q", "--hard", base)
        world.tree.write("docs/notes.md", "notes\n")
        docs = await world.tree.commit_and_push("docs", branch="docs")
        for branch in ("bad-vlan", "docs"):
            await _open_pull(world, branch)
        await idle(world)

        [run] = await world.check_runs(broken)
        assert run["name"] == "hnp-gitops/validate" and run["conclusion"] == "failure"
        [note] = await world.annotations(run["id"])
        assert note["path"] == f"{DIRECTORY}/a.yaml" and note["start_line"] == 9
        assert await world.check_runs(docs) == []  # does not touch the fabric's directory
        # Validation wrote nothing: the database still holds the base.
        assert world.fabric.last_ingested_sha == base
        row = await resources.get(world.pool, world.fabric.id, "VPC", "vpc-a")
        assert row.desired_spec["subnets"]["default"]["vlan"] == 1001

        # A new commit on the pull request's branch: validated again, now green.
        await git(world.tree.path, "checkout", "-q", "-B", "bad-vlan", broken)
        world.tree.write(f"{DIRECTORY}/a.yaml", vpc("vpc-a", 1234))
        fixed = await world.tree.commit_and_push("fix the VLAN", branch="bad-vlan")
        await idle(world)
        [run] = await world.check_runs(fixed)
        assert run["conclusion"] == "success"
        assert "| VPC |" in run["output"]["summary"]  # what merging would change


async def _at(world: World, sha: str) -> bool:
    return (await world.refresh()).last_ingested_sha == sha


async def _open_pull(world: World, branch: str) -> dict:
    async with world.sim.session.post(
        f"{world.sim.base_url}/repos/{OWNER}/{REPO}/pulls",
        headers={"Authorization": f"token {world.token}"},
        json={"title": branch, "head": branch, "base": "main"},
    ) as response:
        assert response.status == 201, await response.text()
        return await response.json()
