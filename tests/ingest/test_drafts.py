"""GUI drafts survive ingestion: a push that changes a drafted resource records that the
draft's base moved, and the push that merges the bot's pull request clears the drafts it
made true."""

from __future__ import annotations

from bot.storage import drafts, pulls, resources
from tests.ingest.conftest import DIRECTORY, World
from tests.ingest.test_snapshot import vpc


async def test_a_push_under_a_draft_keeps_it_and_records_that_its_base_moved(world: World) -> None:
    world.tree.write(f"{DIRECTORY}/vpcs.yaml", vpc("vpc-a", 1001) + "---\n" + vpc("vpc-b", 1002, "10.0.2.0/24"))
    await world.tree.commit_and_push("two VPCs")
    await world.ingest()
    a = await resources.get(world.pool, world.fabric.id, "VPC", "vpc-a")
    drafted = {**a.desired_spec, "subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1050}}}
    async with world.pool.acquire() as conn:
        await drafts.put_draft(conn, world.fabric.id, "VPC", "vpc-a", spec=drafted, user="gui-user")

    # Someone changes vpc-a (and only vpc-a) in Git.
    world.tree.write(f"{DIRECTORY}/vpcs.yaml", vpc("vpc-a", 1070) + "---\n" + vpc("vpc-b", 1002, "10.0.2.0/24"))
    await world.tree.commit_and_push("vlan 1070")
    await world.ingest()
    a = await resources.get(world.pool, world.fabric.id, "VPC", "vpc-a")
    assert a.state == "draft" and a.draft_spec == drafted and a.drafted_by == "gui-user"
    assert a.desired_spec["subnets"]["default"]["vlan"] == 1070
    assert a.base_moved
    b = await resources.get(world.pool, world.fabric.id, "VPC", "vpc-b")
    assert b.state == "in_sync" and not b.base_moved


async def test_merging_the_bots_pull_request_fulfils_its_drafts(world: World) -> None:
    world.tree.write(f"{DIRECTORY}/vpcs.yaml", vpc("vpc-a", 1001) + "---\n" + vpc("vpc-b", 1002, "10.0.2.0/24"))
    await world.tree.commit_and_push("two VPCs")
    await world.ingest()
    a = await resources.get(world.pool, world.fabric.id, "VPC", "vpc-a")
    wanted = {**a.desired_spec, "subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1050}}}
    async with world.pool.acquire() as conn, conn.transaction():
        edited = await drafts.put_draft(conn, world.fabric.id, "VPC", "vpc-a", spec=wanted, user="gui-user")
        deleted = await drafts.put_draft(conn, world.fabric.id, "VPC", "vpc-b", delete=True, user="gui-user")
        pr = await pulls.create(
            conn,
            fabric_id=world.fabric.id,
            branch="hnp-sync/fabric-1/0123abcd",
            base_sha=world.fabric.last_ingested_sha,
            operation_id=None,
        )
        await drafts.attach_to_pull_request(conn, [edited.id, deleted.id], pr.id)
    assert (await resources.get(world.pool, world.fabric.id, "VPC", "vpc-a")).state == "pending_pr"

    # The bot's commit lands on the branch (as a merge would put it there) and comes back as a push.
    world.tree.write(f"{DIRECTORY}/vpcs.yaml", vpc("vpc-a", 1050))
    await world.tree.commit_and_push("hnp-gitops: sync from the GUI")
    await world.ingest()
    a = await resources.get(world.pool, world.fabric.id, "VPC", "vpc-a")
    assert a.state == "in_sync" and a.draft_spec is None and a.pull_request_id is None
    assert a.drafted_at is None and a.draft_base_spec is None and not a.base_moved
    assert a.desired_spec == wanted
    assert await resources.get(world.pool, world.fabric.id, "VPC", "vpc-b") is None  # deletion fulfilled
