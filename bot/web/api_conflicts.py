"""HNP API routes for conflicts and drift (bot/web/api.py's conventions: bearer auth and JSON
errors come from its middleware; helpers `api_error`, `json_body`, `fabric_or_404`).

    GET  /api/fabrics/{fabric}/conflicts                   ?status=open|resolved|superseded|all
    POST /api/conflicts/{conflict_id}/resolve               {"resolution", "values"}
    PUT  /api/fabrics/{fabric}/resources/{kind}/{name}/actual   {"spec"}
    PUT  /api/fabrics/{fabric}/actual                      {"resources": [{"kind", "name", "spec"}]}
    GET  /api/fabrics/{fabric}/drift                       ?kind=

Resolving through the API changes the draft as a person decided (like the pull request's
buttons); publishing it is the next sync's work, as for any draft. The fabric's open bot pull
requests are re-checked, so their check run and comment say what is left.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.core.kinds import lookup
from bot.features import checkruns, conflicts, drift
from bot.storage import conflicts as conflict_store
from bot.web import openapi
from bot.web.api import (
    api_error,
    fabric_or_404,
    json_body,
    json_response,
    kind_or_422,
    pool_of,
    requested_by,
    validation_error,
)

STATUSES = ("open", "resolved", "superseded", "all")
MAX_REPORTS = 50_000


async def list_conflicts(request: web.Request) -> web.Response:
    fabric = await fabric_or_404(request)
    status = request.query.get("status", "open")
    if status not in STATUSES:
        raise api_error(400, "bad_request", f"status must be one of {', '.join(STATUSES)}")
    rows = await conflict_store.list_for_fabric(pool_of(request), fabric.id, status=None if status == "all" else status)
    return json_response({"fabric": fabric.name, "count": len(rows), "conflicts": [c.to_json() for c in rows]})


async def resolve_conflict(request: web.Request) -> web.Response:
    try:
        conflict_id = int(request.match_info["conflict_id"])
    except ValueError:
        raise api_error(404, "not_found", "no such conflict") from None
    body = await json_body(request)
    resolution, values = body.get("resolution"), body.get("values")
    errors = []
    if resolution not in conflicts.RESOLUTIONS:
        errors.append(("resolution", f"must be one of {', '.join(conflicts.RESOLUTIONS)}"))
    if values is not None and not isinstance(values, dict):
        errors.append(("values", "must be an object of field path to value"))
    if errors:
        raise validation_error(errors, "the resolution is not valid")
    pool = pool_of(request)
    found = await conflict_store.get(pool, conflict_id)
    if found is None:
        raise api_error(404, "not_found", f"no conflict {conflict_id}")
    if found.status != "open":
        if found.status == "resolved" and found.resolution == resolution:
            return json_response({"conflict": found.to_json(), "changed": False})  # said twice: same answer
        raise api_error(
            409, "conflict_not_open", f"conflict {conflict_id} is {found.status}", {"conflict": found.to_json()}
        )
    if resolution not in (found.resolution_options or []):
        raise validation_error(
            [
                (
                    "resolution",
                    f"{resolution} is not offered for a {found.type} conflict "
                    f"(offered: {', '.join(found.resolution_options)})",
                )
            ]
        )
    async with pool.acquire() as conn:
        try:
            await conflicts.resolve(
                conn,
                found.fabric_id,
                resolution,
                conflict_ids=[conflict_id],
                values=values,
                resolved_by=requested_by(request, body) or "hnp",
                strict=True,
            )
        except conflicts.ResolutionRefused as refused:
            status = 409 if resolution == "merge" else 422
            raise api_error(status, "cannot_resolve", refused.message, {"conflict_ids": refused.conflict_ids}) from None
    pull_request_id = found.pull_request_id or (
        found.resource_id
        and await pool.fetchval("SELECT pull_request_id FROM resource WHERE id = $1", found.resource_id)
    )
    if pull_request_id:  # its pull request gets the resolved drafts, then a check
        await checkruns.request_rebuild(pool, found.fabric_id, pull_request_id, requested_by(request, body) or "hnp")
    else:
        await conflicts.request_recheck(pool, found.fabric_id)
    after = await conflict_store.get(pool, conflict_id)
    return json_response({"conflict": after.to_json(), "changed": True})


def _report(
    item: Any, where: str, errors: list[tuple[str, str]], kind: str | None = None, name: str | None = None
) -> drift.Report | None:
    if not isinstance(item, dict):
        errors.append((where, "must be an object"))
        return None
    kind = kind or item.get("kind")
    name = name or item.get("name")
    spec = item.get("spec")
    found = None
    if not isinstance(kind, str) or (found := _kind(kind)) is None:
        errors.append((f"{where}.kind" if where else "kind", f"unknown kind {kind!r}"))
    if not isinstance(name, str) or not name:
        errors.append((f"{where}.name" if where else "name", "a resource name is required"))
    if not isinstance(spec, dict):
        errors.append((f"{where}.spec" if where else "spec", "must be an object (the spec the fabric runs)"))
    if found is None or not isinstance(name, str) or not isinstance(spec, dict):
        return None
    return drift.Report(found, name, spec, str(item.get("namespace") or "default"))


def _kind(value: str) -> str | None:
    found = lookup(value)
    return found.kind if found else None


async def put_actual(request: web.Request) -> web.Response:
    fabric = await fabric_or_404(request)
    kind = kind_or_422(request.match_info["kind"]).kind
    name = request.match_info["name"]
    body = await json_body(request)
    errors: list[tuple[str, str]] = []
    report = _report(body, "", errors, kind=kind, name=name)
    if errors:
        raise validation_error(errors, "the report is not valid")
    async with pool_of(request).acquire() as conn:
        done = await drift.set_actual(conn, fabric.id, [report])
    if not done["updated"]:
        raise api_error(404, "not_found", f"fabric {fabric.name!r} has no {kind} {name!r}")
    rows = await drift.drifted(pool_of(request), fabric.id, kind=kind)
    mine = next((r for r in rows if r["name"] == name and r["namespace"] == report.namespace), None)
    return json_response(
        {
            "kind": kind,
            "namespace": report.namespace,
            "name": name,
            "state": done["updated"][0][3],
            "differences": mine["differences"] if mine else [],
        }
    )


async def put_actual_bulk(request: web.Request) -> web.Response:
    fabric = await fabric_or_404(request)
    body = await json_body(request)
    items = body.get("resources")
    if not isinstance(items, list):
        raise validation_error([("resources", "must be a list of {kind, name, spec}")])
    if len(items) > MAX_REPORTS:
        raise validation_error([("resources", f"at most {MAX_REPORTS:,} per request")])
    errors: list[tuple[str, str]] = []
    reports = [r for i, item in enumerate(items) if (r := _report(item, f"resources[{i}]", errors))]
    if errors:
        raise validation_error(errors, "the report is not valid")
    async with pool_of(request).acquire() as conn, conn.transaction():
        done = await drift.set_actual(conn, fabric.id, reports)
    states: dict[str, int] = {}
    for *_, state in done["updated"]:
        states[state] = states.get(state, 0) + 1
    return json_response(
        {
            "fabric": fabric.name,
            "updated": len(done["updated"]),
            "states": states,
            "unknown": [{"kind": k, "namespace": ns, "name": n} for k, ns, n in done["unknown"]],
        }
    )


async def get_drift(request: web.Request) -> web.Response:
    fabric = await fabric_or_404(request)
    kind = request.query.get("kind")
    rows = await drift.drifted(pool_of(request), fabric.id, kind=kind_or_422(kind).kind if kind else None)
    return json_response({"fabric": fabric.name, "count": len(rows), "resources": rows})


ROUTES = [
    ("GET", "/api/fabrics/{fabric}/conflicts", list_conflicts),
    ("POST", "/api/conflicts/{conflict_id}/resolve", resolve_conflict),
    ("PUT", "/api/fabrics/{fabric}/resources/{kind}/{name}/actual", put_actual),
    ("PUT", "/api/fabrics/{fabric}/actual", put_actual_bulk),
    ("GET", "/api/fabrics/{fabric}/drift", get_drift),
]


def setup(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)


# --------------------------------------------------------------------------------------------
# OpenAPI

_FABRIC = openapi.path_param("fabric", "Fabric name")
openapi.add_schema(
    "Conflict",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "type": {
                "type": "string",
                "enum": [
                    "concurrent_modification",
                    "missing_resource",
                    "schema_mismatch",
                    "file_corruption",
                    "dependency_violation",
                    "permission_denied",
                ],
            },
            "severity": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
            "status": {"type": "string", "enum": ["open", "resolved", "superseded"]},
            "resource": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "kind": {"type": "string"},
                    "namespace": {"type": "string"},
                    "name": {"type": "string"},
                    "file": {"type": "string", "nullable": True},
                },
            },
            "field_path": {"type": "string", "nullable": True, "example": "spec.subnets.default.vlan"},
            "base_value": {"nullable": True},
            "gui_value": {"nullable": True},
            "git_value": {"nullable": True},
            "message": {"type": "string"},
            "resolution_options": {"type": "array", "items": {"type": "string"}},
            "resolution": {
                "type": "string",
                "nullable": True,
                "enum": ["gui_wins", "github_wins", "merge", "manual", "timestamp_wins", None],
            },
            "resolved_by": {"type": "string", "nullable": True},
            "resolved_at": {"type": "string", "format": "date-time", "nullable": True},
            "detected_at": {"type": "string", "format": "date-time"},
            "operation_id": {"type": "string", "nullable": True},
        },
    },
)
openapi.add_schema(
    "ActualReport",
    {
        "type": "object",
        "required": ["kind", "name", "spec"],
        "properties": {
            "kind": {"type": "string"},
            "name": {"type": "string"},
            "namespace": {"type": "string", "default": "default"},
            "spec": {"type": "object"},
        },
    },
)
openapi.add_schema(
    "Drift",
    {
        "type": "object",
        "properties": {
            "kind": {"type": "string"},
            "namespace": {"type": "string"},
            "name": {"type": "string"},
            "state": {"type": "string"},
            "reported_at": {"type": "string", "format": "date-time"},
            "differences": {
                "type": "array",
                "items": {"type": "object", "properties": {"field": {"type": "string"}, "desired": {}, "actual": {}}},
            },
        },
    },
)
openapi.add_path(
    "/api/fabrics/{fabric}/conflicts",
    "get",
    {
        "summary": "A fabric's conflicts (open by default), most severe first",
        "parameters": [
            _FABRIC,
            openapi.query_param("status", {"type": "string", "enum": list(STATUSES)}, "Which conflicts (default open)"),
        ],
        "responses": {
            **openapi.ok(
                "The conflicts",
                {
                    "type": "object",
                    "properties": {
                        "fabric": {"type": "string"},
                        "count": {"type": "integer"},
                        "conflicts": {"type": "array", "items": openapi.ref("Conflict")},
                    },
                },
            ),
            **openapi.errors(400, 404),
        },
    },
)
openapi.add_path(
    "/api/conflicts/{conflict_id}/resolve",
    "post",
    {
        "summary": "Resolve one conflict: the GUI's value, Git's, a merge of two lists, or values typed by a person",
        "description": "`values` maps field paths to values (manual); JSON null removes a field. Saying the same "
        "resolution again answers 200 with changed=false; another one for a closed conflict is 409. "
        "A merge of values that are not both lists is 409; a resolution not offered, or manual without "
        "the value, is 422. The X-HNP-User header (or body `user`) is recorded as resolved_by.",
        "parameters": [openapi.path_param("conflict_id", "Conflict id")],
        "requestBody": {
            "required": True,
            "content": openapi.json_content(
                {
                    "type": "object",
                    "required": ["resolution"],
                    "properties": {
                        "resolution": {"type": "string", "enum": list(conflicts.RESOLUTIONS)},
                        "values": {"type": "object", "additionalProperties": True},
                        "user": {"type": "string"},
                    },
                }
            ),
        },
        "responses": {
            **openapi.ok(
                "The conflict after resolution",
                {"type": "object", "properties": {"conflict": openapi.ref("Conflict"), "changed": {"type": "boolean"}}},
            ),
            **openapi.errors(400, 404, 409, 422),
        },
    },
)
openapi.add_path(
    "/api/fabrics/{fabric}/resources/{kind}/{name}/actual",
    "put",
    {
        "summary": "Report what the running fabric has for one resource",
        "parameters": [
            _FABRIC,
            openapi.path_param("kind", "Kind, case-insensitive"),
            openapi.path_param("name", "metadata.name"),
        ],
        "requestBody": {
            "required": True,
            "content": openapi.json_content(
                {"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}}
            ),
        },
        "responses": {
            **openapi.ok(
                "The resource's state and its drift",
                {
                    "type": "object",
                    "properties": {
                        "kind": {"type": "string"},
                        "namespace": {"type": "string"},
                        "name": {"type": "string"},
                        "state": {"type": "string"},
                        "differences": {"type": "array", "items": {"type": "object"}},
                    },
                },
            ),
            **openapi.errors(400, 404, 422),
        },
    },
)
openapi.add_path(
    "/api/fabrics/{fabric}/actual",
    "put",
    {
        "summary": "Report what the running fabric has, for many resources at once",
        "parameters": [_FABRIC],
        "requestBody": {
            "required": True,
            "content": openapi.json_content(
                {
                    "type": "object",
                    "required": ["resources"],
                    "properties": {"resources": {"type": "array", "items": openapi.ref("ActualReport")}},
                }
            ),
        },
        "responses": {
            **openapi.ok(
                "How many were recorded, their states, and the unknown ones",
                {
                    "type": "object",
                    "properties": {
                        "fabric": {"type": "string"},
                        "updated": {"type": "integer"},
                        "states": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "unknown": {"type": "array", "items": {"type": "object"}},
                    },
                },
            ),
            **openapi.errors(400, 404, 422),
        },
    },
)
openapi.add_path(
    "/api/fabrics/{fabric}/drift",
    "get",
    {
        "summary": "Resources whose reported actual spec differs from desired, field by field",
        "parameters": [_FABRIC, openapi.query_param("kind", {"type": "string"}, "Only this kind")],
        "responses": {
            **openapi.ok(
                "The drifted resources",
                {
                    "type": "object",
                    "properties": {
                        "fabric": {"type": "string"},
                        "count": {"type": "integer"},
                        "resources": {"type": "array", "items": openapi.ref("Drift")},
                    },
                },
            ),
            **openapi.errors(404, 422),
        },
    },
)
