"""Strategies a sync applies, and people resolving conflicts one by one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.features import conflicts
from tests.conflicts.conflict_helpers import T0, make_fabric, put, row, vpc, with_
from tests.conflicts.conflict_helpers import conflicts as conflict_rows


async def check(pool, fabric_id, strategy="user_guided", **kw):
    async with pool.acquire() as conn:
        return await conflicts.check_fabric(conn, fabric_id, strategy, **kw)


async def resolve(pool, fabric_id, resolution, **kw):
    async with pool.acquire() as conn:
        return await conflicts.resolve(conn, fabric_id, resolution, **kw)


async def vlan_conflict(pool, fid, name="vpc-1", **kw):
    """Base 1001; the GUI made it 1002 and Git 1003, while Git also moved the gateway."""
    base = vpc(1001)
    return await put(
        pool,
        fid,
        "VPC",
        name,
        base=base,
        draft=with_(base, vlan=1002),
        desired=with_(base, vlan=1003, gateway="10.0.1.254"),
        **kw,
    )


async def test_gui_wins_takes_the_drafts_value_and_keeps_gits_other_changes(pool):
    fid = await make_fabric(pool)
    rid = await vlan_conflict(pool, fid)
    report = await check(pool, fid, "gui_wins", resolved_by="alice")
    r = await row(pool, rid)
    assert r["draft_spec"] == with_(vpc(1002), gateway="10.0.1.254")
    assert r["draft_base_spec"] == r["desired_spec"] and r["state"] == "draft"
    [c] = await conflict_rows(pool, fid)
    assert (c["status"], c["resolution"], c["resolved_by"]) == ("resolved", "gui_wins", "alice")
    assert report.ready == [rid] and report.resolved == 1


async def test_github_wins_takes_gits_value_and_a_draft_left_with_nothing_goes_away(pool):
    fid = await make_fabric(pool)
    rid = await vlan_conflict(pool, fid)
    await check(pool, fid, "github_wins")
    r = await row(pool, rid)
    assert r["draft_spec"] is None and r["state"] == "in_sync"
    assert [(c["status"], c["resolution"]) for c in await conflict_rows(pool, fid)] == [("resolved", "github_wins")]


async def test_github_wins_in_an_open_pull_request_keeps_a_draft_equal_to_git(pool):
    fid = await make_fabric(pool)
    pr = await pool.fetchval(
        "INSERT INTO pull_request (fabric_id, number, branch) VALUES ($1, 1, 'hnp-sync/x') RETURNING id", fid
    )
    rid = await vlan_conflict(pool, fid, pull_request_id=pr)
    await check(pool, fid, "github_wins")
    r = await row(pool, rid)
    # The branch must be brought back to Git's version, so the draft says so.
    assert r["draft_spec"] == r["desired_spec"] and r["state"] == "pending_pr"


@pytest.mark.parametrize("draft_later, expected", [(True, 1002), (False, 1003)])
async def test_timestamp_wins_lets_the_later_side_win(pool, draft_later, expected):
    fid = await make_fabric(pool)
    drafted = T0 + timedelta(hours=1 if draft_later else -1)
    rid = await vlan_conflict(pool, fid, drafted_at=drafted)
    await check(pool, fid, "timestamp_wins")
    r = await row(pool, rid)
    spec = r["draft_spec"] or r["desired_spec"]
    assert spec["subnets"]["default"]["vlan"] == expected
    [c] = await conflict_rows(pool, fid)
    assert c["resolution"] == "timestamp_wins"


async def test_timestamp_wins_without_a_commit_time_waits(pool):
    fid = await make_fabric(pool)
    rid = await vlan_conflict(pool, fid, desired_at=None)
    report = await check(pool, fid, "timestamp_wins")
    assert report.waiting == [rid]


async def test_merge_strategy_merges_lists_and_leaves_other_overlaps(pool):
    fid = await make_fabric(pool)
    subnets = {n: {"subnet": f"10.0.{i}.0/24", "vlan": 1000 + i} for i, n in enumerate("abcdef")}
    base = vpc(subnets=subnets, permit=[["a", "b"]])
    listy = await put(
        pool,
        fid,
        "VPC",
        "vpc-l",
        base=base,
        draft=vpc(subnets=subnets, permit=[["a", "b"], ["c", "d"]]),
        desired=vpc(subnets=subnets, permit=[["a", "b"], ["e", "f"]]),
    )
    scalar = await vlan_conflict(pool, fid, name="vpc-s")
    report = await check(pool, fid, "merge_strategy")
    assert (await row(pool, listy))["draft_spec"]["permit"] == [["a", "b"], ["e", "f"], ["c", "d"]]
    assert report.ready == [listy] and report.waiting == [scalar]
    statuses = {(c["resource_id"], c["status"], c["resolution"]) for c in await conflict_rows(pool, fid)}
    assert statuses == {(listy, "resolved", "merge"), (scalar, "open", None)}


async def test_user_guided_overwrites_nothing_and_lets_the_others_go_ahead(pool):
    fid = await make_fabric(pool)
    conflicted = await vlan_conflict(pool, fid)
    clean = await put(pool, fid, "VPC", "vpc-2", draft=vpc(2002), desired=vpc(2001))
    report = await check(pool, fid, "user_guided")
    assert report.waiting == [conflicted] and report.ready == [clean]
    assert (await row(pool, conflicted))["draft_spec"] == with_(vpc(1001), vlan=1002)


async def test_a_strategy_applies_only_to_the_selected_drafts(pool):
    fid = await make_fabric(pool)
    selected = await vlan_conflict(pool, fid, name="vpc-a")
    other = await vlan_conflict(pool, fid, name="vpc-b")
    report = await check(pool, fid, "gui_wins", resource_ids=[selected])
    assert report.ready == [selected] and report.waiting == []
    assert (await row(pool, other))["state"] == "conflict"


async def test_gui_wins_on_an_invalid_merge_takes_the_whole_draft(pool):
    fid = await make_fabric(pool)
    base = vpc(1001)
    git = vpc(subnets={**base["subnets"], "other": {"subnet": "10.0.2.0/24", "vlan": 1002}})
    rid = await put(pool, fid, "VPC", "vpc-1", base=base, draft=vpc(1002), desired=git)
    await check(pool, fid, "gui_wins")
    r = await row(pool, rid)
    assert r["draft_spec"] == vpc(1002) and r["draft_base_spec"] == git and r["state"] == "draft"


# --------------------------------------------------------------------------------------------
# People


async def test_resolving_one_conflict_with_gui_wins_records_who_did_it(pool):
    fid = await make_fabric(pool)
    rid = await vlan_conflict(pool, fid)
    await check(pool, fid)
    [c] = await conflict_rows(pool, fid)

    outcome = await resolve(pool, fid, "gui_wins", conflict_ids=[c["id"]], resolved_by="bob", strict=True)

    assert outcome.resolved == [c["id"]]
    [c] = await conflict_rows(pool, fid)
    assert (c["status"], c["resolution"], c["resolved_by"]) == ("resolved", "gui_wins", "bob")
    r = await row(pool, rid)
    assert r["state"] == "draft" and r["draft_spec"]["subnets"]["default"]["vlan"] == 1002
    # A second click finds nothing open and changes nothing; a new check finds nothing.
    again = await resolve(pool, fid, "gui_wins", conflict_ids=[c["id"]], resolved_by="bob")
    assert again.resolved == [] and len(await conflict_rows(pool, fid)) == 1
    await check(pool, fid)
    assert len(await conflict_rows(pool, fid)) == 1


async def test_a_partial_decision_leaves_the_other_fields_in_conflict(pool):
    fid = await make_fabric(pool)
    base = vpc(1001)
    rid = await put(
        pool,
        fid,
        "VPC",
        "vpc-1",
        base=base,
        draft=with_(base, vlan=1002, gateway="10.0.1.2"),
        desired=with_(base, vlan=1003, gateway="10.0.1.3"),
    )
    await check(pool, fid)
    by_path = {c["field_path"]: c["id"] for c in await conflict_rows(pool, fid)}
    await resolve(pool, fid, "github_wins", conflict_ids=[by_path["spec.subnets.default.vlan"]], resolved_by="bob")
    open_ = await conflict_rows(pool, fid, "open")
    assert [c["field_path"] for c in open_] == ["spec.subnets.default.gateway"]
    assert (await row(pool, rid))["state"] == "conflict"
    await resolve(pool, fid, "gui_wins", resource_ids=[rid], resolved_by="bob")
    r = await row(pool, rid)
    assert r["state"] == "draft" and r["draft_spec"] == with_(base, vlan=1003, gateway="10.0.1.2")


async def test_manual_resolution_takes_the_typed_value_and_needs_one(pool):
    fid = await make_fabric(pool)
    rid = await vlan_conflict(pool, fid)
    await check(pool, fid)
    [c] = await conflict_rows(pool, fid)
    with pytest.raises(conflicts.ResolutionRefused):
        await resolve(pool, fid, "manual", conflict_ids=[c["id"]], strict=True)
    await resolve(
        pool,
        fid,
        "manual",
        conflict_ids=[c["id"]],
        values={"spec.subnets.default.vlan": 1500},
        resolved_by="carol",
        strict=True,
    )
    assert (await row(pool, rid))["draft_spec"]["subnets"]["default"]["vlan"] == 1500
    [c] = await conflict_rows(pool, fid)
    assert (c["resolution"], c["resolved_by"]) == ("manual", "carol")


async def test_merge_of_two_scalars_is_refused_and_changes_nothing(pool):
    fid = await make_fabric(pool)
    rid = await vlan_conflict(pool, fid)
    await check(pool, fid)
    [c] = await conflict_rows(pool, fid)
    with pytest.raises(conflicts.ResolutionRefused):
        await resolve(pool, fid, "merge", conflict_ids=[c["id"]], strict=True)
    assert (await conflict_rows(pool, fid))[0]["status"] == "open"
    assert (await row(pool, rid))["state"] == "conflict"


async def test_a_missing_resource_recreated_by_gui_wins_or_given_up_by_git_wins(pool):
    fid = await make_fabric(pool)
    keep = await put(
        pool, fid, "VPC", "vpc-k", base=vpc(1001), draft=vpc(1002), desired=vpc(1001), file_path=None, state="draft"
    )
    drop = await put(
        pool, fid, "VPC", "vpc-d", base=vpc(1001), draft=vpc(1002), desired=vpc(1001), file_path=None, state="draft"
    )
    await check(pool, fid)
    await resolve(pool, fid, "gui_wins", resource_ids=[keep])
    await resolve(pool, fid, "github_wins", resource_ids=[drop])
    k, d = await row(pool, keep), await row(pool, drop)
    assert k["draft_spec"] == vpc(1002) and k["draft_base_spec"] is None and k["state"] == "draft"
    assert d["draft_spec"] is None and not d["draft_delete"] and d["state"] == "orphaned"


async def test_an_acknowledged_dangling_reference_stays_resolved(pool):
    fid = await make_fabric(pool)
    # the fabric holds VPCs and Connections (a kind it holds none of is managed elsewhere)
    await put(pool, fid, "VPC", "vpc-1", desired=vpc(1001))
    await put(
        pool,
        fid,
        "Connection",
        "c1",
        desired={"unbundled": {"link": {"server": {"port": "s/e1"}, "switch": {"port": "w/E1/1"}}}},
    )
    rid = await put(pool, fid, "VPCAttachment", "att", draft={"subnet": "vpc-9/default", "connection": "c9"})
    await check(pool, fid)
    ids = [c["id"] for c in await conflict_rows(pool, fid)]
    assert len(ids) == 2  # the VPC and the Connection
    await resolve(pool, fid, "manual", conflict_ids=ids, resolved_by="dan", strict=True)
    await check(pool, fid)
    assert [c["status"] for c in await conflict_rows(pool, fid)] == ["resolved", "resolved"]
    assert (await row(pool, rid))["state"] == "draft"
