"""github.com's pages, for what a reviewer does: sign in, look at a file at a ref, a commit, a
pull request (description, commits, check runs with their annotations and buttons, the diff of
its files, comments, the merge button) and a check run; and the form that registers an app
from a manifest. Server-rendered from Jinja2 templates (ghsim/templates, autoescaped).

A person signs in with their emulator user token (POST /_ghsim/users), kept in an HttpOnly
cookie. Buttons post forms carrying a token derived from the session, so another site cannot
press them. Pressing a check-run button and merging go through the same code as the control
API, so the webhooks are exactly those of GitHub's buttons.

Markdown (descriptions, comments, check-run summaries) is rendered with markdown-it-py:
CommonMark plus GitHub's tables and strikethrough. Raw HTML is not passed through (GitHub
sanitises it); HTML comments, which GitHub hides, are dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import urlencode, urlsplit

import jinja2
from aiohttp import web
from markdown_it import MarkdownIt
from markupsafe import Markup

from . import ops
from .auth import Identity, can_see, identity_from_token, person_level
from .errors import GhError
from .gitobj import MODE_TREE
from .gitrepo import FileChange
from .model import Account, CheckRun, Pull, Repo, User, iso
from .rest_common import SIM_KEY
from .sim import Sim

routes = web.RouteTableDef()
SESSION_COOKIE = "user_session"
CSRF_FIELD = "authenticity_token"
EXCERPT_CONTEXT = 2  # lines shown around an annotation outside the diff
# Paths that are pages, not REST: the sign-in form, a repository's pages and the app form.
PAGE_PATH = re.compile(
    r"^/$|^/(login|logout|(organizations/[^/]+/)?settings/apps/new(/confirm)?)$"
    r"|^/(?!repos/|app/|app-manifests/|installation/|_ghsim/|_codeload/)[^/]+/[^/]+/(pull|runs|blob|tree|commit)/"
)

_markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_html_comment = re.compile(r"<!--.*?-->", re.S)
_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("ghsim", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)


def render_markdown(text: str | None) -> Markup:
    """GitHub-flavoured Markdown as safe HTML (no raw HTML; HTML comments hidden)."""
    return Markup(_markdown.render(_html_comment.sub("", text or "")))


_templates.filters["markdown"] = render_markdown


def is_page(path: str) -> bool:
    return bool(PAGE_PATH.match(path))


# -- diffs -----------------------------------------------------------------------------------
@dataclass
class DiffLine:
    kind: str  # "hunk", "context", "add" or "del"
    text: str
    old: int | None = None
    new: int | None = None
    annotations: list[dict] = field(default_factory=list)


_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def diff_lines(patch: str | None) -> list[DiffLine]:
    """A unified-diff patch as rows with their old and new line numbers."""
    rows: list[DiffLine] = []
    old = new = 0
    for line in (patch or "").splitlines():
        hunk = _HUNK.match(line)
        if hunk:
            old, new = int(hunk.group(1)), int(hunk.group(2))
            rows.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            rows.append(DiffLine("add", line[1:], new=new))
            new += 1
        elif line.startswith("-"):
            rows.append(DiffLine("del", line[1:], old=old))
            old += 1
        elif line.startswith("\\"):  # "\ No newline at end of file"
            continue
        else:
            rows.append(DiffLine("context", line[1:], old=old, new=new))
            old, new = old + 1, new + 1
    return rows


def place_annotations(rows: list[DiffLine], annotations: list[dict]) -> list[dict]:
    """Attach each annotation to the new-side row of its end line; returns those not in the diff."""
    by_line = {row.new: row for row in rows if row.new is not None}
    left = []
    for a in annotations:
        row = by_line.get(a["end_line"]) or by_line.get(a["start_line"])
        if row is None:
            left.append(a)
        else:
            row.annotations.append(a)
    return left


# -- sessions --------------------------------------------------------------------------------
_SECRET = web.AppKey("ghsim_web_secret", bytes)


def _sim(request: web.Request) -> Sim:
    return request.app[SIM_KEY]


def _user(request: web.Request) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        ident = identity_from_token(_sim(request).state, token)
    except GhError:
        return None
    return ident.user


def _csrf(request: web.Request, user: User) -> str:
    return hmac.new(request.app[_SECRET], user.token.encode(), hashlib.sha256).hexdigest()


def _local(path: str | None) -> str:
    """A return address on this site only (never //elsewhere or http://elsewhere)."""
    if not path or not path.startswith("/") or path.startswith("//") or urlsplit(path).netloc:
        return "/"
    return path


def _page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    user = context.pop("user", None)
    body = _templates.get_template(template).render(
        user=user,
        csrf=_csrf(request, user) if user else "",
        csrf_field=CSRF_FIELD,
        base=_sim(request).base_url,
        **context,
    )
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def _not_found(request: web.Request, user: User | None) -> web.Response:
    return _page(request, "not_found.html", status=404, user=user)


def _sign_in_first(request: web.Request) -> NoReturn:
    raise web.HTTPFound("/login?" + urlencode({"return_to": request.path_qs}))


def _signed_in_user(request: web.Request) -> User:
    """The signed-in person; anyone else is sent to sign in first (and back here after)."""
    user = _user(request)
    if user is None:
        _sign_in_first(request)
    return user


async def _form(request: web.Request, user: User) -> dict[str, str]:
    """The posted form, once its token shows it came from our own page."""
    form = {k: str(v) for k, v in (await request.post()).items()}
    if not hmac.compare_digest(form.get(CSRF_FIELD, ""), _csrf(request, user)):
        raise web.HTTPForbidden(text="The form is out of date or did not come from this site; reload the page.")
    return form


def _check_run(request: web.Request, repo: Repo | None) -> CheckRun | None:
    """The check run named in the path, if it belongs to `repo`."""
    run_id = request.match_info["run_id"]
    run = _sim(request).state.check_runs.get(int(run_id)) if run_id.isdigit() else None
    return run if repo is not None and run is not None and run.repo_id == repo.id else None


def _repo(request: web.Request, user: User | None) -> Repo | None:
    """The repository named in the path, if the signed-in person may see it."""
    repo = _sim(request).state.repo(request.match_info["owner"], request.match_info["repo"])
    if repo is None or user is None or not can_see(Identity("user", user=user), repo):
        return None
    return repo


# -- sign in ---------------------------------------------------------------------------------
@routes.get("/login")
async def login_form(request: web.Request) -> web.Response:
    return _page(request, "login.html", return_to=_local(request.query.get("return_to")), error=None, hidden={})


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    return_to = _local(str(form.get("return_to", "/")))
    token = str(form.get("token", "")).strip()
    tok = _sim(request).state.tokens.get(token)
    if tok is None or tok.kind != "user" or tok.expired():
        return _page(
            request, "login.html", status=401, return_to=return_to, error="That token is not right.", hidden={}
        )
    response = web.HTTPFound(return_to)
    _set_session(response, token)
    raise response


def _set_session(response: web.StreamResponse, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Lax", path="/")


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    response = web.HTTPFound("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


# -- home ------------------------------------------------------------------------------------
@routes.get("/")
async def home(request: web.Request) -> web.Response:
    """The repositories the signed-in person can see, with their open pull requests."""
    user = _signed_in_user(request)
    sim = _sim(request)
    ident = Identity("user", user=user)
    repos = sorted((r for r in sim.state.repos_by_id.values() if can_see(ident, r)), key=lambda r: r.full_name.lower())
    listed = [
        {
            "repo": r,
            "pulls": sorted((p for p in sim.state.pulls[r.id].values() if p.state == "open"), key=lambda p: p.number),
        }
        for r in repos
    ]
    return _page(request, "home.html", user=user, repositories=listed)


# -- files and commits -----------------------------------------------------------------------
async def _split_ref(repo: Repo, ref_and_path: str) -> tuple[str, str, str] | None:
    """(ref, commit sha, path) from `main/fabrics/lab/vpcs.yaml`; refs may hold slashes."""
    parts = ref_and_path.split("/")
    for cut in range(len(parts), 0, -1):
        ref = "/".join(parts[:cut])
        sha = await repo.git.resolve_commit(ref)
        if sha:
            return ref, sha, "/".join(parts[cut:])
    return None


@routes.get("/{owner}/{repo}/blob/{rest:.+}")
@routes.get("/{owner}/{repo}/tree/{rest:.+}")
async def file_at_ref(request: web.Request) -> web.Response:
    user = _signed_in_user(request)
    repo = _repo(request, user)
    found = await _split_ref(repo, request.match_info["rest"]) if repo else None
    if repo is None or found is None:
        return _not_found(request, user)
    ref, sha, path = found
    entry = await repo.git.lookup_path(sha, path)
    if entry is None:
        return _not_found(request, user)
    if entry.mode == MODE_TREE:
        children = sorted(await repo.git.read_tree(entry.sha) or [], key=lambda e: (e.mode != MODE_TREE, e.name))
        return _page(
            request,
            "tree.html",
            user=user,
            repo=repo,
            ref=ref,
            path=path,
            entries=[{"name": c.name, "directory": c.mode == MODE_TREE} for c in children],
        )
    _, data = await repo.git.read(entry.sha) or ("blob", b"")
    text = data.decode("utf-8", "replace")
    return _page(request, "blob.html", user=user, repo=repo, ref=ref, sha=sha, path=path, lines=text.splitlines())


@routes.get("/{owner}/{repo}/commit/{sha}")
async def commit_page(request: web.Request) -> web.Response:
    user = _signed_in_user(request)
    repo = _repo(request, user)
    sha = await repo.git.resolve_commit(request.match_info["sha"]) if repo else None
    if repo is None or sha is None:
        return _not_found(request, user)
    commit = await repo.git.read_commit(sha)
    if commit is None:
        return _not_found(request, user)
    parent = commit.parents[0] if commit.parents else await repo.git.write_object("tree", b"")
    files = [_file_view(c, []) for c in await repo.git.diff(parent, sha)]
    return _page(request, "commit.html", user=user, repo=repo, sha=sha, commit=commit, files=files, sha_for_links=sha)


def _file_view(change: FileChange, annotations: list[dict]) -> dict:
    rows = diff_lines(change.patch)
    left = place_annotations(rows, [a for a in annotations if a["path"] == change.filename])
    return {"change": change, "rows": rows, "unplaced": left}


# -- check runs -------------------------------------------------------------------------------
def _latest_runs(sim: Sim, repo: Repo, sha: str) -> list[CheckRun]:
    """The newest run per (app, name) on a commit, as the PR page shows them."""
    newest: dict[tuple[int, str], CheckRun] = {}
    for run in sorted(sim.state.check_runs.values(), key=lambda r: r.id):
        if run.repo_id == repo.id and run.head_sha == sha:
            newest[(run.app_id, run.name)] = run
    return sorted(newest.values(), key=lambda r: r.name)


async def _excerpts(repo: Repo, sha: str, annotations: list[dict]) -> list[dict]:
    """Annotations outside the diff, each with the lines of its file around it."""
    out = []
    for a in annotations:
        entry = await repo.git.lookup_path(sha, a["path"])
        got = await repo.git.read(entry.sha) if entry is not None and entry.mode != MODE_TREE else None
        lines = got[1].decode("utf-8", "replace").splitlines() if got else []
        first = max(1, a["start_line"] - EXCERPT_CONTEXT)
        last = min(len(lines), a["end_line"] + EXCERPT_CONTEXT)
        shown = [(n, lines[n - 1]) for n in range(first, last + 1)]
        out.append({"annotation": a, "lines": shown})
    return out


def _run_view(sim: Sim, run: CheckRun) -> dict:
    app = sim.state.apps[run.app_id]
    return {"run": run, "app": app}


@routes.get("/{owner}/{repo}/runs/{run_id}")
async def check_run_page(request: web.Request) -> web.Response:
    user = _signed_in_user(request)
    sim = _sim(request)
    repo = _repo(request, user)
    run = _check_run(request, repo)
    if repo is None or run is None:
        return _not_found(request, user)
    pulls = sim.pulls_for_sha(repo, run.head_sha)
    return _page(
        request,
        "check_run.html",
        user=user,
        repo=repo,
        view=_run_view(sim, run),
        sha_for_links=run.head_sha,
        excerpts=await _excerpts(repo, run.head_sha, run.annotations),
        pulls=pulls,
        can_write=person_level(sim.state, repo, user.account) >= 2,
        return_to=request.path,
    )


@routes.post("/{owner}/{repo}/runs/{run_id}/actions")
async def press_action(request: web.Request) -> web.Response:
    user = _signed_in_user(request)
    sim = _sim(request)
    repo = _repo(request, user)
    run = _check_run(request, repo)
    if repo is None or run is None:
        return _not_found(request, user)
    form = await _form(request, user)
    if person_level(sim.state, repo, user.account) < 2:
        raise web.HTTPForbidden(text="You need write access to this repository to press this button.")
    try:
        ops.request_action(sim, repo, run, user.account, form.get("identifier"))
    except GhError as error:
        raise web.HTTPUnprocessableEntity(text=error.message) from None
    raise web.HTTPSeeOther(_local(form.get("return_to")))


# -- pull requests ----------------------------------------------------------------------------
async def _pull_page(
    request: web.Request, user: User, repo: Repo, pull: Pull, error: str | None = None, status: int = 200
) -> web.Response:
    sim = _sim(request)
    await sim.refresh_pull(repo, pull)
    base = await sim.pull_diff_base(repo, pull)
    commits = await repo.git.log([pull.head_sha], [base])
    runs = _latest_runs(sim, repo, pull.head_sha)
    annotations = [a | {"run": r} for r in runs for a in r.annotations]
    files = [_file_view(c, annotations) for c in await repo.git.diff(base, pull.head_sha)]
    unplaced = [a for f in files for a in f["unplaced"]]
    changed = {f["change"].filename for f in files}
    unplaced += [a for a in annotations if a["path"] not in changed]
    if pull.state == "open":
        await sim.compute_mergeability(repo, pull)  # the page waits for GitHub's job
        mergeable, mergeable_state = await sim.mergeability(repo, pull)
    else:
        mergeable, mergeable_state = None, "unknown"
    comments = sorted(
        (c for c in sim.state.comments.values() if c.repo_id == repo.id and c.issue_number == pull.number),
        key=lambda c: c.id,
    )
    return _page(
        request,
        "pull.html",
        status=status,
        user=user,
        repo=repo,
        pull=pull,
        sha_for_links=pull.head_sha,
        commits=commits,
        runs=[_run_view(sim, r) for r in runs],
        files=files,
        excerpts=await _excerpts(repo, pull.head_sha, unplaced),
        comments=comments,
        mergeable=mergeable,
        mergeable_state=mergeable_state,
        can_write=person_level(sim.state, repo, user.account) >= 2,
        error=error,
        return_to=request.path,
        iso=iso,
    )


def _pull(request: web.Request, repo: Repo | None) -> Pull | None:
    number = request.match_info["number"]
    if repo is None or not number.isdigit():
        return None
    return _sim(request).state.pulls[repo.id].get(int(number))


@routes.get("/{owner}/{repo}/pull/{number}")
async def pull_page(request: web.Request) -> web.Response:
    user = _signed_in_user(request)
    repo = _repo(request, user)
    pull = _pull(request, repo)
    if repo is None or pull is None:
        return _not_found(request, user)
    return await _pull_page(request, user, repo, pull)


@routes.post("/{owner}/{repo}/pull/{number}/merge")
async def merge(request: web.Request) -> web.Response:
    user = _signed_in_user(request)
    repo = _repo(request, user)
    pull = _pull(request, repo)
    if repo is None or pull is None:
        return _not_found(request, user)
    form = await _form(request, user)
    sim = _sim(request)
    if person_level(sim.state, repo, user.account) < 2:
        raise web.HTTPForbidden(text="You need write access to this repository to merge.")
    try:
        await ops.merge_pull(
            sim, repo, pull, user.account, method=form.get("merge_method", "merge"), sha=form.get("sha") or None
        )
    except GhError as error:
        return await _pull_page(request, user, repo, pull, error=error.message, status=error.status)
    raise web.HTTPSeeOther(f"/{repo.full_name}/pull/{pull.number}")


@routes.post("/{owner}/{repo}/pull/{number}/comments")
async def comment(request: web.Request) -> web.Response:
    user = _signed_in_user(request)
    repo = _repo(request, user)
    pull = _pull(request, repo)
    if repo is None or pull is None:
        return _not_found(request, user)
    form = await _form(request, user)
    body = form.get("body", "").strip()
    if body:
        ops.add_comment(_sim(request), repo, pull, user.account, body)
    raise web.HTTPSeeOther(f"/{repo.full_name}/pull/{pull.number}#comments")


# -- registering an app from a manifest -------------------------------------------------------
def _owner_from_path(request: web.Request, user: User) -> Account:
    org = request.match_info.get("org")
    return _sim(request).state.account(org, "Organization") if org else user.account


@routes.post("/settings/apps/new")
@routes.post("/organizations/{org}/settings/apps/new")
async def new_app_from_manifest(request: web.Request) -> web.Response:
    """GitHub's "new app from manifest" form: the app's site posts `manifest` (JSON) here, with
    `state` in the query; a signed-in person confirms on the page this answers."""
    form = {k: str(v) for k, v in (await request.post()).items()}
    state = request.query.get("state", form.get("state", ""))
    user = _user(request)
    hidden = {"manifest": form.get("manifest", ""), "state": state}
    if user is None and form.get("token"):  # signing in on the way, the manifest kept
        tok = _sim(request).state.tokens.get(form["token"].strip())
        if tok is not None and tok.kind == "user" and not tok.expired():
            user = _sim(request).state.users.get((tok.user_login or "").lower())
            response = await _confirm_page(request, user, form.get("manifest", ""), state)
            _set_session(response, tok.token)
            return response
    if user is None:
        return _page(
            request,
            "login.html",
            status=401 if form.get("token") else 200,
            return_to=request.path,
            error="That token is not right." if form.get("token") else None,
            hidden=hidden,
            action=request.path,
        )
    return await _confirm_page(request, user, form.get("manifest", ""), state)


def _parse_manifest(text: str) -> dict:
    try:
        manifest = json.loads(text)
    except ValueError:
        raise web.HTTPUnprocessableEntity(text="The manifest is not valid JSON.") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("url"), str):
        raise web.HTTPUnprocessableEntity(text="The manifest needs at least a url.")
    hook = manifest.get("hook_attributes")
    if hook is not None and not (isinstance(hook, dict) and isinstance(hook.get("url"), str)):
        raise web.HTTPUnprocessableEntity(text="hook_attributes needs a url.")
    return manifest


async def _confirm_page(request: web.Request, user: User | None, manifest_text: str, state: str) -> web.Response:
    if user is None:
        raise web.HTTPUnauthorized(text="Sign in first.")
    manifest = _parse_manifest(manifest_text)
    return _page(
        request,
        "new_app.html",
        user=user,
        manifest=manifest,
        manifest_text=manifest_text,
        state=state,
        owner=_owner_from_path(request, user),
        action=request.path.rstrip("/") + "/confirm",
    )


@routes.post("/settings/apps/new/confirm")
@routes.post("/organizations/{org}/settings/apps/new/confirm")
async def create_app_from_manifest(request: web.Request) -> web.Response:
    user = _signed_in_user(request)
    form = await _form(request, user)
    manifest = _parse_manifest(form.get("manifest", ""))
    sim = _sim(request)
    owner = _owner_from_path(request, user)
    hook = manifest.get("hook_attributes") or {}
    try:
        app = sim.create_app(
            hook.get("url") if hook.get("active", True) else None,
            secrets.token_hex(20),
            name=str(manifest.get("name") or "") or None,
            owner=owner.login,
            permissions=manifest.get("default_permissions"),
            events_=[
                e
                for e in manifest.get("default_events") or []
                if e not in ("installation", "installation_repositories")
            ],
        )
    except ValueError as error:
        raise web.HTTPUnprocessableEntity(text=str(error)) from None
    code = sim.issue_manifest_code(app.id)
    redirect = manifest.get("redirect_url") or manifest["url"]
    query = {"code": code} | ({"state": form["state"]} if form.get("state") else {})
    separator = "&" if urlsplit(redirect).query else "?"
    raise web.HTTPFound(redirect + separator + urlencode(query))


def setup(app: web.Application) -> None:
    app[_SECRET] = secrets.token_bytes(32)
    app.add_routes(routes)
