"""The aiohttp application: composes the HTTP surfaces and the background services.

Layers point one way: HTTP (webhook intake, HNP API, status page, metrics; this package) ->
features (bot.features) -> the job queue (bot.jobs) -> storage (bot.storage) and the GitHub
gateway (bot.github) -> the pure core (bot.core).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

from bot.config import Config
from bot.features import reconcile
from bot.github.client import GitHub, new_session
from bot.jobs.queue import DEFAULT_SETTINGS, Workers
from bot.storage import database
from bot.web import api, api_conflicts, metrics, routing, status_page, webhook
from bot.web.keys import CONFIG, GITHUB, POOL, ROUTER, WORKERS

log = logging.getLogger(__name__)


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
    # Order matters for shutdown, which runs in reverse: timers and intake stop first, then
    # the workers, then the GitHub session closes.
    routing.setup(app)
    _setup_github(app)
    _setup_workers(app, background=background)
    webhook.setup(app)
    if background:
        app.cleanup_ctx.append(_reconcile_timer)
    metrics.setup(app)
    api.setup(app)
    api_conflicts.setup(app)
    status_page.setup(app)
    return app


def _setup_github(app: web.Application) -> None:
    """One gateway per process; its one session is opened with the app and closed with it."""
    layer = GitHub.from_config(None, app[CONFIG])
    app[GITHUB] = layer

    async def github_session(app: web.Application) -> AsyncIterator[None]:
        async with new_session() as session:
            layer.session = session
            yield
            layer.session = None

    app.cleanup_ctx.append(github_session)


def _setup_workers(app: web.Application, *, background: bool = True) -> None:
    """Create the workers (always, so intake can wake them) and run them with the app when
    `background` is set."""
    config = app[CONFIG]
    workers = Workers(pool=app[POOL], config=config, count=config.workers, settings=DEFAULT_SETTINGS)
    app[WORKERS] = workers

    async def run_workers(app: web.Application) -> AsyncIterator[None]:
        # Read at start-up, so a test may swap the router or GitHub layer after create_app.
        workers.router = app.get(ROUTER)
        workers.github = app.get(GITHUB)
        await workers.start()
        yield
        await workers.stop()

    if background:
        app.cleanup_ctx.append(run_workers)


async def _reconcile_timer(app: web.Application) -> AsyncIterator[None]:
    """About every RECONCILE_INTERVAL, queue one 'reconcile' job (any process may queue it; the
    queue makes sure it is one per interval). The first is queued at start-up, which also
    catches what was pushed while the bot was down."""
    task = asyncio.create_task(
        reconcile.schedule_forever(app[POOL], app[CONFIG].reconcile_interval), name="reconcile-timer"
    )
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
