"""The aiohttp application's keys: what `create_app` puts in the app for the handlers to find."""

from __future__ import annotations

import asyncpg
from aiohttp import web
from gidgethub.routing import Router

from bot.config import Config
from bot.github.client import GitHub
from bot.jobs.queue import Workers

CONFIG = web.AppKey("config", Config)
POOL = web.AppKey("pool", asyncpg.Pool)
ROUTER = web.AppKey("router", Router)
GITHUB = web.AppKey("github", GitHub)
WORKERS = web.AppKey("workers", Workers)
