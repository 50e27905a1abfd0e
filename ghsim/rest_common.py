"""Helpers shared by the REST handlers: the Sim in the app, the caller's identity, JSON
bodies and answers, repository access checks and GitHub's page-number pagination."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from aiohttp import web

from .auth import Identity, can_see, repo_level
from .errors import GhError, not_found
from .model import Account, Installation, Repo
from .sim import Sim

SIM_KEY = web.AppKey("ghsim", Sim)
IDENT_KEY = web.RequestKey("ghsim_ident", Identity)
MAX_PER_PAGE = 100


def sim_of(request: web.Request) -> Sim:
    return request.app[SIM_KEY]


def ident_of(request: web.Request) -> Identity:
    return request[IDENT_KEY]


def actor_of(request: web.Request) -> Account:
    actor = ident_of(request).actor
    if actor is None:
        raise GhError(401, "Requires authentication", "https://docs.github.com/rest")
    return actor


def dumps(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(data: object, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(
        body=dumps(data), status=status, headers=headers, content_type="application/json", charset="utf-8"
    )


async def body_json(request: web.Request) -> dict:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise GhError(400, "Problems parsing JSON", "https://docs.github.com/rest") from None
    if not isinstance(data, dict):
        raise GhError(400, "Body should be a JSON object", "https://docs.github.com/rest")
    return data


def repo_from(request: web.Request, category: str, level: int, doc: str) -> Repo:
    """The repository named in the path, if the caller may use it for `category` at `level`
    (1 read, 2 write). Invisible repositories are 404, as on GitHub."""
    sim = sim_of(request)
    ident = ident_of(request)
    repo = sim.state.repo(request.match_info["owner"], request.match_info["repo"])
    if repo is None or ident.kind == "app" or not can_see(ident, repo):
        raise not_found(doc)
    if repo_level(ident, repo, category) < level:
        if ident.installation:
            raise GhError(403, "Resource not accessible by integration", doc)
        raise not_found(doc)
    return repo


def require_installation(
    request: web.Request, doc: str, message: str = "You must authenticate via a GitHub App."
) -> Installation:
    installation = ident_of(request).installation
    if installation is None:
        raise GhError(403, message, doc)
    return installation


def page_params(request: web.Request, default: int = 30, maximum: int = MAX_PER_PAGE) -> tuple[int, int]:
    try:
        per_page = int(request.query.get("per_page", default))
        page = int(request.query.get("page", 1))
    except ValueError:
        per_page, page = default, 1
    return max(1, min(per_page, maximum)), max(1, page)


def paginate(
    request: web.Request, items: list, default: int = 30, maximum: int = MAX_PER_PAGE, total: int | None = None
) -> tuple[list, dict[str, str]]:
    """Slice `items` for ?page/&per_page and build GitHub's Link header."""
    per_page, page = page_params(request, default, maximum)
    total = len(items) if total is None else total
    last = max(1, -(-total // per_page))
    start = (page - 1) * per_page
    return items[start : start + per_page], link_header(request, page, last, per_page)


def link_header(request: web.Request, page: int, last: int, per_page: int) -> dict[str, str]:
    if last <= 1:
        return {}
    sim = sim_of(request)
    query = {k: v for k, v in request.query.items() if k not in ("page", "per_page")}

    def url(p: int) -> str:
        return f"{sim.base_url}{request.path}?{urlencode({**query, 'per_page': per_page, 'page': p})}"

    links = []
    if page > 1:
        links.append(f'<{url(page - 1)}>; rel="prev"')
    if page < last:
        links.append(f'<{url(page + 1)}>; rel="next"')
        links.append(f'<{url(last)}>; rel="last"')
    if page > 1:
        links.append(f'<{url(1)}>; rel="first"')
    return {"Link": ", ".join(links)}
