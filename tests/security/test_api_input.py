"""Bad input to the HNP API: each request gets a clear error (422 with the field paths, 400
for what is not JSON, 404 for what names nothing) and changes nothing, on GitHub or in
Postgres. No name can make the bot write outside the fabric's directory."""

from __future__ import annotations

import pytest

from tests.reliability.system import FABRIC, System, vpc_spec

DRAFT = f"/api/fabrics/{FABRIC}/resources/{{kind}}/{{name}}/draft"
GOOD = {"spec": vpc_spec(1500, 1)}

# name (as it appears in the URL, percent-encoded where a client would encode it) -> why it is bad
BAD_NAMES = {
    "..%2F..%2F.github%2Fworkflows%2Fx": "climbs out of the fabric's directory into .github/workflows",
    "x%2F..%2F..%2F..%2Fetc": "a path with slashes",
    ".github": "a dot-file name",
    "Bad_Name": "upper case and an underscore",
    "-leading-dash": "starts with a dash",
    "a" * 254: "longer than 253 characters",
    "vp%C3%A7": "not ASCII",
    "a%00b": "a NUL byte",
    "a%20b": "a space",
    "a..b": "an empty DNS label",
}

BAD_BODIES = {
    "malformed JSON": (b'{"spec": ', 400, "bad_request"),
    "a JSON array": (b"[]", 400, "bad_request"),
    "no spec": (b'{"labels": {}}', 422, "validation_failed"),
    "a spec that fails the CRD (vlan not an integer)": (
        b'{"spec": {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": "abc"}}}}',
        422,
        "validation_failed",
    ),
    "a spec that fails the CRD (unknown field type)": (
        b'{"spec": {"subnets": "all of them"}}',
        422,
        "validation_failed",
    ),
    "delete and a spec at once": (b'{"delete": true, "spec": {}}', 422, "validation_failed"),
    "labels that are not strings": (b'{"spec": {"subnets": {}}, "labels": {"a": 1}}', 422, "validation_failed"),
    "JSON nested 100,000 deep": (b'{"spec": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "bad_request"),
}


@pytest.mark.scenario(
    "bad input",
    "resource names that are not Kubernetes names or try to leave the fabric's "
    "directory (`../../.github/workflows/x`, encoded slashes, NUL, non-ASCII, 254 characters)",
    "422 with the field path `metadata.name`; nothing stored, nothing written to GitHub",
)
async def test_bad_resource_names_are_refused_with_422(system: System) -> None:
    before = await system.state_snapshot()
    mark = await system.request_mark()
    for name, why in BAD_NAMES.items():
        status, body = await system.call("PUT", DRAFT.format(kind="VPC", name=name), GOOD)
        assert status == 422, (why, status, body)
        assert body["error"]["code"] == "validation_failed", (why, body)
        assert {e["path"] for e in body["error"]["details"]["errors"]} == {"metadata.name"}, (why, body)
        status, body = await system.call("GET", DRAFT.format(kind="VPC", name=name).removesuffix("/draft"))
        assert status == 422, (why, status, body)
    # Dot segments themselves are resolved by HTTP (RFC 3986) before any route sees them: the
    # request names no resource route at all.
    status, body = await system.call("PUT", f"/api/fabrics/{FABRIC}/resources/VPC/%2E%2E/draft", GOOD)
    assert status in (404, 422) and "error" in body, (status, body)
    assert await system.state_snapshot() == before
    assert await system.bot_requests(mark) == []


@pytest.mark.scenario(
    "bad input",
    "drafts of unknown kinds, specs that fail the CRD, malformed JSON and "
    "contradictory bodies; fabrics whose directory climbs out of the repository; syncs "
    "with unknown directions, strategies and kinds",
    "422 (unknown_kind / validation_failed with each field path) or 400; nothing changed",
)
async def test_bad_drafts_fabrics_and_syncs_are_refused(system: System) -> None:
    before = await system.state_snapshot()
    mark = await system.request_mark()
    status, body = await system.call("PUT", DRAFT.format(kind="Deployment", name="web"), {"spec": {}})
    assert (status, body["error"]["code"]) == (422, "unknown_kind"), body
    status, body = await system.call("GET", f"/api/fabrics/{FABRIC}/resources?kind=ConfigMap")
    assert (status, body["error"]["code"]) == (422, "unknown_kind"), body
    for why, (raw, expected, code) in BAD_BODIES.items():
        status, body = await system.call(
            "PUT",
            DRAFT.format(kind="VPC", name="vpc-1"),
            raw=raw,
            headers=system.headers(**{"Content-Type": "application/json"}),
        )
        assert (status, body["error"]["code"]) == (expected, code), (why, status, body)
        if expected == 422:
            assert all(e["path"] for e in body["error"]["details"]["errors"]), (why, body)
    status, body = await system.call(
        "PUT",
        DRAFT.format(kind="VPC", name="vpc-1"),
        {"spec": {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": "abc"}}}},
    )
    assert "spec.subnets.default.vlan" in [e["path"] for e in body["error"]["details"]["errors"]], body

    for n, directory in enumerate(["../x", "a/../../b", "fabric/../.github", "..", "a\\..\\b"]):
        status, body = await system.call(
            "POST", "/api/fabrics", {"name": f"escape-{n}", "repository": "acme/fabric", "directory": directory}
        )
        assert status == 422 and body["error"]["details"]["errors"][0]["path"] == "directory", (directory, body)
    for bad in [
        {"name": "UPPER", "repository": "acme/fabric"},
        {"name": "ok-name", "repository": "x"},
        {"name": "ok-name", "repository": "acme/fabric", "branch": "a..b"},
    ]:
        status, body = await system.call("POST", "/api/fabrics", bad)
        assert status == 422, (bad, body)

    for bad in [
        {"direction": "sideways"},
        {"conflict_resolution": "coin_flip"},
        {"create_pr": "yes"},
        {"resource_filters": {"kinds": ["Deployment"]}},
        {"resource_filters": {"everything": True}},
    ]:
        status, body = await system.call("POST", f"/api/fabrics/{FABRIC}/sync", bad)
        assert status == 422, (bad, body)
    status, body = await system.call(
        "POST",
        f"/api/fabrics/{FABRIC}/sync",
        raw=b"not json",
        headers=system.headers(**{"Content-Type": "application/json"}),
    )
    assert status == 400, body
    assert await system.state_snapshot() == before
    assert await system.bot_requests(mark) == []


NUL_BODIES = {
    # route (format with the fabric) -> a body whose only fault is a NUL (U+0000) in a string
    "PUT /api/fabrics/{f}/resources/VPC/vpc-1/draft (label value)": {
        "spec": vpc_spec(1500, 1),
        "labels": {"team": "a\u0000b"},
    },
    "PUT /api/fabrics/{f}/resources/VPC/vpc-1/draft (annotation key)": {
        "spec": vpc_spec(1500, 1),
        "annotations": {"note\u0000": "x"},
    },
    "PUT /api/fabrics/{f}/resources/VPC/vpc-1/actual (spec string)": {
        "spec": {"subnets": {"default": {"subnet": "10.0.1.0/24\u0000", "vlan": 1001}}}
    },
    "PUT /api/fabrics/{f}/actual (bulk, spec key)": {
        "resources": [{"kind": "VPC", "name": "vpc-1", "spec": {"sub\u0000nets": {}}}]
    },
}


@pytest.mark.scenario(
    "bad input",
    "JSON bodies carrying a NUL character (U+0000) in a string or key: labels, "
    "annotations, reported actual specs (found by the schemathesis run)",
    "a 4xx naming the problem, never a 500; nothing stored",
)
async def test_a_nul_character_in_a_json_body_is_refused_not_a_server_error(system: System) -> None:
    """Regression (was a bug, fixed in bot/web/api.py json_body): JSON may carry "\\u0000", which
    PostgreSQL's jsonb cannot store; the INSERT failed with UntranslatableCharacterError and
    the API answered 500 internal_error (found by the schemathesis run on PUT .../actual).
    json_body now refuses a NUL in any string or key with 422 and the field path."""
    before = await system.state_snapshot()
    answers = {}
    for what, body in NUL_BODIES.items():
        method, path = what.split(" (")[0].split(" ", 1)
        status, answer = await system.call(method, path.format(f=FABRIC), body)
        answers[what] = (status, answer)
    statuses = {what: status for what, (status, _) in answers.items()}
    assert all(400 <= status < 500 for status in statuses.values()), statuses
    assert await system.state_snapshot() == before
