"""The one place the per-concern routers are combined into the router events go through.

Each concern owns `router = gidgethub.routing.Router()` in its own module and registers its
handlers there: `@router.register("push")`, `@router.register("pull_request", action="closed")`.
A handler is called as `await handler(event, ctx)`, where ctx is a `bot.jobs.queue.JobContext`
(pool, config, github, job). Handlers run in a queue worker, never in the webhook request.
When any handler of a delivery raises, the delivery's job is retried and every handler of
the event runs again: handlers must be safe to repeat (queue follow-up work with a
dedupe_key, write with ON CONFLICT).

An event that no router handles is acknowledged and stored as 'ignored' (see bot.web.webhook).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from gidgethub import sansio
from gidgethub.routing import Router

from bot.features import checkruns, commands, ingest, installations, pulls
from bot.web.keys import ROUTER

# A webhook event handler, called as `await handler(event, ctx)`.
Handler = Callable[..., Awaitable[None]]

log = logging.getLogger(__name__)

# The concerns, in the order their handlers are added.
CONCERNS = (installations, ingest, pulls, checkruns, commands)


def concern_routers() -> dict[str, Router]:
    return {module.__name__: module.router for module in CONCERNS}


class OrderedRouter(Router):
    """A Router whose handlers of one event run in the order they were added: the concerns'
    order above, then each concern's own. gidgethub's Router.fetch returns a frozenset, so its
    dispatch runs them in hash (memory address) order. The order matters: a push's 'ingest'
    job (bot.features.ingest) must be queued before the 'conflicts_check' job bot.features.checkruns queues for
    the same push, so that the fabric's queue runs the check on the new desired state. Queued
    the other way round, the check ran first whenever a worker took it before the ingest was
    queued, and saw no conflict (a PR left green beside a conflicting push)."""

    def __init__(self, *other_routers: Router) -> None:
        self._rank: dict[Handler, int] = {}  # handler -> when it was first added
        super().__init__(*other_routers)

    def add(self, func: Handler, event_type: str, **data_detail: Any) -> None:
        self._rank.setdefault(func, len(self._rank))
        super().add(func, event_type, **data_detail)

    async def dispatch(self, event: sansio.Event, *args: Any, **kwargs: Any) -> None:
        for callback in sorted(self.fetch(event), key=self._rank.__getitem__):
            await callback(event, *args, **kwargs)


def build(*extra: Router) -> Router:
    """A router combining every concern's router (and any `extra` ones, e.g. in tests); an
    event's handlers run in that order (see OrderedRouter)."""
    return OrderedRouter(*concern_routers().values(), *extra)


def setup(app: web.Application) -> None:
    """Put the combined router in the app (unless a test put one there already)."""
    if ROUTER not in app:
        app[ROUTER] = build()
        log.debug("event routers: %s", ", ".join(concern_routers()))
