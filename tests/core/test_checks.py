"""What people see on the pull request: check runs, the one comment, the body, the commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.core.checks import (
    COMMENT_MARKER,
    CONFLICTS_CHECK,
    MAX_BODY,
    MAX_SUMMARY,
    PR_BODY_MARKER,
    VALIDATE_CHECK,
    Change,
    Location,
    batches,
    cell,
    check_run_requests,
    compact,
    conflict_check_output,
    parse_command,
    pr_body,
    pr_comment,
    validate_check_output,
)
from bot.core.threeway import ABSENT, make_conflict, make_resource, three_way

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"


def vlan_conflict(name="vpc-1", gui=1100, git=1200):
    base = make_resource({"subnets": {"default": {"vlan": 1001}}})
    return three_way(
        base,
        make_resource({"subnets": {"default": {"vlan": gui}}}),
        make_resource({"subnets": {"default": {"vlan": git}}}),
        kind="VPC",
        name=name,
    ).conflicts[0]


# --------------------------------------------------------------------------------------------
# Conflicts check


def test_a_clean_pull_request_gets_a_green_check_without_actions():
    out = conflict_check_output([])
    assert out["name"] == CONFLICTS_CHECK == "hnp-gitops/conflicts"
    assert out["status"] == "completed" and out["conclusion"] == "success"
    assert out["output"]["title"] == "No conflicts"
    assert "actions" not in out and out["output"]["annotations"] == []


def test_a_conflict_asks_for_action_with_a_table_annotations_and_three_buttons():
    conflict = vlan_conflict()
    out = conflict_check_output([conflict], [Location("fab/vpcs.yaml", 12)], head_sha="a" * 40)
    assert out["conclusion"] == "action_required"
    assert out["head_sha"] == "a" * 40
    assert out["output"]["title"] == "1 conflict in 1 resource"
    summary = out["output"]["summary"]
    assert "| Resource | Field | Type | Base | GUI | Git |" in summary
    assert "| VPC/vpc-1 | spec.subnets.default.vlan | concurrent\\_modification | 1001 | 1100 | 1200 |" in summary
    [annotation] = out["output"]["annotations"]
    assert annotation["path"] == "fab/vpcs.yaml"
    assert annotation["start_line"] == annotation["end_line"] == 12
    assert annotation["annotation_level"] == "failure"
    assert "GUI:  1100" in annotation["message"] and "Git:  1200" in annotation["message"]
    assert [a["identifier"] for a in out["actions"]] == ["gui_wins", "github_wins", "merge"]
    assert [a["label"] for a in out["actions"]] == ["GUI wins", "Git wins", "Merge"]


def test_actions_respect_githubs_limits():
    out = conflict_check_output([vlan_conflict()])
    assert len(out["actions"]) <= 3
    for action in out["actions"]:
        assert 0 < len(action["label"]) <= 20
        assert 0 < len(action["identifier"]) <= 20
        assert 0 < len(action["description"]) <= 40


def test_check_run_payloads_match_the_github_schema_if_present():
    spec_path = SHARED / "github" / "openapi-subset.json"
    if not spec_path.exists():
        pytest.skip(f"{spec_path} is not present (the ../shared checkout is missing)")
    jsonschema = pytest.importorskip("jsonschema")
    spec = json.loads(spec_path.read_text())
    post = spec.get("paths", {}).get("/repos/{owner}/{repo}/check-runs", {}).get("post")
    if not post:
        pytest.skip("the OpenAPI subset has no POST /repos/{owner}/{repo}/check-runs")
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    schema = {**schema, "components": spec.get("components", {})}
    conflicts = [vlan_conflict(f"vpc-{i}") for i in range(120)]
    payload = conflict_check_output(conflicts, [Location("f.yaml", i + 1) for i in range(120)], head_sha="b" * 40)
    first, *updates = check_run_requests(payload)
    jsonschema.validate(first, schema)
    patch = spec["paths"].get("/repos/{owner}/{repo}/check-runs/{check_run_id}", {}).get("patch")
    if patch:
        update_schema = {
            **patch["requestBody"]["content"]["application/json"]["schema"],
            "components": spec.get("components", {}),
        }
        assert len(updates) == 2
        for update in updates:
            jsonschema.validate(update, update_schema)
    jsonschema.validate(validate_check_output({}, {"VPC": {"created": 1}}, head_sha="c" * 40), schema)


def test_values_are_shown_compactly_and_escaped():
    assert compact(ABSENT) == "(absent)"
    assert compact({"a": [1, 2]}) == '{"a":[1,2]}'
    assert compact("x" * 100).endswith("…") and len(compact("x" * 100)) == 60
    assert cell("a|b`c`") == "a\\|b\\`c\\`"
    assert cell("line1\nline2") == "line1 line2"
    assert cell("<script>") == "\\<script\\>"
    conflict = make_conflict(
        "concurrent_modification", "m", kind="VPC", name="v", path="spec.a", base="x|y", gui="`rm`", git=ABSENT
    )
    summary = conflict_check_output([conflict])["output"]["summary"]
    row = [line for line in summary.split("\n") if line.startswith("| VPC/v")][0]
    assert row.count("|") - row.count("\\|") == 7  # six cells, no stray column


def test_many_conflicts_stay_under_the_summary_limit_and_annotations_go_in_batches_of_50():
    conflicts = [vlan_conflict(f"vpc-{i}", gui="g" * 50, git="t" * 50) for i in range(3000)]
    locations = [Location("fab/x.yaml", i + 1) for i in range(3000)]
    out = conflict_check_output(conflicts, locations)
    summary = out["output"]["summary"]
    assert len(summary) <= MAX_SUMMARY
    assert re.search(r"…and [\d,]+ more conflicts not shown\.", summary)
    assert out["output"]["title"] == "3,000 conflicts in 3,000 resources"
    requests = check_run_requests(out)
    assert len(requests) == 60
    assert all(len(r["output"].get("annotations", [])) <= 50 for r in requests)
    assert sum(len(r["output"].get("annotations", [])) for r in requests) == 3000
    assert requests[0]["name"] == CONFLICTS_CHECK and "actions" in requests[0]
    assert all(set(r) == {"output"} and r["output"]["title"] for r in requests[1:])


def test_batches():
    assert batches(list(range(120)), 50) == [list(range(50)), list(range(50, 100)), list(range(100, 120))]
    assert batches([], 50) == []
    with pytest.raises(ValueError):
        batches([1], 0)


def test_a_conflict_without_a_place_in_the_files_is_in_the_table_only():
    missing = make_conflict("missing_resource", "deleted in Git", kind="VPC", name="gone")
    out = conflict_check_output([missing, vlan_conflict()], [None, Location("f.yaml", 3)])
    assert len(out["output"]["annotations"]) == 1
    assert "| VPC/gone | (resource) | missing\\_resource |" in out["output"]["summary"]


# --------------------------------------------------------------------------------------------
# Validation check


def test_a_valid_push_gets_counts_per_kind():
    out = validate_check_output({}, {"VPC": {"created": 2, "updated": 1}, "Switch": {"orphaned": 1}})
    assert out["name"] == VALIDATE_CHECK and out["conclusion"] == "success"
    summary = out["output"]["summary"]
    assert "| Kind | Created | Updated | Orphaned |" in summary
    assert "| VPC | 2 | 1 | 0 |" in summary and "| Switch | 0 | 0 | 1 |" in summary
    assert "4 resources" in summary


def test_invalid_documents_get_one_annotation_each():
    errors = {
        "fab/wiring.yaml": [
            {
                "document": 3,
                "line": 40,
                "message": "is not valid under any of the given schemas",
                "path": "spec.vlan",
                "kind": "VPC",
                "name": "v1",
            },
            {
                "document": 3,
                "line": 44,
                "message": "must be a string",
                "path": "spec.subnet",
                "kind": "VPC",
                "name": "v1",
            },
            {"document": 5, "line": 80, "message": "unknown kind Pod"},
        ],
        "fab/broken.yaml": [{"line": 2, "message": "mapping values are not allowed here"}],
    }
    out = validate_check_output(errors, {})
    assert out["conclusion"] == "failure"
    assert out["output"]["title"] == "3 invalid documents in 2 files"
    annotations = out["output"]["annotations"]
    assert len(annotations) == 3
    first = [a for a in annotations if a["path"] == "fab/wiring.yaml" and a["start_line"] == 40][0]
    assert first["end_line"] == 44 and "spec.subnet: must be a string" in first["message"]
    assert all(a["annotation_level"] == "failure" for a in annotations)
    assert "| fab/wiring.yaml | 40 | VPC/v1 | spec.vlan |" in out["output"]["summary"]


# --------------------------------------------------------------------------------------------
# PR comment


def test_the_comment_starts_with_its_marker_and_says_how_to_resolve():
    text = pr_comment([vlan_conflict()], fabric="fab-1")
    assert text.startswith(COMMENT_MARKER + "\n")
    assert "1 conflict in 1 resource" in text
    for needle in [
        "GUI wins",
        "Git wins",
        "Merge",
        "/hnp resolve gui",
        "/hnp resolve git",
        "/hnp resolve merge",
        "/hnp recheck",
        "/hnp rebase",
    ]:
        assert needle in text
    assert pr_comment([]).startswith(COMMENT_MARKER)
    assert "No conflicts" in pr_comment([])


def test_a_huge_conflict_list_is_summarised_under_githubs_limit():
    conflicts = [vlan_conflict(f"vpc-{i}") for i in range(1434)]
    text = pr_comment(conflicts)
    assert len(text) <= MAX_BODY
    assert "…and 1,234 more conflicts." in text
    assert "/hnp rebase" in text  # the instructions survive the cut
    text = pr_comment([vlan_conflict(f"v{i}", gui="x" * 60, git="y" * 60) for i in range(5000)], max_rows=10_000)
    assert len(text) <= MAX_BODY and "more conflicts" in text and "/hnp recheck" in text


# --------------------------------------------------------------------------------------------
# PR body


def test_the_pr_body_lists_every_change():
    text = pr_body(
        "fab-1",
        [
            ("VPC", "v1", "created", "fab/managed/vpcs/v1.yaml"),
            Change("Switch", "s1", "updated", "fab/wiring.yaml"),
            {"kind": "Server", "name": "srv", "change": "deleted"},
        ],
        operation_id="3f2a9c1e",
    )
    assert text.startswith(PR_BODY_MARKER)
    assert "3 resources (1 created, 1 updated, 1 deleted)" in text
    assert "| VPC | v1 | created | fab/managed/vpcs/v1.yaml |" in text
    assert "| Server | srv | deleted |  |" in text


def test_a_thousand_resources_fit_in_the_pr_body():
    changes = [
        ("VPCAttachment", f"attachment-{i:04d}-" + "x" * 60, "updated", f"fab/managed/vpcs/a{i}.yaml")
        for i in range(1000)
    ]
    text = pr_body("fab", changes)
    assert len(text) <= MAX_BODY
    assert "1,000 resources (1,000 updated)" in text
    rows = [line for line in text.split("\n") if line.startswith("| VPCAttachment |")]
    more = re.search(r"…and ([\d,]+) more resources\.", text)
    assert more and len(rows) + int(more.group(1).replace(",", "")) == 1000
    small = pr_body("fab", changes[:100])
    assert "more resources" not in small


# --------------------------------------------------------------------------------------------
# Commands


@pytest.mark.parametrize(
    "body, expected",
    [
        ("/hnp resolve gui", ("resolve", "gui", None, None)),
        ("/HNP  Resolve   GIT  ", ("resolve", "git", None, None)),
        ("/hnp resolve merge vpc/vpc-1", ("resolve", "merge", "VPC", "vpc-1")),
        ("/hnp resolve gui VPCAttachment/a.b", ("resolve", "gui", "VPCAttachment", "a.b")),
        ("/hnp recheck", ("recheck", None, None, None)),
        ("thanks!\n\n  /hnp rebase\n", ("rebase", None, None, None)),
        ("/hnp resolve github_wins switches/leaf-1", ("resolve", "git", "Switch", "leaf-1")),
    ],
)
def test_commands_are_understood(body, expected):
    command = parse_command(body)
    assert command is not None and command.error is None
    assert (command.name, command.side, command.kind, command.resource_name) == expected


def test_resolution_names_match_the_conflict_table():
    assert parse_command("/hnp resolve gui").resolution == "gui_wins"
    assert parse_command("/hnp resolve git").resolution == "github_wins"
    assert parse_command("/hnp resolve merge").resolution == "merge"
    assert parse_command("/hnp resolve merge vpc/a").target == "VPC/a"


@pytest.mark.parametrize(
    "body",
    [
        "/hnp",
        "/hnp resolve",
        "/hnp resolve maybe",
        "/hnp resolve gui pod/x",
        "/hnp resolve gui vpc",
        "/hnp resolve gui vpc/a extra",
        "/hnp recheck now",
        "/hnp deploy",
        "/hnp resolve gui vpc/a/b",
    ],
)
def test_bad_commands_get_an_error_message(body):
    command = parse_command(body)
    assert command is not None and command.error
    assert "Usage:" in command.error


@pytest.mark.parametrize(
    "body",
    [
        None,
        "",
        "looks good",
        "please run hnp recheck",
        "> /hnp recheck",
        "```\n/hnp recheck\n```",
        "/hnprecheck",
    ],
)
def test_no_command(body):
    assert parse_command(body) is None


def test_webhook_comment_bodies_parse_without_error():
    hooks = SHARED / "github" / "webhooks"
    if not hooks.exists():
        pytest.skip(f"{hooks} is not present (the ../shared checkout is missing)")
    for path in hooks.glob("issue_comment.*.json"):
        body = json.loads(path.read_text())["comment"]["body"]
        parse_command(body)  # real bodies: no exception, command or None
