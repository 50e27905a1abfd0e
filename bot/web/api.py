"""The HNP API: JSON over HTTP under /api, for fabrics, resources, drafts and sync operations.

Every /api route sits behind `Authorization: Bearer <HNP_API_TOKEN>` (compared in constant
time; with no token configured the API refuses everyone). Errors are always
`{"error": {"code", "message", "details"}}`:

  400 bad_request        the body is not JSON, not an object, or a query parameter is malformed
  401 unauthorized       no or a wrong bearer token
  404 not_found          no such fabric, resource, operation or route
  409 conflict           the fabric already exists; a sync of the fabric is already active;
                         cancelling a finished operation
  422 validation_failed  the body is JSON but wrong: each problem in details.errors as
                         {"path", "message"}; also an unknown kind (code unknown_kind), wherever a
                         kind appears (URL or filter), since a kind is input to validate

  503 unavailable        the database is unreachable (with Retry-After); try again

Unexpected failures answer 500 `internal_error` with no details (the log has the traceback).

Every request and response shape is declared once in bot.web.api_models: bodies and query strings
are read with `body_as` / `query_as` (a 422, or 400 for a query, with each problem's field
path), and GET /api/openapi.json is generated from the same declarations and the `Route`
entries of each module (this one's and bot.web.api_conflicts'), so it cannot drift from the code.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web

from bot.core import filemap, render
from bot.core.fieldpath import Path
from bot.core.kinds import Kind, lookup
from bot.core.validation import validate_name, validate_spec
from bot.features import fabric_check, operations
from bot.storage import database, drafts, fabric_files, fabrics, jobs, pulls, resources
from bot.storage import operations as operation_store
from bot.storage.fabrics import Fabric
from bot.web import api_models
from bot.web.api_models import MAX_WAIT_SECONDS, Route
from bot.web.keys import CONFIG, POOL

log = logging.getLogger(__name__)

PREFIX = "/api"
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_failed",
}


# --------------------------------------------------------------------------------------------
# Helpers other API modules reuse


def pool_of(request: web.Request) -> asyncpg.Pool:
    """The app's database pool."""
    return request.app[POOL]


class ApiError(Exception):
    """Raised by handlers; the middleware turns it into the JSON error answer."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def api_error(status: int, code: str | None = None, message: str = "", details: Any = None) -> ApiError:
    """`raise api_error(404, "not_found", "no fabric 'x'")`."""
    return ApiError(status, code or _STATUS_CODES.get(status, "error"), message, details)


def error_response(status: int, code: str, message: str, details: Any = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "details": details}}, status=status)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def validation_error(
    errors: list[tuple[str, str]] | list[Any],
    message: str = "the request is not valid",
    code: str = "validation_failed",
) -> ApiError:
    """422 listing each problem with its field path."""
    items = [
        {"path": e[0], "message": e[1]} if isinstance(e, tuple) else {"path": e.path, "message": e.message}
        for e in errors
    ]
    return api_error(422, code, message, {"errors": items})


async def json_body(request: web.Request, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object; 400 when it is not JSON or not an object, 422 with the field
    path when a string in it could not be stored or written into a file."""
    raw = await request.read()
    if not raw.strip():
        if required:
            raise api_error(400, "bad_request", "the request needs a JSON object body")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise api_error(400, "bad_request", f"the body is not valid JSON: {error}") from None
    except RecursionError:  # nested deeper than the parser goes
        raise api_error(400, "bad_request", "the body is not valid JSON: nested too deeply") from None
    if not isinstance(body, dict):
        raise api_error(400, "bad_request", "the body must be a JSON object")
    found = _unwritable_text(body)
    if found is not None:
        raise validation_error([found])
    return body


def _text_problem(text: str) -> str | None:
    if "\x00" in text:  # PostgreSQL cannot store U+0000 in text or jsonb
        return "must not contain the NUL character (U+0000)"
    reason = render.unwritable_character(text)
    return None if reason is None else f"{reason}; it cannot be written to a YAML file"


def _unwritable_text(value: Any) -> tuple[str, str] | None:
    """The field path and the problem of the first string or key that could not be stored or
    committed, else None."""
    stack: list[tuple[Any, Path]] = [(value, ())]
    while stack:  # iterative: the body may nest as deep as the JSON parser allowed
        item, where = stack.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem is not None:
                return api_models.field_path(where), problem
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                problem = _text_problem(key)
                if problem is not None:
                    return api_models.field_path((*where, key)), problem
                stack.append((child, (*where, key)))
        elif isinstance(item, list):
            stack.extend((child, (*where, i)) for i, child in reversed(list(enumerate(item))))
    return None


async def fabric_or_404(request: web.Request, name: str | None = None) -> Fabric:
    """The fabric named in the URL (`{fabric}`), or 404."""
    name = name if name is not None else request.match_info["fabric"]
    fabric = await fabrics.get_by_name(pool_of(request), name)
    if fabric is None:
        raise api_error(404, "not_found", f"no fabric named {name!r}")
    return fabric


def kind_or_422(value: str) -> Kind:
    kind = lookup(value)
    if kind is None:
        raise api_error(
            422,
            "unknown_kind",
            f"{value!r} is not a Hedgehog kind this bot manages",
            {"errors": [{"path": "kind", "message": f"unknown kind {value!r}"}]},
        )
    return kind


def body_as(body: dict[str, Any], model: type[api_models.M], message: str) -> api_models.M:
    """The JSON body as `model`, or 422 listing each problem with its field path."""
    try:
        return api_models.parse(model, body)
    except api_models.Invalid as invalid:
        raise validation_error(invalid.errors, message) from None


def query_as(request: web.Request, model: type[api_models.M]) -> api_models.M:
    """The query string as `model`, or 400 listing each problem."""
    try:
        return api_models.parse(model, dict(request.query))
    except api_models.Invalid as invalid:
        raise api_error(
            400,
            "bad_request",
            "the query is not valid: " + "; ".join(f"{p}: {m}" for p, m in invalid.errors),
            {"errors": [{"path": p, "message": m} for p, m in invalid.errors]},
        ) from None


def requested_by(request: web.Request, body: dict[str, Any] | None = None) -> str | None:
    """Who asked: the X-HNP-User header, else the body's "user" field."""
    user = request.headers.get("X-HNP-User") or (body or {}).get("user")
    return str(user)[:200] if user else None


# --------------------------------------------------------------------------------------------
# Middleware: authentication and JSON errors for everything under /api


def _authorized(request: web.Request) -> bool:
    token = request.app[CONFIG].hnp_api_token
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if token is None or scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), token.reveal().encode())


@web.middleware
async def api_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if not (request.path == PREFIX or request.path.startswith(PREFIX + "/")):
        return await handler(request)
    if not _authorized(request):
        return error_response(401, "unauthorized", "a valid 'Authorization: Bearer <token>' header is required")
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error.status, error.code, error.message, error.details)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return error_response(error.status, _STATUS_CODES.get(error.status, "error"), error.reason)
    except asyncio.CancelledError:
        raise
    except database.UNAVAILABLE:
        raise  # an unreachable database is answered 503 by bot.web.app's middleware
    except Exception:  # the log keeps the traceback; the client gets no internals
        log.exception("unexpected error in %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error")


# --------------------------------------------------------------------------------------------
# Fabrics


async def create_fabric(request: web.Request) -> web.Response:
    given = body_as(await json_body(request), api_models.FabricInput, "the fabric is not valid")
    try:
        fabric = await fabrics.create(
            pool_of(request),
            name=given.name,
            repository=given.repository,
            directory=given.directory,
            branch=given.branch,
            create_pr=given.create_pr,
        )
    except asyncpg.UniqueViolationError:
        raise api_error(409, "conflict", f"a fabric named {given.name!r} already exists") from None
    return json_response(await _fabric_json(request, fabric), status=201)


async def list_fabrics(request: web.Request) -> web.Response:
    found = await fabrics.list_all(pool_of(request))
    return json_response({"fabrics": [await _fabric_json(request, f) for f in found]})


async def get_fabric(request: web.Request) -> web.Response:
    return json_response(await _fabric_json(request, await fabric_or_404(request)))


async def _fabric_json(request: web.Request, fabric: Fabric) -> dict[str, Any]:
    pool = pool_of(request)
    counts = await resources.count_by_state(pool, fabric.id)
    pr = await pulls.open_for_fabric(pool, fabric.id)
    data = fabric.to_json()
    data["resources"] = counts
    data["pull_request"] = pr.to_json() if pr else None
    return data


# --------------------------------------------------------------------------------------------
# Resources and drafts


async def list_resources(request: web.Request) -> web.Response:
    fabric = await fabric_or_404(request)
    query = query_as(request, api_models.ResourcesQuery)
    kind_name = kind_or_422(query.kind).kind if query.kind else None
    rows = await drafts.list_for_fabric(pool_of(request), fabric.id, kind=kind_name, state=query.state)
    return json_response({"fabric": fabric.name, "resources": [r.to_json() for r in rows]})


async def _resource_target(request: web.Request) -> tuple[Fabric, Kind, str]:
    fabric = await fabric_or_404(request)
    kind = kind_or_422(request.match_info["kind"])
    name = request.match_info["name"]
    errors = [(e.path, e.message) for e in validate_name(kind.kind, name)]
    if not errors:
        try:  # the name must also be a file name that stays inside the fabric's directory
            filemap.new_resource_path(fabric.directory, kind, name)
        except (filemap.UnsafePath, ValueError) as error:
            errors.append(("metadata.name", str(error)))
    if errors:
        raise validation_error(errors, f"{name!r} is not a valid {kind.kind} name")
    return fabric, kind, name


async def get_resource(request: web.Request) -> web.Response:
    fabric, kind, name = await _resource_target(request)
    pool = pool_of(request)
    row = await drafts.get(pool, fabric.id, kind.kind, name)
    if row is None:
        raise api_error(404, "not_found", f"no {kind.kind} {name!r} in fabric {fabric.name!r}")
    data = row.to_json()
    if data.get("file"):
        data["file"]["line"] = await fabric_files.document_line(
            pool, fabric.id, data["file"]["path"], data["file"]["document_index"]
        )
    return json_response(data)


async def put_draft(request: web.Request) -> web.Response:
    fabric, kind, name = await _resource_target(request)
    body = await json_body(request)
    message = f"the draft of {kind.kind} {name!r} is not valid"
    draft = body_as(body, api_models.DraftInput, message)
    user = draft.user or requested_by(request, body)
    errors: list[tuple[str, str]] = []
    metadata = None
    if draft.delete:
        if draft.spec is not None:
            errors.append(("spec", "a deletion carries no spec"))
    elif draft.spec is None:
        errors.append(("spec", 'the draft needs a spec object (or {"delete": true})'))
    else:
        errors.extend((e.path, e.message) for e in validate_spec(kind.kind, draft.spec))
        given = (("labels", draft.labels), ("annotations", draft.annotations))
        metadata = {k: v for k, v in given if v is not None} or None
    if errors:
        raise validation_error(errors, message)
    pool = pool_of(request)
    spec = draft.spec
    if not draft.delete:
        spec, metadata = await fabric_check.without_cluster_defaults(pool, fabric.id, kind.kind, name, spec, metadata)
    async with pool.acquire() as conn, conn.transaction():
        row = await drafts.put_draft(
            conn,
            fabric.id,
            kind.kind,
            name,
            spec=None if draft.delete else spec,
            metadata=metadata,
            delete=draft.delete,
            user=user,
        )
    if row is None:
        if draft.delete:
            raise api_error(404, "not_found", f"no {kind.kind} {name!r} in fabric {fabric.name!r} to delete")
        return json_response({"kind": kind.kind, "name": name, "state": None, "draft": None, "cleared": True})
    data = row.to_json()
    data["cleared"] = not row.has_draft
    # what it (with every other draft) would break in the fabric as a whole; a sync refuses it
    data["warnings"] = await fabric_check.draft_warnings(pool, fabric.id, kind.kind, name)
    return json_response(data)


async def delete_draft(request: web.Request) -> web.Response:
    fabric, kind, name = await _resource_target(request)
    async with pool_of(request).acquire() as conn, conn.transaction():
        found, row = await drafts.discard_draft(conn, fabric.id, kind.kind, name)
    if not found:
        raise api_error(404, "not_found", f"no {kind.kind} {name!r} in fabric {fabric.name!r}")
    if row is None:  # it existed only as a draft
        return json_response({"kind": kind.kind, "name": name, "state": None, "draft": None, "cleared": True})
    data = row.to_json()
    data["cleared"] = True
    return json_response(data)


# --------------------------------------------------------------------------------------------
# Sync operations


def _stored_request(sync: api_models.SyncRequest, fabric: Fabric) -> dict[str, Any]:
    """What the operation keeps of the request (its row's `request`), defaults filled in."""
    return {
        "direction": sync.direction.value,
        "create_pr": fabric.create_pr if sync.create_pr is None else sync.create_pr,
        "force_sync": sync.force_sync or sync.force,
        "conflict_resolution": sync.conflict_resolution.value,
        "resource_filters": sync.resource_filters,
        "metadata": sync.metadata,
    }


def _accepted(operation: operation_store.Operation) -> web.Response:
    return json_response(
        {
            "operation_id": str(operation.id),
            "status": operation.status,
            "status_url": f"{PREFIX}/operations/{operation.id}",
        },
        status=202,
    )


async def start_sync(request: web.Request) -> web.Response:
    fabric = await fabric_or_404(request)
    query = query_as(request, api_models.SyncQuery)
    body = await json_body(request, required=False)
    sync = body_as(body, api_models.SyncRequest, "the sync request is not valid")
    try:
        operation = await operations.start_sync(
            pool_of(request),
            fabric,
            _stored_request(sync, fabric),
            requested_by=sync.initiated_by or requested_by(request, body),
        )
    except operations.SyncAlreadyActive as active:
        raise api_error(
            409,
            "sync_in_progress",
            f"fabric {fabric.name!r} already has an active sync; wait for it or cancel it",
            {"operation_id": str(active.operation_id), "status_url": f"{PREFIX}/operations/{active.operation_id}"},
        ) from None
    wait = sync.wait if sync.wait is not None else query.wait
    if wait is None:
        return _accepted(operation)
    operation = await _wait_until_finished(request, operation, wait)
    if not operation.finished:
        return _accepted(operation)
    result = operations.result_of(operation)
    return json_response(result, status=200 if result["success"] else 400)


async def _wait_until_finished(
    request: web.Request, operation: operation_store.Operation, seconds: float
) -> operation_store.Operation:
    deadline = time.monotonic() + min(seconds, MAX_WAIT_SECONDS)
    # A long poll: re-read the row until it finishes or the wait is up. The interval is the
    # answer's latency, not a synchronisation.
    while not operation.finished and time.monotonic() < deadline:
        await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        operation = await operation_store.get(pool_of(request), operation.id) or operation
    return operation


async def _operation_or_404(request: web.Request) -> operation_store.Operation:
    raw = request.match_info["operation_id"]
    try:
        operation_id = uuid.UUID(raw)
    except ValueError:
        raise api_error(404, "not_found", f"no operation {raw!r}") from None
    operation = await operation_store.get(pool_of(request), operation_id)
    if operation is None:
        raise api_error(404, "not_found", f"no operation {raw!r}")
    return operation


async def _operation_json(request: web.Request, operation: operation_store.Operation) -> dict[str, Any]:
    pool = pool_of(request)
    fabric = await fabrics.get(pool, operation.fabric_id)
    data = operation.to_json(fabric.name if fabric else None)
    # While its job retries, the operation has not failed (error stays null); this says why it waits.
    data["retrying"] = None if operation.finished else (await jobs.retrying(pool, [operation.id])).get(operation.id)
    data["status_url"] = f"{PREFIX}/operations/{operation.id}"
    return data


async def get_operation(request: web.Request) -> web.Response:
    operation = await _operation_or_404(request)
    query = query_as(request, api_models.OperationQuery)
    if query.wait is not None and not operation.finished:
        operation = await _wait_until_finished(request, operation, query.wait)
    return json_response(await _operation_json(request, operation))


async def list_operations(request: web.Request) -> web.Response:
    fabric = await fabric_or_404(request)
    query = query_as(request, api_models.OperationsQuery)
    found = await operation_store.for_fabric(pool_of(request), fabric.id, active_only=query.active)
    return json_response({"fabric": fabric.name, "operations": [await _operation_json(request, o) for o in found]})


async def cancel_operation(request: web.Request) -> web.Response:
    operation = await _operation_or_404(request)
    if operation.finished:
        raise api_error(
            409,
            "already_finished",
            f"operation {operation.id} has already {operation.status}",
            {"status": operation.status},
        )
    operation = await operations.cancel(pool_of(request), operation.id) or operation
    data = await _operation_json(request, operation)
    data["success"] = True
    data["message"] = (
        f"Operation {operation.id} cancelled successfully"
        if operation.status == "cancelled"
        else f"Operation {operation.id} stops at its next step; what it made on GitHub is removed"
    )
    return json_response(data, status=202)


async def get_openapi(request: web.Request) -> web.Response:
    return json_response(api_models.openapi_document(request.app[API_ROUTES], DESCRIPTION))


DESCRIPTION = (
    "Fabrics, resources, drafts, sync operations, conflicts and drift of hnp-gitops, in the shapes "
    "of the HNP sync contract. Every route needs `Authorization: Bearer <HNP_API_TOKEN>`. Errors are "
    '`{"error": {"code", "message", "details"}}`: 400 malformed JSON or query, 401 bad token, 404 '
    "unknown fabric, resource, operation or route, 409 conflicting state (fabric exists, a sync of the "
    "fabric is active, operation already finished), 422 invalid input with `details.errors[] = {path, "
    "message}`; an unknown kind is 422 `unknown_kind` wherever it appears."
)

# --------------------------------------------------------------------------------------------

M = api_models
ROUTES: list[Route] = [
    Route(
        "POST",
        "/api/fabrics",
        create_fabric,
        "Register a fabric",
        {201: ("The fabric", M.Fabric)},
        (400, 409, 422),
        body=M.FabricInput,
    ),
    Route("GET", "/api/fabrics", list_fabrics, "List fabrics", {200: ("All fabrics", M.FabricList)}),
    Route("GET", "/api/fabrics/{fabric}", get_fabric, "One fabric", {200: ("The fabric", M.Fabric)}, (404,)),
    Route(
        "GET",
        "/api/fabrics/{fabric}/resources",
        list_resources,
        "A fabric's resources",
        {200: ("Resources", M.ResourceList)},
        (400, 404, 422),
        query=M.ResourcesQuery,
    ),
    Route(
        "GET",
        "/api/fabrics/{fabric}/resources/{kind}/{name}",
        get_resource,
        "One resource: draft, desired, actual, state, and its file and line",
        {200: ("The resource", M.Resource)},
        (404, 422),
    ),
    Route(
        "PUT",
        "/api/fabrics/{fabric}/resources/{kind}/{name}/draft",
        put_draft,
        "Create or replace the draft of a resource (or mark it for deletion)",
        {200: ("The resource after the write", M.Resource)},
        (400, 404, 422),
        body=M.DraftInput,
    ),
    Route(
        "DELETE",
        "/api/fabrics/{fabric}/resources/{kind}/{name}/draft",
        delete_draft,
        "Discard the draft of a resource",
        {200: ("The resource after the write", M.Resource)},
        (404, 422),
    ),
    Route(
        "POST",
        "/api/fabrics/{fabric}/sync",
        start_sync,
        "Start a sync operation (the contract's sync view)",
        {
            200: ("With wait: the finished SyncResult of a sync that succeeded", M.SyncResult),
            202: ("Accepted (without wait, or still running at the deadline)", M.SyncAccepted),
            400: ("With wait: the SyncResult of a sync that failed; or a malformed request", M.SyncResult | M.Error),
        },
        (404, 409, 422),
        body=M.SyncRequest,
        body_required=False,
        query=M.SyncQuery,
        description="409 sync_in_progress when an API-started sync of the fabric is still active "
        "(details.operation_id names it). `wait` may be given in the body or the query.",
    ),
    Route(
        "GET",
        "/api/fabrics/{fabric}/operations",
        list_operations,
        "A fabric's sync operations, newest first",
        {200: ("Operations", M.OperationList)},
        (400, 404),
        query=M.OperationsQuery,
    ),
    Route(
        "GET",
        "/api/operations/{operation_id}",
        get_operation,
        "A sync operation (the contract's get_operation_status), and its SyncResult once finished",
        {200: ("The operation", M.Operation)},
        (400, 404),
        query=M.OperationQuery,
    ),
    Route(
        "POST",
        "/api/operations/{operation_id}/cancel",
        cancel_operation,
        "Cancel a sync operation; whatever it made on GitHub is removed",
        {202: ("Cancelled, or cancellation requested: success and message beside the operation", M.Cancelled)},
        (404, 409),
    ),
    Route("GET", "/api/openapi.json", get_openapi, "This document", {200: ("OpenAPI 3.1 document", M.Response)}),
]

API_ROUTES = web.AppKey("api_routes", list)


def add_routes(app: web.Application, routes: list[Route]) -> None:
    """Serve these /api routes and describe them in the OpenAPI document."""
    if API_ROUTES not in app:
        app[API_ROUTES] = []
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)
        app[API_ROUTES].append(route)


def setup(app: web.Application) -> None:
    """The /api middleware and the routes of this module."""
    if api_middleware not in app.middlewares:
        app.middlewares.append(api_middleware)
    add_routes(app, ROUTES)
