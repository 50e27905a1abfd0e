"""Issue comments on pull requests: list, create, update."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from . import ops, shapes
from .errors import GhError, missing_field, not_found
from .model import Comment, Repo
from .rest_common import actor_of, body_json, ident_of, json_response, paginate, repo_from, sim_of
from .rest_pulls import pull_from

routes = web.RouteTableDef()
DOC = "https://docs.github.com/rest/issues/comments"
BODY_LIMIT = 65536


def _check_body(data: dict, doc: str) -> str:
    if "body" not in data:
        raise missing_field("body", doc)
    body = data["body"]
    if not isinstance(body, str):
        raise GhError(422, f"Invalid request.\n\nFor 'properties/body', {body} is not a string.", doc)
    if len(body) > BODY_LIMIT:
        raise GhError(
            422,
            "Validation Failed",
            doc,
            errors=[
                {
                    "resource": "IssueComment",
                    "code": "unprocessable",
                    "field": "data",
                    "message": f"Body is too long (maximum is {BODY_LIMIT} characters)",
                }
            ],
        )
    return body


@routes.get("/repos/{owner}/{repo}/issues/{number}/comments")
async def list_comments(request: web.Request) -> web.Response:
    doc = f"{DOC}#list-issue-comments"
    repo = repo_from(request, "issues", 1, doc)
    sim = sim_of(request)
    pull = pull_from(request, repo, doc)
    items = [c for c in sim.state.comments.values() if c.repo_id == repo.id and c.issue_number == pull.number]
    since = request.query.get("since")
    if since:
        try:
            cutoff = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise GhError(422, f'Invalid request.\n\n"{since}" is not a valid date-time for "since".', doc) from None
        items = [c for c in items if c.updated_at >= cutoff]
    page, headers = paginate(request, items)
    return json_response([shapes.comment(sim.base_url, repo, c) for c in page], headers=headers)


@routes.post("/repos/{owner}/{repo}/issues/{number}/comments")
async def create_comment(request: web.Request) -> web.Response:
    doc = f"{DOC}#create-an-issue-comment"
    repo = repo_from(request, "issues", 2, doc)
    sim = sim_of(request)
    pull = pull_from(request, repo, doc)
    body = _check_body(await body_json(request), doc)
    ident = ident_of(request)
    c = ops.add_comment(
        sim, repo, pull, actor_of(request), body, via_app=ident.installation.app if ident.installation else None
    )
    return json_response(
        shapes.comment(sim.base_url, repo, c),
        status=201,
        headers={"Location": f"{sim.base_url}/repos/{repo.full_name}/issues/comments/{c.id}"},
    )


@routes.get("/repos/{owner}/{repo}/issues/comments/{comment_id}")
async def get_comment(request: web.Request) -> web.Response:
    doc = f"{DOC}#get-an-issue-comment"
    repo = repo_from(request, "issues", 1, doc)
    c = _comment(request, repo, doc)
    return json_response(shapes.comment(sim_of(request).base_url, repo, c))


def _comment(request: web.Request, repo: Repo, doc: str) -> Comment:
    try:
        c = sim_of(request).state.comments.get(int(request.match_info["comment_id"]))
    except ValueError:
        c = None
    if c is None or c.repo_id != repo.id:
        raise not_found(doc)
    return c


@routes.patch("/repos/{owner}/{repo}/issues/comments/{comment_id}")
async def update_comment(request: web.Request) -> web.Response:
    doc = f"{DOC}#update-an-issue-comment"
    repo = repo_from(request, "issues", 2, doc)
    c = _comment(request, repo, doc)
    body = _check_body(await body_json(request), doc)
    sim = sim_of(request)
    ops.edit_comment(sim, repo, c, actor_of(request), body)
    return json_response(shapes.comment(sim.base_url, repo, c))
