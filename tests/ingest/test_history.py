"""Whatever the shape of the push, the database follows the branch head: force-pushes onto an
unrelated history, pushes outside the directory, branch deletion, late deliveries."""

from __future__ import annotations

from bot.storage import operations, resources
from tests.ingest.conftest import DIRECTORY, World, git
from tests.ingest.test_snapshot import vpc


async def names(world: World) -> dict[str, str]:
    return {r.name: r.state for r in await resources.list_for_fabric(world.pool, world.fabric.id)}


async def test_a_force_push_onto_an_unrelated_history_ingests_exactly_the_new_tree(world: World) -> None:
    world.tree.write(f"{DIRECTORY}/a.yaml", vpc("vpc-a"))
    world.tree.write(f"{DIRECTORY}/b.yaml", vpc("vpc-b", 1002, "10.0.2.0/24"))
    await world.tree.commit_and_push("two VPCs")
    await world.ingest()
    assert await names(world) == {"vpc-a": "in_sync", "vpc-b": "in_sync"}

    # A brand-new root commit: b.yaml is the same blob (not read again), a.yaml is gone, c.yaml new.
    await git(world.tree.path, "checkout", "-q", "--orphan", "rewrite")
    await git(world.tree.path, "rm", "-rq", "--cached", ".")
    world.tree.remove(f"{DIRECTORY}/a.yaml")
    world.tree.write(f"{DIRECTORY}/c.yaml", vpc("vpc-c", 1003, "10.0.3.0/24"))
    head = await world.tree.commit_and_push("unrelated history", force=True)
    await world.ingest()
    assert world.fabric.last_ingested_sha == head
    assert await names(world) == {"vpc-a": "orphaned", "vpc-b": "in_sync", "vpc-c": "in_sync"}
    op = (await operations.for_fabric(world.pool, world.fabric.id))[0]
    stats = op.result["statistics"]
    assert (stats["files_processed"], stats["files_created"], stats["files_deleted"]) == (1, 1, 1)


async def test_a_push_outside_the_directory_only_notes_the_sha(world: World) -> None:
    world.tree.write(f"{DIRECTORY}/a.yaml", vpc("vpc-a"))
    await world.tree.commit_and_push("a VPC")
    await world.ingest()
    [first] = await operations.for_fabric(world.pool, world.fabric.id)

    world.tree.write("docs/readme.yaml", "not: a fabric file\n")
    world.tree.write(f"{DIRECTORY}-other/x.yaml", vpc("vpc-x"))  # a sibling directory is outside too
    head = await world.tree.commit_and_push("docs")
    seq = await world.last_seq()
    await world.ingest()
    assert world.fabric.last_ingested_sha == head
    assert await operations.for_fabric(world.pool, world.fabric.id) == [first]  # no new operation
    calls = [(r["method"], r["path"].split("/")[-2]) for r in await world.rest(since=seq)]
    assert calls == [("GET", "heads"), ("GET", "trees")]  # the ref and the tree: no tarball, no check run
    assert await world.check_runs(head) == []


async def test_deleting_the_branch_flags_the_fabric_and_deletes_nothing(world: World) -> None:
    world.tree.write(f"{DIRECTORY}/a.yaml", vpc("vpc-a"))
    await world.tree.commit_and_push("a VPC", branch="prod")
    world.fabric = await _on_branch(world, "prod")
    await world.ingest()
    assert await names(world) == {"vpc-a": "in_sync"}

    await git(world.tree.path, "push", "-q", "origin", ":refs/heads/prod")
    await world.ingest()
    assert world.fabric.connection_status == "branch_missing"
    assert "prod" in world.fabric.status_detail
    assert await names(world) == {"vpc-a": "in_sync"}

    # The branch comes back: ingested again, connected again.
    await world.tree.push("prod")
    await world.ingest()
    assert world.fabric.connection_status == "connected"


async def test_an_older_push_delivered_after_a_newer_one_changes_nothing(world: World) -> None:
    world.tree.write(f"{DIRECTORY}/a.yaml", vpc("vpc-a"))
    old = await world.tree.commit_and_push("first")
    world.tree.write(f"{DIRECTORY}/a.yaml", vpc("vpc-a", 1500))
    new = await world.tree.commit_and_push("second")
    await world.ingest()
    assert world.fabric.last_ingested_sha == new
    ops = await operations.for_fabric(world.pool, world.fabric.id)
    row = await resources.get(world.pool, world.fabric.id, "VPC", "vpc-a")

    seq = await world.last_seq()
    from bot.jobs import queue

    await queue.enqueue(
        world.pool,
        "ingest",
        {"fabric_id": world.fabric.id, "head_sha": old, "trigger": "push"},
        fabric_id=world.fabric.id,
    )
    await world.run_jobs()
    assert world.fabric.last_ingested_sha == new
    assert await operations.for_fabric(world.pool, world.fabric.id) == ops
    assert await resources.get(world.pool, world.fabric.id, "VPC", "vpc-a") == row
    assert [r["path"].split("/")[-2] for r in await world.rest(since=seq)] == ["heads"]
    assert await world.check_runs(old) == []


async def _on_branch(world: World, branch: str):
    await world.pool.execute("UPDATE fabric SET branch = $2 WHERE id = $1", world.fabric.id, branch)
    return await world.refresh()
