"""The conflict and drift routes of the HNP API, as HNP calls them."""

from __future__ import annotations

from bot.features import conflicts
from tests.api.test_api import AUTH, call, running
from tests.conflicts.conflict_helpers import put, row, vpc


async def seeded(pool):
    fid = await pool.fetchval("SELECT id FROM fabric WHERE name = 'lab'")
    rid = await put(pool, fid, "VPC", "vpc-1", base=vpc(1001), draft=vpc(1002), desired=vpc(1003))
    async with pool.acquire() as conn:
        await conflicts.detect_conflicts(conn, fid)
    return fid, rid


async def make_fabric(client):
    status, body = await call(
        client,
        "POST",
        "/api/fabrics",
        {"name": "lab", "repository": "acme/fabric", "directory": "fabric", "branch": "main"},
    )
    assert status == 201, body


async def test_conflicts_are_listed_and_resolved_through_the_api(pool):
    async with running(pool) as client:
        await make_fabric(client)
        fid, rid = await seeded(pool)

        status, body = await call(client, "GET", "/api/fabrics/lab/conflicts")
        assert status == 200 and body["count"] == 1
        [c] = body["conflicts"]
        assert (c["type"], c["field_path"], c["base_value"], c["gui_value"], c["git_value"]) == (
            "concurrent_modification",
            "spec.subnets.default.vlan",
            1001,
            1002,
            1003,
        )
        assert c["resource"]["name"] == "vpc-1" and c["resolution_options"]

        # Refused: not offered / no value for manual / not a merge of lists; nothing changes.
        status, err = await call(client, "POST", f"/api/conflicts/{c['id']}/resolve", {"resolution": "sideways"})
        assert status == 422 and err["error"]["details"]["errors"][0]["path"] == "resolution"
        status, err = await call(client, "POST", f"/api/conflicts/{c['id']}/resolve", {"resolution": "manual"})
        assert status == 422
        status, err = await call(client, "POST", f"/api/conflicts/{c['id']}/resolve", {"resolution": "merge"})
        assert status == 409 and err["error"]["code"] == "cannot_resolve"
        assert (await row(pool, rid))["state"] == "conflict"

        status, body = await call(
            client,
            "POST",
            f"/api/conflicts/{c['id']}/resolve",
            {"resolution": "manual", "values": {"spec.subnets.default.vlan": 1777}},
            headers={**AUTH, "X-HNP-User": "carol"},
        )
        assert status == 200 and body["changed"] is True
        assert (body["conflict"]["status"], body["conflict"]["resolved_with"], body["conflict"]["resolved_by"]) == (
            "resolved",
            "manual",
            "carol",
        )
        r = await row(pool, rid)
        assert r["state"] == "draft" and r["draft_spec"]["subnets"]["default"]["vlan"] == 1777

        # Saying it again is answered the same; another resolution now is a conflict.
        status, body = await call(
            client,
            "POST",
            f"/api/conflicts/{c['id']}/resolve",
            {"resolution": "manual", "values": {"spec.subnets.default.vlan": 1777}},
        )
        assert status == 200 and body["changed"] is False
        status, _ = await call(client, "POST", f"/api/conflicts/{c['id']}/resolve", {"resolution": "gui_wins"})
        assert status == 409
        status, _ = await call(client, "POST", "/api/conflicts/999999/resolve", {"resolution": "gui_wins"})
        assert status == 404
        status, body = await call(client, "GET", "/api/fabrics/lab/conflicts?status=all")
        assert [x["status"] for x in body["conflicts"]] == ["resolved"]


async def test_actual_state_reported_by_the_fabric_shows_drift_until_it_agrees(pool):
    async with running(pool) as client:
        await make_fabric(client)
        fid = await pool.fetchval("SELECT id FROM fabric WHERE name = 'lab'")
        rid = await put(pool, fid, "VPC", "vpc-1", desired=vpc(1001))
        other = await put(pool, fid, "VPC", "vpc-2", desired=vpc(2001))

        status, body = await call(client, "PUT", "/api/fabrics/lab/resources/vpc/vpc-1/actual", {"spec": vpc(1009)})
        assert status == 200 and body["state"] == "drifted"
        assert body["differences"] == [{"field": "spec.subnets.default.vlan", "desired": 1001, "actual": 1009}]
        status, body = await call(client, "GET", "/api/fabrics/lab/drift")
        assert status == 200 and [r["name"] for r in body["resources"]] == ["vpc-1"]

        status, body = await call(
            client,
            "PUT",
            "/api/fabrics/lab/actual",
            {
                "resources": [
                    {"kind": "VPC", "name": "vpc-1", "spec": vpc(1001)},
                    {"kind": "VPC", "name": "vpc-2", "spec": vpc(2002)},
                    {"kind": "VPC", "name": "vpc-9", "spec": vpc(9)},
                ]
            },
        )
        assert status == 200 and body["updated"] == 2 and body["states"] == {"in_sync": 1, "drifted": 1}
        assert body["unknown"] == [{"kind": "VPC", "namespace": "default", "name": "vpc-9"}]
        assert (await row(pool, rid))["state"] == "in_sync" and (await row(pool, other))["state"] == "drifted"
        status, body = await call(client, "GET", "/api/fabrics/lab/drift")
        assert [r["name"] for r in body["resources"]] == ["vpc-2"]

        status, _ = await call(client, "PUT", "/api/fabrics/lab/resources/VPC/nope/actual", {"spec": {}})
        assert status == 404
        status, err = await call(client, "PUT", "/api/fabrics/lab/resources/VPC/vpc-1/actual", {"spec": [1]})
        assert status == 422
