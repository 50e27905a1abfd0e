"""Check runs: create, update, get, annotations, and list for a ref; with GitHub's limits
(50 annotations per request, 65535-character output fields, 3 actions)."""

from __future__ import annotations

from aiohttp import web

from . import events, ops, shapes
from .errors import GhError, invalid_request, missing_field, not_found, validation
from .gitobj import parse_git_date
from .model import CheckRun, Repo, now
from .rest_common import actor_of, body_json, json_response, paginate, repo_from, require_installation, sim_of
from .sim import Sim

routes = web.RouteTableDef()
DOC = "https://docs.github.com/rest/checks/runs"
STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out")
LEVELS = ("notice", "warning", "failure")
MAX_ANNOTATIONS = 50
MAX_OUTPUT = 65535
MAX_ACTIONS = 3
ACTION_LIMITS = {"label": 20, "description": 40, "identifier": 20}


def _check_len(value: object, doc: str, field: str) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise invalid_request(f"For 'properties/{field}', {value!r} is not a string.", doc)
    if len(value) > MAX_OUTPUT:
        raise invalid_request(f"Only {MAX_OUTPUT} characters are allowed; {len(value)} were supplied.", doc)
    if len(value.encode()) > MAX_OUTPUT:
        raise validation("CheckRun", doc, field=field, message=f"{field} exceeds a maximum bytesize of {MAX_OUTPUT}")


def _validate(data: dict, doc: str, creating: bool) -> None:
    if creating:
        for key in ("name", "head_sha"):
            if key not in data:
                raise missing_field(key, doc)
    if "status" in data and data["status"] not in STATUSES:
        raise invalid_request(f"For 'properties/status', \"{data['status']}\" is not a possible value.", doc)
    if "conclusion" in data and data["conclusion"] is not None and data["conclusion"] not in CONCLUSIONS:
        raise invalid_request(f"For 'properties/conclusion', \"{data['conclusion']}\" is not a possible value.", doc)
    if data.get("status") == "completed" and not data.get("conclusion"):
        raise missing_field("conclusion", doc)
    output = data.get("output")
    if output is not None:
        if not isinstance(output, dict):
            raise invalid_request("For 'properties/output', it is not an object.", doc)
        for key in ("title", "summary"):
            if key not in output:
                raise missing_field(key, doc)
        _check_len(output.get("summary"), doc, "summary")
        _check_len(output.get("text"), doc, "text")
        annotations = output.get("annotations") or []
        if len(annotations) > MAX_ANNOTATIONS:
            raise invalid_request(
                f"No more than {MAX_ANNOTATIONS} items are allowed; {len(annotations)} were supplied.", doc
            )
        for a in annotations:
            if (
                not isinstance(a, dict)
                or any(k not in a for k in ("path", "start_line", "end_line", "annotation_level", "message"))
                or a["annotation_level"] not in LEVELS
                or not isinstance(a["start_line"], int)
                or not isinstance(a["end_line"], int)
            ):
                raise validation("CheckRun", doc, code="invalid", field="annotations")
    actions = data.get("actions")
    if actions is not None:
        if len(actions) > MAX_ACTIONS:
            raise invalid_request(f"No more than {MAX_ACTIONS} items are allowed; {len(actions)} were supplied.", doc)
        for act in actions:
            for key, limit in ACTION_LIMITS.items():
                value = act.get(key) if isinstance(act, dict) else None
                if not isinstance(value, str):
                    raise missing_field(key, doc)
                if len(value) > limit:
                    raise invalid_request(f"Only {limit} characters are allowed; {len(value)} were supplied.", doc)


def _apply(run: CheckRun, data: dict) -> None:
    for key in ("name", "external_id", "details_url"):
        if key in data:
            setattr(run, key, data[key])
    if "started_at" in data:
        run.started_at = parse_git_date(data["started_at"])
    if "status" in data:
        run.status = data["status"]
    if data.get("conclusion"):
        run.conclusion = data["conclusion"]
        run.status = "completed"
    if "completed_at" in data and data["completed_at"]:
        run.completed_at = parse_git_date(data["completed_at"])
        if run.conclusion:
            run.status = "completed"
    if run.status == "completed" and run.completed_at is None:
        run.completed_at = now()
    output = data.get("output")
    if output is not None:
        run.output = {"title": output.get("title"), "summary": output.get("summary"), "text": output.get("text")}
        run.annotations += [dict(a) for a in output.get("annotations") or []]
    if "actions" in data:
        run.actions = [dict(a) for a in data["actions"] or []]


def _sync_suite_status(sim: Sim, run: CheckRun) -> None:
    suite = sim.state.check_suites[run.suite_id]
    runs = [r for r in sim.state.check_runs.values() if r.suite_id == suite.id]
    if any(r.status != "completed" for r in runs):
        suite.status = "in_progress" if any(r.status == "in_progress" for r in runs) else "queued"
        suite.conclusion = None
        suite.updated_at = now()


@routes.post("/repos/{owner}/{repo}/check-runs")
async def create_check_run(request: web.Request) -> web.Response:
    doc = f"{DOC}#create-a-check-run"
    repo = repo_from(request, "checks", 2, doc)
    installation = require_installation(request, doc)
    sim = sim_of(request)
    data = await body_json(request)
    _validate(data, doc, creating=True)
    if await repo.git.object_type(data["head_sha"]) != "commit":
        raise GhError(422, f"No commit found for SHA: {data['head_sha']}", doc)
    app = installation.app
    branch = next((p.head_ref for p in sim.pulls_for_sha(repo, data["head_sha"])), None)
    suite, _ = sim.suite_for(repo, app, data["head_sha"], branch)
    run = CheckRun(sim.state.next_id("check_run"), repo.id, app.id, suite.id, data["name"], data["head_sha"])
    _apply(run, data)
    sim.state.check_runs[run.id] = run
    _sync_suite_status(sim, run)
    actor = actor_of(request)
    events.check_run(sim, repo, run, "created", actor)
    await ops.complete_check_run_effects(sim, repo, run, False, actor)
    out = sim.check_run_json(repo, run)
    return json_response(out, status=201, headers={"Location": out["url"]})


def _run(request: web.Request, repo: Repo, doc: str) -> CheckRun:
    try:
        run = sim_of(request).state.check_runs.get(int(request.match_info["check_run_id"]))
    except ValueError:
        run = None
    if run is None or run.repo_id != repo.id:
        raise not_found(doc)
    return run


@routes.patch("/repos/{owner}/{repo}/check-runs/{check_run_id}")
async def update_check_run(request: web.Request) -> web.Response:
    doc = f"{DOC}#update-a-check-run"
    repo = repo_from(request, "checks", 2, doc)
    app = require_installation(request, doc).app
    sim = sim_of(request)
    run = _run(request, repo, doc)
    if run.app_id != app.id:
        raise GhError(
            403, f"Invalid app_id `{app.id}` - check run can only be modified by the GitHub App that created it.", doc
        )
    data = await body_json(request)
    _validate(data, doc, creating=False)
    was_completed = run.status == "completed"
    _apply(run, data)
    _sync_suite_status(sim, run)
    await ops.complete_check_run_effects(sim, repo, run, was_completed, actor_of(request))
    return json_response(sim.check_run_json(repo, run))


@routes.get("/repos/{owner}/{repo}/check-runs/{check_run_id}")
async def get_check_run(request: web.Request) -> web.Response:
    doc = f"{DOC}#get-a-check-run"
    repo = repo_from(request, "checks", 1, doc)
    return json_response(sim_of(request).check_run_json(repo, _run(request, repo, doc)))


@routes.get("/repos/{owner}/{repo}/check-runs/{check_run_id}/annotations")
async def list_annotations(request: web.Request) -> web.Response:
    doc = f"{DOC}#list-check-run-annotations"
    repo = repo_from(request, "checks", 1, doc)
    run = _run(request, repo, doc)
    base = sim_of(request).base_url
    page, headers = paginate(request, run.annotations)
    return json_response([shapes.annotation(base, repo, run, a) for a in page], headers=headers)


@routes.get("/repos/{owner}/{repo}/commits/{ref:.+}/check-runs")
async def list_for_ref(request: web.Request) -> web.Response:
    doc = f"{DOC}#list-check-runs-for-a-git-reference"
    repo = repo_from(request, "checks", 1, doc)
    sim = sim_of(request)
    sha = await repo.git.resolve_commit(request.match_info["ref"])
    if sha is None:
        raise validation("CheckRun", doc, message=f"No commit found for SHA: {request.match_info['ref']}")
    q = request.query
    runs = [r for r in sim.state.check_runs.values() if r.repo_id == repo.id and r.head_sha == sha]
    if q.get("check_name"):
        runs = [r for r in runs if r.name == q["check_name"]]
    if q.get("status"):
        runs = [r for r in runs if r.status == q["status"]]
    if q.get("app_id"):
        runs = [r for r in runs if str(r.app_id) == q["app_id"]]
    runs.sort(key=lambda r: r.id, reverse=True)
    if q.get("filter", "latest") == "latest":  # newest run per (app, name)
        seen, latest = set(), []
        for r in runs:
            if (r.app_id, r.name) not in seen:
                seen.add((r.app_id, r.name))
                latest.append(r)
        runs = latest
    page, headers = paginate(request, runs)
    return json_response(
        {"total_count": len(runs), "check_runs": [sim.check_run_json(repo, r) for r in page]}, headers=headers
    )


@routes.get("/repos/{owner}/{repo}/commits/{ref:.+}/check-suites")
async def list_suites_for_ref(request: web.Request) -> web.Response:
    doc = "https://docs.github.com/rest/checks/suites#list-check-suites-for-a-git-reference"
    repo = repo_from(request, "checks", 1, doc)
    sim = sim_of(request)
    sha = await repo.git.resolve_commit(request.match_info["ref"])
    if sha is None:
        raise validation("CheckSuite", doc, message=f"No commit found for SHA: {request.match_info['ref']}")
    q = request.query
    suites = [s for s in sim.state.check_suites.values() if s.repo_id == repo.id and s.head_sha == sha]
    if q.get("app_id"):
        suites = [s for s in suites if str(s.app_id) == q["app_id"]]
    if q.get("check_name"):
        named = {r.suite_id for r in sim.state.check_runs.values() if r.name == q["check_name"]}
        suites = [s for s in suites if s.id in named]
    suites.sort(key=lambda s: s.id)
    page, headers = paginate(request, suites)
    return json_response(
        {"total_count": len(suites), "check_suites": [await sim.check_suite_json(repo, s) for s in page]},
        headers=headers,
    )


@routes.get("/repos/{owner}/{repo}/check-suites/{check_suite_id}")
async def get_check_suite(request: web.Request) -> web.Response:
    doc = "https://docs.github.com/rest/checks/suites#get-a-check-suite"
    repo = repo_from(request, "checks", 1, doc)
    sim = sim_of(request)
    try:
        suite = sim.state.check_suites.get(int(request.match_info["check_suite_id"]))
    except ValueError:
        suite = None
    if suite is None or suite.repo_id != repo.id:
        raise not_found(doc)
    out = await sim.check_suite_json(repo, suite)
    out["repository"] = shapes.repository(sim.base_url, repo)
    return json_response(out)
