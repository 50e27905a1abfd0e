"""The contract, the bot's declared shapes (bot.api_models) and the client's dataclasses
(hnp_gitops_client) agree: same keys at the same places, same enum values, and what the bot
answers goes through the client and back without losing anything."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

import hnp_gitops_client as client
from bot.core import syncresult
from bot.storage.conflicts import Conflict
from bot.web import api_models
from tests.contract.reference import (
    NOW,
    contract,
    detection_result_dict,
    missing_keys,
    resource_conflict_dict,
    sync_result_dict,
)

pytestmark = pytest.mark.fast


def bot_result() -> dict[str, Any]:
    result = syncresult.SyncResult("op-1", syncresult.SyncDirection.BIDIRECTIONAL, NOW, completed_at=NOW)
    result.success = True
    result.statistics.resources_created = 2
    result.statistics.conflicts_detected = 3
    result.statistics.conflicts_resolved = 1
    result.github_integration.commit_sha = "c" * 40
    result.github_integration.pull_request_url = "https://github.example/acme/fabric/pull/7"
    result.github_integration.branch_name = "hnp-sync/lab/op-1"
    result.github_integration.api_calls_made = 6
    result.github_integration.files_transferred = 2
    result.performance.duration_ms = 250.0
    result.warnings.append("1 draft(s) wait on open conflicts")
    result.parts = {"github_to_gui": {"success": True}}
    return result.to_dict()


def bot_conflict() -> dict[str, Any]:
    return Conflict(
        id=11,
        fabric_id=1,
        resource_id=5,
        operation_id=None,
        pull_request_id=None,
        type="concurrent_modification",
        severity="medium",
        field_path="spec.subnets.default.vlan",
        base_value=1001,
        gui_value=1002,
        git_value=1003,
        message="both sides changed it",
        resolution_options=["gui_wins", "github_wins", "merge", "manual"],
        status="open",
        resolution=None,
        resolved_by=None,
        resolved_at=None,
        detected_at=NOW,
        kind="VPC",
        namespace="default",
        name="vpc-1",
        file_path="fabric/vpcs.yaml",
        gui_modified_at=datetime(2026, 12, 1, 11, tzinfo=UTC),
        git_modified_at=datetime(2026, 12, 1, 10, tzinfo=UTC),
    ).to_json()


def bot_detection() -> dict[str, Any]:
    return {
        "has_conflicts": True,
        "conflicts": [bot_conflict()],
        "total_resources_checked": 40,
        "detection_time_seconds": 0.012,
    }


def schema_shape(model: type[BaseModel]) -> dict[str, Any]:
    """The declared keys of a model, nested ({} for a leaf), from its JSON Schema."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})

    def shape(node: dict[str, Any]) -> Any:
        if "$ref" in node:
            return shape(defs[node["$ref"].rsplit("/", 1)[1]])
        for union in ("anyOf", "oneOf"):
            if union in node:
                shaped = [shape(n) for n in node[union] if n.get("type") != "null"]
                return next((s for s in shaped if s is not None), None)
        if node.get("type") == "array" and isinstance(node.get("items"), dict):
            inner = shape(node["items"])
            return [inner] if inner else []
        if "properties" in node:
            return {key: shape(value) for key, value in node["properties"].items()}
        return {} if node.get("type") == "object" else None

    return shape(schema)


CASES = [
    ("SyncResult", sync_result_dict, api_models.SyncResult, bot_result, client.SyncResult),
    ("ResourceConflict", resource_conflict_dict, api_models.ResourceConflict, bot_conflict, client.ResourceConflict),
    (
        "ConflictDetectionResult",
        detection_result_dict,
        api_models.ConflictDetectionResult,
        bot_detection,
        client.ConflictDetectionResult,
    ),
]


@pytest.mark.parametrize(("name", "reference", "model", "answer", "dataclass"), CASES, ids=[c[0] for c in CASES])
def test_the_contract_the_bots_model_and_the_clients_dataclass_have_the_same_keys(
    name, reference, model, answer, dataclass
):
    expected = reference()
    assert missing_keys(expected, schema_shape(model)) == [], f"the bot's declared {name}"
    assert missing_keys(expected, answer()) == [], f"what the bot answers for {name}"
    model.model_validate(answer())  # the answer is what the model declares
    through_client = dataclass.from_dict(answer()).to_dict()
    assert missing_keys(expected, through_client) == [], f"the client's {name}.to_dict()"
    assert through_client == answer()  # nothing the bot said is lost on the way to HNP


def test_the_clients_sync_result_to_dict_has_exactly_the_contracts_keys_recursively():
    ref = contract()
    ours = client.SyncResult(
        success=True, operation_id="op", started_at=NOW, completed_at=NOW, direction=client.SyncDirection.BIDIRECTIONAL
    ).to_dict()
    theirs = ref.SyncResult(
        success=True, operation_id="op", started_at=NOW, completed_at=NOW, direction=ref.SyncDirection.BIDIRECTIONAL
    ).to_dict()

    def keys(value: Any) -> Any:
        return {k: keys(v) for k, v in value.items()} if isinstance(value, dict) else None

    assert keys(ours) == keys(theirs)
    assert ours == theirs  # the same values for the same inputs


def test_the_enum_values_are_the_contracts_everywhere():
    ref = contract()
    for theirs, bot_enum, client_enum in (
        (ref.SyncDirection, syncresult.SyncDirection, client.SyncDirection),
        (ref.ConflictResolutionStrategy, syncresult.ConflictResolutionStrategy, client.ConflictResolutionStrategy),
    ):
        values = {e.value for e in theirs}
        assert {e.value for e in bot_enum} == values == {e.value for e in client_enum}
    types = {e.value for e in client.ConflictType}
    assert types == set(api_models.CONFLICT_TYPES)
    detector = (ref.__dict__.get("ConflictDetector") or type("X", (), {"CONFLICT_TYPES": None})).CONFLICT_TYPES
    if detector:  # the contract's ConflictDetector lives in a later block of the document
        assert set(detector.values()) == types


def test_the_clients_sync_request_is_what_the_bots_model_reads_with_the_contracts_defaults():
    request = client.SyncRequest("lab", resource_filters=["VPC", "VPC/vpc-1", "vpc-2"], initiated_by="jo")
    parsed = api_models.SyncRequest.model_validate(request.to_dict())
    assert parsed.direction.value == "bidirectional" and parsed.create_pr is None  # the fabric's default
    assert parsed.conflict_resolution.value == "user_guided" and parsed.force_sync is False
    assert parsed.resource_filters == ["VPC", "VPC/vpc-1", "vpc-2"] and parsed.initiated_by == "jo"
    ref = contract()
    theirs = ref.SyncRequest(fabric="lab", direction=ref.SyncDirection.BIDIRECTIONAL)
    assert (theirs.create_pr, theirs.force_sync, theirs.conflict_resolution.value) == (False, False, "user_guided")
    assert api_models.SyncRequest.model_validate({}).direction.value == theirs.direction.value
