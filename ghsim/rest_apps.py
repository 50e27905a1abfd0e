"""GitHub App endpoints: /app, installation tokens, a repository's installation, the
installation's repositories, and /rate_limit."""

from __future__ import annotations

from aiohttp import web

from . import shapes
from .errors import GhError, not_found
from .model import App, Installation, iso
from .rest_common import ident_of, json_response, paginate, sim_of

routes = web.RouteTableDef()
DOC_APP = "https://docs.github.com/rest/apps/apps"


def _require_jwt(request: web.Request, doc: str) -> App:
    ident = ident_of(request)
    if ident.app is None:
        raise GhError(401, "A JSON web token could not be decoded", doc)
    return ident.app


@routes.get("/app")
async def get_app(request: web.Request) -> web.Response:
    app = _require_jwt(request, f"{DOC_APP}#get-the-authenticated-app")
    return json_response(
        {
            **shapes.app(sim_of(request).base_url, app),
            "installations_count": sum(1 for i in sim_of(request).state.installations.values() if i.app.id == app.id),
        }
    )


@routes.get("/app/installations")
async def list_installations(request: web.Request) -> web.Response:
    app = _require_jwt(request, f"{DOC_APP}#list-installations-for-the-authenticated-app")
    sim = sim_of(request)
    items = [shapes.installation(sim.base_url, i) for i in sim.state.installations.values() if i.app.id == app.id]
    page, headers = paginate(request, items)
    return json_response(page, headers=headers)


@routes.get("/app/installations/{installation_id}")
async def get_installation(request: web.Request) -> web.Response:
    doc = f"{DOC_APP}#get-an-installation-for-the-authenticated-app"
    app = _require_jwt(request, doc)
    inst = _installation(request, app, doc)
    return json_response(shapes.installation(sim_of(request).base_url, inst))


def _installation(request: web.Request, app: App, doc: str) -> Installation:
    try:
        inst = sim_of(request).state.installations.get(int(request.match_info["installation_id"]))
    except ValueError:
        inst = None
    if inst is None or inst.app.id != app.id:
        raise not_found(doc)
    return inst


@routes.post("/app/installations/{installation_id}/access_tokens")
async def create_access_token(request: web.Request) -> web.Response:
    doc = f"{DOC_APP}#create-an-installation-access-token-for-an-app"
    app = _require_jwt(request, doc)
    inst = _installation(request, app, doc)
    token, expires = sim_of(request).installation_token(inst)
    return json_response(
        {
            "token": token,
            "expires_at": iso(expires),
            "permissions": dict(inst.permissions),
            "repository_selection": inst.repository_selection,
        },
        status=201,
    )


@routes.get("/repos/{owner}/{repo}/installation")
async def repo_installation(request: web.Request) -> web.Response:
    doc = f"{DOC_APP}#get-a-repository-installation-for-the-authenticated-app"
    app = _require_jwt(request, doc)
    sim = sim_of(request)
    repo = sim.state.repo(request.match_info["owner"], request.match_info["repo"])
    inst = next((i for i in sim.state.installations_for(repo) if i.app.id == app.id), None) if repo else None
    if inst is None:
        raise not_found(doc)
    return json_response(shapes.installation(sim.base_url, inst))


@routes.get("/installation/repositories")
async def installation_repositories(request: web.Request) -> web.Response:
    doc = "https://docs.github.com/rest/apps/installations#list-repositories-accessible-to-the-app-installation"
    inst = ident_of(request).installation
    if inst is None:
        raise GhError(403, "This endpoint can only be accessed with an installation token", doc)
    sim = sim_of(request)
    repos = [sim.state.repos_by_id[r] for r in inst.repo_ids if r in sim.state.repos_by_id]
    page, headers = paginate(request, repos)
    return json_response(
        {
            "total_count": len(repos),
            "repository_selection": inst.repository_selection,
            "repositories": [shapes.repository(sim.base_url, r) for r in page],
        },
        headers=headers,
    )


@routes.get("/rate_limit")
async def rate_limit(request: web.Request) -> web.Response:
    sim = sim_of(request)
    b = sim.ratelimits.bucket(ident_of(request).rate_key)
    core = {"limit": b.limit, "used": b.used, "remaining": b.remaining, "reset": b.reset}
    other = {"limit": 5000, "used": 0, "remaining": 5000, "reset": b.reset}
    resources = {
        "core": core,
        "graphql": other,
        "search": {**other, "limit": 30, "remaining": 30},
        "integration_manifest": other,
    }
    return json_response({"resources": resources, "rate": core})


@routes.post("/app-manifests/{code}/conversions")
async def manifest_conversion(request: web.Request) -> web.Response:
    """The last step of registering an app from a manifest: the code from the redirect, once,
    within an hour, for the app's id, key and secrets. No authentication, as on GitHub."""
    doc = "https://docs.github.com/rest/apps/apps#create-a-github-app-from-a-manifest"
    sim = sim_of(request)
    app = sim.take_manifest_code(request.match_info["code"])
    if app is None:
        raise not_found(doc)
    out = shapes.app(sim.base_url, app) | {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "webhook_secret": app.webhook_secret,
        "pem": app.private_key_pem,
    }
    return json_response(out, status=201)
