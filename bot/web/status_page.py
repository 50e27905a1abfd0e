"""The read-only status page at `/`: fabrics, operations, conflicts and drift at a glance.

Server-rendered HTML, no script, no build step; it refreshes itself every 15 seconds with a
meta tag. All data comes from the database in one read-only snapshot (`gather`), and `render`
turns that plain data into HTML, escaping every value that came from users or GitHub.

Access: the same token as the HNP API, given either as `Authorization: Bearer <token>` (for
curl and monitors) or as a session cookie that `/login` sets after checking the token in a
small form (never in a URL). The cookie holds no token: it is `<expiry>.<HMAC-SHA256 of the
expiry keyed with the token>`, so it works across several `serve` processes, expires after 12
hours, and stops working when the token changes. It is HttpOnly, SameSite=Strict, and Secure
when the request came over HTTPS (directly or through a proxy's X-Forwarded-Proto).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot import __version__
from bot.config import Config
from bot.storage import Connection, returned_row
from bot.web.keys import CONFIG, POOL

log = logging.getLogger(__name__)

COOKIE = "hnp_gitops_session"
SESSION_SECONDS = 12 * 3600
REFRESH_SECONDS = 15
RESOURCE_STATES = ("in_sync", "draft", "pending_pr", "conflict", "drifted", "orphaned")
FINISHED = ("completed", "failed", "cancelled")
LIMIT_RECENT = 20
LIMIT_CONFLICTS = 100
LIMIT_DRIFT = 50

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:12px 24px;display:flex;align-items:baseline;gap:16px}
header h1{font-size:18px;margin:0}header .meta{color:#afb8c1;font-size:12px}
header form{margin-left:auto}header button{background:none;border:1px solid #57606a;color:#d0d7de;border-radius:6px;padding:2px 10px;cursor:pointer}
main{padding:16px 24px;max-width:1400px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;margin:0 0 16px;padding:12px 16px}
h2{font-size:15px;margin:0 0 8px}h2 .count{color:#57606a;font-weight:normal}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{font-size:12px;color:#57606a;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:1px 4px;border-radius:4px}
.empty{color:#57606a;font-style:italic}
.state{display:inline-block;border-radius:10px;padding:0 8px;margin:1px 2px;font-size:12px;background:#eaeef2}
.state-in_sync,.status-completed,.conn-connected{background:#dafbe1;color:#116329}
.state-draft,.state-pending_pr,.status-running{background:#ddf4ff;color:#0550ae}
.state-conflict,.status-failed,.conn-disconnected,.conn-branch_missing,.sev-high,.sev-critical{background:#ffebe9;color:#a40e26}
.state-drifted,.state-orphaned,.status-cancelled,.sev-medium{background:#fff8c5;color:#7d4e00}
.summary{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:16px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:8px 16px;min-width:120px}
.card b{display:block;font-size:22px}.card span{color:#57606a;font-size:12px}
progress{width:120px;vertical-align:middle}
.login{max-width:360px;margin:80px auto}.login input{width:100%;box-sizing:border-box;padding:6px;margin:8px 0}
.login button{padding:6px 16px}.error{color:#a40e26}
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
SECURITY_HEADERS = {
    "Content-Security-Policy": f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def e(value: Any) -> str:
    """Escape anything for HTML text and attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


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


def _page(title: str, body: str, status: int = 200, refresh: bool = False) -> web.Response:
    meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
    text = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">{meta}'
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )
    return web.Response(text=text, status=status, content_type="text/html", headers=SECURITY_HEADERS)


def login_form(message: str | None = None, status: int = 200) -> web.Response:
    error = f'<p class="error" role="alert">{e(message)}</p>' if message else ""
    body = (
        f'<main class="login"><section><h2>hnp-gitops status</h2>'
        f"<p>Enter the HNP API token (<code>HNP_API_TOKEN</code>) to see the status page.</p>{error}"
        f'<form method="post" action="/login"><label for="token">Token</label>'
        f'<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>'
        f'<button type="submit">Sign in</button></form></section></main>'
    )
    return _page("hnp-gitops: sign in", body, status=status)


async def login_get(request: web.Request) -> web.Response:
    if authorized(request):
        raise web.HTTPSeeOther("/")
    return login_form()


async def login_post(request: web.Request) -> web.Response:
    token = _token(request.app)
    form = await request.post()
    given = form.get("token")
    if not token or not isinstance(given, str) or not valid_token(token, given):
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


# --- data -----------------------------------------------------------------------------------


async def gather(conn: Connection) -> dict[str, Any]:
    """Everything the page shows, as plain data (one read-only snapshot)."""
    fabrics = [
        dict(r)
        for r in await conn.fetch(
            "SELECT id, name, repository, directory, branch, last_ingested_sha, last_ingested_at, "
            "connection_status, status_detail FROM fabric ORDER BY name"
        )
    ]
    states = await conn.fetch("SELECT fabric_id, state, count(*) AS n FROM resource GROUP BY fabric_id, state")
    drift = await conn.fetch(
        "SELECT fabric_id, count(*) FILTER (WHERE actual_spec IS NOT NULL AND actual_spec <> desired_spec) AS n, "
        "count(*) FILTER (WHERE actual_spec IS NULL) AS unreported "
        "FROM resource WHERE desired_spec IS NOT NULL GROUP BY fabric_id"
    )
    pulls = await conn.fetch(
        "SELECT fabric_id, number, html_url FROM pull_request WHERE state = 'open' ORDER BY number"
    )
    conflict_counts = await conn.fetch(
        "SELECT fabric_id, count(*) AS n FROM conflict WHERE status = 'open' GROUP BY fabric_id"
    )
    by_id = {f["id"]: f for f in fabrics}
    for fabric in fabrics:
        fabric.update(states={}, drifted=0, unreported=0, pull_requests=[], conflicts=0)
    for row in states:
        by_id[row["fabric_id"]]["states"][row["state"]] = row["n"]
    for row in drift:
        by_id[row["fabric_id"]]["drifted"] = row["n"]
        by_id[row["fabric_id"]]["unreported"] = row["unreported"]
    for row in pulls:
        by_id[row["fabric_id"]]["pull_requests"].append({"number": row["number"], "html_url": row["html_url"]})
    for row in conflict_counts:
        by_id[row["fabric_id"]]["conflicts"] = row["n"]

    operation_columns = (
        "o.id, f.name AS fabric, o.direction, o.status, o.trigger, o.conflict_resolution, o.progress_done, "
        "o.progress_total, o.error, o.created_at, o.started_at, o.completed_at, o.requested_by, "
        "o.result #>> '{github_integration,pull_request_url}' AS pull_request_url, "
        "o.result #>> '{github_integration,commit_sha}' AS commit_sha, "
        "o.result #>> '{statistics,resources_created}' AS created, "
        "o.result #>> '{statistics,resources_updated}' AS updated, "
        "o.result #>> '{statistics,resources_deleted}' AS deleted, "
        "o.result #>> '{statistics,conflicts_detected}' AS conflicts_detected, "
        "o.result #>> '{github_integration,api_calls_made}' AS api_calls"
    )
    active = [
        dict(r)
        for r in await conn.fetch(
            f"SELECT {operation_columns} FROM sync_operation o JOIN fabric f ON f.id = o.fabric_id "
            f"WHERE o.status NOT IN ('completed', 'failed', 'cancelled') ORDER BY o.created_at DESC LIMIT 100"
        )
    ]
    recent = [
        dict(r)
        for r in await conn.fetch(
            f"SELECT {operation_columns} FROM sync_operation o JOIN fabric f ON f.id = o.fabric_id "
            f"WHERE o.status IN ('completed', 'failed', 'cancelled') ORDER BY o.completed_at DESC LIMIT $1",
            LIMIT_RECENT,
        )
    ]
    conflicts = [
        dict(r)
        for r in await conn.fetch(
            "SELECT c.id, f.name AS fabric, r.kind, r.name, c.type, c.severity, c.field_path, "
            "c.base_value::text AS base_value, c.gui_value::text AS gui_value, c.git_value::text AS git_value, "
            "c.message, c.detected_at, p.number AS pr_number, p.html_url AS pr_url "
            "FROM conflict c JOIN fabric f ON f.id = c.fabric_id LEFT JOIN resource r ON r.id = c.resource_id "
            "LEFT JOIN pull_request p ON p.id = coalesce(c.pull_request_id, r.pull_request_id) "
            "WHERE c.status = 'open' ORDER BY c.detected_at DESC, c.id DESC LIMIT $1",
            LIMIT_CONFLICTS,
        )
    ]
    open_conflicts = sum(f["conflicts"] for f in fabrics)
    drifted = [
        dict(r)
        for r in await conn.fetch(
            "SELECT f.name AS fabric, r.kind, r.name, r.actual_reported_at FROM resource r "
            "JOIN fabric f ON f.id = r.fabric_id WHERE r.actual_spec IS NOT NULL AND r.desired_spec IS NOT NULL "
            "AND r.actual_spec <> r.desired_spec ORDER BY f.name, r.kind, r.name LIMIT $1",
            LIMIT_DRIFT,
        )
    ]
    queue = dict(
        returned_row(
            await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE status = 'queued') AS queued, "
                "count(*) FILTER (WHERE status = 'running') AS running, "
                "count(*) FILTER (WHERE status = 'dead') AS dead FROM job "
                "WHERE status IN ('queued', 'running', 'dead')"
            )
        )
    )
    queue["pending_deliveries"] = await conn.fetchval("SELECT count(*) FROM webhook_delivery WHERE outcome = 'pending'")
    return {
        "fabrics": fabrics,
        "active": active,
        "recent": recent,
        "conflicts": conflicts,
        "open_conflicts": open_conflicts,
        "drifted": drifted,
        "queue": queue,
        "now": datetime.now(UTC),
    }


# --- rendering ------------------------------------------------------------------------------


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return '<span class="empty">never</span>'
    seconds = max(0, int((now - value).total_seconds()))
    if seconds < 60:
        ago = f"{seconds} s ago"
    elif seconds < 3600:
        ago = f"{seconds // 60} min ago"
    elif seconds < 86400:
        ago = f"{seconds // 3600} h ago"
    else:
        ago = f"{seconds // 86400} d ago"
    stamp = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return f'<time datetime="{e(value.isoformat())}" title="{e(stamp)}">{e(ago)}</time>'


def _link(url: str | None, text: str) -> str:
    """A link only for http(s) URLs (never javascript: and friends), else plain text."""
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
        return f'<a href="{e(url)}" rel="noopener noreferrer">{e(text)}</a>'
    return e(text)


def _badge(kind: str, value: str, text: str | None = None) -> str:
    return f'<span class="state {e(kind)}-{e(value)}">{e(text if text is not None else value)}</span>'


def _value(raw: str | None) -> str:
    if raw is None:
        return '<span class="empty">absent</span>'
    try:
        text = json.dumps(json.loads(raw), sort_keys=True)
    except ValueError:
        text = raw
    if len(text) > 80:
        text = text[:77] + "..."
    return f"<code>{e(text)}</code>"


def _table(headers: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{e(empty)}</p>'
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(cell if cell.startswith("<td") else f"<td>{cell}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _num(value: Any) -> str:
    return f'<td class="num">{e(value if value is not None else "-")}</td>'


def _operation_summary(op: dict) -> str:
    parts = [
        f"{label} {op[key]}"
        for key, label in (
            ("created", "created"),
            ("updated", "updated"),
            ("deleted", "deleted"),
            ("conflicts_detected", "conflicts"),
        )
        if op.get(key) not in (None, "0")
    ]
    text = e(", ".join(parts)) if parts else '<span class="empty">no changes</span>'
    if op.get("error"):
        text += f'<br><span class="error">{e(op["error"][:300])}</span>'
    return text


def _progress(op: dict) -> str:
    done, total = op.get("progress_done") or 0, op.get("progress_total") or 0
    if not total:
        return '<span class="empty">starting</span>'
    return f'<progress max="{e(total)}" value="{e(done)}"></progress> {e(done)}/{e(total)}'


def _no_drift(unreported: int) -> str:
    """What an empty drift table means: agreement only when every resource was reported."""
    if unreported:
        return (
            f"No drift among the reported resources; {unreported} resource(s) have no reported actual state "
            "(not reported: not known to agree)."
        )
    return "The running fabrics agree with the desired state."


def render(data: dict[str, Any]) -> str:
    now: datetime = data["now"]
    fabrics = data["fabrics"]
    total_resources = sum(sum(f["states"].values()) for f in fabrics)
    drift_total = sum(f["drifted"] for f in fabrics)
    unreported = sum(f["unreported"] for f in fabrics)
    queue = data["queue"]
    cards = [
        (len(fabrics), "fabrics"),
        (total_resources, "resources"),
        (len(data["active"]), "active operations"),
        (data["open_conflicts"], "open conflicts"),
        (drift_total, "drifted resources"),
        (queue["queued"] + queue["running"], "jobs queued or running"),
        (queue["dead"], "dead jobs"),
    ]
    summary = "".join(
        f'<div class="card" data-metric="{e(label)}"><b>{e(n)}</b><span>{e(label)}</span></div>' for n, label in cards
    )

    fabric_rows = []
    for f in fabrics:
        counts = " ".join(_badge("state", s, f"{s} {f['states'][s]}") for s in RESOURCE_STATES if f["states"].get(s))
        prs = ", ".join(_link(p["html_url"], f"#{p['number']}") for p in f["pull_requests"] if p["number"])
        sha = f["last_ingested_sha"]
        detail = f'<br><span class="empty">{e(f["status_detail"])}</span>' if f.get("status_detail") else ""
        fabric_rows.append(
            [
                f"<b>{e(f['name'])}</b>",
                f"{e(f['repository'])}<br><code>{e(f['branch'])}</code> /{e(f['directory'])}",
                (f"<code>{e(sha[:10])}</code> " if sha else "") + _when(f["last_ingested_at"], now),
                _badge("conn", f["connection_status"]) + detail,
                counts or '<span class="empty">no resources</span>',
                _num(f["drifted"]),
                _num(f["conflicts"]),
                prs or '<span class="empty">none</span>',
            ]
        )
    active_rows = [
        [
            e(op["fabric"]),
            f"<code>{e(str(op['id'])[:8])}</code>",
            e(op["direction"]),
            e(op["trigger"]),
            _badge("status", "running", op["status"]),
            _progress(op),
            _when(op["started_at"] or op["created_at"], now),
        ]
        for op in data["active"]
    ]
    recent_rows = []
    for op in data["recent"]:
        took = (op["completed_at"] - (op["started_at"] or op["created_at"])).total_seconds()
        recent_rows.append(
            [
                e(op["fabric"]),
                f"<code>{e(str(op['id'])[:8])}</code>",
                e(op["direction"]),
                e(op["trigger"]),
                _badge("status", op["status"]),
                _when(op["completed_at"], now),
                _num(f"{took:.1f} s"),
                _num(op.get("api_calls")),
                _operation_summary(op),
                _link(op.get("pull_request_url"), "pull request") if op.get("pull_request_url") else "",
            ]
        )
    conflict_rows = [
        [
            e(c["fabric"]),
            e(f"{c['kind']}/{c['name']}" if c["kind"] else "-"),
            e(c["type"]),
            _badge("sev", c["severity"]),
            f"<code>{e(c['field_path'] or '-')}</code>",
            _value(c["base_value"]),
            _value(c["gui_value"]),
            _value(c["git_value"]),
            _link(c["pr_url"], f"#{c['pr_number']}") if c["pr_number"] else '<span class="empty">none</span>',
            _when(c["detected_at"], now),
        ]
        for c in data["conflicts"]
    ]
    drift_rows = [
        [e(d["fabric"]), e(d["kind"]), e(d["name"]), _when(d["actual_reported_at"], now)] for d in data["drifted"]
    ]

    def section(title: str, count: int, content: str, anchor: str) -> str:
        return f'<section id="{anchor}"><h2>{e(title)} <span class="count">({e(count)})</span></h2>{content}</section>'

    body = (
        f'<header><h1>hnp-gitops</h1><span class="meta">version {e(__version__)} · '
        f"{e(now.strftime('%Y-%m-%d %H:%M:%SZ'))} · refreshes every {REFRESH_SECONDS} s · "
        f"{e(queue['pending_deliveries'])} webhook deliveries pending</span>"
        f'<form method="post" action="/logout"><button type="submit">Sign out</button></form></header><main>'
        f'<div class="summary">{summary}</div>'
        + section(
            "Fabrics",
            len(fabrics),
            _table(
                [
                    "fabric",
                    "repository / branch",
                    "last ingested",
                    "connection",
                    "resources by state",
                    "drifted",
                    "conflicts",
                    "open PRs",
                ],
                fabric_rows,
                "No fabrics yet: add one with `hnp-gitops fabric add`.",
            ),
            "fabrics",
        )
        + section(
            "Active operations",
            len(active_rows),
            _table(
                ["fabric", "operation", "direction", "trigger", "status", "progress", "started"],
                active_rows,
                "Nothing is running.",
            ),
            "active",
        )
        + section(
            "Open conflicts",
            data["open_conflicts"],
            _table(
                ["fabric", "resource", "type", "severity", "field", "base", "GUI", "Git", "pull request", "detected"],
                conflict_rows,
                "No open conflicts.",
            ),
            "conflicts",
        )
        + section(
            "Drift",
            drift_total,
            _table(["fabric", "kind", "name", "reported"], drift_rows, _no_drift(unreported))
            + (
                f'<p class="empty" data-metric="not reported">{e(unreported)} resource(s) have no reported actual '
                "state: not known to agree.</p>"
                if unreported and drift_rows
                else ""
            ),
            "drift",
        )
        + section(
            "Recent operations",
            len(recent_rows),
            _table(
                [
                    "fabric",
                    "operation",
                    "direction",
                    "trigger",
                    "status",
                    "finished",
                    "took",
                    "API calls",
                    "result",
                    "",
                ],
                recent_rows,
                "No operation has finished yet.",
            ),
            "recent",
        )
        + "</main>"
    )
    return body


async def status(request: web.Request) -> web.Response:
    allowed = authorized(request)
    if allowed is None:
        raise web.HTTPSeeOther("/login")
    if not allowed:
        if "Authorization" in request.headers:
            return _page(
                "hnp-gitops: unauthorized",
                '<main class="login"><section><h2>Unauthorized</h2><p>The token is not right.</p></section></main>',
                status=401,
            )
        response = web.HTTPSeeOther("/login")  # an expired or stale session cookie
        response.del_cookie(COOKIE, path="/")
        raise response
    async with request.app[POOL].acquire() as conn:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            data = await gather(conn)
    return _page("hnp-gitops status", render(data), refresh=True)


def setup(app: web.Application) -> None:
    app.router.add_get("/", status)
    app.router.add_get("/login", login_get)
    app.router.add_post("/login", login_post)
    app.router.add_post("/logout", logout)
