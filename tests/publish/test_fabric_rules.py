"""A sync refuses the drafts that would commit a fabric the fabric itself would refuse (a VLAN
two VPCs use), says so in its result and publishes the rest; force_sync publishes them too."""

from __future__ import annotations

from tests.publish.harness import VPCS, vpc_spec, world


async def test_a_sync_refuses_a_draft_that_reuses_a_vlan_and_publishes_the_rest(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        await w.draft("VPC", "vpc-2", {"spec": vpc_spec(2, 1001)})  # vpc-1's VLAN
        await w.draft("VPC", "vpc-3", {"spec": vpc_spec(3, 1033)})  # fine
        done = await w.sync(direction="gui_to_github", create_pr=False)
        assert done["status"] == "completed", done
        warnings = done["result"]["warnings"]
        assert any(
            "were refused: they would break the fabric as a whole" in m and "VPC/vpc-2 spec.subnets.default.vlan" in m
            for m in warnings
        ), warnings
        clone = await w.clone("main")
        assert (clone / "fabric/vpcs.yaml").read_text() == VPCS.replace("vlan: 1003", "vlan: 1033")
        vpc2 = await w.resource("VPC", "vpc-2")
        assert vpc2["state"] == "conflict"
        status, listed = await w.call("GET", "/api/fabrics/lab/conflicts")
        [found] = [c for c in listed["conflicts"] if c["type"] == "dependency_violation"]
        assert found["field_path"] == "spec.subnets.default.vlan" and "vpc-vlan-unique" in found["message"]

        forced = await w.sync(direction="gui_to_github", create_pr=False, force_sync=True)
        assert forced["status"] == "completed", forced
        assert any("were published although they break" in m for m in forced["result"]["warnings"])
        clone = await w.clone("main")
        assert "vlan: 1001" in (clone / "fabric/vpcs.yaml").read_text().split("name: vpc-2", 1)[1]
