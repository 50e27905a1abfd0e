"""The one place the per-concern routers are combined into the router events go through.

Each concern owns `router = gidgethub.routing.Router()` in its own module and registers its
handlers there: `@router.register("push")`, `@router.register("pull_request", action="closed")`.
A handler is called as `await handler(event, ctx)`, where ctx is a `bot.queue.JobContext`
(pool, config, github, job). Handlers run in a queue worker, never in the webhook request.
When any handler of a delivery raises, the delivery's job is retried and every handler of
the event runs again: handlers must be safe to repeat (queue follow-up work with a
dedupe_key, write with ON CONFLICT).

An event that no router handles is acknowledged and stored as 'ignored' (see bot.webhook).
"""

from __future__ import annotations

import importlib
import logging

from aiohttp import web
from gidgethub.routing import Router

log = logging.getLogger(__name__)

# The concerns, in the order their handlers are added. Modules still being written are
# skipped (a missing module, not an import error inside one, which must fail loudly).
CONCERNS = ("bot.installations", "bot.ingest", "bot.pulls", "bot.checkruns", "bot.commands")

ROUTER = web.AppKey("router", Router)


def concern_routers() -> dict[str, Router]:
    found = {}
    for name in CONCERNS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        found[name] = module.router
    return found


def build(*extra: Router) -> Router:
    """A router combining every concern's router (and any `extra` ones, e.g. in tests)."""
    return Router(*concern_routers().values(), *extra)


def setup(app: web.Application) -> None:
    """Put the combined router in the app (unless a test put one there already)."""
    if ROUTER not in app:
        app[ROUTER] = build()
        log.debug("event routers: %s", ", ".join(concern_routers()))
