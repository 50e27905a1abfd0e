"""Start and stop the emulator's HTTP server on a loopback port."""

from __future__ import annotations

from aiohttp import web

from .app import make_app
from .sim import Sim


class Server:
    """A running emulator: `await Server.start(data_dir)`, then `base_url`, then `stop()`."""

    def __init__(self, sim: Sim, runner: web.AppRunner):
        self.sim = sim
        self.runner = runner

    @property
    def base_url(self) -> str:
        return self.sim.base_url

    @classmethod
    async def start(cls, data_dir: str, host: str = "127.0.0.1", port: int = 0) -> Server:
        sim = Sim(data_dir)
        runner = web.AppRunner(make_app(sim), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]  # the bound port when port=0
        shown_host = host if host not in ("0.0.0.0", "::") else "127.0.0.1"
        sim.base_url = f"http://{shown_host}:{bound}"
        return cls(sim, runner)

    async def stop(self) -> None:
        await self.runner.cleanup()
