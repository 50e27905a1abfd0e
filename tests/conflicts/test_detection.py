"""The conflict check over a fabric's drafts, on seeded rows in a real PostgreSQL."""

from __future__ import annotations

from bot.features import conflicts
from tests.conflicts.conflict_helpers import conflicts as conflict_rows
from tests.conflicts.conflict_helpers import make_fabric, put, row, vpc, with_


async def check(pool, fabric_id, strategy="user_guided", **kw):
    async with pool.acquire() as conn:
        return await conflicts.check_fabric(conn, fabric_id, strategy, **kw)


async def test_a_vlan_changed_in_the_gui_and_in_git_is_a_concurrent_modification(pool):
    fid = await make_fabric(pool)
    rid = await put(pool, fid, "VPC", "vpc-1", base=vpc(1001), draft=vpc(1002), desired=vpc(1003))

    report = await check(pool, fid)

    rows = await conflict_rows(pool, fid)
    assert [
        (r["type"], r["field_path"], r["base_value"], r["gui_value"], r["git_value"], r["status"]) for r in rows
    ] == [("concurrent_modification", "spec.subnets.default.vlan", 1001, 1002, 1003, "open")]
    assert rows[0]["severity"] == "medium" and "gui_wins" in rows[0]["resolution_options"]
    assert (await row(pool, rid))["state"] == "conflict"
    assert report.waiting == [rid] and report.ready == []
    # The draft is left exactly as the GUI made it.
    assert (await row(pool, rid))["draft_spec"] == vpc(1002)

    # Checking again records the same conflict once.
    await check(pool, fid)
    assert len(await conflict_rows(pool, fid)) == 1


async def test_changes_to_different_fields_merge_and_the_draft_is_rebased(pool):
    fid = await make_fabric(pool)
    base = vpc(1001)
    rid = await put(
        pool, fid, "VPC", "vpc-1", base=base, draft=with_(base, vlan=1002), desired=with_(base, gateway="10.0.1.254")
    )

    report = await check(pool, fid)

    r = await row(pool, rid)
    assert await conflict_rows(pool, fid) == []
    assert r["draft_spec"] == with_(base, vlan=1002, gateway="10.0.1.254")
    assert r["draft_base_spec"] == r["desired_spec"] and r["draft_base_sha"] == r["desired_sha"]
    assert not r["base_moved"] and r["state"] == "draft"
    assert report.merged == [rid] and report.ready == [rid]


async def test_the_same_change_on_both_sides_is_no_conflict_and_leaves_no_draft(pool):
    fid = await make_fabric(pool)
    rid = await put(pool, fid, "VPC", "vpc-1", base=vpc(1001), draft=vpc(1005), desired=vpc(1005))

    await check(pool, fid)

    r = await row(pool, rid)
    assert await conflict_rows(pool, fid) == []
    assert r["draft_spec"] is None and r["state"] == "in_sync"


async def test_a_draft_of_a_resource_deleted_in_git_is_a_missing_resource(pool):
    fid = await make_fabric(pool)
    # Ingest keeps the last desired spec of an orphan, without a file.
    rid = await put(pool, fid, "VPC", "vpc-1", base=vpc(1001), draft=vpc(1002), desired=vpc(1001), file_path=None)

    await check(pool, fid)

    [c] = await conflict_rows(pool, fid)
    assert (c["type"], c["field_path"], c["severity"]) == ("missing_resource", "", "high")
    assert (await row(pool, rid))["state"] == "conflict"


async def test_a_merge_that_fails_the_crd_is_a_schema_mismatch(pool):
    fid = await make_fabric(pool)
    base = vpc(1001)
    git = vpc(subnets={**base["subnets"], "other": {"subnet": "10.0.2.0/24", "vlan": 1002}})
    rid = await put(pool, fid, "VPC", "vpc-1", base=base, draft=vpc(1002), desired=git)

    await check(pool, fid)

    [c] = await conflict_rows(pool, fid)
    assert c["type"] == "schema_mismatch" and "duplicate subnet VLANs" in c["message"]
    assert (await row(pool, rid))["draft_spec"] == vpc(1002)  # nothing overwritten


async def test_a_draft_whose_file_no_longer_parses_is_a_file_corruption(pool):
    fid = await make_fabric(pool)
    rid = await put(pool, fid, "VPC", "vpc-1", draft=vpc(1002), desired=vpc(1001))

    broken = conflicts.FileProblem("file_corruption", "line 3: mapping values are not allowed here")
    await check(pool, fid, corrupt_files={"fabric/vpcs.yaml": broken})

    [c] = await conflict_rows(pool, fid)
    assert (c["type"], c["severity"]) == ("file_corruption", "critical")
    assert c["resolution_options"] == ["gui_wins", "manual"]
    assert (await row(pool, rid))["state"] == "conflict"

    # The file was fixed: the conflict goes away by itself.
    await check(pool, fid, corrupt_files={})
    assert [r["status"] for r in await conflict_rows(pool, fid)] == ["superseded"]
    assert (await row(pool, rid))["state"] == "draft"


async def test_an_attachment_to_a_vpc_that_exists_nowhere_is_a_dependency_violation(pool):
    fid = await make_fabric(pool)
    await put(pool, fid, "VPC", "vpc-1", desired=vpc(1001))
    ok = await put(pool, fid, "VPCAttachment", "att-ok", draft={"subnet": "vpc-1/default", "connection": "c1"})
    bad = await put(pool, fid, "VPCAttachment", "att-bad", draft={"subnet": "vpc-9/default", "connection": "c1"})
    await put(
        pool,
        fid,
        "Connection",
        "c1",
        desired={"unbundled": {"link": {"server": {"port": "srv-1/enp2s1"}, "switch": {"port": "leaf-1/E1/1"}}}},
    )
    await put(pool, fid, "Server", "srv-1", desired={})
    await put(pool, fid, "Switch", "leaf-1", draft={"role": "server-leaf"})

    report = await check(pool, fid)

    [c] = await conflict_rows(pool, fid)
    assert (c["type"], c["resource_id"], c["field_path"]) == ("dependency_violation", bad, "spec.subnet")
    assert "vpc-9" in c["message"]
    assert report.waiting == [bad] and ok in report.ready


async def test_deleting_a_vpc_that_an_attachment_uses_blocks_the_deletion(pool):
    fid = await make_fabric(pool)
    vpc_id = await put(pool, fid, "VPC", "vpc-1", desired=vpc(1001), delete=True)
    await put(pool, fid, "VPCAttachment", "att", desired={"subnet": "vpc-1/default", "connection": "c1"})
    await put(
        pool,
        fid,
        "Connection",
        "c1",
        draft={"unbundled": {"link": {"server": {"port": "srv-1/p"}, "switch": {"port": "leaf-1/E1/1"}}}},
    )
    await put(pool, fid, "Server", "srv-1", desired={})
    await put(pool, fid, "Switch", "leaf-1", desired={"role": "server-leaf"})

    await check(pool, fid)

    [c] = await conflict_rows(pool, fid, "open")
    assert c["type"] == "dependency_violation" and c["resource_id"] == vpc_id


async def test_permission_denied_is_recorded_by_publishing_and_cleared_by_a_write(pool):
    fid = await make_fabric(pool)
    rid = await put(pool, fid, "VPC", "vpc-1", draft=vpc(1002), desired=vpc(1001))
    async with pool.acquire() as conn:
        await conflicts.record_permission_denied(conn, fid, [rid], "403: branch main is protected")
    [c] = await conflict_rows(pool, fid)
    assert (c["type"], c["severity"], c["resolution_options"]) == ("permission_denied", "critical", ["manual"])
    assert (await row(pool, rid))["state"] == "conflict"
    # A check does not forget it: only a write (or a person) does.
    await check(pool, fid)
    assert (await row(pool, rid))["state"] == "conflict"
    async with pool.acquire() as conn:
        await conflicts.clear_permission_denied(conn, fid)
    assert (await row(pool, rid))["state"] == "draft"


async def test_a_discarded_draft_supersedes_its_conflict(pool):
    fid = await make_fabric(pool)
    rid = await put(pool, fid, "VPC", "vpc-1", base=vpc(1001), draft=vpc(1002), desired=vpc(1003))
    await check(pool, fid)
    await pool.execute(
        "UPDATE resource SET draft_spec = NULL, drafted_at = NULL, draft_base_spec = NULL, "
        "draft_base_sha = NULL, state = 'in_sync' WHERE id = $1",
        rid,
    )
    await check(pool, fid)
    assert [r["status"] for r in await conflict_rows(pool, fid)] == ["superseded"]


async def test_a_new_resource_and_an_untouched_base_take_the_fast_path(pool):
    fid = await make_fabric(pool)
    own_subnet = {"default": {"subnet": "10.0.9.0/24", "gateway": "10.0.9.1", "vlan": 1009}}
    new = await put(pool, fid, "VPC", "vpc-new", draft=vpc(subnets=own_subnet), base=None)
    same = await put(pool, fid, "VPC", "vpc-1", draft=vpc(1002), desired=vpc(1001))
    report = await check(pool, fid)
    assert sorted(report.ready) == sorted([new, same]) and report.merged == []
    assert (await row(pool, same))["draft_spec"] == vpc(1002)


async def test_file_corruption_is_read_from_what_the_ingest_recorded(pool):
    fid = await make_fabric(pool)
    rid = await put(pool, fid, "VPC", "vpc-1", draft=vpc(1002), desired=vpc(1001))
    await pool.execute(
        "INSERT INTO fabric_file (fabric_id, path, blob_sha, documents, problems, error_count, unidentified) "
        "VALUES ($1, 'fabric/vpcs.yaml', $2, '[]', $3, 1, true)",
        fid,
        "d" * 40,
        [{"line": 7, "message": "mapping values are not allowed here", "level": "error"}],
    )
    await check(pool, fid)
    [c] = await conflict_rows(pool, fid)
    assert c["type"] == "file_corruption" and "line 7" in c["message"]
    assert (await row(pool, rid))["state"] == "conflict"


async def test_a_document_that_parses_but_fails_its_schema_is_a_schema_mismatch_not_a_corruption(pool):
    fid = await make_fabric(pool)
    rid = await put(pool, fid, "VPC", "vpc-1", draft=vpc(1002), desired=vpc(1001))
    await pool.execute(
        "INSERT INTO fabric_file (fabric_id, path, blob_sha, documents, problems, error_count, unidentified) "
        "VALUES ($1, 'fabric/vpcs.yaml', $2, $3, $4, 1, false)",
        fid,
        "d" * 40,
        [[0, 2, "VPC", "default", "vpc-1", False]],
        [
            {
                "line": 10,
                "message": "'not-a-number' is not of type 'integer'",
                "level": "error",
                "document": 0,
                "kind": "VPC",
                "name": "vpc-1",
                "field": "spec.subnets.default.vlan",
            }
        ],
    )
    await check(pool, fid)
    [c] = await conflict_rows(pool, fid)
    assert c["type"] == "schema_mismatch"
    assert "parses but fails its schema" in c["message"] and "line 10" in c["message"]
    assert (await row(pool, rid))["state"] == "conflict"


def test_an_ingest_problem_says_whether_the_text_was_yaml():
    from bot.core.snapshot import read_file

    broken = read_file("f.yaml", b"kind: VPC\nmetadata: {name: a\n").state.problems
    invalid = read_file(
        "f.yaml",
        b"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: vpc-1\n"
        b"spec:\n  subnets:\n    default:\n      subnet: 10.0.1.0/24\n      vlan: not-a-number\n",
    ).state.problems
    assert [conflicts.file_problem(p.to_json()).type for p in broken] == ["file_corruption"]
    assert [conflicts.file_problem(p.to_json()).type for p in invalid] == ["schema_mismatch"]
