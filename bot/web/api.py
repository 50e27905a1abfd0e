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

Unexpected failures answer 500 `internal_error` with no details (the log has the traceback).

Other modules add routes under /api with the helpers here (`api_error`, `json_body`,
`fabric_or_404`, `json_response`) and describe them with `bot.web.openapi.add_path`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web

from bot.core import filemap
from bot.core.kinds import Kind, lookup
from bot.core.syncresult import ConflictResolutionStrategy, SyncDirection
from bot.core.validation import validate_name, validate_spec
from bot.features import operations
from bot.storage import drafts, fabrics, pulls
from bot.storage import operations as operation_store
from bot.storage.fabrics import Fabric
from bot.web import openapi
from bot.web.keys import CONFIG, POOL

log = logging.getLogger(__name__)

PREFIX = "/api"
MAX_WAIT_SECONDS = 60.0  # the longest a GET /api/operations/{id}?wait= holds the request
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
    """The request's JSON object; 400 when it is not JSON or not an object."""
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
    where = _nul_path(body)
    if where is not None:  # PostgreSQL cannot store U+0000 in text or jsonb
        raise validation_error([(where, "must not contain the NUL character (U+0000)")])
    return body


def _nul_path(value: Any, path: str = "") -> str | None:
    """The field path of the first string or key holding a NUL character, else None."""
    stack = [(value, path)]
    while stack:  # iterative: the body may nest as deep as the JSON parser allowed
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where or "body"
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                shown = key.replace("\x00", "\\u0000")
                child_path = f"{where}.{shown}" if where else shown
                if "\x00" in key:
                    return child_path
                stack.append((child, child_path))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in reversed(list(enumerate(item))))
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
async def api_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
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
    except Exception:  # the log keeps the traceback; the client gets no internals
        log.exception("unexpected error in %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error")


# --------------------------------------------------------------------------------------------
# Fabrics

_FABRIC_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_BRANCH_BAD = re.compile(r"(\.\.|[\s~^:?*\[\\]|^/|/$|\.lock$|@\{|//)")


async def create_fabric(request: web.Request) -> web.Response:
    body = await json_body(request)
    errors: list[tuple[str, str]] = []
    name, repository = body.get("name"), body.get("repository")
    directory, branch = body.get("directory", ""), body.get("branch", "main")
    if not isinstance(name, str) or not _FABRIC_NAME.match(name) or len(name) > 63:
        errors.append(("name", "a lowercase DNS label: letters, digits and '-', at most 63 characters"))
    if not isinstance(repository, str) or not _REPOSITORY.match(repository):
        errors.append(("repository", "must be 'owner/repo'"))
    if not isinstance(directory, str):
        errors.append(("directory", "must be a string"))
    else:
        try:
            directory = filemap.normalize_directory(fabrics.normalize_directory(directory)) if directory else ""
            if ".." in directory.split("/") or directory.startswith("/"):
                raise filemap.UnsafePath(directory)
        except filemap.UnsafePath as error:
            errors.append(("directory", f"must be a relative path inside the repository ({error})"))
    if not isinstance(branch, str) or not branch or _BRANCH_BAD.search(branch):
        errors.append(("branch", "must be a valid branch name"))
    if errors:
        raise validation_error(errors, "the fabric is not valid")
    try:
        fabric = await fabrics.create(
            pool_of(request), name=name, repository=repository, directory=directory, branch=branch
        )
    except asyncpg.UniqueViolationError:
        raise api_error(409, "conflict", f"a fabric named {name!r} already exists") from None
    return json_response(await _fabric_json(request, fabric), status=201)


async def list_fabrics(request: web.Request) -> web.Response:
    found = await fabrics.list_all(pool_of(request))
    return json_response({"fabrics": [await _fabric_json(request, f) for f in found]})


async def get_fabric(request: web.Request) -> web.Response:
    return json_response(await _fabric_json(request, await fabric_or_404(request)))


async def _fabric_json(request: web.Request, fabric: Fabric) -> dict[str, Any]:
    pool = pool_of(request)
    counts = await pool.fetch(
        "SELECT state, count(*) AS n FROM resource WHERE fabric_id = $1 GROUP BY state", fabric.id
    )
    pr = await pulls.open_for_fabric(pool, fabric.id)
    data = fabric.to_json()
    data["resources"] = {r["state"]: r["n"] for r in counts}
    data["pull_request"] = pr.to_json() if pr else None
    return data


# --------------------------------------------------------------------------------------------
# Resources and drafts


async def list_resources(request: web.Request) -> web.Response:
    fabric = await fabric_or_404(request)
    kind = request.query.get("kind")
    state = request.query.get("state")
    if state is not None and state not in openapi.RESOURCE_STATES:
        raise validation_error([("state", f"must be one of {', '.join(openapi.RESOURCE_STATES)}")])
    kind_name = kind_or_422(kind).kind if kind else None
    rows = await drafts.list_for_fabric(pool_of(request), fabric.id, kind=kind_name, state=state)
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
    row = await drafts.get(pool_of(request), fabric.id, kind.kind, name)
    if row is None:
        raise api_error(404, "not_found", f"no {kind.kind} {name!r} in fabric {fabric.name!r}")
    return json_response(row.to_json())


def _string_map(value: Any, path: str, errors: list[tuple[str, str]]) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        errors.append((path, "must be an object of string values"))
        return None
    return value


async def put_draft(request: web.Request) -> web.Response:
    fabric, kind, name = await _resource_target(request)
    body = await json_body(request)
    user = requested_by(request, body)
    delete = body.get("delete", False)
    errors: list[tuple[str, str]] = []
    if not isinstance(delete, bool):
        errors.append(("delete", "must be true or false"))
    spec, metadata = body.get("spec"), None
    if delete is True:
        if spec is not None:
            errors.append(("spec", "a deletion carries no spec"))
    else:
        if not isinstance(spec, dict):
            errors.append(("spec", 'the draft needs a spec object (or {"delete": true})'))
        else:
            errors.extend((e.path, e.message) for e in validate_spec(kind.kind, spec))
        labels = _string_map(body.get("labels"), "metadata.labels", errors)
        annotations = _string_map(body.get("annotations"), "metadata.annotations", errors)
        metadata = {k: v for k, v in (("labels", labels), ("annotations", annotations)) if v is not None} or None
    if errors:
        raise validation_error(errors, f"the draft of {kind.kind} {name!r} is not valid")
    pool = pool_of(request)
    async with pool.acquire() as conn, conn.transaction():
        row = await drafts.put_draft(
            conn, fabric.id, kind.kind, name, spec=None if delete else spec, metadata=metadata, delete=delete, user=user
        )
    if row is None:
        if delete:
            raise api_error(404, "not_found", f"no {kind.kind} {name!r} in fabric {fabric.name!r} to delete")
        return json_response({"kind": kind.kind, "name": name, "state": None, "draft": None, "cleared": True})
    data = row.to_json()
    data["cleared"] = not row.has_draft
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


def _sync_request(body: dict[str, Any]) -> dict[str, Any]:
    errors: list[tuple[str, str]] = []
    directions = [d.value for d in SyncDirection]
    strategies = [s.value for s in ConflictResolutionStrategy]
    direction = body.get("direction", SyncDirection.GUI_TO_GITHUB.value)
    resolution = body.get("conflict_resolution", ConflictResolutionStrategy.USER_GUIDED.value)
    create_pr, force = body.get("create_pr", True), body.get("force_sync", False)
    filters = body.get("resource_filters")
    if direction not in directions:
        errors.append(("direction", f"must be one of {', '.join(directions)}"))
    if resolution not in strategies:
        errors.append(("conflict_resolution", f"must be one of {', '.join(strategies)}"))
    if not isinstance(create_pr, bool):
        errors.append(("create_pr", "must be true or false"))
    if not isinstance(force, bool):
        errors.append(("force_sync", "must be true or false"))
    if filters is not None:
        if not isinstance(filters, dict) or set(filters) - {"kinds", "names"}:
            errors.append(("resource_filters", "must be an object with optional 'kinds' and 'names' lists"))
        else:
            for key in ("kinds", "names"):
                values = filters.get(key)
                if values is not None and not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
                    errors.append((f"resource_filters.{key}", "must be a list of strings"))
            for i, value in enumerate(filters.get("kinds") or []):
                if isinstance(value, str) and lookup(value) is None:
                    errors.append((f"resource_filters.kinds[{i}]", f"unknown kind {value!r}"))
    if errors:
        raise validation_error(errors, "the sync request is not valid")
    if filters and filters.get("kinds"):
        filters = dict(filters, kinds=[lookup(k).kind for k in filters["kinds"]])
    return {
        "direction": direction,
        "create_pr": create_pr,
        "force_sync": force,
        "conflict_resolution": resolution,
        "resource_filters": filters,
    }


async def start_sync(request: web.Request) -> web.Response:
    fabric = await fabric_or_404(request)
    body = await json_body(request, required=False)
    sync = _sync_request(body)
    try:
        operation = await operations.start_sync(
            pool_of(request), fabric, sync, requested_by=requested_by(request, body)
        )
    except operations.SyncAlreadyActive as active:
        raise api_error(
            409,
            "sync_in_progress",
            f"fabric {fabric.name!r} already has an active sync; wait for it or cancel it",
            {"operation_id": str(active.operation_id), "status_url": f"{PREFIX}/operations/{active.operation_id}"},
        ) from None
    return json_response(
        {
            "operation_id": str(operation.id),
            "status": operation.status,
            "status_url": f"{PREFIX}/operations/{operation.id}",
        },
        status=202,
    )


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
    fabric = await fabrics.get(pool_of(request), operation.fabric_id)
    data = operation.to_json(fabric.name if fabric else None)
    data["status_url"] = f"{PREFIX}/operations/{operation.id}"
    return data


async def get_operation(request: web.Request) -> web.Response:
    operation = await _operation_or_404(request)
    raw_wait = request.query.get("wait")
    if raw_wait is not None and not operation.finished:
        try:
            wait = float(raw_wait)
        except ValueError:
            raise api_error(400, "bad_request", "wait must be a number of seconds") from None
        if not 0 <= wait < float("inf"):
            raise api_error(400, "bad_request", "wait must be a number of seconds")
        deadline = time.monotonic() + min(wait, MAX_WAIT_SECONDS)
        # A long poll: re-read the row until it finishes or the wait is up. The interval is
        # the answer's latency, not a synchronisation.
        while not operation.finished and time.monotonic() < deadline:
            await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
            operation = await operation_store.get(pool_of(request), operation.id)
    return json_response(await _operation_json(request, operation))


async def list_operations(request: web.Request) -> web.Response:
    fabric = await fabric_or_404(request)
    active = request.query.get("active", "false").lower()
    if active not in ("true", "false", "1", "0"):
        raise api_error(400, "bad_request", "active must be true or false")
    found = await operation_store.for_fabric(pool_of(request), fabric.id, active_only=active in ("true", "1"))
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
    operation = await operations.cancel(pool_of(request), operation.id)
    return json_response(await _operation_json(request, operation), status=202)


async def get_openapi(request: web.Request) -> web.Response:
    return json_response(openapi.document())


# --------------------------------------------------------------------------------------------

ROUTES: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
    ("POST", "/api/fabrics", create_fabric),
    ("GET", "/api/fabrics", list_fabrics),
    ("GET", "/api/fabrics/{fabric}", get_fabric),
    ("GET", "/api/fabrics/{fabric}/resources", list_resources),
    ("GET", "/api/fabrics/{fabric}/resources/{kind}/{name}", get_resource),
    ("PUT", "/api/fabrics/{fabric}/resources/{kind}/{name}/draft", put_draft),
    ("DELETE", "/api/fabrics/{fabric}/resources/{kind}/{name}/draft", delete_draft),
    ("POST", "/api/fabrics/{fabric}/sync", start_sync),
    ("GET", "/api/fabrics/{fabric}/operations", list_operations),
    ("GET", "/api/operations/{operation_id}", get_operation),
    ("POST", "/api/operations/{operation_id}/cancel", cancel_operation),
    ("GET", "/api/openapi.json", get_openapi),
]


def setup(app: web.Application) -> None:
    """The /api middleware and the routes of this module."""
    if api_middleware not in app.middlewares:
        app.middlewares.append(api_middleware)
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
