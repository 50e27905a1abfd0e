"""Shared pieces of the intake tests: signing deliveries, running the bot in this process,
and a test-only event router and job handlers that record what ran in the database."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient
from gidgethub import routing

from bot.config import Config
from bot.github.client import RetryPolicy
from bot.jobs.queue import JobContext, JobHandler, QueueSettings
from bot.web.app import Tuning, create_app, event_router
from tests.conftest import served, test_private_key_pem

WEBHOOK_SECRET = "whsec-intake-test-0123456789"
API_TOKEN = "hnp-api-token-intake-0123456789abcdef"

# Records every event the test router sees (table made by `record_tables`).
test_router = routing.Router()


@test_router.register("push")
async def _record_push(event, ctx: JobContext) -> None:
    await ctx.pool.execute(
        "INSERT INTO seen_event (delivery_id, event, job_id, ref) VALUES ($1, $2, $3, $4)",
        event.delivery_id,
        event.event,
        ctx.job.id,
        event.data.get("ref"),
    )


async def record_tables(pool: asyncpg.Pool) -> None:
    await pool.execute("""
        CREATE TABLE IF NOT EXISTS seen_event (delivery_id text, event text, job_id bigint, ref text,
                                               seen_at timestamptz DEFAULT clock_timestamp());
        CREATE TABLE IF NOT EXISTS job_run (job_id bigint, kind text, worker text, attempts int,
                                            key text, payload jsonb, started_at timestamptz,
                                            finished_at timestamptz DEFAULT clock_timestamp());
    """)


def make_config(**changes: Any) -> Config:
    from bot.config import Secret

    base = Config(
        github_app_id=1,
        github_private_key=Secret(test_private_key_pem()),
        github_webhook_secret=Secret(WEBHOOK_SECRET),
        hnp_api_token=Secret(API_TOKEN),
        github_api_url="http://127.0.0.1:9",
        workers=4,
        reconcile_interval=3600,
    )
    return base.replace(**changes)


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def push_payload(repository: str = "acme/fabric", ref: str = "refs/heads/main", **extra: Any) -> dict:
    owner, name = repository.split("/")
    return {
        "ref": ref,
        "before": "0" * 40,
        "after": "a" * 40,
        "repository": {"id": 1, "name": name, "full_name": repository, "owner": {"login": owner}},
        "installation": {"id": 42},
        "sender": {"login": "octocat"},
        **extra,
    }


def delivery_headers(
    event: str, body: bytes, *, delivery_id: str | None = None, signed: bool = True, secret: str = WEBHOOK_SECRET
) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
    }
    if signed:
        headers["X-Hub-Signature-256"] = sign(body, secret)
    return headers


async def post_event(client: TestClient, event: str, payload: dict, **options: Any):
    body = json.dumps(payload).encode()
    response = await client.post("/webhook", data=body, headers=delivery_headers(event, body, **options))
    return response.status, await response.json()


@contextlib.asynccontextmanager
async def running_bot(
    pool: asyncpg.Pool,
    config: Config | None = None,
    *,
    background: bool = True,
    settings: QueueSettings | None = None,
    router: routing.Router | None = None,
    extra_jobs: Mapping[str, JobHandler] | None = None,
    policy: RetryPolicy | None = None,
) -> AsyncIterator[TestClient]:
    """The whole bot app in this process, with the test router added to the real ones."""
    tuning = Tuning(
        queue=settings or QueueSettings.for_lease(5.0, poll_seconds=0.5, backoff_base=0.05),
        extra_jobs=extra_jobs or {},
        github=policy or RetryPolicy(),
    )
    app: web.Application = create_app(
        config or make_config(), pool, background=background, tuning=tuning, router=router or event_router(test_router)
    )
    async with served(app) as client:
        yield client


def recording_handlers() -> dict[str, JobHandler]:
    """Job kinds the queue tests use: each run is recorded in job_run."""

    async def record(ctx: JobContext) -> None:
        import asyncio

        started = await ctx.pool.fetchval("SELECT clock_timestamp()")
        seconds = float(ctx.job.payload.get("seconds", 0))
        gate = ctx.job.payload.get("wait_for_gate")
        if gate:
            await _gates[gate].wait()
        if seconds:
            await asyncio.sleep(seconds)  # wait-ok: simulated work of a given length
        await ctx.pool.execute(
            "INSERT INTO job_run (job_id, kind, worker, attempts, key, payload, started_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            ctx.job.id,
            ctx.job.kind,
            "in-process",
            ctx.job.attempts,
            ctx.job.ordering_key,
            ctx.job.payload,
            started,
        )

    return {"test.record": record}


_gates: dict[str, Any] = {}


def gate(name: str):
    import asyncio

    _gates[name] = asyncio.Event()
    return _gates[name]


# --- the GitHub emulator ------------------------------------------------------------------------


class GitHubWorld:
    """ghsim with one app, the repository acme/fabric and (optionally) an installation on it."""

    def __init__(self, sim, app: dict) -> None:
        self.sim = sim
        self.app = app
        self.installation_id: int | None = None

    def config(self, **changes: Any) -> Config:
        from bot.config import Secret

        return make_config(
            github_app_id=self.app["id"],
            github_private_key=Secret(self.app["private_key"]),
            github_api_url=self.sim.base_url,
            **changes,
        )

    async def install(self, repositories=("acme/fabric",)) -> int:
        installation = await self.sim.create_installation(self.app["id"], "acme", list(repositories))
        self.installation_id = installation["id"]
        return self.installation_id

    async def commit(self, path: str, text: str, message: str = "change", branch: str = "main") -> str:
        """A person pushes a commit (via the contents API); returns the new head sha."""
        import base64

        import aiohttp

        if not hasattr(self, "_user_token"):
            self._user_token = await self.sim.create_user("alice", "write", ["acme/fabric"])
        url = f"{self.sim.base_url}/repos/acme/fabric/contents/{path}"
        headers = {"Authorization": f"token {self._user_token}", "Accept": "application/vnd.github+json"}
        async with aiohttp.ClientSession() as session:
            async with session.get(url, headers=headers, params={"ref": branch}) as response:
                existing = await response.json() if response.status == 200 else None
            body = {"message": message, "content": base64.b64encode(text.encode()).decode(), "branch": branch}
            if existing:
                body["sha"] = existing["sha"]
            async with session.put(url, headers=headers, json=body) as response:
                answer = await response.json()
                assert response.status in (200, 201), answer
        return answer["commit"]["sha"]

    async def head(self, branch: str = "main") -> str:
        import aiohttp

        token = await self.sim.installation_token(self.installation_id)
        async with aiohttp.ClientSession() as session:
            async with session.get(
                f"{self.sim.base_url}/repos/acme/fabric/git/ref/heads/{branch}",
                headers={"Authorization": f"token {token}"},
            ) as response:
                return (await response.json())["object"]["sha"]


@contextlib.asynccontextmanager
async def github_world(tmp_path, *, install: bool = True) -> AsyncIterator[GitHubWorld]:
    from ghsim.testing import GhSim

    async with GhSim.start(tmp_path / "ghsim") as sim:
        app = await sim.create_app(None, WEBHOOK_SECRET)
        await sim.create_repo(
            "acme", "fabric", auto_init=True, files={"fabric/vpc-1.yaml": "kind: VPC\nmetadata:\n  name: vpc-1\n"}
        )
        world = GitHubWorld(sim, app)
        if install:
            await world.install()
        yield world


@contextlib.asynccontextmanager
async def bot_on(world: GitHubWorld, pool: asyncpg.Pool, **options: Any) -> AsyncIterator[TestClient]:
    """The bot in this process talking to the emulator, which delivers webhooks to it."""
    options.setdefault("policy", RetryPolicy(backoff_base=0.02, backoff_max=0.1))
    config = options.pop("config", None) or world.config()
    async with running_bot(pool, config, **options) as client:
        await world.sim.set_webhook_url(world.app["id"], str(client.make_url("/webhook")))
        yield client
