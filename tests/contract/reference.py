"""The HNP contract's own classes, executed from ../shared/hnp-contract.md (its first Python
block: the enums, SyncRequest, SyncResult, ConflictDetectionResult, ResourceConflict), so the
tests compare our shapes with the reference's `to_dict()` and not with a copy of it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from tests.conftest import shared_path

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def contract() -> SimpleNamespace:
    """The reference classes (the test is skipped when ../shared is absent)."""
    text = shared_path("hnp-contract.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", text, re.S)
    assert block is not None, "hnp-contract.md has no Python block"
    namespace: dict[str, Any] = {}
    prelude = (
        "from __future__ import annotations\n"
        "from dataclasses import dataclass\nfrom datetime import datetime\nfrom enum import Enum\n"
        "from typing import Any, Dict, List, Optional\n"
    )
    exec(compile(prelude + block.group(1), "hnp-contract.md", "exec"), namespace)
    return SimpleNamespace(**{k: v for k, v in namespace.items() if not k.startswith("__")})


def sync_result_dict() -> dict[str, Any]:
    ref = contract()
    return ref.SyncResult(
        success=True,
        operation_id="op",
        started_at=NOW,
        completed_at=NOW,
        direction=ref.SyncDirection.BIDIRECTIONAL,
    ).to_dict()


def resource_conflict_dict() -> dict[str, Any]:
    ref = contract()
    return ref.ResourceConflict(
        resource_id=1,
        resource_name="vpc-1",
        resource_kind="VPC",
        conflict_type="concurrent_modification",
        detected_at=NOW,
        gui_modification_time=NOW,
        github_modification_time=NOW,
        conflicting_fields=["spec.x"],
        gui_values={},  # maps of data: their keys are field paths, not part of the shape
        github_values={},
        resolution_options=["gui_wins"],
    ).to_dict()


def detection_result_dict() -> dict[str, Any]:
    ref = contract()
    conflict = ref.ResourceConflict(
        resource_id=1, resource_name="vpc-1", resource_kind="VPC", conflict_type="schema_mismatch", detected_at=NOW
    )
    return ref.ConflictDetectionResult(
        has_conflicts=True, conflicts=[conflict], total_resources_checked=1, detection_time_seconds=0.1
    ).to_dict()


def missing_keys(reference: Any, ours: Any, where: str = "") -> list[str]:
    """Every place where `ours` lacks a key of `reference`, or has another kind of value
    (object, list, or a scalar; None in either stands for any scalar), recursively; lists are
    compared through their first items."""
    if isinstance(reference, dict):
        if not isinstance(ours, dict):
            return [f"{where or '(top)'}: an object in the contract, {type(ours).__name__} here"]
        out = []
        for key, value in reference.items():
            path = f"{where}.{key}" if where else key
            if key not in ours:
                out.append(f"{path}: missing")
            else:
                out.extend(missing_keys(value, ours[key], path))
        return out
    if isinstance(reference, list):
        if not isinstance(ours, list):
            return [f"{where}: a list in the contract, {type(ours).__name__} here"]
        if reference and ours:
            return missing_keys(reference[0], ours[0], f"{where}[0]")
        return []
    if isinstance(ours, (dict, list)):
        return [f"{where}: a scalar in the contract, {type(ours).__name__} here"]
    if reference is not None and ours is not None and isinstance(reference, bool) != isinstance(ours, bool):
        return [f"{where}: {type(reference).__name__} in the contract, {type(ours).__name__} here"]
    return []
