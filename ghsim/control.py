"""The control API under /_ghsim/: set up apps, repositories, installations and users;
read the request log and webhook deliveries; inject faults; set rate limits; and act as
a person on github.com (press a check-run button, comment, merge or close a PR)."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp.typedefs import Handler

from . import events, ops, shapes
from .auth import person_level
from .errors import GhError
from .model import Account, Pull, Repo, iso
from .rest_common import SIM_KEY, dumps
from .sim import SetupError, Sim

routes = web.RouteTableDef()


def _sim(request: web.Request) -> Sim:
    return request.app[SIM_KEY]


def _ok(data: object, status: int = 200) -> web.Response:
    return web.Response(body=dumps(data), status=status, content_type="application/json")


def _error(message: str, status: int = 400) -> web.Response:
    return _ok({"error": message}, status)


async def control_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Control-API failures answer {"error": ...} instead of GitHub-shaped bodies."""
    try:
        return await handler(request)
    except SetupError as exc:
        return _error(str(exc), exc.status)
    except GhError as exc:
        return _ok({"error": exc.message, **exc.body()}, exc.status)
    except (KeyError, ValueError, TypeError) as exc:
        return _error(f"bad request: {exc!r}")


async def _body(request: web.Request) -> dict:
    raw = await request.read()
    return json.loads(raw) if raw.strip() else {}


@routes.get("/_ghsim/health")
async def health(request: web.Request) -> web.Response:
    sim = _sim(request)
    return _ok({"ok": True, "base_url": sim.base_url, "data_dir": sim.data_dir})


# -- setup ----------------------------------------------------------------------------------
@routes.post("/_ghsim/apps")
async def create_app(request: web.Request) -> web.Response:
    d = await _body(request)
    app = _sim(request).create_app(
        d.get("webhook_url"),
        d.get("webhook_secret", ""),
        name=d.get("name"),
        owner=d.get("owner"),
        permissions=d.get("permissions"),
        events_=d.get("events"),
    )
    return _ok(
        {
            "id": app.id,
            "slug": app.slug,
            "name": app.name,
            "private_key": app.private_key_pem,
            "client_id": app.client_id,
            "bot_login": app.bot.login,
            "bot_id": app.bot.id,
            "webhook_url": app.webhook_url,
            "permissions": app.permissions,
            "events": app.events,
        },
        201,
    )


@routes.patch("/_ghsim/apps/{app_id}")
async def update_app(request: web.Request) -> web.Response:
    d = await _body(request)
    sim = _sim(request)
    app = sim._app(int(request.match_info["app_id"]))
    sim.set_webhook(app.id, d.get("webhook_url", app.webhook_url), d.get("webhook_secret"))
    return _ok({"id": app.id, "webhook_url": app.webhook_url})


@routes.post("/_ghsim/repos")
async def create_repo(request: web.Request) -> web.Response:
    d = await _body(request)
    sim = _sim(request)
    repo = await sim.create_repo(
        d["owner"],
        d["name"],
        default_branch=d.get("default_branch", "main"),
        private=d.get("private", True),
        auto_init=d.get("auto_init", True),
        files=d.get("files"),
        owner_type=d.get("owner_type"),
        description=d.get("description"),
    )
    return _ok(shapes.full_repository(sim.base_url, repo, None), 201)


@routes.post("/_ghsim/installations")
async def create_installation(request: web.Request) -> web.Response:
    d = await _body(request)
    inst = _sim(request).create_installation(
        int(d["app_id"]),
        d["account"],
        d.get("repositories", []),
        permissions=d.get("permissions"),
        events_=d.get("events"),
    )
    return _ok({"id": inst.id, "account": inst.account.login, "app_id": inst.app.id}, 201)


@routes.delete("/_ghsim/installations/{inst_id}")
async def delete_installation(request: web.Request) -> web.Response:
    _sim(request).delete_installation(int(request.match_info["inst_id"]))
    return web.Response(status=204)


@routes.post("/_ghsim/installations/{inst_id}/repositories")
async def installation_repos(request: web.Request) -> web.Response:
    d = await _body(request)
    inst = _sim(request).change_installation_repos(
        int(request.match_info["inst_id"]), d.get("add", []), d.get("remove", [])
    )
    return _ok({"id": inst.id, "repositories": [_sim(request).state.repos_by_id[r].full_name for r in inst.repo_ids]})


@routes.post("/_ghsim/installations/{inst_id}/token")
async def installation_token(request: web.Request) -> web.Response:
    """A token without the JWT dance, for tests and scripts that act as the app."""
    sim = _sim(request)
    inst = sim.state.installations.get(int(request.match_info["inst_id"]))
    if inst is None:
        raise SetupError("installation not found", 404)
    token, expires = sim.installation_token(inst)
    return _ok({"token": token, "expires_at": iso(expires)}, 201)


@routes.post("/_ghsim/users")
async def create_user(request: web.Request) -> web.Response:
    d = await _body(request)
    user = _sim(request).create_user(
        d["login"], d.get("permission", "write"), d.get("repositories", []), email=d.get("email")
    )
    return _ok(
        {"login": user.account.login, "id": user.account.id, "token": user.token, "email": user.account.email}, 201
    )


# -- observation ----------------------------------------------------------------------------
@routes.get("/_ghsim/requests")
async def list_requests(request: web.Request) -> web.Response:
    sim = _sim(request)
    include_git = request.query.get("include") == "git"
    since = int(request.query.get("since", 0))
    lines = [
        json.dumps(r, separators=(",", ":"))
        for r in sim.requests
        if r["seq"] > since and (include_git or r["kind"] == "rest")
    ]
    return web.Response(text="".join(line + "\n" for line in lines), content_type="application/x-ndjson")


@routes.delete("/_ghsim/requests")
async def clear_requests(request: web.Request) -> web.Response:
    _sim(request).requests.clear()
    return web.Response(status=204)


@routes.get("/_ghsim/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    sim = _sim(request)
    q = request.query
    if q.get("wait_idle") not in (None, "", "0", "false"):
        if not await sim.deliverer.wait_idle(float(q.get("timeout", 30))):
            return _error(f"deliveries still pending after {q.get('timeout', 30)}s", 504)
    items = sim.deliverer.list(int(q["app_id"]) if q.get("app_id") else None, q.get("event"), int(q.get("since", 0)))
    return _ok([d.describe(with_payload=q.get("payload", "1") != "0") for d in items])


@routes.get("/_ghsim/deliveries/idle")
async def deliveries_idle(request: web.Request) -> web.Response:
    sim = _sim(request)
    idle = await sim.deliverer.wait_idle(float(request.query.get("timeout", 30)))
    return _ok({"idle": idle, "pending": sim.deliverer.pending}, 200 if idle else 504)


@routes.delete("/_ghsim/deliveries")
async def clear_deliveries(request: web.Request) -> web.Response:
    _sim(request).deliverer.clear()
    return web.Response(status=204)


@routes.post("/_ghsim/deliveries/{delivery_id}/redeliver")
async def redeliver(request: web.Request) -> web.Response:
    try:
        d = _sim(request).deliverer.redeliver(int(request.match_info["delivery_id"]))
    except KeyError:
        raise SetupError("delivery not found", 404) from None
    return _ok(d.describe(with_payload=False), 202)


# -- faults and rate limits -------------------------------------------------------------------
@routes.post("/_ghsim/faults")
async def add_fault(request: web.Request) -> web.Response:
    return _ok(_sim(request).faults.add(await _body(request)), 201)


@routes.get("/_ghsim/faults")
async def list_faults(request: web.Request) -> web.Response:
    return _ok(_sim(request).faults.describe())


@routes.delete("/_ghsim/faults")
async def clear_faults(request: web.Request) -> web.Response:
    _sim(request).faults.clear()
    return web.Response(status=204)


@routes.get("/_ghsim/faults/{fault_id}/held")
async def fault_held(request: web.Request) -> web.Response:
    """Wait (at most `timeout` seconds) until a request is held by this hold fault."""
    fault = _sim(request).faults.hold_of(int(request.match_info["fault_id"]))
    if fault is None:
        raise SetupError("no hold fault with that id is waiting to be released", 404)
    try:
        async with asyncio.timeout(float(request.query.get("timeout", 30))):
            await fault.arrived.wait()
    except TimeoutError:
        return _ok(fault.describe(), 504)
    return _ok(fault.describe())


@routes.post("/_ghsim/faults/{fault_id}/release")
async def release_fault(request: web.Request) -> web.Response:
    if not _sim(request).faults.release(int(request.match_info["fault_id"])):
        raise SetupError("no hold fault with that id is waiting to be released", 404)
    return web.Response(status=204)


@routes.delete("/_ghsim/faults/{fault_id}")
async def delete_fault(request: web.Request) -> web.Response:
    if not _sim(request).faults.remove(int(request.match_info["fault_id"])):
        raise SetupError("fault not found", 404)
    return web.Response(status=204)


def _rate_key(d: dict) -> str | None:
    if d.get("installation_id") is not None:
        return f"installation:{int(d['installation_id'])}"
    if d.get("user"):
        return f"user:{d['user'].lower()}"
    if d.get("app_id") is not None:
        return f"app:{int(d['app_id'])}"
    return d.get("key")


@routes.post("/_ghsim/ratelimit")
async def set_ratelimit(request: web.Request) -> web.Response:
    d = await _body(request)
    return _ok(
        _sim(request).ratelimits.configure(
            key=_rate_key(d),
            limit=d.get("limit"),
            remaining=d.get("remaining"),
            reset_in=d.get("reset_in"),
            default_limit=d.get("default_limit"),
        )
    )


@routes.get("/_ghsim/ratelimit")
async def get_ratelimit(request: web.Request) -> web.Response:
    key = _rate_key(dict(request.query))
    sim = _sim(request)
    return _ok(sim.ratelimits.describe(key) if key else {"default_limit": sim.ratelimits.default_limit})


@routes.delete("/_ghsim/ratelimit")
async def reset_ratelimit(request: web.Request) -> web.Response:
    _sim(request).ratelimits.reset_all()
    return web.Response(status=204)


# -- a person on github.com ------------------------------------------------------------------
def _person(sim: Sim, login: str | None) -> Account:
    acct = sim.state.accounts.get((login or "").lower())
    if acct is None or acct.type == "Organization":
        raise SetupError(f"user {login!r} not found (create it with POST /_ghsim/users)", 404)
    return acct


def _repo_and_pull(request: web.Request) -> tuple[Sim, Repo, Pull]:
    sim = _sim(request)
    repo = sim.state.repo(request.match_info["owner"], request.match_info["repo"])
    if repo is None:
        raise SetupError("repository not found", 404)
    pull = sim.state.pulls[repo.id].get(int(request.match_info["number"]))
    if pull is None:
        raise SetupError("pull request not found", 404)
    return sim, repo, pull


def _require_write(sim: Sim, repo: Repo, acct: Account) -> None:
    if person_level(sim.state, repo, acct) < 2:
        raise SetupError(f"{acct.login} has no write access to {repo.full_name}", 403)


@routes.post("/_ghsim/check-runs/{run_id}/requested-action")
async def press_action(request: web.Request) -> web.Response:
    sim = _sim(request)
    d = await _body(request)
    run = sim.state.check_runs.get(int(request.match_info["run_id"]))
    if run is None:
        raise SetupError("check run not found", 404)
    acct = _person(sim, d.get("user"))
    ops.request_action(sim, sim.state.repos_by_id[run.repo_id], run, acct, d.get("identifier"))
    return _ok({"ok": True}, 202)


@routes.post("/_ghsim/check-runs/{run_id}/rerequest")
async def rerequest(request: web.Request) -> web.Response:
    sim = _sim(request)
    d = await _body(request)
    run = sim.state.check_runs.get(int(request.match_info["run_id"]))
    if run is None:
        raise SetupError("check run not found", 404)
    acct = _person(sim, d.get("user"))
    events.check_run(sim, sim.state.repos_by_id[run.repo_id], run, "rerequested", acct)
    return _ok({"ok": True}, 202)


@routes.post("/_ghsim/repos/{owner}/{repo}/pulls/{number}/comments")
async def person_comment(request: web.Request) -> web.Response:
    sim, repo, pull = _repo_and_pull(request)
    d = await _body(request)
    acct = _person(sim, d.get("user"))
    c = ops.add_comment(sim, repo, pull, acct, d["body"])
    return _ok(shapes.comment(sim.base_url, repo, c), 201)


@routes.post("/_ghsim/repos/{owner}/{repo}/pulls/{number}/merge")
async def person_merge(request: web.Request) -> web.Response:
    sim, repo, pull = _repo_and_pull(request)
    d = await _body(request)
    acct = _person(sim, d.get("user"))
    _require_write(sim, repo, acct)
    sha = await ops.merge_pull(
        sim,
        repo,
        pull,
        acct,
        method=d.get("merge_method", "merge"),
        sha=d.get("sha"),
        title=d.get("commit_title"),
        message=d.get("commit_message"),
    )
    return _ok({"sha": sha, "merged": True})


@routes.post("/_ghsim/repos/{owner}/{repo}/pulls/{number}/close")
async def person_close(request: web.Request) -> web.Response:
    sim, repo, pull = _repo_and_pull(request)
    acct = _person(sim, (await _body(request)).get("user"))
    _require_write(sim, repo, acct)
    await ops.close_pull(sim, repo, pull, acct)
    return _ok({"state": pull.state})


@routes.post("/_ghsim/repos/{owner}/{repo}/pulls/{number}/reopen")
async def person_reopen(request: web.Request) -> web.Response:
    sim, repo, pull = _repo_and_pull(request)
    acct = _person(sim, (await _body(request)).get("user"))
    _require_write(sim, repo, acct)
    await ops.reopen_pull(sim, repo, pull, acct)
    return _ok({"state": pull.state})


@routes.post("/_ghsim/repos/{owner}/{repo}/pulls/{number}/mergeability")
async def compute_mergeability(request: web.Request) -> web.Response:
    """Let GitHub's background mergeability job finish now; answers what GET would show."""
    sim, repo, pull = _repo_and_pull(request)
    await sim.compute_mergeability(repo, pull)
    mergeable, state = await sim.mergeability(repo, pull)
    return _ok({"mergeable": mergeable, "mergeable_state": state})
