"""Drafts checked against the fabric they would land in: a draft that breaks the fabric as a
whole (bot.core.fabric_rules, on desired + every draft) gets a dependency_violation and waits;
what Git already broke on its own is not blamed on a draft; a draft that cures it clears it."""

from __future__ import annotations

from bot.features import conflicts
from tests.conflicts.conflict_helpers import conflicts as conflict_rows
from tests.conflicts.conflict_helpers import make_fabric, put, row


def vpc(subnet: str, vlan: int) -> dict:
    return {"subnets": {"default": {"subnet": f"{subnet}/24", "vlan": vlan}}}


async def check(pool, fabric_id, strategy="user_guided"):
    async with pool.acquire() as conn:
        return await conflicts.check_fabric(conn, fabric_id, strategy)


async def test_a_draft_that_takes_a_vlan_in_use_waits_with_a_dependency_violation(pool):
    fid = await make_fabric(pool)
    other = await put(pool, fid, "VPC", "vpc-1", desired=vpc("10.0.1.0", 1001))
    rid = await put(pool, fid, "VPC", "vpc-2", desired=vpc("10.0.2.0", 1002), draft=vpc("10.0.2.0", 1001))
    report = await check(pool, fid)
    assert report.waiting == [rid]
    [found] = await conflict_rows(pool, fid)
    assert found["type"] == "dependency_violation" and found["field_path"] == "spec.subnets.default.vlan"
    assert "VLAN 1001 of vpc-2/default is already used by vpc-1/default" in found["message"]
    assert "[vpc-vlan-unique]" in found["message"]
    assert (await row(pool, rid))["state"] == "conflict"
    # another draft moves vpc-1 away: both go ahead
    await pool.execute(
        "UPDATE resource SET draft_spec = $2, drafted_at = now(), draft_base_spec = desired_spec, "
        "draft_base_sha = desired_sha, state = 'draft' WHERE id = $1",
        other,
        vpc("10.0.1.0", 1101),
    )
    report = await check(pool, fid)
    assert sorted(report.ready) == sorted([rid, other]) and report.waiting == []
    assert [c["status"] for c in await conflict_rows(pool, fid)] == ["superseded"]


async def test_deleting_a_vpc_an_attachment_refers_to_blames_the_deletion(pool):
    fid = await make_fabric(pool)
    gone = await put(pool, fid, "VPC", "vpc-1", desired=vpc("10.0.1.0", 1001), delete=True)
    await put(pool, fid, "VPCAttachment", "att", desired={"subnet": "vpc-1/default", "connection": "c1"})
    report = await check(pool, fid)
    assert report.waiting == [gone]
    [found] = await conflict_rows(pool, fid)
    assert found["type"] == "dependency_violation" and found["field_path"] == ""
    assert found["message"].startswith("VPCAttachment att: VPC vpc-1 does not exist")


async def test_what_git_already_breaks_is_not_a_drafts_fault(pool):
    fid = await make_fabric(pool)
    await put(pool, fid, "VPC", "vpc-1", desired=vpc("10.0.1.0", 1001))
    rid = await put(
        pool, fid, "VPC", "vpc-2", desired=vpc("10.0.1.0", 1001), draft={**vpc("10.0.1.0", 1001), "mode": ""}
    )
    report = await check(pool, fid)
    assert report.ready == [rid] and await conflict_rows(pool, fid) == []
