"""Every REST operation the emulator implements answers with a body that validates against
the success-response schema GitHub publishes for it (../shared/github/openapi-subset.json)."""

from __future__ import annotations

import copy
import json
import re

import jsonschema
import pytest
from conftest import shared_github

from ghsim.testing import GhSim

DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def openapi_to_jsonschema(node):
    """OpenAPI 3.0 marks nullable values with `nullable: true`; JSON Schema says type null."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: openapi_to_jsonschema(v) for k, v in node.items() if k not in ("nullable", "example", "examples")}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(lambda v: not isinstance(v, str) or bool(DATE_TIME.match(v)))
    checker.checks("uri")(lambda v: not isinstance(v, str) or v.startswith(("http://", "https://")))
    return checker


@pytest.fixture(scope="module")
def openapi():
    return json.loads((shared_github() / "openapi-subset.json").read_text())


def success_schema(openapi, method: str, path: str):
    op = openapi["paths"][path][method.lower()]
    code = next(c for c in op["responses"] if c[0] in "23")
    content = op["responses"][code].get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return int(code), (openapi_to_jsonschema(copy.deepcopy(schema)) if schema else None)


async def exercise_every_operation(world) -> dict[tuple[str, str], tuple[int, object, dict]]:
    """Call each implemented operation once, as the bot would; keyed by (METHOD, path template)."""
    api, r, _sim = world.api, world.r, world.sim
    got: dict = {}

    async def call(method, template, path, body=None, **kw):
        status, data, headers = await api.call(method, path, body, **kw)
        got[(method, template)] = (status, data, headers)
        return data

    jwt = GhSim.app_jwt(world.app["id"], world.app["private_key"])
    bearer = {"Authorization": f"Bearer {jwt}"}
    await call("GET", "/app", "/app", headers=bearer)
    tok = await call(
        "POST",
        "/app/installations/{installation_id}/access_tokens",
        f"/app/installations/{world.installation_id}/access_tokens",
        headers=bearer,
    )
    assert tok["token"].startswith("ghs_")
    await call("GET", "/repos/{owner}/{repo}/installation", f"{r}/installation", headers=bearer)
    await call("GET", "/installation/repositories", "/installation/repositories")
    await call("GET", "/rate_limit", "/rate_limit")
    await call("GET", "/repos/{owner}/{repo}", r)
    await call(
        "GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", f"{r}/collaborators/alice/permission"
    )

    ref = await call("GET", "/repos/{owner}/{repo}/git/ref/{ref}", f"{r}/git/ref/heads/main")
    main = ref["object"]["sha"]
    await call("GET", "/repos/{owner}/{repo}/git/matching-refs/{ref}", f"{r}/git/matching-refs/heads/")
    commit = await call("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}", f"{r}/git/commits/{main}")
    await call(
        "GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}", f"{r}/git/trees/{commit['tree']['sha']}?recursive=1"
    )
    blob = await call(
        "POST", "/repos/{owner}/{repo}/git/blobs", f"{r}/git/blobs", {"content": "kind: VLAN\nvlan: 30\n"}
    )
    await call("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}", f"{r}/git/blobs/{blob['sha']}")
    tree = await call(
        "POST",
        "/repos/{owner}/{repo}/git/trees",
        f"{r}/git/trees",
        {
            "base_tree": commit["tree"]["sha"],
            "tree": [
                {"path": "fabric/vlans/vlan-30.yaml", "mode": "100644", "type": "blob", "sha": blob["sha"]},
                {
                    "path": "fabric/vlans/vlan-10.yaml",
                    "mode": "100644",
                    "type": "blob",
                    "content": "kind: VLAN\nvlan: 11\n",
                },
            ],
        },
    )
    new = await call(
        "POST",
        "/repos/{owner}/{repo}/git/commits",
        f"{r}/git/commits",
        {"message": "VLAN 30", "tree": tree["sha"], "parents": [main]},
    )
    await call("POST", "/repos/{owner}/{repo}/git/refs", f"{r}/git/refs", {"ref": "refs/heads/vlan-30", "sha": main})
    await call("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}", f"{r}/git/refs/heads/vlan-30", {"sha": new["sha"]})
    await call("GET", "/repos/{owner}/{repo}/contents/{path}", f"{r}/contents/fabric/vlans/vlan-30.yaml?ref=vlan-30")
    await call("GET", "/repos/{owner}/{repo}/compare/{basehead}", f"{r}/compare/main...vlan-30")
    await call("GET", "/repos/{owner}/{repo}/commits/{ref}", f"{r}/commits/{new['sha']}")
    await call("GET", "/repos/{owner}/{repo}/tarball/{ref}", f"{r}/tarball/main")

    pr = await call(
        "POST",
        "/repos/{owner}/{repo}/pulls",
        f"{r}/pulls",
        {"title": "VLAN 30", "head": "vlan-30", "base": "main", "body": "adds VLAN 30"},
    )
    n = pr["number"]
    await call("GET", "/repos/{owner}/{repo}/pulls", f"{r}/pulls?state=open&head=acme:vlan-30")
    await call("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", f"{r}/pulls/{n}")
    await call(
        "PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}", f"{r}/pulls/{n}", {"body": "adds VLAN 30 (edited)"}
    )
    await call("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files", f"{r}/pulls/{n}/files")

    run = await call(
        "POST",
        "/repos/{owner}/{repo}/check-runs",
        f"{r}/check-runs",
        {
            "name": "hnp-gitops/validate",
            "head_sha": new["sha"],
            "status": "in_progress",
            "output": {"title": "Validating", "summary": "1 file"},
            "actions": [{"label": "Import", "description": "Import into HNP", "identifier": "import"}],
        },
    )
    await call(
        "PATCH",
        "/repos/{owner}/{repo}/check-runs/{check_run_id}",
        f"{r}/check-runs/{run['id']}",
        {
            "conclusion": "success",
            "output": {
                "title": "Valid",
                "summary": "ok",
                "annotations": [
                    {
                        "path": "fabric/vlans/vlan-30.yaml",
                        "start_line": 1,
                        "end_line": 1,
                        "annotation_level": "notice",
                        "message": "new VLAN",
                    }
                ],
            },
        },
    )
    await call("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}", f"{r}/check-runs/{run['id']}")
    await call("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs", f"{r}/commits/{new['sha']}/check-runs")
    await call(
        "POST",
        "/repos/{owner}/{repo}/statuses/{sha}",
        f"{r}/statuses/{new['sha']}",
        {"state": "success", "context": "hnp-gitops"},
    )

    comment = await call(
        "POST",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        f"{r}/issues/{n}/comments",
        {"body": "<!-- hnp-gitops -->\nPlan: 1 change"},
    )
    await call("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", f"{r}/issues/{n}/comments")
    await call(
        "PATCH",
        "/repos/{owner}/{repo}/issues/comments/{comment_id}",
        f"{r}/issues/comments/{comment['id']}",
        {"body": "<!-- hnp-gitops -->\nPlan: applied"},
    )
    await call(
        "PUT",
        "/repos/{owner}/{repo}/pulls/{pull_number}/merge",
        f"{r}/pulls/{n}/merge",
        {"sha": new["sha"], "merge_method": "merge"},
    )
    await call("DELETE", "/repos/{owner}/{repo}/git/refs/{ref}", f"{r}/git/refs/heads/vlan-30")
    return got


async def test_every_implemented_operation_matches_githubs_response_schema(world, openapi):
    got = await exercise_every_operation(world)
    subset_ops = {
        (m.upper(), p)
        for p, ops in openapi["paths"].items()
        for m in ops
        if m in ("get", "post", "put", "patch", "delete")
    }
    assert subset_ops <= set(got), f"operations not exercised: {sorted(subset_ops - set(got))}"
    checker = format_checker()
    failures = []
    for (method, path), (status, body, _headers) in sorted(got.items()):
        code, schema = success_schema(openapi, method, path)
        if status != code:
            failures.append(f"{method} {path}: status {status}, GitHub documents {code}: {body}")
            continue
        if schema is None:
            continue
        errors = sorted(
            jsonschema.Draft7Validator(schema, format_checker=checker).iter_errors(body),
            key=lambda e: list(e.absolute_path),
        )
        for e in errors[:5]:
            failures.append(f"{method} {path}: {'/'.join(map(str, e.absolute_path))}: {e.message[:200]}")
    assert not failures, "\n".join(failures)


async def test_the_tarball_redirect_points_at_a_gzip_with_githubs_top_folder(world):
    import io
    import tarfile

    status, _, headers = await world.api.get(f"{world.r}/tarball/main")
    assert status == 302
    status, data, headers = await world.api.get(headers["Location"], raw=True, token="")
    assert status == 200 and headers["Content-Type"] == "application/x-gzip"
    names = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz").getnames()
    _, ref, _ = await world.api.get(f"{world.r}/git/ref/heads/main")
    top = f"acme-fabric-{ref['object']['sha'][:7]}"
    assert f"{top}/fabric/vlans/vlan-10.yaml" in names
    assert all(n.startswith(top) for n in names)
