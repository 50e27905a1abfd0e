"""The aiohttp application: composes the HTTP surfaces and the background services.

Layers point one way: HTTP (webhook intake, HNP API, status page) -> services (ingest,
publish, conflicts, operations) -> storage and GitHub access. Each feature module exposes
`setup(app)`, which adds its routes and, where it has any, its background tasks.
"""

from __future__ import annotations

import asyncpg
from aiohttp import web

from bot import api, api_conflicts, database, github, metrics, queue, reconcile, routing, status_page, webhook
from bot.config import Config

CONFIG = web.AppKey("config", Config)
POOL = web.AppKey("pool", asyncpg.Pool)


async def healthz(request: web.Request) -> web.Response:
    reason = await database.ping(request.app[POOL])
    if reason is not None:
        return web.json_response({"status": "unavailable", "database": reason}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


def create_app(config: Config, pool: asyncpg.Pool, *, background: bool = True) -> web.Application:
    """The whole bot. `background=False` leaves out workers and timers (for tests that drive
    them by hand)."""
    app = web.Application(client_max_size=25 * 1024 * 1024)
    app[CONFIG] = config
    app[POOL] = pool
    app.router.add_get("/healthz", healthz)
    # Intake and the queue (issue 4). Order matters for shutdown, which runs in reverse:
    # timers and intake stop first, then the workers, then the GitHub session closes.
    routing.setup(app)
    github.setup(app)
    queue.setup(app, background=background)
    webhook.setup(app)
    reconcile.setup(app, background=background)
    metrics.setup(app)
    api.setup(app)  # the HNP API under /api (issue 6)
    api_conflicts.setup(app)  # conflicts and drift under /api (issue 7)
    status_page.setup(app)
    return app
