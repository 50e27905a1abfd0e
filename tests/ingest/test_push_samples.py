"""Pushing the real sample fabrics: the database holds exactly what an independent parse of the
files says, less the documents their CRDs reject, each of which is on the failing check run.
Later pushes edit, move, delete and corrupt files."""

from __future__ import annotations

import yaml

from bot.storage import fabric_files, operations, resources
from tests.conftest import shared_path
from tests.ingest.conftest import DIRECTORY, World

SAMPLES = ("lab-ci_wiring.yaml", "gitops-test-1_prepop.yaml", "demo-gitops_demo.yaml", "demo-gitops_pre-demo.yaml")


def independent_parse(files: dict[str, str]) -> tuple[dict[tuple[str, str, str], tuple[str, dict]], set]:
    """(kind, namespace, name) -> (path, spec) by plain yaml.safe_load_all, and the identities
    defined more than once."""
    found, twice = {}, set()
    for path, text in files.items():
        for doc in yaml.safe_load_all(text):
            if not doc:
                continue
            meta = doc.get("metadata") or {}
            key = (doc["kind"], meta.get("namespace") or "default", meta["name"])
            if key in found:
                twice.add(key)
            found[key] = (path, doc.get("spec") or {})
    return found, twice


def into_the_lab(text: str) -> str:
    """A demo-gitops file with its VPCs moved into the lab's IPv4Namespace and attached to the
    lab's own connections, so that the demo fits the lab's fabric as a whole."""
    text = text.replace("10.10.1", "10.20.1")
    text = text.replace("server-1--mclag--s5248-01--s5248-02", "server-1--eslag--ds3000-01--ds3000-02")
    text = text.replace("server-4--unbundled--s5248-02", "server-2--eslag--ds3000-01--ds3000-02")
    return text.replace("server-3--bundled--s5248-01", "server-3--bundled--ds3000-01")


async def push_samples(world: World, layout: dict[str, str] | None = None, *, fitted: bool = False) -> dict[str, str]:
    """Write the samples under the fabric directory (one folder per origin) and push them;
    `fitted`: the demo files moved into the lab's fabric (into_the_lab)."""
    files = {}
    for name in SAMPLES:
        text = shared_path("hedgehog", "samples", name).read_text()
        if fitted and name.startswith("demo-gitops"):
            text = into_the_lab(text)
        path = f"{DIRECTORY}/{(layout or {}).get(name, name.replace('_', '/', 1))}"
        world.tree.write(path, text)
        files[path] = text
    await world.tree.commit_and_push("Add the sample fabrics")
    return files


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


async def db_resources(world: World) -> dict[tuple[str, str, str], object]:
    return {r.identity: r for r in await resources.list_for_fabric(world.pool, world.fabric.id)}


async def validate_runs(world: World, sha: str) -> list[dict]:
    return [r for r in await world.check_runs(sha) if r["name"] == "hnp-gitops/validate"]


async def test_first_push_of_the_samples_holds_exactly_the_valid_documents(world: World) -> None:
    files = await push_samples(world)
    head = await world.tree.commit_and_push("nothing")  # an empty commit on top: the head is what counts
    await world.ingest()

    expected, twice = independent_parse(files)
    # The real samples define SwitchGroup eslag-1 twice (lab-ci and gitops-test-1): an error
    # on both documents, neither applied. The lab wiring has one ExternalAttachment its CRD rejects.
    assert twice == {("SwitchGroup", "default", "eslag-1")}
    rejected = {("ExternalAttachment", "default", "ds3000-03--static-ext")}
    # Together they are no fabric (checked as a whole): the switches in eslag-1 are not created,
    # nor what needs them; demo-gitops' VPCs lie outside the lab's IPv4Namespace and attach to
    # connections of another lab. Each is an annotation, and not applied.
    [run] = await validate_runs(world, head)
    notes = await world.annotations(run["id"])
    rule_notes = [n["title"].split(": ", 1)[1] for n in notes if n["title"].startswith("Fabric rule ")]
    held = {(kind, "default", name) for kind, name in (title.split("/", 1) for title in rule_notes)}
    assert {
        ("Switch", "default", "ds3000-03"),
        ("Switch", "default", "leaf-03"),
        ("Connection", "default", "server-7--unbundled--ds3000-03"),
        ("VPC", "default", "demo-vpc-1"),
        ("VPCAttachment", "default", "demo-vpc-3--server-3--bundled--s5248-01"),
    } <= held
    assert ("Switch", "default", "ds3000-01") not in held  # in eslag-2
    rows = await db_resources(world)
    assert set(rows) == set(expected) - rejected - twice - held
    for key, row in rows.items():
        path, spec = expected[key]
        assert row.desired_spec == spec, key
        assert row.file_path == path
        assert row.state == "in_sync"
        assert row.desired_sha is not None and row.blob_sha is not None
    assert world.fabric.last_ingested_sha == head

    # Each document invalid alone is one annotation of the failing check run, at its line.
    assert run["status"] == "completed" and run["conclusion"] == "failure"
    notes = {(a["path"], a["start_line"]): a for a in notes if not a["title"].startswith("Fabric rule ")}
    lab, prepop = f"{DIRECTORY}/lab-ci/wiring.yaml", f"{DIRECTORY}/gitops-test-1/prepop.yaml"
    assert set(notes) == {
        (lab, 806),
        (lab, line_of(files[lab], "name: eslag-1")),
        (prepop, line_of(files[prepop], "name: eslag-1")),
    }
    attachment = notes[(lab, 806)]
    assert "ds3000-03--static-ext" in attachment["title"]
    assert "neighbor is required" in attachment["message"] and "switch is required" in attachment["message"]
    assert all(n["annotation_level"] == "failure" for n in notes.values())
    assert "defined more than once" in notes[(prepop, line_of(files[prepop], "name: eslag-1"))]["message"]

    [op] = await operations.for_fabric(world.pool, world.fabric.id)
    assert op.status == "completed" and op.direction == "github_to_gui" and op.trigger == "push"
    stats = op.result["statistics"]
    assert stats["resources_created"] == len(rows)
    assert stats["files_processed"] == len(SAMPLES)
    assert stats["validation_errors"] == 4 + len(rule_notes)  # two on the attachment, one on each eslag-1, the rules
    github = op.result["github_integration"]
    assert github["commit_sha"] == head and github["files_transferred"] == len(SAMPLES)
    assert 0 < github["api_calls_made"] <= 6


async def test_later_pushes_edit_move_delete_and_corrupt_files(world: World) -> None:
    files = await push_samples(world, fitted=True)
    await world.ingest()
    before = await db_resources(world)
    demo, pre = f"{DIRECTORY}/demo-gitops/demo.yaml", f"{DIRECTORY}/demo-gitops/pre-demo.yaml"
    lab = f"{DIRECTORY}/lab-ci/wiring.yaml"

    # Edit: one VLAN of the demo VPC changes; nothing else is touched.
    vpc = next(k for k, (p, _) in independent_parse({demo: files[demo]})[0].items() if k[0] == "VPC")
    old_vlan = before[vpc].desired_spec["subnets"]["subnet-1"]["vlan"]
    world.tree.write(demo, files[demo].replace(f"vlan: {old_vlan}", "vlan: 1999", 1))
    edited = await world.tree.commit_and_push("Change a VLAN")
    await world.ingest()
    after = await db_resources(world)
    assert after[vpc].desired_spec["subnets"]["subnet-1"]["vlan"] == 1999
    assert after[vpc].desired_sha == edited and after[vpc].id == before[vpc].id
    unchanged = [k for k in before if k != vpc]
    assert all(after[k].desired_sha == before[k].desired_sha for k in unchanged)
    [run] = await validate_runs(world, edited)
    assert run["conclusion"] == "failure"  # the lab's bad attachment is still in the commit
    op = (await operations.for_fabric(world.pool, world.fabric.id))[0]
    assert op.result["statistics"]["resources_updated"] == 1
    # the demo file, and the two that hold switches of eslag-1 (held back: read at every ingest)
    assert op.result["statistics"]["files_processed"] == 3

    # Move: the pre-demo file is renamed into another folder; its resources keep their rows.
    moved_to = f"{DIRECTORY}/vpcs/pre-demo.yaml"
    await world.tree.move(pre, moved_to)
    moved = await world.tree.commit_and_push("Move the pre-demo VPCs")
    await world.ingest()
    after_move = await db_resources(world)
    pre_keys = [k for k, r in after.items() if r.file_path == pre]
    assert pre_keys
    for key in pre_keys:
        assert after_move[key].id == after[key].id
        assert after_move[key].file_path == moved_to and after_move[key].state == "in_sync"
        assert after_move[key].desired_sha == after[key].desired_sha  # content did not change
    op = (await operations.for_fabric(world.pool, world.fabric.id))[0]
    assert op.result["github_integration"]["commit_sha"] == moved
    assert op.result["statistics"]["resources_orphaned"] == 0

    # Delete: the demo file goes; its resources are orphaned, not deleted.
    world.tree.remove(demo)
    deleted = await world.tree.commit_and_push("Remove the demo")
    await world.ingest()
    after_delete = await db_resources(world)
    demo_keys = [k for k, r in after_move.items() if r.file_path == demo]
    for key in demo_keys:
        assert after_delete[key].state == "orphaned" and after_delete[key].file_path is None
        assert after_delete[key].desired_spec == after_move[key].desired_spec
    op = (await operations.for_fabric(world.pool, world.fabric.id))[0]
    assert op.result["statistics"]["resources_orphaned"] == len(demo_keys)
    assert op.result["statistics"]["files_deleted"] == 1
    assert deleted == world.fabric.last_ingested_sha

    # Drop the lab's bad attachment and corrupt the moved file in the same push: every other
    # file is still ingested, the corrupt file's resources keep their previous desired state.
    marker = "---\napiVersion: vpc.githedgehog.com/v1beta1\nkind: ExternalAttachment\nmetadata:\n  name: ds3000-03--static-ext\n"
    start = files[lab].index(marker)
    end = files[lab].find("\n---", start + 4)
    text = files[lab][:start] + (files[lab][end + 1 :] if end != -1 else "")
    world.tree.write(lab, text)
    world.tree.write(moved_to, b"\xff\xfe not yaml at all \x00")
    corrupted = await world.tree.commit_and_push("Drop the bad attachment, break the VPC file")
    await world.ingest()
    after_corrupt = await db_resources(world)
    for key in pre_keys:
        assert after_corrupt[key].desired_spec == after_move[key].desired_spec
        assert after_corrupt[key].state == "in_sync" and after_corrupt[key].file_path == moved_to
    [run] = await validate_runs(world, corrupted)
    assert run["conclusion"] == "failure"
    notes = await world.annotations(run["id"])
    corrupt_notes = [n for n in notes if n["path"] == moved_to]
    assert len(corrupt_notes) == 1 and "not valid UTF-8" in corrupt_notes[0]["message"]
    assert not [n for n in notes if "ds3000-03--static-ext" in n["title"]]

    # Repair it and remove one of the two eslag-1: the other, in the unchanged lab file, is read
    # again and applied, and the check turns green.
    world.tree.write(moved_to, files[pre])
    prepop = f"{DIRECTORY}/gitops-test-1/prepop.yaml"
    world.tree.remove(prepop)
    repaired = await world.tree.commit_and_push("Repair")
    await world.ingest()
    [run] = await validate_runs(world, repaired)
    assert run["conclusion"] == "success", run["output"]
    rows = await db_resources(world)
    assert rows[("SwitchGroup", "default", "eslag-1")].file_path == lab  # no longer a duplicate: applied
    assert run["output"]["title"] == "Valid"
    assert "| SwitchGroup |" in run["output"]["summary"]
    assert await fabric_files.error_count(world.pool, world.fabric.id) == 0
