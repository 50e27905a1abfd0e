"""The contract's synchronous sync and the Python client HNP imports, against the whole bot
and the GitHub emulator (tests/publish/harness.py)."""

from __future__ import annotations

import asyncio

import pytest

import hnp_gitops_client as hnp
from tests.contract.reference import missing_keys, sync_result_dict
from tests.publish.harness import API_TOKEN, OWNER, REPO, vpc_spec, world


async def test_a_sync_with_wait_answers_the_finished_sync_result_with_the_contracts_defaults(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        await w.draft("VPC", "vpc-2", {"spec": vpc_spec(2, 1022)})
        main_before = await w.head("main")

        status, result = await w.call("POST", f"/api/fabrics/{w.fabric}/sync?wait=30", {"initiated_by": "hnp-admin"})

        assert status == 200, result
        assert missing_keys(sync_result_dict(), result) == []
        assert (result["success"], result["direction"]) == (True, "bidirectional")
        # create_pr defaults to false: a direct commit onto the fabric's branch, no pull request
        assert result["github_integration"]["pull_request_url"] is None
        assert result["github_integration"]["commit_sha"] == await w.head("main") != main_before
        assert result["statistics"]["resources_updated"] == 1
        assert result["performance"]["api_calls_made"] == result["github_integration"]["api_calls_made"] > 0
        _, operation = await w.call("GET", f"/api/operations/{result['operation_id']}")
        assert operation["request"]["initiated_by"] == "hnp-admin"
        assert (operation["request"]["direction"], operation["request"]["fabric"]) == ("bidirectional", w.fabric)


async def test_a_fabric_that_wants_pull_requests_gets_them_unless_the_request_says_otherwise(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        status, _ = await w.call(
            "POST",
            "/api/fabrics",
            {"name": "guarded", "repository": f"{OWNER}/{REPO}", "directory": "fabric", "create_pr": True},
        )
        assert status == 201
        w.fabric = "guarded"
        await w.ingest()
        await w.draft("VPC", "vpc-2", {"spec": vpc_spec(2, 1022)})
        status, result = await w.call("POST", "/api/fabrics/guarded/sync", {"direction": "gui_to_github", "wait": 30})
        assert status == 200, result
        assert result["github_integration"]["pull_request_url"], result


async def test_a_sync_that_fails_answers_400_with_its_result(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        status, _ = await w.call("POST", "/api/fabrics", {"name": "nowhere", "repository": "acme/not-installed"})
        assert status == 201
        status, result = await w.call("POST", "/api/fabrics/nowhere/sync", {"direction": "gui_to_github", "wait": 30})
        assert status == 400, result
        assert missing_keys(sync_result_dict(), result) == []
        assert result["success"] is False and "not installed" in " ".join(result["errors"])


async def test_the_python_client_does_what_hnp_does(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        client = hnp.HnpGitopsClient(str(w.api.make_url("")), API_TOKEN, user="hnp-admin")

        def as_hnp() -> None:
            client.set_draft(w.fabric, "VPC", "vpc-2", vpc_spec(2, 1022))
            with pytest.raises(hnp.ValidationFailed) as refused:
                client.set_draft(w.fabric, "VPC", "vpc-3", {"subnets": {"default": {"vlan": "many"}}})
            assert refused.value.status == 422 and refused.value.code == "validation_failed"
            assert any(e["path"] == "spec.subnets.default.vlan" for e in refused.value.field_errors)

            request = hnp.SyncRequest(
                w.fabric, hnp.SyncDirection.GUI_TO_GITHUB, create_pr=True, resource_filters=["VPC"]
            )
            result = client.sync(request, wait=60)
            assert isinstance(result, hnp.SyncResult) and result.success, result.errors
            assert result.pull_request_url and result.branch_name and result.api_calls_made > 0
            assert missing_keys(sync_result_dict(), result.to_dict()) == []

            status = client.get_operation_status(result.operation_id)
            assert status is not None and status["status"] == "completed"
            assert status["request"]["initiated_by"] == "hnp-admin"
            assert client.get_operation_status("00000000-0000-0000-0000-000000000000") is None
            assert client.list_active_operations(w.fabric) == []
            assert client.cancel_operation(result.operation_id)["success"] is False

            detected = client.detect_conflicts(w.fabric)
            assert (detected.has_conflicts, detected.conflicts) == (False, [])
            assert detected.total_resources_checked >= 3
            assert client.list_conflicts(w.fabric) == []

            client.report_actual(w.fabric, "VPC", "vpc-1", vpc_spec(1, 1999))
            drift = client.drift(w.fabric)
            assert [r["name"] for r in drift["resources"]] == ["vpc-1"] and drift["not_reported"] >= 1
            assert client.discard_draft(w.fabric, "VPC", "vpc-2")["cleared"] is True
            with pytest.raises(hnp.NotFound):
                client.get_fabric("absent")

        await asyncio.to_thread(as_hnp)


async def test_the_client_says_unreachable_without_showing_the_token():
    client = hnp.HnpGitopsClient("http://127.0.0.1:9", "secret-token-123", timeout=2)
    with pytest.raises(hnp.Unreachable) as failed:
        await asyncio.to_thread(client.list_fabrics)
    assert "secret-token-123" not in str(failed.value)
