"""The pure part of ingestion: files -> desired state -> the writes that get the database there."""

from __future__ import annotations

import pytest

from bot.core import snapshot
from bot.core.snapshot import Current, assemble, plan, read_file

pytestmark = pytest.mark.fast


def vpc(name: str, vlan: int = 1001, subnet: str = "10.0.1.0/24") -> str:
    return f"""apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata:
  name: {name}
spec:
  subnets:
    default:
      subnet: {subnet}
      vlan: {vlan}
"""


def read(files: dict[str, str]) -> tuple[dict[str, str], dict[str, snapshot.ReadFile]]:
    got = {path: read_file(path, text.encode()) for path, text in files.items()}
    return {p: r.state.blob_sha for p, r in got.items()}, got


def row(ident: tuple[str, str, str], spec: object, path: str | None, index: int | None = 0, **extra) -> Current:
    values = dict(
        id=extra.pop("id", 1),
        kind=ident[0],
        namespace=ident[1],
        name=ident[2],
        desired_spec=spec,
        desired_metadata=None,
        file_path=path,
        document_index=index,
        blob_sha="0" * 40,
        draft_spec=None,
        draft_metadata=None,
        draft_delete=False,
        actual_spec=None,
        base_moved=False,
        pull_request_id=None,
        open_conflict=False,
        state="in_sync",
    )
    values.update(extra)
    return Current(**values)


A = ("VPC", "default", "vpc-a")
B = ("VPC", "default", "vpc-b")


def test_blob_sha_is_gits() -> None:
    assert snapshot.blob_sha(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_a_first_sync_creates_every_valid_document() -> None:
    tree, got = read({"f/a.yaml": vpc("vpc-a") + "---\n" + vpc("vpc-b", 1002, "10.0.2.0/24")})
    snap = assemble(tree, {}, got)
    assert set(snap.desired) == {A, B}
    assert snap.desired[B].index == 1 and snap.desired[B].path == "f/a.yaml"
    result = plan(snap, [], set(got))
    assert [r.identity for r in result.inserts] == [A, B]
    assert result.counts == {"VPC": {"created": 2}}


def test_an_invalid_document_is_not_applied_and_its_resource_keeps_its_desired_state() -> None:
    tree, got = read({"f/a.yaml": vpc("vpc-a", vlan=99999)})
    snap = assemble(tree, {}, got)
    assert snap.desired == {} and A in snap.present
    [problem] = snap.files["f/a.yaml"].errors
    assert problem.line == 9 and problem.field == "spec.subnets.default.vlan"
    result = plan(snap, [row(A, {"old": 1}, "f/a.yaml")], {"f/a.yaml"})
    assert result.updates == [] and result.deletes == [] and result.inserts == []


def test_the_same_identity_twice_is_an_error_on_both_documents_across_files() -> None:
    tree, got = read({"f/a.yaml": vpc("vpc-a"), "f/b.yaml": "# again\n" + vpc("vpc-a", 1002)})
    snap = assemble(tree, {}, got)
    assert snap.desired == {}
    for path, line in (("f/a.yaml", 4), ("f/b.yaml", 5)):
        [problem] = snap.files[path].errors
        assert problem.duplicate and problem.line == line and "defined more than once" in problem.message


def test_a_duplicate_that_goes_away_makes_the_unchanged_file_be_read_again() -> None:
    tree, got = read({"f/a.yaml": vpc("vpc-a"), "f/b.yaml": vpc("vpc-a", 1002)})
    stored = assemble(tree, {}, got).files
    del tree["f/b.yaml"]  # b.yaml removed: a.yaml's document is no longer a duplicate
    snap = assemble(tree, stored, {})
    assert snap.rereads == {"f/a.yaml"}
    snap = assemble(tree, stored, {"f/a.yaml": got["f/a.yaml"]})
    assert snap.rereads == set() and set(snap.desired) == {A}
    assert snap.files["f/a.yaml"].errors == []


def test_a_moved_document_keeps_its_row_and_a_vanished_one_is_orphaned() -> None:
    stored_tree, stored_read = read({"f/a.yaml": vpc("vpc-a") + "---\n" + vpc("vpc-b", 1002, "10.0.2.0/24")})
    stored = assemble(stored_tree, {}, stored_read).files
    tree, got = read({"f/a.yaml": vpc("vpc-b", 1002, "10.0.2.0/24"), "f/moved/a.yaml": vpc("vpc-a")})
    snap = assemble(tree, stored, got)
    rows = [
        row(A, snap.desired[A].spec, "f/a.yaml", 0, id=1),
        row(B, snap.desired[B].spec, "f/a.yaml", 1, id=2),
        row(("VPC", "default", "gone"), {"x": 1}, "f/a.yaml", 2, id=3),
    ]
    result = plan(snap, rows, set(got))
    updates = {u.id: u for u in result.updates}
    assert updates[1].file_path == "f/moved/a.yaml" and not updates[1].desired_changed
    assert updates[2].document_index == 0 and not updates[2].desired_changed
    assert updates[3].file_path is None and updates[3].state == "orphaned" and updates[3].desired_spec == {"x": 1}
    assert result.counts["VPC"] == {"moved": 1, "unchanged": 1, "orphaned": 1}


def test_a_broken_document_keeps_the_resources_of_its_file_from_being_orphaned() -> None:
    tree, got = read({"f/a.yaml": vpc("vpc-b") + "---\nkind: [unclosed\n"})
    snap = assemble(tree, {}, got)
    assert snap.files["f/a.yaml"].unidentified
    result = plan(snap, [row(A, {"x": 1}, "f/a.yaml", 1, id=1)], {"f/a.yaml"})
    assert [u.id for u in result.updates] == [] and result.total("orphaned") == 0


def test_a_draft_is_kept_and_learns_that_its_base_moved() -> None:
    tree, got = read({"f/a.yaml": vpc("vpc-a", 1005)})
    snap = assemble(tree, {}, got)
    current = row(
        A, snap.desired[A].spec | {"ipv4Namespace": "x"}, "f/a.yaml", draft_spec={"edited": True}, state="draft"
    )
    [update] = plan(snap, [current], set(got)).updates
    assert update.base_moved and not update.clear_draft and update.state == "draft"


def test_a_draft_that_git_now_says_is_fulfilled() -> None:
    tree, got = read({"f/a.yaml": vpc("vpc-a", 1005)})
    snap = assemble(tree, {}, got)
    current = row(A, {"old": True}, "f/a.yaml", draft_spec=snap.desired[A].spec, pull_request_id=7, state="pending_pr")
    [update] = plan(snap, [current], set(got)).updates
    assert update.clear_draft and not update.base_moved and update.state == "in_sync"


def test_a_delete_draft_whose_document_is_gone_deletes_the_resource() -> None:
    tree, got = read({"f/a.yaml": vpc("vpc-b")})
    snap = assemble(tree, {}, got)
    current = row(A, {"x": 1}, "f/a.yaml", 1, id=9, draft_delete=True, state="pending_pr", pull_request_id=3)
    result = plan(snap, [current], set(got))
    assert result.deletes == [9] and result.counts["VPC"]["deleted"] == 1


def test_other_kinds_are_skipped_with_a_warning() -> None:
    tree, got = read({"f/a.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n"})
    snap = assemble(tree, {}, got)
    [problem] = snap.files["f/a.yaml"].problems
    assert problem.level == "warning" and "not a Hedgehog kind" in problem.message
    assert snap.error_count == 0 and snap.desired == {}


def test_a_file_over_the_size_limit_is_refused_whole() -> None:
    refused = snapshot.refused_file("f/big.yaml", "a" * 40, 6 * 1024 * 1024)
    assert refused.state.unidentified and "over the limit" in refused.state.errors[0].message


def test_changed_files_compares_blob_shas() -> None:
    assert snapshot.changed_files({"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "9", "d": "4"}) == (["b", "d"], ["c"])
