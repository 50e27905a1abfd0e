"""The aiohttp application: routes, and the middleware that does for every REST request
what api.github.com does around its handlers (faults injected by tests, authentication,
rate limits, ETag/304, GitHub's headers and error bodies) and records it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from . import control, githttp, rest_apps, rest_checks, rest_git, rest_issues, rest_pulls, rest_repos
from . import web as web_pages
from .auth import identify
from .errors import DOCS, GhError
from .faults import SECONDARY_DOCS, SECONDARY_MESSAGE, RequestFault
from .model import iso, now
from .ratelimit import RateLimiter
from .rest_common import IDENT_KEY, SIM_KEY, dumps
from .sim import Sim

CONDITIONAL_OK = ("GET", "HEAD")
HANG_LIMIT_S = 300.0  # a withheld answer is sent after this long even if the client still waits
HANG_POLL_S = 0.01
PRIMARY_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"


def _kind(path: str) -> str:
    if path.startswith("/_ghsim/") or path == "/_ghsim":
        return "control"
    if path.startswith("/_codeload/"):
        return "download"
    if web_pages.is_page(path):
        return "web"
    if path.startswith(("/repos/", "/app", "/installation/", "/rate_limit")):
        return "rest"
    if ".git/" in path or path.endswith(("/info/refs", "/git-upload-pack", "/git-receive-pack")):
        return "git"
    return "rest"


def _error_response(err: GhError, headers: dict | None = None) -> web.Response:
    return web.Response(
        body=dumps(err.body()),
        status=err.status,
        content_type="application/json",
        charset="utf-8",
        headers={**(headers or {}), **err.headers},
    )


def _etag_matches(header: str, etag: str) -> bool:
    bare = etag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == bare:
            return True
    return False


@web.middleware
async def github_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    sim: Sim = request.app[SIM_KEY]
    kind = _kind(request.path)
    if kind == "control":
        return await control.control_errors(request, handler)
    if kind == "web":  # github.com's pages: no REST accounting
        return await handler(request)
    started = time.perf_counter()
    request_id = f"{secrets.token_hex(2).upper()}:{secrets.token_hex(3).upper()}:{secrets.token_hex(4).upper()}"
    raw = await request.read() if kind == "rest" and request.can_read_body else b""
    record = {
        "seq": len(sim.requests) + 1,
        "time": iso(now()),
        "kind": kind,
        "method": request.method,
        "path": request.path,
        "query": request.query_string,
        "status": None,
        "body": _parse(raw),
        "installation_id": None,
        "user": None,
        "request_id": request_id,
    }
    common = {"X-GitHub-Request-Id": request_id}
    try:
        response = await _handle(sim, request, handler, kind, record, common)
    finally:
        record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        sim.requests.append(record)
    record["status"] = response.status
    return response


def _parse(raw: bytes) -> object:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:10000]


async def _handle(
    sim: Sim, request: web.Request, handler: Handler, kind: str, record: dict, common: dict
) -> web.StreamResponse:
    fault = sim.faults.match_request(request.method, request.path) if kind in ("rest", "git") else None
    response = await _answer(sim, request, handler, kind, record, common, fault)
    if fault and fault.hang:
        record["fault"] = fault.id
        await _until_client_gives_up(request)
    return response


async def _until_client_gives_up(request: web.Request) -> None:
    """An answer lost in transit, whatever the client's timeout: the work is done, and the
    answer is held until the client has closed the connection."""
    deadline = time.monotonic() + HANG_LIMIT_S
    while time.monotonic() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(HANG_POLL_S)


async def _answer(
    sim: Sim,
    request: web.Request,
    handler: Handler,
    kind: str,
    record: dict,
    common: dict,
    fault: RequestFault | None,
) -> web.StreamResponse:
    if fault and fault.hold:
        record["fault"] = fault.id
        await fault.held()
    if fault and fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    if fault and fault.status is not None:
        record["fault"] = fault.id
        return _fault_response(fault, fault.status, common)
    if kind != "rest":
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return web.Response(status=exc.status, text=exc.text or "")

    try:
        ident = identify(sim.state, request.headers.get("Authorization"), request.remote or "")
    except GhError as err:
        return _error_response(err, common)
    request[IDENT_KEY] = ident
    record["installation_id"] = ident.installation_id
    record["user"] = ident.user.account.login if ident.user else (f"app:{ident.app.id}" if ident.app else None)

    counted = request.path != "/rate_limit"
    key = ident.rate_key
    if counted:
        allowed, bucket = sim.ratelimits.take(key)
        if not allowed:
            who = (
                f"installation ID {ident.installation.id}"
                if ident.installation
                else f"user ID {ident.user.account.id}"
                if ident.user
                else f"{request.remote}"
            )
            limited = GhError(
                403,
                f"API rate limit exceeded for {who}. If you reach out to GitHub Support for help, "
                f"please include the request ID {common['X-GitHub-Request-Id']}.",
                f"{PRIMARY_DOCS}#about-the-primary-rate-limit",
            )
            return _error_response(limited, {**common, **RateLimiter.headers(bucket)})
    try:
        response = await handler(request)
    except GhError as err:
        response = _error_response(err)
    except web.HTTPMethodNotAllowed:
        response = _error_response(GhError(404, "Not Found", DOCS))
    except web.HTTPNotFound:
        response = _error_response(GhError(404, "Not Found", DOCS))

    if (
        request.method in CONDITIONAL_OK
        and response.status == 200
        and isinstance(response, web.Response)
        and isinstance(response.body, bytes)
    ):
        etag = 'W/"' + hashlib.sha256(response.body).hexdigest()[:40] + '"'
        response.headers["ETag"] = etag
        inm = request.headers.get("If-None-Match")
        if inm and _etag_matches(inm, etag):
            if counted:
                sim.ratelimits.refund(key)  # GitHub: a 304 does not count against the limit
            response = web.Response(status=304, headers={"ETag": etag})
    bucket = sim.ratelimits.bucket(key)
    response.headers.update(common)
    response.headers.update(RateLimiter.headers(bucket))
    response.headers.setdefault("X-GitHub-Media-Type", "github.v3; format=json")
    response.headers.setdefault("X-GitHub-Api-Version-Selected", "2022-11-28")
    response.headers.setdefault("Cache-Control", "private, max-age=60, s-maxage=60")
    response.headers.setdefault("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
    if ident.installation:
        response.headers.setdefault("X-Accepted-GitHub-Permissions", "")
    return response


def _fault_response(fault: RequestFault, status: int, common: dict) -> web.Response:
    headers = dict(common)
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    body: dict | None
    if fault.body is not None:
        body = fault.body
    elif fault.secondary_rate_limit:
        body = {
            "message": SECONDARY_MESSAGE.format(request_id=common["X-GitHub-Request-Id"]),
            "documentation_url": SECONDARY_DOCS,
        }
    elif status >= 500:
        body = {"message": "Server Error"} if status != 502 else None
    else:
        body = {"message": "Injected fault", "documentation_url": DOCS, "status": str(status)}
    if body is None:  # GitHub's 502 comes from the load balancer as HTML
        return web.Response(
            status=status,
            text="<html><body><h1>502 Bad Gateway</h1></body></html>",
            content_type="text/html",
            headers=headers,
        )
    return web.Response(body=dumps(body), status=status, content_type="application/json", headers=headers)


def make_app(sim: Sim) -> web.Application:
    app = web.Application(middlewares=[github_middleware], client_max_size=1 << 30)
    app[SIM_KEY] = sim
    app.add_routes(control.routes)
    # Check-run routes first: /commits/{ref}/check-runs must win over /commits/{ref}.
    for mod in (rest_apps, rest_checks, rest_git, rest_pulls, rest_issues, rest_repos):
        app.add_routes(mod.routes)
    app.router.add_get("/_codeload/{owner}/{repo}/legacy.tar.gz/{sha}", rest_repos.codeload)
    web_pages.setup(app)
    app.router.add_route("*", "/{owner}/{repo}/{tail:info/refs|git-upload-pack|git-receive-pack}", githttp.git_http)

    async def on_cleanup(_app: web.Application) -> None:
        await sim.close()

    app.on_cleanup.append(on_cleanup)
    return app
