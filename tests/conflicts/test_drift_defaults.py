"""Drift is judged after the fabric's defaults: what the cluster fills in (namespaces, gateway,
DHCP range, a switch's vlanNamespaces) is not drift; a real difference still is, alone."""

from __future__ import annotations

import copy

from bot.core.documents import parse_file
from bot.features import drift
from tests.conflicts.conflict_helpers import make_fabric, put, row
from tests.fabric_samples import LAB, PRE_DEMO, sample


def first(name: str, kind: str) -> tuple[str, dict]:
    doc = next(d for d in parse_file(name, sample(name).encode()).documents if d.kind == kind)
    return doc.name, doc.body["spec"]


async def report(pool, fabric_id, kind, name, spec):
    async with pool.acquire() as conn:
        return await drift.set_actual(conn, fabric_id, [drift.Report(kind, name, spec)])


async def test_what_the_cluster_fills_in_is_not_drift(pool):
    fid = await make_fabric(pool)
    name, desired = first(PRE_DEMO, "VPC")  # demo-vpc-1: no namespaces, no gateway
    rid = await put(pool, fid, "VPC", name, desired=desired)
    running = copy.deepcopy(desired)  # as the cluster returns it after VPC.Default()
    running.update(ipv4Namespace="default", vlanNamespace="default")
    running["subnets"]["default"]["gateway"] = "10.10.101.1"
    await report(pool, fid, "VPC", name, running)
    assert (await row(pool, rid))["state"] == "in_sync"
    assert await drift.drifted(pool, fid) == []

    switch, sw_desired = first(LAB, "Switch")  # no vlanNamespaces; redundancy group eslag-2
    sid = await put(pool, fid, "Switch", switch, desired=sw_desired)
    await report(pool, fid, "Switch", switch, {**sw_desired, "vlanNamespaces": ["default"], "groups": ["eslag-2"]})
    assert (await row(pool, sid))["state"] == "in_sync"

    # a real difference is drift, shown alone
    running["subnets"]["default"]["vlan"] = 1999
    await report(pool, fid, "VPC", name, running)
    assert (await row(pool, rid))["state"] == "drifted"
    [found] = await drift.drifted(pool, fid)
    assert [d["field"] for d in found["differences"]] == ["spec.subnets.default.vlan"]
