"""Our result shapes against the HNP contract's own `to_dict()` (executed from
../shared/hnp-contract.md): every key the contract names is there, at its place."""

from __future__ import annotations

import pytest

from bot.core.syncresult import SyncDirection, SyncResult
from tests.contract.reference import NOW, missing_keys, sync_result_dict

pytestmark = pytest.mark.fast


def bot_result() -> SyncResult:
    result = SyncResult("op", SyncDirection.BIDIRECTIONAL, NOW, completed_at=NOW, success=True)
    result.statistics.resources_processed = 3
    result.github_integration.api_calls_made = 6
    result.github_integration.files_transferred = 2
    result.github_integration.commit_sha = "a" * 40
    result.performance.duration_ms = 1500.0
    return result


def test_a_sync_result_has_every_key_of_the_contract_at_its_place():
    assert missing_keys(sync_result_dict(), bot_result().to_dict()) == []


def test_the_contracts_performance_figures_are_the_operations_real_ones():
    performance = bot_result().to_dict()["performance"]
    assert performance["processing_time_seconds"] == 1.5
    assert (performance["api_calls_made"], performance["files_transferred"]) == (6, 2)
    assert performance["duration_ms"] == 1500.0  # today's timings stay beside them


def test_the_key_comparison_finds_a_key_that_moved():
    moved = bot_result().to_dict()
    moved["performance"].pop("api_calls_made")
    moved["statistics"] = [moved["statistics"]]
    assert missing_keys(sync_result_dict(), moved) == [
        "statistics: an object in the contract, list here",
        "performance.api_calls_made: missing",
    ]
