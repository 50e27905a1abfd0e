"""The aiohttp application, and the one place the bot is composed: the features' webhook
routers into one event router, their job handlers into the workers' registry, and the HTTP
surfaces and background services into the app.

A webhook handler is called as `await handler(event, ctx)` with a `bot.jobs.queue.JobContext`,
in a queue worker, never in the webhook request. When any handler of a delivery raises, the
delivery's job is retried and every handler of the event runs again: handlers must be safe to
repeat (queue follow-up work with a dedupe_key, write with ON CONFLICT), and none may depend on
another's having run first. An event that no router handles is stored as 'ignored'.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiohttp import hdrs, web
from gidgethub.routing import Router

from bot.config import Config
from bot.features import checkruns, commands, ingest, installations, operations, pulls, reconcile
from bot.github.client import GitHub, RetryPolicy, new_session
from bot.jobs.kinds import JobKind
from bot.jobs.queue import JobHandler, JobHandlers, QueueSettings, Workers, run_webhook_job
from bot.storage import database
from bot.web import api, api_conflicts, metrics, status_page, webhook
from bot.web.keys import CONFIG, GITHUB, POOL, ROUTER, WORKERS

log = logging.getLogger(__name__)

# Options of every server that runs the app (serve, the demo, tests): request bodies are never
# inflated. A compressed body is refused before it is read (refuse_compressed_bodies); what
# aiohttp still drains of a refused body before it reuses the connection is then raw bytes,
# not the GiBs a small gzip can inflate to.
RUNNER_OPTIONS: dict[str, Any] = {"auto_decompress": False}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
    """The JSON error every route answers with: {"error": {"code", "message", "details"}}."""
    body = {"error": {"code": code, "message": message, "details": None}}
    return web.json_response(body, status=status, headers=headers)


@web.middleware
async def refuse_compressed_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
    """415 for any Content-Encoding but identity, on every route, before the body is read:
    GitHub never compresses webhook bodies, and no client of the API needs to."""
    encoding = request.headers.get(hdrs.CONTENT_ENCODING, "").strip().lower()
    if encoding not in ("", "identity"):
        response = error_response(
            415, "unsupported_content_encoding", "request bodies must not be compressed (Content-Encoding: identity)"
        )
        response.force_close()  # the unread body is not worth keeping the connection for
        return response
    return await handler(request)


@web.middleware
async def database_unavailable(request: web.Request, handler: Handler) -> web.StreamResponse:
    """While the database is unreachable every route answers 503 with Retry-After, never 500."""
    try:
        return await handler(request)
    except database.UNAVAILABLE as error:
        log.warning("%s %s: the database is unavailable (%s)", request.method, request.path, error.__class__.__name__)
        return unavailable_response()


def unavailable_response(message: str = "the database is unavailable; try again shortly") -> web.Response:
    return error_response(503, "unavailable", message, headers={"Retry-After": str(database.RETRY_AFTER_SECONDS)})


def event_router(*extra: Router) -> Router:
    """Every feature's webhook handlers (and `extra` routers', e.g. a test's) in one router."""
    return Router(installations.router, ingest.router, pulls.router, checkruns.router, commands.router, *extra)


def job_handlers(extra: Mapping[str, JobHandler] | None = None) -> JobHandlers:
    """Every job kind and its handler (and `extra` ones, e.g. a test's)."""
    handlers: dict[str, JobHandler] = {JobKind.WEBHOOK: run_webhook_job}
    for jobs in (ingest.JOBS, operations.JOBS, checkruns.JOBS, commands.JOBS, reconcile.JOBS, extra or {}):
        handlers.update(jobs)
    return handlers


@dataclass(frozen=True)
class Tuning:
    """What `serve` takes no setting for: tests shorten leases and GitHub timeouts, and add job
    kinds of their own."""

    queue: QueueSettings = field(default_factory=QueueSettings)
    github: RetryPolicy = field(default_factory=RetryPolicy)
    extra_jobs: Mapping[str, JobHandler] = field(default_factory=dict)


SERVE_TUNING = Tuning()  # what `serve` runs with


async def healthz(request: web.Request) -> web.Response:
    reason = await database.ping(request.app[POOL])
    if reason is not None:
        return web.json_response(
            {"status": "unavailable", "database": reason},
            status=503,
            headers={"Retry-After": str(database.RETRY_AFTER_SECONDS)},
        )
    return web.json_response({"status": "ok", "database": "ok"})


def create_app(
    config: Config,
    pool: asyncpg.Pool,
    *,
    background: bool = True,
    tuning: Tuning = SERVE_TUNING,
    router: Router | None = None,
) -> web.Application:
    """The whole bot. `background=False` leaves out workers and timers (for tests that drive
    them by hand); `router` replaces the event router (tests add their own handlers)."""
    app = web.Application(
        client_max_size=webhook.MAX_BODY, middlewares=[refuse_compressed_bodies, database_unavailable]
    )
    app[CONFIG] = config
    app[POOL] = pool
    app[ROUTER] = router or event_router()
    app.router.add_get("/healthz", healthz)
    # Order matters for shutdown, which runs in reverse: timers and intake stop first, then
    # the workers, then the GitHub session closes.
    _setup_github(app, tuning.github)
    _setup_workers(app, tuning, background=background)
    webhook.setup(app)
    if background:
        app.cleanup_ctx.append(_reconcile_timer)
    metrics.setup(app)
    api.setup(app)
    api_conflicts.setup(app)
    status_page.setup(app)
    return app


def _setup_github(app: web.Application, policy: RetryPolicy) -> None:
    """One gateway per process; its one session is opened with the app and closed with it."""
    layer = GitHub.from_config(None, app[CONFIG], policy=policy)
    app[GITHUB] = layer

    async def github_session(app: web.Application) -> AsyncIterator[None]:
        async with new_session() as session:
            layer.session = session
            yield
            layer.session = None

    app.cleanup_ctx.append(github_session)


def _setup_workers(app: web.Application, tuning: Tuning, *, background: bool = True) -> None:
    """Create the workers (always, so intake can wake them) and run them with the app when
    `background` is set."""
    config = app[CONFIG]
    workers = Workers(
        pool=app[POOL],
        config=config,
        handlers=job_handlers(tuning.extra_jobs),
        router=app[ROUTER],
        github=app[GITHUB],
        count=config.workers,
        settings=tuning.queue,
    )
    app[WORKERS] = workers

    async def run_workers(app: web.Application) -> AsyncIterator[None]:
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
