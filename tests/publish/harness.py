"""A world for publishing tests: the GitHub emulator with a fabric repository, the whole bot
(webhook intake, workers, HNP API) in this process, and helpers that look at the outcome the
way a person would -- a real `git clone` of the repository and GitHub's REST answers -- not
through the bot's own tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.config import Config, Secret
from bot.jobs.queue import QueueSettings
from bot.storage import jobs as job_store
from bot.web.app import Tuning, create_app
from ghsim.testing import GhSim
from tests.conftest import served, wait_for

API_TOKEN = "hnp-api-token-publish-tests-0123456789"
WEBHOOK_SECRET = "whsec-publish-tests-0123456789"
OWNER, REPO = "acme", "fabric"
PERSON = "alice"

VPCS = """\
# VPCs of the lab. Keep them sorted by name.
apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata:
  name: vpc-1
spec:
  subnets:
    default:
      subnet: 10.0.1.0/24   # servers
      vlan: 1001
---
# the second VPC, owned by team B
apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata:
  name: vpc-2
spec:
  subnets:
    default:
      subnet: 10.0.2.0/24
      vlan: 1002
---
apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata:
  name: vpc-3
  labels:
    team: c
spec:
  subnets:
    default:
      subnet: 10.0.3.0/24
      vlan: 1003
"""

LONE = """\
apiVersion: vpc.githedgehog.com/v1beta1
kind: VPC
metadata:
  name: lone
spec:
  subnets:
    default:
      subnet: 10.0.9.0/24
      vlan: 1009
"""

README = "# Lab fabric\n\nNot YAML; never touched by the bot.\n"

FILES = {"fabric/vpcs.yaml": VPCS, "fabric/lone.yaml": LONE, "README.md": README}


def vpc_spec(octet: int, vlan: int) -> dict[str, Any]:
    return {"subnets": {"default": {"subnet": f"10.0.{octet}.0/24", "vlan": vlan}}}


@dataclass
class World:
    sim: GhSim
    api: TestClient
    pool: asyncpg.Pool
    app: web.Application
    github_app: dict
    installation_id: int
    person_token: str
    tmp: Path
    fabric: str = "lab"

    # -- the HNP API, as HNP calls it ------------------------------------------------------------
    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_TOKEN}", **extra}

    async def call(
        self, method: str, path: str, body: Any = None, *, headers: dict | None = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"headers": headers if headers is not None else self.headers()}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        async with self.api.request(method, path, **kwargs) as response:
            data = await response.json() if response.content_type == "application/json" else await response.text()
            return response.status, data

    async def draft(self, kind: str, name: str, body: dict, user: str = "hnp-user") -> dict:
        status, data = await self.call(
            "PUT",
            f"/api/fabrics/{self.fabric}/resources/{kind}/{name}/draft",
            body,
            headers=self.headers(**{"X-HNP-User": user}),
        )
        assert status == 200, data
        return data

    async def resource(self, kind: str, name: str) -> dict:
        status, data = await self.call("GET", f"/api/fabrics/{self.fabric}/resources/{kind}/{name}")
        assert status == 200, data
        return data

    async def start_sync(self, **body: Any) -> str:
        status, data = await self.call("POST", f"/api/fabrics/{self.fabric}/sync", body)
        assert status == 202, data
        return data["operation_id"]

    async def operation(self, operation_id: str, wait: float = 0) -> dict:
        suffix = f"?wait={wait}" if wait else ""
        status, data = await self.call("GET", f"/api/operations/{operation_id}{suffix}")
        assert status == 200, data
        return data

    async def sync(self, **body: Any) -> dict:
        """Start a sync and wait (long poll) until it has finished."""
        operation_id = await self.start_sync(**body)
        for _ in range(6):
            data = await self.operation(operation_id, wait=10)
            if data["status"] in ("completed", "failed", "cancelled"):
                return data
        raise AssertionError(f"sync {operation_id} did not finish: {data}")

    async def ingest(self) -> dict:
        """github_to_gui through the API: the bot reads the branch head now."""
        done = await self.sync(direction="github_to_gui")
        assert done["status"] == "completed", done
        return done

    # -- GitHub, as a person sees it ---------------------------------------------------------------
    async def rest(self, path: str, token: str | None = None) -> Any:
        token = token or self.person_token
        async with self.sim.session.get(self.sim.base_url + path, headers={"Authorization": f"token {token}"}) as r:
            assert r.status == 200, (path, r.status, await r.text())
            return await r.json()

    async def git(self, cwd: Path | None, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=str(cwd) if cwd else None,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={
                **os.environ,
                "GIT_TERMINAL_PROMPT": "0",
                "GIT_AUTHOR_NAME": PERSON,
                "GIT_AUTHOR_EMAIL": f"{PERSON}@example.com",
                "GIT_COMMITTER_NAME": PERSON,
                "GIT_COMMITTER_EMAIL": f"{PERSON}@example.com",
            },
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, f"git {' '.join(args)} failed: {err.decode()}"
        return out.decode()

    async def clone(self, branch: str = "main") -> Path:
        """A fresh clone of one branch of the repository (as a person with access would make)."""
        target = self.tmp / f"clone-{uuid.uuid4().hex[:8]}"
        await self.git(
            None, "clone", "-q", "--branch", branch, self.sim.git_url(OWNER, REPO, self.person_token), str(target)
        )
        return target

    async def head(self, branch: str = "main") -> str:
        return (await self.rest(f"/repos/{OWNER}/{REPO}/git/ref/heads/{branch}"))["object"]["sha"]

    async def branches(self) -> set[str]:
        refs = await self.rest(f"/repos/{OWNER}/{REPO}/git/matching-refs/heads/")
        return {r["ref"].removeprefix("refs/heads/") for r in refs}

    async def pulls(self, state: str = "all") -> list[dict]:
        return await self.rest(f"/repos/{OWNER}/{REPO}/pulls?state={state}")

    async def bot_requests_since(self, mark: int) -> list[dict]:
        """GitHub REST requests the bot made (as the app or an installation) after `mark`."""
        return [
            r
            for r in (await self.sim.requests(since=mark) or [])
            if r.get("installation_id") is not None or r["path"].startswith("/app")
        ]

    async def request_mark(self) -> int:
        return max((r["seq"] for r in (await self.sim.requests() or [])), default=0)

    async def push_as_person(self, branch: str, edit: dict[str, str | None], message: str) -> str:
        """Clone, change files (None deletes), commit and `git push` as a person; the new head."""
        work = await self.clone(branch)
        for path, text in edit.items():
            target = work / path
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
        await self.git(work, "add", "-A")
        await self.git(work, "commit", "-q", "-m", message)
        await self.git(work, "push", "-q", "origin", f"HEAD:{branch}")
        return (await self.git(work, "rev-parse", "HEAD")).strip()

    async def idle(self) -> None:
        """Every webhook delivered and every queued job of the bot done."""
        await self.sim.wait_deliveries_idle()

        async def queue_empty() -> bool:
            return not await job_store.outstanding(self.pool)

        await wait_for(queue_empty, timeout=30, message="the bot's job queue to drain")


@contextlib.asynccontextmanager
async def world(
    pool: asyncpg.Pool, tmp: Path, files: dict[str, str] | None = None, directory: str = "fabric", ingest: bool = True
) -> AsyncIterator[World]:
    """The emulator with acme/fabric holding `files`, the bot running against it with webhooks
    delivered, and fabric `lab` registered through the API (and ingested, unless told not to)."""
    async with GhSim.start(tmp / "ghsim") as sim:
        github_app = await sim.create_app(None, WEBHOOK_SECRET, name="hnp-gitops-test")
        await sim.create_repo(OWNER, REPO, files=files if files is not None else FILES)
        installation = await sim.create_installation(github_app["id"], OWNER, [f"{OWNER}/{REPO}"])
        person_token = await sim.create_user(PERSON, "write", [f"{OWNER}/{REPO}"])
        config = Config(
            github_app_id=github_app["id"],
            github_private_key=Secret(github_app["private_key"]),
            github_webhook_secret=Secret(WEBHOOK_SECRET),
            hnp_api_token=Secret(API_TOKEN),
            github_api_url=sim.base_url,
            workers=4,
            reconcile_interval=3600,
        )
        tuning = Tuning(queue=QueueSettings.for_lease(10.0, poll_seconds=0.2, backoff_base=0.05))
        app = create_app(config, pool, background=True, tuning=tuning)
        async with served(app) as client:
            await sim.set_webhook_url(github_app["id"], str(client.make_url("/webhook")))
            w = World(sim, client, pool, app, github_app, installation["id"], person_token, tmp)
            status, body = await w.call(
                "POST",
                "/api/fabrics",
                {"name": w.fabric, "repository": f"{OWNER}/{REPO}", "directory": directory, "branch": "main"},
            )
            assert status == 201, body
            if ingest:
                await w.ingest()
            yield w
