"""Planning a publish (pure): drafts + the base commit's files -> the files of one commit."""

from __future__ import annotations

import io
import tarfile
from datetime import UTC, datetime

import pytest

from bot.core.publish_plan import FileText, plan_commit, read_tarball, select, tree_entries
from bot.core.resource import Resource
from tests.publish.harness import LONE, VPCS, vpc_spec

pytestmark = pytest.mark.fast

NOW = datetime(2025, 1, 1, tzinfo=UTC)
_ids = iter(range(1, 10_000))


def resource(name: str, *, spec=None, delete=False, desired=None, path=None, state="draft") -> Resource:
    return Resource(
        id=next(_ids),
        fabric_id=1,
        kind="VPC",
        namespace="default",
        name=name,
        desired_spec=desired,
        desired_metadata=None,
        desired_sha="a" * 40 if desired else None,
        desired_at=None,
        draft_spec=spec,
        draft_metadata=None,
        draft_delete=delete,
        drafted_at=NOW,
        drafted_by=None,
        draft_base_spec=None,
        draft_base_sha=None,
        base_moved=False,
        actual_spec=None,
        actual_reported_at=None,
        file_path=path,
        document_index=0 if path else None,
        blob_sha=None,
        state=state,
        pull_request_id=None,
        created_at=NOW,
        updated_at=NOW,
    )


FILES = {"fabric/vpcs.yaml": FileText(VPCS), "fabric/lone.yaml": FileText(LONE)}


def test_only_the_drafted_document_changes_and_the_rest_of_the_file_is_byte_identical():
    r = resource("vpc-3", spec=vpc_spec(3, 1033), desired=vpc_spec(3, 1003), path="fabric/vpcs.yaml")
    plan = plan_commit("fabric", [r], FILES)
    assert plan.files == {"fabric/vpcs.yaml": VPCS.replace("vlan: 1003", "vlan: 1033")}
    assert [(c.kind, c.name, c.change) for c in plan.changes] == [("VPC", "vpc-3", "updated")]
    assert (plan.updated_files, plan.created_files, plan.deleted_files) == (1, 0, 0)


def test_a_draft_the_base_already_carries_writes_nothing():
    r = resource("vpc-1", spec=vpc_spec(1, 1001), desired=vpc_spec(1, 1000), path="fabric/vpcs.yaml")
    plan = plan_commit("fabric", [r], FILES)
    assert plan.files == {} and plan.changes == [] and [u.name for u in plan.unchanged] == ["vpc-1"]


def test_a_stale_database_path_is_looked_up_by_identity():
    moved = {"fabric/other.yaml": FileText(LONE)}
    r = resource("lone", delete=True, desired=vpc_spec(9, 1009), path="fabric/lone.yaml")
    plan = plan_commit("fabric", [r], moved)
    assert plan.files == {"fabric/other.yaml": None}
    assert tree_entries(plan) == [{"path": "fabric/other.yaml", "mode": "100644", "type": "blob", "sha": None}]


def test_a_file_with_a_broken_document_is_never_edited_nor_its_resources_duplicated():
    broken = {"fabric/vpcs.yaml": FileText(VPCS + "---\nkind: [unclosed\n")}
    r = resource("vpc-1", spec=vpc_spec(1, 1011), desired=vpc_spec(1, 1001), path="fabric/vpcs.yaml")
    plan = plan_commit("fabric", [r], broken)
    assert plan.files == {}
    assert plan.published == []
    assert plan.errors and plan.errors[0].startswith("fabric/vpcs.yaml has a document that does not parse")


def test_a_new_resource_goes_to_its_managed_path_or_replaces_its_document_there():
    r = resource("fresh", spec=vpc_spec(5, 1005))
    plan = plan_commit("fabric", [r], FILES)
    assert list(plan.files) == ["fabric/managed/vpcs/fresh.yaml"]
    assert plan.changes[0].change == "created" and plan.created_files == 1
    # On a pull request branch the file may exist already: the document is replaced, not doubled.
    again = dict(FILES, **{"fabric/managed/vpcs/fresh.yaml": FileText(plan.files["fabric/managed/vpcs/fresh.yaml"])})
    r2 = resource("fresh", spec=vpc_spec(5, 1055))
    second = plan_commit("fabric", [r2], again)
    assert second.files["fabric/managed/vpcs/fresh.yaml"].count("kind: VPC") == 1
    assert "vlan: 1055" in second.files["fabric/managed/vpcs/fresh.yaml"]


def test_selection_follows_the_filters_and_holds_back_conflicts_unless_forced():
    rows = [resource("a", spec={}), resource("b", spec={}, state="conflict"), resource("c", spec={})]
    chosen, held = select(rows, {"names": ["a", "b"]}, force=False)
    assert ([r.name for r in chosen], [r.name for r in held]) == (["a"], ["b"])
    chosen, held = select(rows, None, force=True)
    assert [r.name for r in chosen] == ["a", "b", "c"] and held == []


def test_the_tarball_is_read_for_the_fabric_directory_only():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (
            ("acme-fabric-abc/fabric/vpcs.yaml", VPCS.encode()),
            ("acme-fabric-abc/README.md", b"x"),
            ("acme-fabric-abc/other/x.yaml", b"a: 1\n"),
            ("acme-fabric-abc/fabric/bad.yml", b"\xff\xfe"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    files = read_tarball(buffer.getvalue(), "fabric")
    assert set(files) == {"fabric/vpcs.yaml", "fabric/bad.yml"}
    assert files["fabric/vpcs.yaml"].text == VPCS and files["fabric/bad.yml"].text is None
