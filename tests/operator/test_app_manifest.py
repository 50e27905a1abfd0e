"""app.yml is a complete GitHub App manifest, and the demo's bundled fabric is valid."""

from pathlib import Path

import pytest
import yaml

from bot.core.validation import validate_body

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[2]


def test_app_manifest_asks_for_exactly_what_the_bot_needs():
    manifest = yaml.safe_load((ROOT / "app.yml").read_text())
    assert manifest["default_permissions"] == {
        "contents": "write",
        "pull_requests": "write",
        "checks": "write",
        "issues": "write",
        "metadata": "read",
    }
    assert set(manifest["default_events"]) == {
        "push",
        "pull_request",
        "check_run",
        "check_suite",
        "issue_comment",
        "installation",
        "installation_repositories",
    }
    assert manifest["hook_attributes"]["url"].endswith("/webhook") and manifest["hook_attributes"]["active"]
    assert manifest["name"] and manifest["url"] and manifest["public"] is False


def test_the_procfile_runs_serve_and_migrates_on_release():
    lines = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert lines["web"].strip() == "hnp-gitops serve"
    assert lines["release"].strip() == "hnp-gitops migrate"


def test_the_demo_fabric_bundled_in_the_package_passes_the_crds():
    documents = []
    for name in ("wiring.yaml", "vpcs.yaml"):
        documents += [d for d in yaml.safe_load_all((ROOT / "bot" / "demo_data" / name).read_text()) if d]
    assert len(documents) >= 10
    problems = {(d["kind"], d["metadata"]["name"]): validate_body(d) for d in documents}
    assert {key: errors for key, errors in problems.items() if errors} == {}
    kinds = {d["kind"] for d in documents}
    assert {"Switch", "Server", "Connection", "VPC", "VPCAttachment"} <= kinds
    # The VPC the demo edits, and its VLAN, are where the demo expects them.
    vpc = next(d for d in documents if d["kind"] == "VPC" and d["metadata"]["name"] == "vpc-blue")
    assert vpc["spec"]["subnets"]["default"]["vlan"] == 1101
