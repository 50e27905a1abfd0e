"""The read-only status page: at `/` fabrics (with their latest validate result), operations,
conflicts and drift at a glance; at `/fabrics/{fabric}/resources/{kind}/{name}` one resource
(its state, draft / desired / actual specs and the diffs between them, its file and line, its
pull request and conflicts).

Server-rendered from Jinja2 templates (bot/web/templates/status, autoescaped), no script, no build
step; pages refresh themselves every 15 seconds with a meta tag. All data comes from the
database in one read-only snapshot (`bot.storage.status`).

Access: the same token as the HNP API, given either as `Authorization: Bearer <token>` (for
curl and monitors) or as a session cookie that `/login` sets after checking the token in a
small form (never in a URL). Wrong tokens sent to `/login` are throttled per client address
(a few tries, then one every 12 s; 429 with Retry-After meanwhile). The cookie holds no token: it is `<expiry>.<HMAC-SHA256 of the
expiry keyed with the token>`, so it works across several `serve` processes, expires after 12
hours, and stops working when the token changes. It is HttpOnly, SameSite=Strict, and Secure
when the request came over HTTPS (directly or through a proxy's X-Forwarded-Proto).
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
import yaml
from aiohttp import web
from markupsafe import Markup

from bot import __version__
from bot.config import Config
from bot.core.kinds import DEFAULT_NAMESPACE
from bot.core.states import ResourceState
from bot.github import pages
from bot.storage import jobs as job_store
from bot.storage import status as status_store
from bot.web.keys import CONFIG, POOL
from bot.web.throttle import FailureThrottle

log = logging.getLogger(__name__)

LOGIN_THROTTLE = web.AppKey("login_throttle", FailureThrottle)  # wrong tokens per client address
COOKIE = "hnp_gitops_session"
SESSION_SECONDS = 12 * 3600
REFRESH_SECONDS = 15
RESOURCE_STATES = tuple(s.value for s in ResourceState)

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("bot.web", "templates/status"),
    autoescape=True,  # every value from users or GitHub is escaped, attributes included
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
STYLE = (files("bot.web") / "templates" / "status" / "style.css").read_text(encoding="utf-8")
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
SECURITY_HEADERS = {
    "Content-Security-Policy": f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


# --- authentication -------------------------------------------------------------------------


def _token(app: web.Application) -> str | None:
    config: Config = app[CONFIG]
    return config.hnp_api_token.reveal() if config.hnp_api_token is not None else None


def _signature(token: str, expires: int) -> str:
    return hmac.new(token.encode(), f"hnp-gitops status page session {expires}".encode(), hashlib.sha256).hexdigest()


def session_cookie(token: str, now: float | None = None) -> str:
    expires = int(now if now is not None else time.time()) + SESSION_SECONDS
    return f"{expires}.{_signature(token, expires)}"


def valid_session(token: str, cookie: str | None, now: float | None = None) -> bool:
    if not cookie or "." not in cookie:
        return False
    raw_expires, _, signature = cookie.partition(".")
    try:
        expires = int(raw_expires)
    except ValueError:
        return False
    if expires < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(signature.encode(), _signature(token, expires).encode())


def valid_token(token: str, given: str) -> bool:
    return hmac.compare_digest(given.strip().encode(), token.encode())


def authorized(request: web.Request) -> bool | None:
    """True: let in. False: credentials given and wrong. None: no credentials at all."""
    token = _token(request.app)
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, given = header.partition(" ")
        return bool(token and scheme.lower() == "bearer" and valid_token(token, given))
    cookie = request.cookies.get(COOKIE)
    if cookie is None:
        return None
    return bool(token and valid_session(token, cookie))


def _page(template: str, status: int = 200, **context: Any) -> web.Response:
    text = TEMPLATES.get_template(template).render(style=Markup(STYLE), **context)
    return web.Response(text=text, status=status, content_type="text/html", headers=SECURITY_HEADERS)


def login_form(message: str | None = None, status: int = 200) -> web.Response:
    return _page("login.html", status=status, error=message)


async def login_get(request: web.Request) -> web.Response:
    if authorized(request):
        raise web.HTTPSeeOther("/")
    return login_form()


async def login_post(request: web.Request) -> web.Response:
    throttle, client = request.app[LOGIN_THROTTLE], request.remote or "unknown"
    wait = throttle.retry_after(client)
    if wait:  # refused before the token is even looked at: guessing gets no answer
        response = login_form(f"Too many wrong tokens; try again in {wait} s.", status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    token = _token(request.app)
    form = await request.post()
    given = form.get("token")
    if not token or not isinstance(given, str) or not valid_token(token, given):
        throttle.failed(client)
        log.warning("status page: a sign-in with a wrong token from %s", request.remote)
        return login_form("That token is not right.", status=401)
    response = web.HTTPSeeOther("/")
    secure = request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    response.set_cookie(
        COOKIE,
        session_cookie(token),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=secure,
    )
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    raise response


async def logout(request: web.Request) -> web.Response:
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


# --- what the templates show ----------------------------------------------------------------


def ago(value: datetime | None, now: datetime) -> str:
    """How long ago, in the largest whole unit."""
    if value is None:
        return "never"
    seconds = max(0, int((now - value).total_seconds()))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def operation_summary(op: dict[str, Any]) -> list[str]:
    """What a finished sync changed, as "created 2", "updated 1", ... (nothing for zeros)."""
    labels = (
        ("created", "created"),
        ("updated", "updated"),
        ("deleted", "deleted"),
        ("conflicts_detected", "conflicts"),
    )
    return [f"{label} {op[key]}" for key, label in labels if op.get(key) not in (None, "0")]


def web_link(url: object) -> str | None:
    """A URL fit for href: http(s) only (never javascript: and friends)."""
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
        return url
    return None


def short_value(raw: str | None) -> str | None:
    """A JSON value stored as text, on one line, at most 80 characters; None when absent."""
    if raw is None:
        return None
    try:
        text = json.dumps(json.loads(raw), sort_keys=True)
    except ValueError:
        text = raw
    return text if len(text) <= 80 else text[:77] + "..."


def spec_yaml(raw: str | None) -> str | None:
    """A stored spec (JSON text) as the YAML an operator reads in the repository."""
    if raw is None:
        return None
    return yaml.safe_dump(json.loads(raw), sort_keys=True, default_flow_style=False, allow_unicode=True)


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "hunk", "add", "del" or "same"
    text: str


def spec_diff(before: str | None, after: str | None) -> list[DiffLine]:
    """The unified diff between two specs' YAML; empty when they are the same."""
    if before is None or after is None:
        return []
    lines = difflib.unified_diff(
        (spec_yaml(before) or "").splitlines(), (spec_yaml(after) or "").splitlines(), lineterm="", n=2
    )
    out = []
    for line in lines:
        if line.startswith(("---", "+++")):
            continue
        kind = {"@": "hunk", "+": "add", "-": "del"}.get(line[:1], "same")
        out.append(DiffLine(kind, line))
    return out


def github_file_url(config: Config, detail: dict[str, Any]) -> str | None:
    """The page of the resource's document on GitHub, at the commit it was read from."""
    sha = detail.get("desired_sha") or detail.get("last_ingested_sha")
    if not detail.get("file_path") or not sha:
        return None
    return pages.file_url(config.github_web_url, detail["repository"], sha, detail["file_path"], detail.get("line"))


def resource_path(fabric: str, kind: str, name: str, namespace: str | None = None) -> str:
    path = f"/fabrics/{quote(fabric, safe='')}/resources/{quote(kind, safe='')}/{quote(name, safe='')}"
    return path if namespace in (None, DEFAULT_NAMESPACE) else f"{path}?{urlencode({'namespace': namespace})}"


TEMPLATES.globals.update(
    version=__version__,
    ago=ago,
    web_link=web_link,
    short_value=short_value,
    resource_path=resource_path,
    REFRESH_SECONDS=REFRESH_SECONDS,
    RESOURCE_STATES=RESOURCE_STATES,
)


# --- pages ----------------------------------------------------------------------------------


def _signed_in(request: web.Request) -> web.Response | None:
    """None when the request may see the pages; else the answer to give instead."""
    allowed = authorized(request)
    if allowed is None:
        raise web.HTTPSeeOther("/login")
    if allowed:
        return None
    if "Authorization" in request.headers:
        return _page("message.html", status=401, title="Unauthorized", message="The token is not right.")
    response = web.HTTPSeeOther("/login")  # an expired or stale session cookie
    response.del_cookie(COOKIE, path="/")
    raise response


async def status(request: web.Request) -> web.Response:
    refused = _signed_in(request)
    if refused is not None:
        return refused
    async with request.app[POOL].acquire() as conn:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            data = await status_store.overview(conn)
            retrying = await job_store.retrying(conn, [op["id"] for op in data["active"]])
    for op in data["active"]:
        op["retrying"] = retrying.get(op["id"])
    for op in data["recent"]:
        op["summary"] = operation_summary(op)
    return _page(
        "overview.html",
        now=datetime.now(UTC),
        refresh=True,
        total_resources=sum(sum(f["states"].values()) for f in data["fabrics"]),
        drift_total=sum(f["drifted"] for f in data["fabrics"]),
        unreported=sum(f["unreported"] for f in data["fabrics"]),
        **data,
    )


async def resource(request: web.Request) -> web.Response:
    refused = _signed_in(request)
    if refused is not None:
        return refused
    fabric, kind, name = (request.match_info[k] for k in ("fabric", "kind", "name"))
    namespace = request.query.get("namespace", DEFAULT_NAMESPACE)
    async with request.app[POOL].acquire() as conn:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            detail = await status_store.resource_detail(conn, fabric, kind, name, namespace)
    if detail is None:
        return _page(
            "message.html", status=404, title="Not found", message=f"Fabric {fabric} has no resource {kind}/{name}."
        )
    config: Config = request.app[CONFIG]
    return _page(
        "resource.html",
        now=datetime.now(UTC),
        refresh=True,
        r=detail,
        file_url=github_file_url(config, detail),
        specs={
            "draft": spec_yaml(detail["draft_spec"]),
            "desired": spec_yaml(detail["desired_spec"]),
            "actual": spec_yaml(detail["actual_spec"]),
        },
        draft_diff=spec_diff(detail["desired_spec"], detail["draft_spec"]),
        base_diff=spec_diff(detail["draft_base_spec"], detail["desired_spec"]) if detail["base_moved"] else [],
        drift_diff=spec_diff(detail["desired_spec"], detail["actual_spec"]),
    )


def setup(app: web.Application) -> None:
    app[LOGIN_THROTTLE] = FailureThrottle()
    app.router.add_get("/", status)
    app.router.add_get("/fabrics/{fabric}/resources/{kind}/{name}", resource)
    app.router.add_get("/login", login_get)
    app.router.add_post("/login", login_post)
    app.router.add_post("/logout", logout)
