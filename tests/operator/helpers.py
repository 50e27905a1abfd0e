"""A bot application running on a free loopback port, for tests that talk to it over HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from bot.config import Config, Secret
from bot.web.app import create_app
from tests.conftest import free_port, test_private_key_pem

TOKEN = "operator-test-token-5f1c2d9e8b7a6c5d4e3f"


@dataclass
class RunningBot:
    url: str
    token: str
    app: web.Application


@contextlib.asynccontextmanager
async def running_bot(
    pool, *, token: str = TOKEN, github_api_url: str = "http://127.0.0.1:9", background: bool = False, **config
) -> AsyncIterator[RunningBot]:
    settings = dict(
        github_app_id=1,
        github_private_key=Secret(test_private_key_pem()),
        github_webhook_secret=Secret("operator-test-webhook-secret"),
        github_api_url=github_api_url,
        hnp_api_token=Secret(token),
        host="127.0.0.1",
        port=free_port(),
        log_format="text",
    )
    settings.update(config)
    app = create_app(Config(**settings), pool, background=background)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", settings["port"])
    await site.start()
    try:
        yield RunningBot(url=f"http://127.0.0.1:{settings['port']}", token=token, app=app)
    finally:
        await runner.cleanup()
