"""HNP API routes for conflicts and drift (bot/web/api.py's conventions: bearer auth and JSON
errors come from its middleware; shapes declared in bot.web.api_models).

    GET  /api/fabrics/{fabric}/conflicts                   ?status=open|resolved|superseded|all
    POST /api/fabrics/{fabric}/conflicts/detect            the contract's ConflictDetectionResult
    POST /api/conflicts/{conflict_id}/resolve               {"resolution", "values"}
    PUT  /api/fabrics/{fabric}/resources/{kind}/{name}/actual   {"spec"}
    PUT  /api/fabrics/{fabric}/actual                      {"resources": [{"kind", "name", "spec"}]}
    GET  /api/fabrics/{fabric}/drift                       ?kind=

Resolving through the API changes the draft as a person decided (like the pull request's
buttons); publishing it is the next sync's work, as for any draft. The fabric's open bot pull
requests are re-checked, so their check run and comment say what is left.
"""

from __future__ import annotations

from aiohttp import web

from bot.core.fieldpath import Path
from bot.core.kinds import DEFAULT_NAMESPACE, lookup
from bot.features import checkruns, conflicts, drift
from bot.storage import conflicts as conflict_store
from bot.storage import resources as resource_store
from bot.web import api_models
from bot.web.api import (
    add_routes,
    api_error,
    body_as,
    fabric_or_404,
    json_body,
    json_response,
    kind_or_422,
    pool_of,
    query_as,
    requested_by,
    validation_error,
)
from bot.web.api_models import Route


async def list_conflicts(request: web.Request) -> web.Response:
    fabric = await fabric_or_404(request)
    status = query_as(request, api_models.ConflictsQuery).status
    rows = await conflict_store.list_for_fabric(pool_of(request), fabric.id, status=None if status == "all" else status)
    return json_response({"fabric": fabric.name, "count": len(rows), "conflicts": [c.to_json() for c in rows]})


async def detect_conflicts(request: web.Request) -> web.Response:
    """Check the fabric's drafts now (user_guided: nothing is overwritten) and answer the
    contract's ConflictDetectionResult with every conflict open after the check."""
    fabric = await fabric_or_404(request)
    pool = pool_of(request)
    async with pool.acquire() as conn:
        report = await conflicts.detect_conflicts(conn, fabric.id)
    if report.opened or report.superseded:  # the open pull requests' checks say what changed
        await conflicts.request_recheck(pool, fabric.id)
    rows = await conflict_store.list_for_fabric(pool, fabric.id, status="open")
    return json_response(
        {
            "has_conflicts": bool(rows),
            "conflicts": [c.to_json() for c in rows],
            "total_resources_checked": report.resources,
            "detection_time_seconds": round(report.duration_ms / 1000, 6),
        }
    )


async def resolve_conflict(request: web.Request) -> web.Response:
    try:
        conflict_id = int(request.match_info["conflict_id"])
    except ValueError:
        raise api_error(404, "not_found", "no such conflict") from None
    body = await json_body(request)
    given = body_as(body, api_models.ResolveInput, "the resolution is not valid")
    resolution, values = given.resolution, given.values
    who = given.user or requested_by(request, body) or "hnp"
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
                resolved_by=who,
                strict=True,
            )
        except conflicts.ResolutionRefused as refused:
            status = 409 if resolution == "merge" else 422
            raise api_error(status, "cannot_resolve", refused.message, {"conflict_ids": refused.conflict_ids}) from None
    pull_request_id = found.pull_request_id or (
        found.resource_id and await resource_store.pull_request_of(pool, found.resource_id)
    )
    if pull_request_id:  # its pull request gets the resolved drafts, then a check
        await checkruns.request_rebuild(pool, found.fabric_id, pull_request_id, who)
    else:
        await conflicts.request_recheck(pool, found.fabric_id)
    after = await conflict_store.get(pool, conflict_id)
    if after is None:  # its fabric was deleted meanwhile
        raise api_error(404, "not_found", f"no conflict {conflict_id}")
    return json_response({"conflict": after.to_json(), "changed": True})


def _report(report: api_models.ActualReport, where: Path, errors: list[tuple[str, str]]) -> drift.Report | None:
    found = lookup(report.kind)
    if found is None:
        errors.append((api_models.field_path((*where, "kind")), f"unknown kind {report.kind!r}"))
        return None
    return drift.Report(found.kind, report.name, report.spec, report.namespace or DEFAULT_NAMESPACE)


async def put_actual(request: web.Request) -> web.Response:
    fabric = await fabric_or_404(request)
    kind = kind_or_422(request.match_info["kind"]).kind
    name = request.match_info["name"]
    given = body_as(await json_body(request), api_models.ActualInput, "the report is not valid")
    report = drift.Report(kind, name, given.spec, given.namespace or DEFAULT_NAMESPACE)
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
    given = body_as(await json_body(request), api_models.ActualBulkInput, "the report is not valid")
    errors: list[tuple[str, str]] = []
    reports = [r for i, item in enumerate(given.resources) if (r := _report(item, ("resources", i), errors))]
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
    kind = query_as(request, api_models.KindQuery).kind
    kind_name = kind_or_422(kind).kind if kind else None
    pool = pool_of(request)
    rows = await drift.drifted(pool, fabric.id, kind=kind_name)
    count, unreported = await drift.not_reported(pool, fabric.id, kind=kind_name)
    return json_response(
        {
            "fabric": fabric.name,
            "count": len(rows),
            "resources": rows,
            "not_reported": count,
            "not_reported_resources": unreported,
        }
    )


M = api_models
ROUTES: list[Route] = [
    Route(
        "GET",
        "/api/fabrics/{fabric}/conflicts",
        list_conflicts,
        "A fabric's conflicts (open by default), most severe first, in the contract's ResourceConflict shape",
        {200: ("The conflicts", M.ConflictList)},
        (400, 404),
        query=M.ConflictsQuery,
    ),
    Route(
        "POST",
        "/api/fabrics/{fabric}/conflicts/detect",
        detect_conflicts,
        "Check the fabric's drafts for conflicts now (nothing is overwritten): the contract's ConflictDetectionResult",
        {200: ("Every conflict open after the check", M.ConflictDetectionResult)},
        (404,),
    ),
    Route(
        "POST",
        "/api/conflicts/{conflict_id}/resolve",
        resolve_conflict,
        "Resolve one conflict: the GUI's value, Git's, a merge of two lists, or values typed by a person",
        {200: ("The conflict after resolution", M.Resolved)},
        (400, 404, 409, 422),
        body=M.ResolveInput,
        description="`values` maps field paths to values (manual); JSON null removes a field. Saying the same "
        "resolution again answers 200 with changed=false; another one for a closed conflict is 409. "
        "A merge of values that are not both lists is 409; a resolution not offered, or manual without "
        "the value, is 422. The X-HNP-User header (or body `user`) is recorded as resolved_by.",
    ),
    Route(
        "PUT",
        "/api/fabrics/{fabric}/resources/{kind}/{name}/actual",
        put_actual,
        "Report what the running fabric has for one resource",
        {200: ("The resource's state and its drift", M.ActualResult)},
        (400, 404, 422),
        body=M.ActualInput,
    ),
    Route(
        "PUT",
        "/api/fabrics/{fabric}/actual",
        put_actual_bulk,
        "Report what the running fabric has, for many resources at once",
        {200: ("How many were updated, their states, and reports of unknown resources", M.ActualBulkResult)},
        (400, 404, 422),
        body=M.ActualBulkInput,
    ),
    Route(
        "GET",
        "/api/fabrics/{fabric}/drift",
        get_drift,
        "Resources whose reported actual spec differs from desired, field by field, and those never reported",
        {200: ("Drift", M.Drift)},
        (400, 404, 422),
        query=M.KindQuery,
    ),
]


def setup(app: web.Application) -> None:
    add_routes(app, ROUTES)
