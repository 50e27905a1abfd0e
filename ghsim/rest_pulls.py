"""Pull requests: create, list, get, update, files and merge."""

from __future__ import annotations

from aiohttp import web

from . import events, ops, shapes
from .errors import invalid_request, not_found, validation
from .model import Pull, Repo, now
from .rest_common import actor_of, body_json, json_response, paginate, repo_from, sim_of

routes = web.RouteTableDef()
DOC = "https://docs.github.com/rest/pulls/pulls"
FILES_CAP = 3000


def pull_from(request: web.Request, repo: Repo, doc: str) -> Pull:
    try:
        number = int(request.match_info["number"])
    except ValueError:
        raise not_found(doc) from None
    pull = sim_of(request).state.pulls[repo.id].get(number)
    if pull is None:
        raise not_found(doc)
    return pull


@routes.post("/repos/{owner}/{repo}/pulls")
async def create_pull(request: web.Request) -> web.Response:
    doc = f"{DOC}#create-a-pull-request"
    repo = repo_from(request, "pull_requests", 2, doc)
    sim = sim_of(request)
    data = await body_json(request)
    for key in ("head", "base"):
        if key not in data:
            raise invalid_request(f'"{key}" wasn\'t supplied.', doc)
    if not data.get("title") and not data.get("issue"):
        raise validation("PullRequest", doc, code="missing_field", field="title")
    head_owner, _, head_name = str(data["head"]).rpartition(":")
    base_name = str(data["base"])
    if head_owner and head_owner.lower() != repo.owner.login.lower():  # forks are not modelled: no such head
        raise validation("PullRequest", doc, code="invalid", field="head")
    head_sha = await repo.git.ref(f"refs/heads/{head_name}")
    base_sha = await repo.git.ref(f"refs/heads/{base_name}")
    if head_sha is None:
        raise validation("PullRequest", doc, code="invalid", field="head")
    if base_sha is None:
        raise validation("PullRequest", doc, code="invalid", field="base")
    for p in sim.state.pulls[repo.id].values():
        if p.state == "open" and p.head_ref == head_name and p.base_ref == base_name:
            raise validation(
                "PullRequest", doc, message=f"A pull request already exists for {repo.owner.login}:{head_name}."
            )
    mb = await repo.git.merge_base(base_sha, head_sha)
    if mb == head_sha or (mb and await repo.git.count(head_sha, mb) == 0):
        raise validation("PullRequest", doc, message=f"No commits between {base_name} and {head_name}")
    if mb is None:
        raise validation(
            "PullRequest", doc, message=f"The {head_name} branch has no history in common with {base_name}"
        )
    number = repo.next_number
    repo.next_number += 1
    pull = Pull(
        sim.state.next_id("pull"),
        number,
        repo.id,
        data.get("title") or f"Issue #{data.get('issue')}",
        data.get("body"),
        head_name,
        base_name,
        head_sha,
        base_sha,
        actor_of(request),
        draft=bool(data.get("draft", False)),
    )
    sim.state.pulls[repo.id][number] = pull
    await events.pull_request(sim, repo, pull, "opened", pull.user)
    return json_response(
        await sim.pull_json(repo, pull),
        status=201,
        headers={"Location": f"{sim.base_url}/repos/{repo.full_name}/pulls/{number}"},
    )


@routes.get("/repos/{owner}/{repo}/pulls")
async def list_pulls(request: web.Request) -> web.Response:
    repo = repo_from(request, "pull_requests", 1, f"{DOC}#list-pull-requests")
    sim = sim_of(request)
    q = request.query
    state = q.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise validation("PullRequest", f"{DOC}#list-pull-requests", code="invalid", field="state")
    # GitHub filters by head only in the user:ref-name form; a bare branch name is ignored.
    head_owner, _, head_branch = q.get("head", "").partition(":")
    pulls = []
    for p in sim.state.pulls[repo.id].values():
        await sim.refresh_pull(repo, p)
        if state != "all" and p.state != state:
            continue
        if head_branch and (p.head_ref != head_branch or head_owner.lower() != repo.owner.login.lower()):
            continue
        if q.get("base") and p.base_ref != q["base"]:
            continue
        pulls.append(p)
    sort = q.get("sort", "created")
    key = {"created": lambda p: (p.created_at, p.number), "updated": lambda p: (p.updated_at, p.number)}.get(
        sort, lambda p: (p.created_at, p.number)
    )
    # GitHub's default direction: desc for created, asc for any other sort.
    direction = q.get("direction", "desc" if sort == "created" else "asc")
    pulls.sort(key=key, reverse=direction == "desc")
    page, headers = paginate(request, pulls)
    return json_response([shapes.pull_request_simple(sim.base_url, repo, p) for p in page], headers=headers)


@routes.get("/repos/{owner}/{repo}/pulls/{number}")
async def get_pull(request: web.Request) -> web.Response:
    doc = f"{DOC}#get-a-pull-request"
    repo = repo_from(request, "pull_requests", 1, doc)
    pull = pull_from(request, repo, doc)
    return json_response(await sim_of(request).pull_json(repo, pull))


@routes.patch("/repos/{owner}/{repo}/pulls/{number}")
async def update_pull(request: web.Request) -> web.Response:
    doc = f"{DOC}#update-a-pull-request"
    repo = repo_from(request, "pull_requests", 2, doc)
    sim = sim_of(request)
    pull = pull_from(request, repo, doc)
    actor = actor_of(request)
    data = await body_json(request)
    changes = {}
    for key in ("title", "body"):
        if key in data and data[key] != getattr(pull, key):
            changes[key] = {"from": getattr(pull, key)}
            setattr(pull, key, data[key])
    if "base" in data and data["base"] != pull.base_ref:
        if await repo.git.ref(f"refs/heads/{data['base']}") is None:
            raise validation("PullRequest", doc, code="invalid", field="base")
        changes["base"] = {"ref": {"from": pull.base_ref}, "sha": {"from": pull.base_sha}}
        pull.base_ref = data["base"]
    if changes:
        pull.updated_at = now()
        await events.pull_request(sim, repo, pull, "edited", actor, changes=changes)
    state = data.get("state")
    if state not in (None, "open", "closed"):
        raise validation("PullRequest", doc, code="invalid", field="state")
    if state == "closed" and pull.state == "open":
        await ops.close_pull(sim, repo, pull, actor)
    elif state == "open" and pull.state == "closed":
        await ops.reopen_pull(sim, repo, pull, actor)
    return json_response(await sim.pull_json(repo, pull))


@routes.get("/repos/{owner}/{repo}/pulls/{number}/files")
async def pull_files(request: web.Request) -> web.Response:
    doc = f"{DOC}#list-pull-requests-files"
    repo = repo_from(request, "pull_requests", 1, doc)
    sim = sim_of(request)
    pull = pull_from(request, repo, doc)
    await sim.refresh_pull(repo, pull)
    base = await sim.pull_diff_base(repo, pull)
    changes = (await repo.git.diff(base, pull.head_sha))[:FILES_CAP]
    page, headers = paginate(request, changes)
    return json_response([shapes.diff_entry(sim.base_url, repo, pull.head_sha, c) for c in page], headers=headers)


@routes.put("/repos/{owner}/{repo}/pulls/{number}/merge")
async def merge(request: web.Request) -> web.Response:
    doc = f"{DOC}#merge-a-pull-request"
    repo = repo_from(request, "contents", 2, doc)
    pull = pull_from(request, repo, doc)
    data = await body_json(request)
    sha = await ops.merge_pull(
        sim_of(request),
        repo,
        pull,
        actor_of(request),
        method=data.get("merge_method", "merge"),
        sha=data.get("sha"),
        title=data.get("commit_title"),
        message=data.get("commit_message"),
    )
    return json_response({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})
