"""The aiohttp application: composes the HTTP surfaces and the background services.

Layers point one way: HTTP (webhook intake, HNP API, status page) -> services (ingest,
publish, conflicts, operations) -> storage and GitHub access. Each feature module exposes
`setup(app)`, which adds its routes and, where it has any, its background tasks.
"""

from __future__ import annotations

import asyncpg
from aiohttp import web

from bot import database
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
    return app
