"""Nobody is let in: every route of the HNP API, as its own OpenAPI document lists them,
answers 401 without the token, with a wrong one, or with the right one in the wrong scheme,
and does nothing."""

from __future__ import annotations

import re

import pytest

from tests.reliability.system import API_TOKEN, FABRIC, System

WRONG = {
    "no Authorization header": None,
    "a wrong bearer token": "Bearer not-the-token-0000000000",
    "the token's prefix": f"Bearer {API_TOKEN[:-1]}",
    "the token with a suffix": f"Bearer {API_TOKEN}x",
    "the right token as Basic": f"Basic {API_TOKEN}",
    "the right token without a scheme": API_TOKEN,
    "an empty bearer token": "Bearer ",
}


def concrete(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), "x"), path)


@pytest.mark.scenario(
    "security",
    "every /api route of the OpenAPI document (and an undocumented one) called "
    "without a token, with a wrong one, its prefix, the right one as Basic or with no scheme",
    "401 unauthorized for each, and no state changed; the right token reaches the route",
)
async def test_every_api_route_requires_the_token(system: System) -> None:
    status, document = await system.call("GET", "/api/openapi.json")
    assert status == 200 and document["paths"], document
    await system.draft("VPC", "vpc-1", {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1500}}})
    operation = await system.pool.fetchval("SELECT id FROM sync_operation LIMIT 1")
    values = {"fabric": FABRIC, "kind": "VPC", "name": "vpc-1", "operation_id": str(operation), "conflict_id": "1"}
    routes = [
        (method.upper(), concrete(path, values))
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]
    routes.append(("GET", "/api/not-a-documented-route"))
    assert len(routes) >= 12, routes
    before = await system.state_snapshot()
    for method, path in routes:
        for why, header in WRONG.items():
            sent = {"Authorization": header} if header is not None else {}
            status, body = await system.call(method, path, {}, headers=sent)
            assert status == 401 and body["error"]["code"] == "unauthorized", (method, path, why, status, body)
    assert await system.state_snapshot() == before
    # The same requests with the token are not refused for want of it (the routes are real).
    for method, path in routes:
        if method == "GET":
            status, body = await system.call(method, path)
            assert status != 401, (method, path, body)
