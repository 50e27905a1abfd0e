"""Fixtures for the emulator's tests: a fresh in-process emulator per test, a webhook
receiver that records what it is sent, and a ready "world" (app, org repo, installation,
installation token, a user with write access and one with read access)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from ghsim.testing import GhSim

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT / ".." / "shared"
GITHUB_SHARED = SHARED / "github"


def shared_github() -> Path:
    """../shared/github, or skip the test when the shared material is not checked out."""
    if not GITHUB_SHARED.is_dir():
        pytest.skip(f"shared GitHub descriptions not found at {GITHUB_SHARED.resolve()}")
    return GITHUB_SHARED


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.01):
    """Poll `predicate` (sync or async) until truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


@dataclass
class Receiver:
    """A webhook endpoint that answers 200 and keeps every request."""

    url: str
    received: list[dict] = field(default_factory=list)
    status: int = 200

    def events(self, event: str, action: str | None = None) -> list[dict]:
        return [
            r["payload"]
            for r in self.received
            if r["event"] == event and (action is None or r["payload"].get("action") == action)
        ]


@pytest.fixture
async def receiver():
    holder: dict = {}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        holder["r"].received.append(
            {
                "event": request.headers.get("X-GitHub-Event"),
                "headers": dict(request.headers),
                "body": body,
                "payload": json.loads(body),
            }
        )
        return web.Response(status=holder["r"].status, text="ok")

    app = web.Application()
    app.router.add_post("/webhook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    holder["r"] = Receiver(f"http://127.0.0.1:{port}/webhook")
    yield holder["r"]
    await runner.cleanup()


@pytest.fixture
async def sim(tmp_path):
    async with GhSim.start(tmp_path / "ghsim-data") as s:
        yield s


class Api:
    """A tiny REST client for tests: JSON in, (status, JSON-or-bytes, headers) out."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str | None):
        self.session, self.base, self.token = session, base, token

    async def call(
        self,
        method: str,
        path: str,
        body=None,
        headers: dict | None = None,
        token: str | None = None,
        raw: bool = False,
    ):
        hdrs = {"Accept": "application/vnd.github+json"}
        tok = token or self.token
        if tok:
            hdrs["Authorization"] = f"token {tok}"
        hdrs.update(headers or {})
        url = path if path.startswith("http") else self.base + path
        async with self.session.request(method, url, json=body, headers=hdrs, allow_redirects=False) as resp:
            data = await resp.read()
            if not raw and data and resp.content_type == "application/json":
                data = json.loads(data)
            return resp.status, data, resp.headers

    async def get(self, path, **kw):
        return await self.call("GET", path, **kw)

    async def post(self, path, body=None, **kw):
        return await self.call("POST", path, body, **kw)

    async def patch(self, path, body=None, **kw):
        return await self.call("PATCH", path, body, **kw)

    async def put(self, path, body=None, **kw):
        return await self.call("PUT", path, body, **kw)

    async def delete(self, path, body=None, **kw):
        return await self.call("DELETE", path, body, **kw)


@dataclass
class World:
    sim: GhSim
    receiver: Receiver
    app: dict
    installation_id: int
    token: str
    api: Api
    writer: str  # login of a user with write access
    writer_token: str
    reader: str
    reader_token: str
    owner: str = "acme"
    repo: str = "fabric"

    @property
    def r(self) -> str:
        return f"/repos/{self.owner}/{self.repo}"


@pytest.fixture
async def world(sim, receiver, tmp_path):
    app = await sim.create_app(receiver.url, "s3cret")
    await sim.create_repo("acme", "fabric", files={"fabric/vlans/vlan-10.yaml": "kind: VLAN\nvlan: 10\n"})
    inst = await sim.create_installation(app["id"], "acme", ["acme/fabric"])
    token = await sim.installation_token(inst["id"])
    writer_token = await sim.create_user("alice", "write", ["acme/fabric"], email="alice@example.com")
    reader_token = await sim.create_user("bob", "read", ["acme/fabric"])
    async with aiohttp.ClientSession() as session:
        yield World(
            sim,
            receiver,
            app,
            inst["id"],
            token,
            Api(session, sim.base_url, token),
            "alice",
            writer_token,
            "bob",
            reader_token,
        )


async def git(*args: str, cwd: str | os.PathLike | None = None, check: bool = True) -> tuple[int, str]:
    """Run git without blocking the loop the emulator serves from."""
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Alice",
        "GIT_AUTHOR_EMAIL": "alice@example.com",
        "GIT_COMMITTER_NAME": "Alice",
        "GIT_COMMITTER_EMAIL": "alice@example.com",
    }
    proc = await asyncio.create_subprocess_exec(
        "git", *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    if check and proc.returncode:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}): {text}")
    return proc.returncode, text
