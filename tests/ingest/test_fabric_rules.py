"""A push that breaks the fabric as a whole (a VLAN two VPCs use, a switch port two connections
use, a VPC deleted while an attachment needs it): the validate check fails with one annotation
per violation on the offending line, the resources involved keep their previous desired state
and the rest of the push is applied. A pull request gets the same check, and nothing is written."""

from __future__ import annotations

from bot.storage import resources
from tests.fabric_samples import edit, lab_with_vpcs
from tests.ingest.conftest import DIRECTORY, World


async def push(world: World, files: dict[str, str], message: str) -> str:
    for path, text in files.items():
        world.tree.write(f"{DIRECTORY}/{path}", text)
    return await world.tree.commit_and_push(message)


async def validate_run(world: World, sha: str) -> dict:
    [run] = [r for r in await world.check_runs(sha) if r["name"] == "hnp-gitops/validate"]
    return run


async def desired(world: World, kind: str, name: str):
    row = await resources.get(world.pool, world.fabric.id, kind, name)
    assert row is not None
    return row.desired_spec


async def test_a_push_that_reuses_a_vlan_holds_that_vpc_back_and_applies_the_rest(world: World) -> None:
    files = lab_with_vpcs()
    first = await push(world, files, "The lab and its VPCs")
    await world.ingest()
    run = await validate_run(world, first)
    # only the lab's static ExternalAttachment, invalid alone, as before
    assert [a["title"] for a in await world.annotations(run["id"])] == [
        "Invalid ExternalAttachment/ds3000-03--static-ext"
    ]

    demo = files["env-1/demo.yaml"]
    changed = edit(demo, "vlan: 1132", "vlan: 1101")  # demo-vpc-1's VLAN
    changed = edit(changed, "      name: default\n", "      name: other\n")  # a fine change beside it
    head = await push(world, {"env-1/demo.yaml": changed}, "Reuse a VLAN")
    await world.ingest()

    assert (await desired(world, "VPC", "demo-vpc-3"))["subnets"]["subnet-2"]["vlan"] == 1132  # kept
    assert (await desired(world, "ExternalPeering", "demo-vpc-1--default"))["permit"]["external"]["name"] == "other"
    run = await validate_run(world, head)
    assert run["conclusion"] == "failure"
    notes = [a for a in await world.annotations(run["id"]) if a["title"].startswith("Fabric rule")]
    [note] = notes
    assert note["path"] == f"{DIRECTORY}/env-1/demo.yaml"
    assert note["start_line"] == changed.splitlines().index("      vlan: 1101") + 1
    # the other side is in a file this push did not change (not read again): its document's line
    pre_line = files["env-1/pre-demo.yaml"].splitlines().index("  name: demo-vpc-1") + 1
    assert f"already used by demo-vpc-1/default ({DIRECTORY}/env-1/pre-demo.yaml:{pre_line})" in note["message"]
    assert "| vpc-vlan-unique | 1 |" in run["output"]["summary"]

    # An unrelated push later: the held document is read again and still reported.
    lab = edit(files["lab/wiring.yaml"], "  description: leaf-1\n", "  description: leaf one\n")
    later = await push(world, {"lab/wiring.yaml": lab}, "Describe a leaf")
    await world.ingest()
    run = await validate_run(world, later)
    assert [a["title"] for a in await world.annotations(run["id"]) if a["title"].startswith("Fabric rule")] == [
        "Fabric rule vpc-vlan-unique: VPC/demo-vpc-3"
    ]

    # Fixed: applied, and the check is back to the lab's one invalid document.
    fixed = await push(world, {"env-1/demo.yaml": edit(changed, "vlan: 1101", "vlan: 1133")}, "Another VLAN")
    await world.ingest()
    assert (await desired(world, "VPC", "demo-vpc-3"))["subnets"]["subnet-2"]["vlan"] == 1133
    run = await validate_run(world, fixed)
    assert not [a for a in await world.annotations(run["id"]) if a["title"].startswith("Fabric rule")]


async def test_deleting_a_vpc_an_attachment_needs_keeps_it(world: World) -> None:
    files = lab_with_vpcs()
    await push(world, files, "The lab and its VPCs")
    await world.ingest()
    text = files["env-1/demo.yaml"]
    start = text.index("apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\n")
    end = text.index("---\napiVersion: vpc.githedgehog.com/v1beta1\nkind: VPCAttachment")
    head = await push(world, {"env-1/demo.yaml": text[:start] + text[end + 4 :]}, "Drop demo-vpc-3")
    await world.ingest()
    row = await resources.get(world.pool, world.fabric.id, "VPC", "demo-vpc-3")
    assert row is not None and row.state != "orphaned" and row.desired_spec is not None
    run = await validate_run(world, head)
    [note] = [a for a in await world.annotations(run["id"]) if a["title"].startswith("Fabric rule")]
    assert (
        note["title"] == "Fabric rule vpcattachment-vpc-exists: VPCAttachment/demo-vpc-3--server-3--bundled--ds3000-01"
    )
