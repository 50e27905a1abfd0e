"""The HNP API's contract: authentication, JSON errors, draft validation, sync requests and
the OpenAPI document. The bot runs without workers here, so operations stay pending."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.config import Config, Secret
from bot.web import api, api_models
from bot.web.app import create_app
from tests.conftest import served

TOKEN = "hnp-api-token-api-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SPEC = {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}}
SHA = "a" * 40


@contextlib.asynccontextmanager
async def running(pool: asyncpg.Pool, extra_routes: list | None = None) -> AsyncIterator[TestClient]:
    config = Config(hnp_api_token=Secret(TOKEN), github_api_url="http://127.0.0.1:9", workers=1)
    app = create_app(config, pool, background=False)
    for method, path, handler in extra_routes or []:
        app.router.add_route(method, path, handler)
    async with served(app) as client:
        yield client


async def call(
    client: TestClient,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict | None = None,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"headers": AUTH if headers is None else headers}
    if raw is not None:
        kwargs["data"] = raw
    elif body is not None:
        kwargs["json"] = body
    async with client.request(method, path, **kwargs) as response:
        assert response.content_type == "application/json", await response.text()
        return response.status, await response.json()


async def make_fabric(client: TestClient, name: str = "lab") -> dict:
    status, body = await call(
        client,
        "POST",
        "/api/fabrics",
        {"name": name, "repository": "acme/fabric", "directory": "fabric/", "branch": "main"},
    )
    assert status == 201, body
    return body


async def add_desired(pool: asyncpg.Pool, fabric: str, name: str, spec: dict) -> None:
    """A resource as an ingest of commit SHA would leave it."""
    await pool.execute(
        "INSERT INTO resource (fabric_id, kind, name, desired_spec, desired_sha, desired_at, file_path, "
        "document_index, state) SELECT id, 'VPC', $2, $3, $4, now(), 'fabric/vpcs.yaml', 0, 'in_sync' "
        "FROM fabric WHERE name = $1",
        fabric,
        name,
        spec,
        SHA,
    )


def error_of(body: dict) -> dict:
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


async def test_every_route_needs_the_bearer_token_and_refusals_are_json(pool):
    async with running(pool) as client:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Basic {TOKEN}"},
            {"Authorization": TOKEN},
        ):
            status, body = await call(client, "GET", "/api/fabrics", headers=headers)
            assert status == 401 and error_of(body)["code"] == "unauthorized"
            assert TOKEN not in json.dumps(body)
        status, body = await call(client, "POST", "/api/fabrics/lab/sync", {}, headers={})
        assert status == 401
        status, body = await call(client, "GET", "/api/fabrics")
        assert (status, body) == (200, {"fabrics": []})


async def test_unknown_things_are_404_json(pool):
    async with running(pool) as client:
        await make_fabric(client)
        for path in (
            "/api/fabrics/nope",
            "/api/fabrics/nope/resources",
            "/api/fabrics/lab/resources/VPC/absent",
            f"/api/operations/{uuid.uuid4()}",
            "/api/operations/not-a-uuid",
            "/api/no/such/route",
        ):
            status, body = await call(client, "GET", path)
            assert status == 404, (path, body)
            assert error_of(body)["code"] == "not_found"
        status, body = await call(client, "DELETE", "/api/fabrics/lab/resources/VPC/absent/draft")
        assert status == 404


async def test_a_body_that_is_not_a_json_object_is_400(pool):
    async with running(pool) as client:
        await make_fabric(client)
        path = "/api/fabrics/lab/resources/VPC/vpc-1/draft"
        for raw in (b"{not json", b"[1, 2]", b"", b"\xff\xfe"):
            status, body = await call(
                client, "PUT", path, raw=raw, headers={**AUTH, "Content-Type": "application/json"}
            )
            assert status == 400, (raw, body)
            assert error_of(body)["code"] == "bad_request"
        status, body = await call(client, "POST", "/api/fabrics", raw=b"{", headers=AUTH)
        assert status == 400


async def test_fabrics_are_validated_and_unique(pool):
    async with running(pool) as client:
        created = await make_fabric(client)
        assert (created["name"], created["directory"], created["branch"]) == ("lab", "fabric", "main")
        status, body = await call(client, "POST", "/api/fabrics", {"name": "lab", "repository": "acme/other"})
        assert status == 409 and error_of(body)["code"] == "conflict"
        status, body = await call(
            client,
            "POST",
            "/api/fabrics",
            {"name": "Bad Name", "repository": "nope", "directory": "../out", "branch": "a..b"},
        )
        assert status == 422
        paths = {e["path"] for e in error_of(body)["details"]["errors"]}
        assert paths == {"name", "repository", "directory", "branch"}
        status, body = await call(client, "GET", "/api/fabrics/lab")
        assert status == 200 and body["resources"] == {} and body["pull_request"] is None


async def test_a_draft_is_validated_against_the_crd_with_field_paths(pool):
    async with running(pool) as client:
        await make_fabric(client)
        bad = {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": "many"}}}
        status, body = await call(client, "PUT", "/api/fabrics/lab/resources/VPC/vpc-1/draft", {"spec": bad})
        assert status == 422
        error = error_of(body)
        assert error["code"] == "validation_failed"
        assert {"path": "spec.subnets.default.vlan", "message": "'many' is not of type 'integer'"} in error["details"][
            "errors"
        ]
        status, body = await call(
            client, "PUT", "/api/fabrics/lab/resources/VPC/vpc-1/draft", {"spec": SPEC, "labels": {"team": 7}}
        )
        assert status == 422 and error_of(body)["details"]["errors"][0]["path"] == "labels.team"
        status, body = await call(client, "PUT", "/api/fabrics/lab/resources/VPC/vpc-1/draft", {"delete": "yes"})
        assert status == 422
        status, _ = await call(client, "GET", "/api/fabrics/lab/resources/VPC/vpc-1")
        assert status == 404  # nothing was stored


@pytest.mark.parametrize("name", ["../../.github/workflows/x", "..", "UPPER", "a_b", "x" * 254, ".hidden"])
async def test_a_name_that_is_not_a_kubernetes_name_or_would_leave_the_directory_is_422(pool, name):
    from urllib.parse import quote

    async with running(pool) as client:
        await make_fabric(client)
        path = f"/api/fabrics/lab/resources/VPC/{quote(name, safe='')}/draft"
        url = client.make_url("/").with_path(path, encoded=True)  # sent as encoded, not normalised
        async with client.session.put(url, json={"spec": SPEC}, headers=AUTH) as response:
            body = await response.json()
        assert response.status == 422, body
        assert error_of(body)["details"]["errors"][0]["path"] == "metadata.name"
        assert await pool.fetchval("SELECT count(*) FROM resource") == 0


async def test_an_unknown_kind_is_422_wherever_it_appears(pool):
    async with running(pool) as client:
        await make_fabric(client)
        for method, path, body in (
            ("PUT", "/api/fabrics/lab/resources/Deployment/x/draft", {"spec": {}}),
            ("GET", "/api/fabrics/lab/resources/Deployment/x", None),
            ("GET", "/api/fabrics/lab/resources?kind=Deployment", None),
            ("POST", "/api/fabrics/lab/sync", {"resource_filters": {"kinds": ["Pod"]}}),
        ):
            status, answer = await call(client, method, path, body)
            assert status == 422, (path, answer)
        status, answer = await call(client, "GET", "/api/fabrics/lab/resources?kind=vpcs")  # plural works
        assert status == 200


async def test_a_draft_remembers_its_base_and_one_equal_to_desired_is_cleared(pool):
    async with running(pool) as client:
        await make_fabric(client)
        await add_desired(pool, "lab", "vpc-1", SPEC)
        changed = {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1011}}}
        status, body = await call(
            client,
            "PUT",
            "/api/fabrics/lab/resources/vpc/vpc-1/draft",
            {"spec": changed},
            headers={**AUTH, "X-HNP-User": "jo"},
        )
        assert status == 200, body
        assert body["state"] == "draft" and body["cleared"] is False
        assert body["draft"]["base"] == {"spec": SPEC, "sha": SHA}
        assert (body["draft"]["drafted_by"], body["file"]["path"]) == ("jo", "fabric/vpcs.yaml")

        # Git moves under the draft; a second edit keeps the base the draft was made on.
        await pool.execute("UPDATE resource SET desired_sha = $1", "b" * 40)
        status, body = await call(
            client,
            "PUT",
            "/api/fabrics/lab/resources/VPC/vpc-1/draft",
            {"spec": {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1012}}}},
        )
        assert body["draft"]["base"]["sha"] == SHA

        status, body = await call(client, "PUT", "/api/fabrics/lab/resources/VPC/vpc-1/draft", {"spec": SPEC})
        assert (status, body["cleared"], body["state"], body["draft"]) == (200, True, "in_sync", None)

        status, body = await call(client, "PUT", "/api/fabrics/lab/resources/VPC/vpc-1/draft", {"delete": True})
        assert (body["state"], body["draft"]["delete"]) == ("draft", True)
        status, listed = await call(client, "GET", "/api/fabrics/lab/resources?state=draft")
        assert [r["name"] for r in listed["resources"]] == ["vpc-1"]
        status, body = await call(client, "DELETE", "/api/fabrics/lab/resources/VPC/vpc-1/draft")
        assert (status, body["state"], body["draft"]) == (200, "in_sync", None)


async def test_a_draft_of_a_new_resource_disappears_when_discarded(pool):
    async with running(pool) as client:
        await make_fabric(client)
        status, body = await call(
            client, "PUT", "/api/fabrics/lab/resources/VPC/fresh/draft", {"spec": SPEC, "user": "sam"}
        )
        assert (status, body["state"], body["desired"], body["draft"]["drafted_by"]) == (200, "draft", None, "sam")
        status, body = await call(client, "DELETE", "/api/fabrics/lab/resources/VPC/fresh/draft")
        assert status == 200 and body["cleared"] is True
        status, _ = await call(client, "GET", "/api/fabrics/lab/resources/VPC/fresh")
        assert status == 404
        status, _ = await call(client, "PUT", "/api/fabrics/lab/resources/VPC/fresh/draft", {"delete": True})
        assert status == 404  # nothing to delete


async def test_a_sync_is_accepted_once_per_fabric_until_it_ends(pool):
    async with running(pool) as client:
        await make_fabric(client)
        await make_fabric(client, "other")
        status, body = await call(
            client,
            "POST",
            "/api/fabrics/lab/sync",
            {
                "direction": "gui_to_github",
                "create_pr": True,
                "force_sync": False,
                "conflict_resolution": "gui_wins",
                "resource_filters": {"kinds": ["vpc"]},
            },
            headers={**AUTH, "X-HNP-User": "jo"},
        )
        assert status == 202, body
        first = body["operation_id"]
        assert body["status_url"] == f"/api/operations/{first}"
        status, op = await call(client, "GET", body["status_url"])
        assert (op["status"], op["direction"], op["conflict_resolution"], op["requested_by"]) == (
            "pending",
            "gui_to_github",
            "gui_wins",
            "jo",
        )
        assert (
            await pool.fetchval("SELECT count(*) FROM job WHERE kind = 'sync' AND operation_id = $1", uuid.UUID(first))
            == 1
        )

        status, body = await call(client, "POST", "/api/fabrics/lab/sync", {"direction": "github_to_gui"})
        assert status == 409
        error = error_of(body)
        assert (error["code"], error["details"]["operation_id"]) == ("sync_in_progress", first)
        status, _ = await call(client, "POST", "/api/fabrics/other/sync", {})
        assert status == 202  # another fabric is not held up

        status, listed = await call(client, "GET", "/api/fabrics/lab/operations?active=true")
        assert [o["operation_id"] for o in listed["operations"]] == [first]

        status, cancelled = await call(client, "POST", f"/api/operations/{first}/cancel")
        assert (status, cancelled["status"]) == (202, "cancelled")
        status, body = await call(client, "POST", f"/api/operations/{first}/cancel")
        assert status == 409 and error_of(body)["code"] == "already_finished"
        status, listed = await call(client, "GET", "/api/fabrics/lab/operations?active=true")
        assert listed["operations"] == []
        status, _ = await call(client, "POST", "/api/fabrics/lab/sync", {})
        assert status == 202


async def test_sync_requests_use_the_seeds_enum_values(pool):
    async with running(pool) as client:
        await make_fabric(client)
        status, body = await call(
            client,
            "POST",
            "/api/fabrics/lab/sync",
            {
                "direction": "sideways",
                "conflict_resolution": "coin_flip",
                "create_pr": "yes",
                "force_sync": 1,
                "resource_filters": {"colours": []},
            },
        )
        assert status == 422
        paths = {e["path"] for e in error_of(body)["details"]["errors"]}
        assert paths == {"direction", "conflict_resolution", "create_pr", "force_sync", "resource_filters"}


async def test_waiting_on_an_operation_is_bounded(pool):
    import time

    async with running(pool) as client:
        await make_fabric(client)
        _, body = await call(client, "POST", "/api/fabrics/lab/sync", {})
        began = time.monotonic()
        status, op = await call(client, "GET", f"{body['status_url']}?wait=0.3")
        assert status == 200 and op["status"] == "pending"
        assert 0.25 <= time.monotonic() - began < 5
        status, err = await call(client, "GET", f"{body['status_url']}?wait=soon")
        assert status == 400 and error_of(err)["code"] == "bad_request"
        assert api_models.MAX_WAIT_SECONDS == 60


async def test_an_unexpected_failure_is_a_500_without_details(pool, caplog):
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("internal secret: db password hunter2")

    async with running(pool, [("GET", "/api/test-boom", boom)]) as client:
        with caplog.at_level(logging.ERROR):
            status, body = await call(client, "GET", "/api/test-boom")
        assert status == 500
        assert error_of(body) == {"code": "internal_error", "message": "internal error", "details": None}
        assert "hunter2" not in json.dumps(body)


async def test_the_openapi_document_describes_exactly_the_served_routes(pool):
    async with running(pool) as client:
        status, document = await call(client, "GET", "/api/openapi.json")
        assert status == 200 and document["openapi"].startswith("3.")
        served = set()
        for route in client.server.app.router.routes():
            info = route.resource.get_info() if route.resource else {}
            path = info.get("path") or info.get("formatter")
            if path and path.startswith("/api/") and route.method not in ("HEAD", "OPTIONS", "*"):
                served.add((route.method, re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)))
        described = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
        assert described == served
        assert described == {(r.method, r.path) for r in client.server.app[api.API_ROUTES]}
        for method, path in described:
            operation = document["paths"][path][method.lower()]
            assert "401" in operation["responses"], (method, path)
            for name in re.findall(r"\{(\w+)\}", path):
                assert name in {p["name"] for p in operation.get("parameters", [])}, (method, path, name)
        schemas = document["components"]["schemas"]
        refs = set(re.findall(r'"#/components/schemas/(\w+)"', json.dumps(document)))
        assert refs <= set(schemas)


async def test_a_sync_whose_job_died_does_not_hold_the_fabric_forever(pool):
    async with running(pool) as client:
        await make_fabric(client)
        _, first = await call(client, "POST", "/api/fabrics/lab/sync", {})
        # the queue buried its job (its worker was killed on the last attempt)
        await pool.execute(
            "UPDATE job SET status = 'dead', finished_at = now(), attempts = max_attempts WHERE operation_id = $1",
            uuid.UUID(first["operation_id"]),
        )
        status, second = await call(client, "POST", "/api/fabrics/lab/sync", {})
        assert status == 202, second
        status, old = await call(client, "GET", first["status_url"])
        assert old["status"] == "failed" and "job ended" in old["error"]


async def test_the_contracts_sync_request_is_read_with_its_defaults_and_filters_as_strings(pool):
    async with running(pool) as client:
        await make_fabric(client)
        status, body = await call(
            client,
            "POST",
            "/api/fabrics/lab/sync",
            {"force": True, "resource_filters": ["vpcs", "Connection/leaf-1", "vpc-9"], "initiated_by": "hnp-admin"},
        )
        assert status == 202, body
        stored = await pool.fetchrow("SELECT request, requested_by, direction FROM sync_operation")
        assert stored["direction"] == "bidirectional" and stored["requested_by"] == "hnp-admin"
        assert stored["request"]["create_pr"] is False and stored["request"]["force_sync"] is True
        assert stored["request"]["resource_filters"] == ["VPC", "Connection/leaf-1", "vpc-9"]
        status, op = await call(client, "GET", body["status_url"])
        assert op["request"]["initiated_by"] == "hnp-admin" and op["request"]["fabric"] == "lab"
        assert {"operation_id", "status", "request", "progress", "started_at", "completed_at"} <= set(op)

        # No worker runs here: waiting ends at the deadline with the operation still pending.
        status, cancelled = await call(client, "POST", f"/api/operations/{body['operation_id']}/cancel")
        assert (status, cancelled["success"]) == (202, True) and "cancelled" in cancelled["message"]
        status, late = await call(client, "POST", "/api/fabrics/lab/sync?wait=0.2", {})
        assert status == 202 and late["status"] == "pending"

        for bad in (["Pod/x"], [""], {"kinds": ["Pod"]}, "VPC"):
            status, answer = await call(client, "POST", "/api/fabrics/lab/sync", {"resource_filters": bad})
            assert status == 422 and error_of(answer)["details"]["errors"][0]["path"] == "resource_filters", bad
        status, answer = await call(client, "POST", "/api/fabrics/lab/sync?wait=soon", {})
        assert status == 400 and error_of(answer)["details"]["errors"][0]["path"] == "wait"


async def test_conflict_detection_answers_the_contracts_result(pool):
    async with running(pool) as client:
        await make_fabric(client)
        await add_desired(pool, "lab", "vpc-1", SPEC)
        status, body = await call(client, "POST", "/api/fabrics/lab/conflicts/detect")
        assert status == 200, body
        assert (body["has_conflicts"], body["conflicts"], body["total_resources_checked"]) == (False, [], 1)
        assert body["detection_time_seconds"] >= 0
