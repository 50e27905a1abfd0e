"""Setting a draft answers with what it would break in the fabric as a whole (the desired state
plus every draft), as warnings with field paths; the draft is kept all the same."""

from __future__ import annotations

from tests.api.test_api import add_desired, call, make_fabric, running


def vpc(subnet: str, vlan: int) -> dict:
    return {"subnets": {"default": {"subnet": f"{subnet}/24", "vlan": vlan}}}


async def test_a_draft_that_reuses_a_vlan_comes_back_with_a_warning(pool):
    async with running(pool) as client:
        await make_fabric(client)
        await add_desired(pool, "lab", "vpc-1", vpc("10.0.1.0", 1001))
        await add_desired(pool, "lab", "vpc-2", vpc("10.0.2.0", 1002))
        path = "/api/fabrics/lab/resources/VPC/vpc-2/draft"
        status, body = await call(client, "PUT", path, {"spec": vpc("10.0.2.0", 1001)})
        assert status == 200 and body["state"] == "draft"
        [warning] = body["warnings"]
        assert (warning["rule"], warning["name"], warning["field_path"]) == (
            "vpc-vlan-unique",
            "vpc-2",
            "spec.subnets.default.vlan",
        )
        assert warning["message"].startswith(
            "VLAN 1001 of vpc-2/default is already used by vpc-1/default (fabric/vpcs.yaml"
        )
        assert warning["other"] == {"kind": "VPC", "name": "vpc-1"}
        # a draft of vpc-1 that moves it is judged with vpc-2's draft in view: no warning
        status, body = await call(
            client, "PUT", "/api/fabrics/lab/resources/VPC/vpc-1/draft", {"spec": vpc("10.0.1.0", 1101)}
        )
        assert status == 200 and body["warnings"] == []
        # a subnet overlapping another VPC's
        status, body = await call(client, "PUT", path, {"spec": vpc("10.0.1.0", 1002)})
        assert [w["rule"] for w in body["warnings"]] == ["vpc-subnet-overlap"]


async def test_a_draft_made_from_the_clusters_view_is_no_change(pool):
    async with running(pool) as client:
        await make_fabric(client)
        await add_desired(pool, "lab", "vpc-1", vpc("10.0.1.0", 1001))
        as_running = vpc("10.0.1.0", 1001)
        as_running.update(ipv4Namespace="default", vlanNamespace="default")
        as_running["subnets"]["default"]["gateway"] = "10.0.1.1"
        labels = {"fabric.githedgehog.com/ipv4ns": "default", "fabric.githedgehog.com/vlanns": "default"}
        path = "/api/fabrics/lab/resources/VPC/vpc-1/draft"
        status, body = await call(client, "PUT", path, {"spec": as_running, "labels": labels})
        assert (status, body["cleared"], body["state"]) == (200, True, "in_sync")
        # with a real change beside the defaults, only the change is drafted
        as_running["subnets"]["default"]["vlan"] = 1011
        status, body = await call(client, "PUT", path, {"spec": as_running, "labels": labels})
        assert status == 200 and body["draft"]["spec"] == vpc("10.0.1.0", 1011)
        assert not body["draft"].get("labels")
