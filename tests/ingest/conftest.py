"""A fabric repository on the emulator, a person pushing to it with real git, and the bot's
ingestion running through its real job queue against a fresh database."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from bot.config import Config, Secret
from bot.github.client import GitHub, open_github
from bot.jobs import queue
from bot.storage import fabrics
from bot.storage.fabrics import Fabric
from bot.web.app import job_handlers
from ghsim.testing import GhSim

OWNER, REPO = "acme", "fabric"
DIRECTORY = "fabric-1"
GIT_ENV = {
    **os.environ,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "LC_ALL": "C",
}


async def git(cwd: Path, *args: str) -> str:
    """Run git without blocking the event loop (the emulator answers in this same loop)."""
    proc = await asyncio.create_subprocess_exec(
        "git",
        "-c",
        "user.name=Alice",
        "-c",
        "user.email=alice@example.com",
        "-c",
        "init.defaultBranch=main",
        *args,
        cwd=cwd,
        env=GIT_ENV,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode:
        raise AssertionError(f"git {' '.join(args)} failed: {err.decode()}")
    return out.decode().strip()


class WorkTree:
    """A person's clone of the repository."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        self.url = url

    def write(self, rel: str, content: str | bytes) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text()

    def remove(self, rel: str) -> None:
        (self.path / rel).unlink()

    async def move(self, old: str, new: str) -> None:
        (self.path / new).parent.mkdir(parents=True, exist_ok=True)
        await git(self.path, "mv", old, new)

    async def commit(self, message: str) -> str:
        await git(self.path, "add", "-A")
        await git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        return await git(self.path, "rev-parse", "HEAD")

    async def push(self, branch: str = "main", force: bool = False) -> None:
        await git(self.path, "push", "-q", *(["--force"] if force else []), "origin", f"HEAD:refs/heads/{branch}")

    async def commit_and_push(self, message: str, branch: str = "main", force: bool = False) -> str:
        sha = await self.commit(message)
        await self.push(branch, force)
        return sha


@dataclass
class World:
    sim: GhSim
    app: dict
    installation_id: int
    token: str  # the pushing person's token
    config: Config
    github: GitHub
    pool: asyncpg.Pool
    fabric: Fabric
    tree: WorkTree
    tmp: Path

    async def refresh(self) -> Fabric:
        self.fabric = await fabrics.get(self.pool, self.fabric.id)
        return self.fabric

    def workers(self, **options) -> queue.Workers:
        return queue.Workers(
            pool=self.pool, config=self.config, handlers=job_handlers(), github=self.github, count=1, **options
        )

    async def ingest(self, trigger: str = "push") -> None:
        """Queue an ingest job of the fabric, as a push would, and run the queue dry."""
        await queue.enqueue(
            self.pool, "ingest", {"fabric_id": self.fabric.id, "trigger": trigger}, fabric_id=self.fabric.id
        )
        await self.run_jobs()

    async def run_jobs(self) -> None:
        """Run every runnable job; a job that failed fails the test with its error."""
        await self.workers().drain(timeout=60)
        failed = await self.pool.fetch("SELECT kind, last_error FROM job WHERE last_error IS NOT NULL")
        assert not failed, [dict(r) for r in failed]
        await self.refresh()

    async def rest(self, since: int = 0) -> list[dict]:
        return await self.sim.requests(since=since)

    async def last_seq(self) -> int:
        found = await self.sim.requests()
        return found[-1]["seq"] if found else 0

    async def check_runs(self, sha: str) -> list[dict]:
        async with self.sim.session.get(
            f"{self.sim.base_url}/repos/{OWNER}/{REPO}/commits/{sha}/check-runs",
            headers={"Authorization": f"token {self.token}"},
        ) as resp:
            assert resp.status == 200, await resp.text()
            return (await resp.json())["check_runs"]

    async def annotations(self, check_run_id: int) -> list[dict]:
        async with self.sim.session.get(
            f"{self.sim.base_url}/repos/{OWNER}/{REPO}/check-runs/{check_run_id}/annotations",
            params={"per_page": "100"},
            headers={"Authorization": f"token {self.token}"},
        ) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


@pytest.fixture
async def world(tmp_path: Path, pool: asyncpg.Pool) -> AsyncIterator[World]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    async with GhSim.start(tmp_path / "ghsim") as sim:
        app = await sim.create_app(None, "webhook-secret")
        await sim.create_repo(OWNER, REPO)
        installation = await sim.create_installation(app["id"], OWNER, [f"{OWNER}/{REPO}"])
        token = await sim.create_user("alice", "write", [f"{OWNER}/{REPO}"])
        config = Config(
            github_app_id=app["id"],
            github_private_key=Secret(app["private_key"]),
            github_webhook_secret=Secret("webhook-secret"),
            github_api_url=sim.base_url,
            hnp_api_token=Secret("hnp-api-token-ingest-0123456789abcdef"),
            workers=2,
        )
        path = tmp_path / "clone"
        await git(tmp_path, "clone", "-q", sim.git_url(OWNER, REPO, token), str(path))
        fabric = await fabrics.create(
            pool,
            name="fabric-1",
            repository=f"{OWNER}/{REPO}",
            directory=DIRECTORY,
            branch="main",
            installation_id=installation["id"],
        )
        async with open_github(config) as github:
            yield World(
                sim,
                app,
                installation["id"],
                token,
                config,
                github,
                pool,
                fabric,
                WorkTree(path, sim.git_url(OWNER, REPO, token)),
                tmp_path,
            )
