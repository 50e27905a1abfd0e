"""Repository endpoints: the repository, collaborator permission, commits, compare,
contents (read, create/update, delete), tarball and commit statuses."""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

from aiohttp import web

from . import gitobj, ops, shapes
from .auth import repo_level
from .errors import GhError, missing_field, not_found, validation
from .gitobj import MODE_BLOB, Person, parse_git_date
from .model import PERMISSION_LEVELS, Account, Repo, Status, iso, node_id
from .rest_common import actor_of, body_json, ident_of, json_response, link_header, page_params, repo_from, sim_of

routes = web.RouteTableDef()
DOC = "https://docs.github.com/rest/repos"
COMPARE_FILES_CAP = 300
COMPARE_COMMITS_CAP = 250
CONTENT_INLINE_LIMIT = 1024 * 1024


@routes.get("/repos/{owner}/{repo}")
async def get_repo(request: web.Request) -> web.Response:
    repo = repo_from(request, "metadata", 1, f"{DOC}/repos#get-a-repository")
    level = repo_level(ident_of(request), repo, "contents")
    perms = {"admin": level >= 3, "maintain": level >= 3, "push": level >= 2, "triage": level >= 1, "pull": level >= 1}
    return json_response(shapes.full_repository(sim_of(request).base_url, repo, perms))


@routes.get("/repos/{owner}/{repo}/collaborators/{username}/permission")
async def collaborator_permission(request: web.Request) -> web.Response:
    doc = f"{DOC}/collaborators#get-repository-permissions-for-a-user"
    repo = repo_from(request, "metadata", 1, doc)
    sim = sim_of(request)
    login = request.match_info["username"]
    acct = sim.state.accounts.get(login.lower())
    if acct is None or acct.type == "Organization":
        raise not_found(doc)
    if acct.id == repo.owner.id:
        perm = "admin"
    else:
        user = sim.state.users.get(login.lower())
        perm = user.permissions.get(repo.id, "none") if user else "none"
    level = PERMISSION_LEVELS.get(perm, 0)
    legacy = {3: "admin", 2: "write", 1: "read", 0: "none"}[level]
    role = {"admin": "admin", "maintain": "maintain", "write": "write", "triage": "triage", "read": "read"}.get(
        perm, "none"
    )
    u = shapes.user(sim.base_url, acct)
    u["permissions"] = {
        "admin": level >= 3,
        "maintain": level >= 3,
        "push": level >= 2,
        "triage": level >= 1,
        "pull": level >= 1,
    }
    u["role_name"] = role
    return json_response({"permission": legacy, "role_name": role, "user": u})


@routes.get("/repos/{owner}/{repo}/collaborators/{username}")
async def check_collaborator(request: web.Request) -> web.Response:
    """204 when the user is a collaborator (the owner or a user given a permission), else 404."""
    doc = f"{DOC}/collaborators#check-if-a-user-is-a-repository-collaborator"
    repo = repo_from(request, "metadata", 1, doc)
    sim = sim_of(request)
    login = request.match_info["username"].lower()
    acct = sim.state.accounts.get(login)
    user = sim.state.users.get(login)
    level = PERMISSION_LEVELS.get(user.permissions.get(repo.id, "none"), 0) if user else 0
    collaborator = acct is not None and acct.type == "User" and (acct.id == repo.owner.id or level > 0)
    if not collaborator:
        raise not_found(doc)
    return web.Response(status=204)


# -- branches -------------------------------------------------------------------------------
async def branch_json(request: web.Request, repo: Repo, name: str, sha: str) -> dict:
    base = sim_of(request).base_url
    api = f"{base}/repos/{repo.full_name}/branches/{name}"
    return {
        "name": name,
        "commit": await commit_json(request, repo, sha, False),
        "_links": {"self": api, "html": f"{base}/{repo.full_name}/tree/{name}"},
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{api}/protection",
    }


@routes.get("/repos/{owner}/{repo}/branches")
async def list_branches(request: web.Request) -> web.Response:
    repo = repo_from(request, "contents", 1, f"{DOC}/branches/branches#list-branches")
    base = sim_of(request).base_url
    heads = sorted((n.removeprefix("refs/heads/"), s) for n, s in (await repo.git.refs("refs/heads/")).items())
    per_page, page = page_params(request)
    shown = heads[(page - 1) * per_page : page * per_page]
    api = f"{base}/repos/{repo.full_name}"
    items = [{"name": n, "commit": {"sha": s, "url": f"{api}/commits/{s}"}, "protected": False} for n, s in shown]
    return json_response(items, headers=link_header(request, page, max(1, -(-len(heads) // per_page)), per_page))


@routes.get("/repos/{owner}/{repo}/branches/{branch:.+}")
async def get_branch(request: web.Request) -> web.Response:
    doc = f"{DOC}/branches/branches#get-a-branch"
    repo = repo_from(request, "contents", 1, doc)
    name = request.match_info["branch"]
    sha = await repo.git.ref(f"refs/heads/{name}")
    if sha is None:
        raise GhError(404, "Branch not found", doc)
    return json_response(await branch_json(request, repo, name, sha))


# -- commits --------------------------------------------------------------------------------
async def commit_json(request: web.Request, repo: Repo, sha: str, with_files: bool) -> dict:
    sim = sim_of(request)
    c = await repo.git.existing_commit(sha)
    by_email = {a.email.lower(): a for a in sim.state.accounts.values() if a.email}
    out = shapes.rest_commit(
        sim.base_url, repo, sha, c, by_email.get(c.author.email.lower()), by_email.get(c.committer.email.lower())
    )
    if with_files:
        parent = c.parents[0] if c.parents else gitobj.hash_object("tree", b"")
        if not c.parents:  # diff of a root commit against the empty tree
            await repo.git.write_object("tree", b"")
        changes = await repo.git.diff(parent, sha)
        adds, dels = sum(x.additions for x in changes), sum(x.deletions for x in changes)
        out["stats"] = {"total": adds + dels, "additions": adds, "deletions": dels}
        out["files"] = [shapes.diff_entry(sim.base_url, repo, sha, ch) for ch in changes[:COMPARE_FILES_CAP]]
    return out


@routes.get("/repos/{owner}/{repo}/commits")
async def list_commits(request: web.Request) -> web.Response:
    doc = f"{DOC}/commits/commits#list-commits"
    repo = repo_from(request, "contents", 1, doc)
    start = request.query.get("sha") or repo.default_branch
    sha = await repo.git.resolve_commit(start)
    if sha is None:
        raise (
            GhError(409, "Git Repository is empty.", doc) if not await repo.git.refs("refs/heads/") else not_found(doc)
        )
    per_page, page = page_params(request)
    logs = await repo.git.log(
        [sha], [], limit=per_page + 1, skip=(page - 1) * per_page, reverse=False, path=request.query.get("path")
    )
    items = [await commit_json(request, repo, c.sha, False) for c in logs[:per_page]]
    headers = {}
    if len(logs) > per_page or page > 1:
        headers = link_header(request, page, page + 1 if len(logs) > per_page else page, per_page)
    return json_response(items, headers=headers)


@routes.get("/repos/{owner}/{repo}/commits/{ref:[^/]+(?:/(?!check-runs$|check-suites$|status$|statuses$)[^/]+)*}")
async def get_commit(request: web.Request) -> web.Response:
    doc = f"{DOC}/commits/commits#get-a-commit"
    repo = repo_from(request, "contents", 1, doc)
    sha = await repo.git.resolve_commit(request.match_info["ref"])
    if sha is None:
        raise validation("Commit", doc, code="custom", message=f"No commit found for SHA: {request.match_info['ref']}")
    return json_response(await commit_json(request, repo, sha, True))


@routes.get("/repos/{owner}/{repo}/compare/{basehead:.+}")
async def compare(request: web.Request) -> web.Response:
    doc = f"{DOC}/commits/commits#compare-two-commits"
    repo = repo_from(request, "contents", 1, doc)
    sim = sim_of(request)
    basehead = request.match_info["basehead"]
    if "..." in basehead:
        base_name, head_name = basehead.split("...", 1)
    elif ".." in basehead:
        base_name, head_name = basehead.split("..", 1)
    else:
        raise not_found(doc)
    base_sha = await repo.git.resolve_commit(base_name.split(":")[-1])
    head_sha = await repo.git.resolve_commit(head_name.split(":")[-1])
    if base_sha is None or head_sha is None:
        raise not_found(doc)
    mb = await repo.git.merge_base(base_sha, head_sha)
    if mb is None:
        raise not_found(doc)
    ahead = await repo.git.count(head_sha, mb)
    behind = await repo.git.count(base_sha, mb)
    status = (
        "identical"
        if ahead == 0 and behind == 0
        else "ahead"
        if behind == 0
        else "behind"
        if ahead == 0
        else "diverged"
    )
    per_page, page = page_params(request, default=COMPARE_COMMITS_CAP, maximum=COMPARE_COMMITS_CAP)
    logs = await repo.git.log([head_sha], [mb])  # oldest first, as GitHub lists them
    chosen = logs[(page - 1) * per_page : page * per_page]
    changes = await repo.git.diff(mb, head_sha)
    api = f"{sim.base_url}/repos/{repo.full_name}"
    html = f"{sim.base_url}/{repo.full_name}"
    out = {
        "url": f"{api}/compare/{basehead}",
        "html_url": f"{html}/compare/{basehead}",
        "permalink_url": f"{html}/compare/{repo.owner.login}:{base_sha[:7]}...{repo.owner.login}:{head_sha[:7]}",
        "diff_url": f"{html}/compare/{basehead}.diff",
        "patch_url": f"{html}/compare/{basehead}.patch",
        "base_commit": await commit_json(request, repo, base_sha, False),
        "merge_base_commit": await commit_json(request, repo, mb, False),
        "status": status,
        "ahead_by": ahead,
        "behind_by": behind,
        "total_commits": ahead,
        "commits": [await commit_json(request, repo, c.sha, False) for c in chosen],
        "files": [shapes.diff_entry(sim.base_url, repo, head_sha, ch) for ch in changes[:COMPARE_FILES_CAP]],
    }
    return json_response(out, headers=link_header(request, page, max(1, -(-len(logs) // per_page)), per_page))


# -- contents -------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    enc = base64.b64encode(data).decode()
    return "".join(enc[i : i + 60] + "\n" for i in range(0, len(enc), 60))


def _content_entry(base: str, repo: Repo, ref: str, path: str, entry: gitobj.TreeEntry, size: int) -> dict:
    api = f"{base}/repos/{repo.full_name}"
    kind = {"tree": "dir", "commit": "submodule"}.get(entry.type, "file")
    if entry.mode == gitobj.MODE_LINK:
        kind = "symlink"
    git_url = f"{api}/git/{'trees' if kind == 'dir' else 'blobs'}/{entry.sha}"
    html_url = f"{base}/{repo.full_name}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{path}"
    self_url = f"{api}/contents/{path}?ref={ref}"
    return {
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": entry.sha,
        "size": size if kind == "file" else 0,
        "url": self_url,
        "html_url": html_url,
        "git_url": git_url,
        "download_url": f"{base}/{repo.full_name}/raw/{ref}/{path}" if kind == "file" else None,
        "type": kind,
        "_links": {"self": self_url, "git": git_url, "html": html_url},
    }


@routes.get("/repos/{owner}/{repo}/contents")
@routes.get("/repos/{owner}/{repo}/contents/{path:.*}")
async def get_contents(request: web.Request) -> web.Response:
    doc = f"{DOC}/contents#get-repository-content"
    repo = repo_from(request, "contents", 1, doc)
    sim = sim_of(request)
    path = request.match_info.get("path", "").strip("/")
    ref = request.query.get("ref") or repo.default_branch
    sha = await repo.git.resolve_commit(ref)
    if sha is None:
        raise GhError(404, f"No commit found for the ref {ref}", doc)
    entry = await repo.git.lookup_path(sha, path)
    if entry is None:
        raise not_found(doc)
    accept = request.headers.get("Accept", "")
    if entry.type == "tree":
        children = await repo.git.read_tree(entry.sha) or []
        raw_sizes = await _blob_sizes(repo, [c.sha for c in children if c.type == "blob"])
        return json_response(
            [
                _content_entry(sim.base_url, repo, ref, f"{path}/{c.name}".strip("/"), c, raw_sizes.get(c.sha, 0))
                for c in children
            ]
        )
    got = await repo.git.read(entry.sha)
    data = got[1] if got else b""
    if "application/vnd.github.raw" in accept or "application/vnd.github.v3.raw" in accept:
        return web.Response(body=data, content_type="application/vnd.github.raw", charset="utf-8")
    out = _content_entry(sim.base_url, repo, ref, path, entry, len(data))
    if len(data) <= CONTENT_INLINE_LIMIT:
        out.update({"content": _b64(data), "encoding": "base64"})
    else:
        out.update({"content": "", "encoding": "none"})
    return json_response(out)


async def _blob_sizes(repo: Repo, shas: list[str]) -> dict[str, int]:
    """Sizes from cat-file's info answers (no contents read)."""
    if not shas:
        return {}
    proc_out = await repo.git.git(
        "cat-file", "--batch-check=%(objectname) %(objectsize)", input="\n".join(shas).encode() + b"\n"
    )
    sizes = {}
    for line in proc_out.decode().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


async def _content_change(request: web.Request, delete: bool) -> web.Response:
    doc = f"{DOC}/contents#{'delete-a-file' if delete else 'create-or-update-file-contents'}"
    repo = repo_from(request, "contents", 2, doc)
    sim = sim_of(request)
    actor = actor_of(request)
    path = request.match_info["path"].strip("/")
    data = await body_json(request)
    if "message" not in data:
        raise missing_field("message", doc)
    if not delete and "content" not in data:
        raise missing_field("content", doc)
    branch = data.get("branch") or repo.default_branch
    ref = f"refs/heads/{branch}"
    content: bytes | None = None
    if not delete:
        try:
            content = base64.b64decode(data["content"], validate=False)
        except (ValueError, TypeError):
            raise GhError(422, "content is not valid Base64", doc) from None
    author = _person(data.get("author"), actor)
    committer = _person(data.get("committer"), actor) if data.get("committer") else author
    async with repo.git.ref_lock:
        before_refs = await repo.git.refs()
        tip = before_refs.get(ref)
        if tip is None:
            raise GhError(404, f"Branch {branch} not found", doc) if before_refs else GhError(404, "Not Found", doc)
        existing = await repo.git.lookup_path(tip, path)
        if existing is not None and existing.type == "tree":
            raise GhError(422, f"path {path} is a directory", doc)
        if delete:
            if existing is None:
                raise not_found(doc)
            if "sha" not in data:
                raise missing_field("sha", doc)
        if existing is not None and data.get("sha") != existing.sha:
            if "sha" not in data:
                raise missing_field("sha", doc)
            raise GhError(409, f"{path} does not match {data.get('sha')}", doc)
        commit = await repo.git.existing_commit(tip)
        entry: dict[str, Any] = {"path": path, "mode": MODE_BLOB, "type": "blob"}
        entry.update({"sha": None} if delete else {"content": content})
        tree = await sim.build_tree(repo, commit.tree, [entry])
        new = await ops.write_commit(repo, tree, [tip], data["message"], author, committer)
        if not await repo.git.update_ref(ref, new, tip):
            raise GhError(409, f"{branch} is at a different commit", doc)
        await ops.ref_changed(sim, repo, [(ref, tip, new)], actor, before_refs)
    new_commit = await repo.git.existing_commit(new)
    commit_body = shapes.git_commit(sim.base_url, repo, new, new_commit)
    if content is None:  # deleted
        return json_response({"content": None, "commit": commit_body})
    blob = await repo.git.lookup_path(new, path)
    if blob is None:
        raise LookupError(f"{path} is not in the commit just written")
    body = {"content": _content_entry(sim.base_url, repo, branch, path, blob, len(content)), "commit": commit_body}
    return json_response(body, status=200 if existing is not None else 201)


def _person(spec: dict[str, Any] | None, actor: Account) -> Person:
    if spec and spec.get("name") and spec.get("email"):
        return Person(spec["name"], spec["email"], parse_git_date(spec.get("date")))
    return ops.person_for(actor)


@routes.put("/repos/{owner}/{repo}/contents/{path:.+}")
async def put_contents(request: web.Request) -> web.Response:
    return await _content_change(request, delete=False)


@routes.delete("/repos/{owner}/{repo}/contents/{path:.+}")
async def delete_contents(request: web.Request) -> web.Response:
    return await _content_change(request, delete=True)


# -- tarball ----------------------------------------------------------------------------------
@routes.get("/repos/{owner}/{repo}/tarball")
@routes.get("/repos/{owner}/{repo}/tarball/{ref:.*}")
async def tarball(request: web.Request) -> web.Response:
    doc = f"{DOC}/contents#download-a-repository-archive-tar"
    repo = repo_from(request, "contents", 1, doc)
    sim = sim_of(request)
    ref = request.match_info.get("ref") or repo.default_branch
    sha = await repo.git.resolve_commit(ref)
    if sha is None:
        raise not_found(doc)
    token = secrets.token_urlsafe(16)
    sim.downloads[token] = (repo.id, sha, time.time() + 300)
    location = f"{sim.base_url}/_codeload/{repo.owner.login}/{repo.name}/legacy.tar.gz/{sha}?token={token}"
    return web.Response(status=302, headers={"Location": location})


async def codeload(request: web.Request) -> web.Response:
    """The download URL the tarball endpoint redirects to (codeload.github.com's role)."""
    sim = sim_of(request)
    got = sim.downloads.get(request.query.get("token", ""))
    if got is None or got[2] < time.time():
        raise web.HTTPNotFound(text="404: Not Found")
    repo = sim.state.repos_by_id[got[0]]
    sha = got[1]
    data = await repo.git.archive(sha, f"{repo.owner.login}-{repo.name}-{sha[:7]}/")
    return web.Response(
        body=data,
        content_type="application/x-gzip",
        headers={"Content-Disposition": f"attachment; filename={repo.owner.login}-{repo.name}-{sha[:7]}.tar.gz"},
    )


# -- statuses ----------------------------------------------------------------------------------
@routes.post("/repos/{owner}/{repo}/statuses/{sha}")
async def create_status(request: web.Request) -> web.Response:
    doc = f"{DOC}/commits/statuses#create-a-commit-status"
    repo = repo_from(request, "statuses", 2, doc)
    sim = sim_of(request)
    data = await body_json(request)
    if data.get("state") not in ("error", "failure", "pending", "success"):
        raise validation("Status", doc, code="custom", field="state", message="state is not included in the list")
    sha = request.match_info["sha"]
    if await repo.git.resolve_commit(sha) is None:
        raise validation("Status", doc, code="custom", field="sha", message=f"No commit found for SHA: {sha}")
    st = Status(
        sim.state.next_id("status"),
        repo.id,
        sha,
        data["state"],
        data.get("context") or "default",
        data.get("description"),
        data.get("target_url"),
        actor_of(request),
    )
    sim.state.statuses.append(st)
    api = f"{sim.base_url}/repos/{repo.full_name}"
    return json_response(
        {
            "url": f"{api}/statuses/{sha}",
            "avatar_url": f"{sim.base_url}/avatars/u/{st.creator.id}?v=4",
            "id": st.id,
            "node_id": node_id("SC", st.id),
            "state": st.state,
            "description": st.description,
            "target_url": st.target_url,
            "context": st.context,
            "created_at": iso(st.created_at),
            "updated_at": iso(st.created_at),
            "creator": shapes.user(sim.base_url, st.creator),
        },
        status=201,
    )
