"""Hostile files are per-file errors on the check run, never a crash or a hung worker, and
every other file is still ingested. An ingest's GitHub calls do not grow with the files."""

from __future__ import annotations

from bot.storage import operations, resources
from tests.ingest.conftest import DIRECTORY, World
from tests.ingest.test_snapshot import vpc

BOMB = """a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
kind: VPC
"""

HOSTILE = {
    "big.yaml": (b"# padding\n" * 600_000, "over the limit"),
    "bigdoc.yaml": (
        (
            "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: big\n"
            "spec:\n  note: '" + "x" * 1_100_000 + "'\n"
        ).encode(),
        "1 MiB",
    ),
    "bomb.yaml": (BOMB.encode(), "alias"),
    "deep.yaml": (("kind: VPC\nspec: " + "[" * 5000 + "]" * 5000 + "\n").encode(), "deeper"),
    "latin1.yaml": ("kind: VPC\nmetadata:\n  name: caf\xe9\n".encode("latin-1"), "UTF-8"),
    "dupkey.yaml": (
        b"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nkind: VPC\nmetadata:\n  name: d\n",
        "duplicate key",
    ),
    "list.yaml": (b"- kind: VPC\n- kind: VPC\n", "expected a mapping"),
    "tabs.yaml": (b"kind: VPC\nmetadata:\n\tname: t\n", "invalid YAML"),
}


async def test_hostile_files_fail_the_check_one_annotation_each_and_the_rest_is_ingested(world: World) -> None:
    for name, (content, _) in HOSTILE.items():
        world.tree.write(f"{DIRECTORY}/hostile/{name}", content)
    world.tree.write(f"{DIRECTORY}/good.yaml", vpc("vpc-good"))
    world.tree.write(f"{DIRECTORY}/other.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n")
    head = await world.tree.commit_and_push("hostile input")
    await world.ingest()

    assert [r.name for r in await resources.list_for_fabric(world.pool, world.fabric.id)] == ["vpc-good"]
    [run] = [r for r in await world.check_runs(head) if r["name"] == "hnp-gitops/validate"]
    assert run["conclusion"] == "failure"
    notes = await world.annotations(run["id"])
    failures = {n["path"].rsplit("/", 1)[1]: n for n in notes if n["annotation_level"] == "failure"}
    assert set(failures) == set(HOSTILE)
    for name, (_, expected) in HOSTILE.items():
        assert expected in failures[name]["message"], (name, failures[name]["message"])
    [skipped] = [n for n in notes if n["annotation_level"] == "warning"]
    assert skipped["path"] == f"{DIRECTORY}/other.yaml" and "not a Hedgehog kind" in skipped["message"]
    assert world.fabric.last_ingested_sha == head
    # The status page's record of it: this commit, failed, one failure per hostile file, the run's page.
    validated = await world.pool.fetchrow(
        "SELECT validate_sha, validate_conclusion, validate_failures, validate_url FROM fabric WHERE id = $1",
        world.fabric.id,
    )
    assert dict(validated) == {
        "validate_sha": head,
        "validate_conclusion": "failure",
        "validate_failures": len(HOSTILE),
        "validate_url": run["html_url"],
    }


async def test_a_push_changing_a_hundred_files_costs_a_constant_handful_of_calls(world: World) -> None:
    for i in range(100):
        world.tree.write(f"{DIRECTORY}/vpcs/v{i:03}.yaml", vpc(f"v{i:03}", 1000 + i, f"10.1.{i}.0/24"))
    await world.tree.commit_and_push("a hundred VPCs")
    await world.ingest()  # first sync (mints the installation token too)

    for i in range(100):
        world.tree.write(f"{DIRECTORY}/vpcs/v{i:03}.yaml", vpc(f"v{i:03}", 2000 + i, f"10.1.{i}.0/24"))
    await world.tree.commit_and_push("change all hundred")
    seq = await world.last_seq()
    await world.ingest()
    op = (await operations.for_fabric(world.pool, world.fabric.id))[0]
    assert op.result["statistics"]["resources_updated"] == 100
    assert op.result["statistics"]["files_processed"] == 100
    calls = await world.rest(since=seq)
    assert op.result["github_integration"]["api_calls_made"] == len(calls) <= 6, calls
    assert [(c["method"], c["path"].split("/")[4]) for c in calls] == [
        ("GET", "git"),
        ("GET", "git"),
        ("POST", "check-runs"),
        ("GET", "tarball"),
        ("PATCH", "check-runs"),
    ]


async def test_more_than_fifty_bad_documents_are_annotated_fifty_per_request(world: World) -> None:
    bad = "---\n".join(vpc(f"bad-{i:03}", 99999) for i in range(120))
    world.tree.write(f"{DIRECTORY}/bad.yaml", bad)
    head = await world.tree.commit_and_push("120 bad VPCs")
    seq = await world.last_seq()
    await world.ingest()
    patches = [c for c in await world.rest(since=seq) if c["method"] == "PATCH"]
    assert [len(c["body"]["output"].get("annotations", [])) for c in patches] == [50, 50, 20]
    [run] = await world.check_runs(head)
    assert run["output"]["annotations_count"] == 120 and run["conclusion"] == "failure"
