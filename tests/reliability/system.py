"""A running system for the reliability and security tests, as it runs in production:

- a PostgreSQL database (a fresh one from the shared test server, or a dedicated server);
- the GitHub emulator (ghsim) with the repository acme/fabric, the App installed on it and two
  people: alice (write) and mallory (read);
- the bot as a child process running `hnp-gitops serve` (tests/reliability/serve_proc.py), so
  it can be SIGKILLed and started again; its stderr (the JSON log) goes to a file;
- the fabric `lab` (directory `fabric/`, branch main) registered and ingested through the HNP
  API, as HNP does.

Outcomes are read where a person would look: GitHub's REST answers, a real `git clone`, and
the database's tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import yaml

from bot.storage import database
from ghsim.testing import GhSim
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).with_name("serve_proc.py")

API_TOKEN = "hnp-api-token-reliability-7f3a9c1e5b"
WEBHOOK_SECRET = "whsec-reliability-2d8e4b6a0c"
OWNER, REPO = "acme", "fabric"
FULL = f"{OWNER}/{REPO}"
FABRIC = "lab"
DIRECTORY = "fabric"
WRITER, READER = "alice", "mallory"

HEDGEHOG_KINDS = {
    "VPC",
    "VPCAttachment",
    "VPCPeering",
    "External",
    "ExternalAttachment",
    "ExternalPeering",
    "IPv4Namespace",
    "VLANNamespace",
    "Connection",
    "Server",
    "Switch",
    "SwitchGroup",
}
GIT_ENV = {
    **os.environ,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "LC_ALL": "C",
}


def vpc(name: str, vlan: int, octet: int, *, comment: str = "") -> str:
    head = f"# {comment}\n" if comment else ""
    return (
        f"{head}apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: {name}\nspec:\n"
        f"  subnets:\n    default:\n      subnet: 10.0.{octet}.0/24\n      vlan: {vlan}\n"
    )


def vpc_spec(vlan: int, octet: int) -> dict[str, Any]:
    return {"subnets": {"default": {"subnet": f"10.0.{octet}.0/24", "vlan": vlan}}}


WORKFLOW = "name: ci\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make test\n"

FILES = {
    "README.md": "# Lab fabric\n",
    ".github/workflows/ci.yml": WORKFLOW,
    f"{DIRECTORY}/vpcs.yaml": vpc("vpc-1", 1001, 1, comment="VPCs of the lab") + "---\n" + vpc("vpc-2", 1002, 2),
    f"{DIRECTORY}/lone.yaml": vpc("lone", 1009, 9),
}


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def git(cwd: Path | None, *args: str, check: bool = True) -> str:
    """git without blocking the event loop (the emulator answers in this same loop)."""
    proc = await asyncio.create_subprocess_exec(
        "git",
        "-c",
        "user.name=Alice",
        "-c",
        "user.email=alice@example.com",
        "-c",
        "init.defaultBranch=main",
        *args,
        cwd=str(cwd) if cwd else None,
        env=GIT_ENV,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if check and proc.returncode:
        raise AssertionError(f"git {' '.join(args)} failed: {err.decode()}")
    return out.decode().strip()


LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


class Bot:
    """One `serve` child process (start, SIGKILL, SIGTERM, start again on the same port).
    It first starts on port 0 and takes the port it names in its log: a port picked for it
    beforehand could be taken by another test process before the child binds it."""

    def __init__(self, env: dict[str, str], log_dir: Path, *, args: tuple[str, ...] = (), name: str = "bot") -> None:
        self.env, self.log_dir, self.args, self.name = env, log_dir, args, name
        self.port = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.generation = 0
        self.logs: list[Path] = []

    @property
    def url(self) -> str:
        assert self.port, f"{self.name} has not started yet"
        return f"http://127.0.0.1:{self.port}"

    async def start(self, *, wait: bool = True) -> None:
        self.generation += 1
        log = self.log_dir / f"{self.name}-{self.generation}.log"
        self.logs.append(log)
        with open(log, "wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(LAUNCHER),
                "--port",
                str(self.port),
                "--host",
                "127.0.0.1",
                *self.args,
                env=self.env,
                cwd=str(ROOT),
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        await wait_for(self.listening, timeout=40, interval=0.05, message=f"{self.name} to listen")
        if wait:
            await wait_for(self.healthy, timeout=40, interval=0.05, message=f"{self.name} to answer /healthz")

    async def listening(self) -> bool:
        """Whether this start's log names the port it listens on (which it then keeps)."""
        self._check_running()
        found = LISTENING.search(self.logs[-1].read_text(errors="replace"))
        if found:
            self.port = int(found.group(1))
        return found is not None

    def _check_running(self) -> None:
        if self.proc is not None and self.proc.returncode is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_text()[-4000:]}")

    async def healthy(self) -> bool:
        self._check_running()
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{self.url}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                    return r.status == 200
        except (TimeoutError, aiohttp.ClientError):
            return False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def kill(self) -> None:
        """SIGKILL: no clean-up, no hand-back of jobs; leases stay until they expire."""
        if self.running:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> int | None:
        """SIGTERM, as a platform stops a process; returns the exit code."""
        if self.running:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode if self.proc else None

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs if p.exists())


@dataclass
class System:
    sim: GhSim
    pool: asyncpg.Pool
    database_url: str
    github_app: dict
    installation_id: int
    tokens: dict[str, str]  # login -> personal token
    tmp: Path
    session: aiohttp.ClientSession
    bots: list[Bot] = field(default_factory=list)
    clones: int = 0

    @property
    def bot(self) -> Bot:
        return self.bots[0]

    # -- processes --------------------------------------------------------------------------
    def bot_env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.tmp),
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": self.database_url,
            "GITHUB_APP_ID": str(self.github_app["id"]),
            "GITHUB_PRIVATE_KEY": self.github_app["private_key"],
            "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "GITHUB_API_URL": self.sim.base_url,
            "HNP_API_TOKEN": API_TOKEN,
            "HNP_GITOPS_DATA_DIR": str(self.tmp / "data"),
            "HNP_GITOPS_LOG_FORMAT": "json",
            "HNP_GITOPS_WORKERS": "4",
            "RECONCILE_INTERVAL": "3600",
        }
        env.update(extra)
        return env

    async def add_bot(self, *, args: tuple[str, ...] = (), deliver: bool = True, **env: str) -> Bot:
        bot = Bot(self.bot_env(**env), self.tmp, args=args, name=f"bot{len(self.bots) + 1}")
        self.bots.append(bot)
        await bot.start()
        if deliver:
            await self.sim.set_webhook_url(self.github_app["id"], f"{bot.url}/webhook")
        return bot

    async def close(self) -> None:
        for bot in self.bots:
            await bot.stop()

    # -- the HNP API, as HNP calls it ---------------------------------------------------------
    def headers(self, token: str | None = API_TOKEN, **extra: str) -> dict[str, str]:
        base = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return {**base, **extra}

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict | None = None,
        raw: bytes | None = None,
        bot: Bot | None = None,
    ) -> tuple[int, Any]:
        bot = bot or self.bot
        kwargs: dict[str, Any] = {"headers": self.headers() if headers is None else headers}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        async with self.session.request(method, bot.url + path, **kwargs) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text

    async def draft(self, kind: str, name: str, spec: dict | None = None, *, delete: bool = False) -> dict:
        body = {"delete": True} if delete else {"spec": spec}
        status, data = await self.call("PUT", f"/api/fabrics/{FABRIC}/resources/{kind}/{name}/draft", body)
        assert status == 200, data
        return data

    async def start_sync(self, bot: Bot | None = None, **body: Any) -> str:
        status, data = await self.call("POST", f"/api/fabrics/{FABRIC}/sync", body, bot=bot)
        assert status == 202, data
        return data["operation_id"]

    async def operation(self, operation_id: str) -> dict:
        status, data = await self.call("GET", f"/api/operations/{operation_id}")
        assert status == 200, data
        return data

    async def finished(self, operation_id: str, timeout: float = 60) -> dict:
        """The operation once it has finished (read from the database: the API may be down)."""

        async def done() -> dict | None:
            row = await self.pool.fetchrow("SELECT status FROM sync_operation WHERE id = $1", uuid.UUID(operation_id))
            return row if row and row["status"] in ("completed", "failed", "cancelled") else None

        await wait_for(done, timeout=timeout, interval=0.05, message=f"operation {operation_id} to finish")
        row = await self.pool.fetchrow("SELECT * FROM sync_operation WHERE id = $1", uuid.UUID(operation_id))
        return dict(row)

    async def sync(self, timeout: float = 60, **body: Any) -> dict:
        return await self.finished(await self.start_sync(**body), timeout)

    # -- GitHub, as a person sees it ------------------------------------------------------------
    async def rest(self, path: str, *, user: str = WRITER, ok: tuple[int, ...] = (200,)) -> Any:
        """GET as a person. Faults injected for the bot hit people too (they match on the path
        only): like any client, retry a 5xx or a secondary rate limit a few times."""
        for attempt in range(8):
            async with self.sim.session.get(
                self.sim.base_url + path, headers={"Authorization": f"token {self.tokens[user]}"}
            ) as r:
                text = await r.text()
                if (r.status >= 500 or "secondary rate limit" in text) and attempt < 7:
                    await asyncio.sleep(0.2 * (attempt + 1))  # wait-ok: a client's retry backoff
                    continue
                assert r.status in ok, (path, r.status, text)
                return json.loads(text) if r.status == 200 else None

    async def head(self, branch: str = "main") -> str:
        return (await self.rest(f"/repos/{FULL}/git/ref/heads/{branch}"))["object"]["sha"]

    async def branches(self) -> dict[str, str]:
        refs = await self.rest(f"/repos/{FULL}/git/matching-refs/heads/")
        return {r["ref"].removeprefix("refs/heads/"): r["object"]["sha"] for r in refs}

    async def pulls(self, state: str = "all") -> list[dict]:
        return await self.rest(f"/repos/{FULL}/pulls?state={state}&per_page=100")

    async def clone(self, branch: str = "main", user: str = WRITER) -> Path:
        self.clones += 1
        target = self.tmp / f"clone-{self.clones}"
        await git(
            None, "clone", "-q", "--branch", branch, self.sim.git_url(OWNER, REPO, self.tokens[user]), str(target)
        )
        return target

    async def push(
        self,
        edit: dict[str, str | bytes | None],
        message: str = "a person's change",
        branch: str = "main",
        clone: Path | None = None,
    ) -> str:
        """A person clones (or reuses a clone), edits (None deletes), commits and pushes with git."""
        work = clone or await self.clone(branch)
        if clone is not None:
            await git(work, "fetch", "-q", "origin")
            await git(work, "reset", "-q", "--hard", f"origin/{branch}")
        for path, content in edit.items():
            target = work / path
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.encode() if isinstance(content, str) else content)
        await git(work, "add", "-A")
        await git(work, "commit", "-q", "-m", message)
        await git(work, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return await git(work, "rev-parse", "HEAD")

    async def request_mark(self) -> int:
        found = await self.sim.requests()
        return found[-1]["seq"] if found else 0

    async def bot_requests(self, since: int = 0) -> list[dict]:
        """REST requests the bot made (as the App or its installation) after `since`."""
        return [
            r
            for r in await self.sim.requests(since=since)
            if r.get("installation_id") is not None or (r.get("user") or "").startswith("app:")
        ]

    async def fault_hits(self, fault_id: int) -> int:
        for f in await self.sim.faults():
            if f["id"] == fault_id:
                return f["hits"]
        return -1  # used up (a fault with a count is removed once spent)

    # -- the database ---------------------------------------------------------------------------
    async def fabric_row(self) -> asyncpg.Record:
        return await self.pool.fetchrow("SELECT * FROM fabric WHERE name = $1", FABRIC)

    async def ingested(self, sha: str, timeout: float = 30) -> None:
        async def at() -> bool:
            return (await self.pool.fetchval("SELECT last_ingested_sha FROM fabric WHERE name = $1", FABRIC)) == sha

        await wait_for(at, timeout=timeout, interval=0.05, message=f"the fabric to be ingested at {sha[:12]}")

    async def idle(self, timeout: float = 60) -> None:
        """Every webhook delivered and no job of the bot left to run (reconcile timers aside)."""
        await self.sim.wait_deliveries_idle(timeout)

        async def empty() -> bool:
            return not await self.pool.fetchval(
                "SELECT (SELECT count(*) FROM job WHERE kind NOT LIKE 'reconcile%' AND (status = 'running' "
                "OR (status = 'queued' AND run_after <= now() + interval '30 seconds'))"
                ") + (SELECT count(*) FROM delivery_inbox)"
            )

        await wait_for(empty, timeout=timeout, interval=0.05, message="the bot's job queue to drain")

    async def desired(self) -> dict[tuple[str, str], Any]:
        rows = await self.pool.fetch(
            "SELECT r.kind, r.name, r.desired_spec FROM resource r JOIN fabric f ON f.id = r.fabric_id "
            "WHERE f.name = $1 AND r.desired_spec IS NOT NULL AND r.state <> 'orphaned'",
            FABRIC,
        )
        return {(r["kind"], r["name"]): r["desired_spec"] for r in rows}

    async def state_snapshot(self) -> dict[str, Any]:
        """Everything a bad input must not change: resources, fabric, operations, jobs, deliveries."""
        return {
            "resources": [
                dict(r)
                for r in await self.pool.fetch(
                    "SELECT kind, name, desired_spec, draft_spec, draft_delete, state, file_path FROM resource "
                    "ORDER BY kind, name"
                )
            ],
            "fabrics": [
                dict(r)
                for r in await self.pool.fetch(
                    "SELECT name, repository, directory, branch, last_ingested_sha FROM fabric ORDER BY name"
                )
            ],
            "operations": await self.pool.fetchval("SELECT count(*) FROM sync_operation"),
            "jobs": await self.pool.fetchval("SELECT count(*) FROM job WHERE kind NOT LIKE 'reconcile%'"),
            "deliveries": await self.pool.fetchval("SELECT count(*) FROM webhook_delivery"),
            "branches": await self.branches(),
        }


def parse_repository(root: Path, directory: str = DIRECTORY) -> dict[tuple[str, str], dict]:
    """An independent reading of a checkout: every Hedgehog document under `directory` that
    yaml.safe_load_all reads, (kind, name) -> {spec, path}. Files that do not parse are left out."""
    found: dict[tuple[str, str], dict] = {}
    base = root / directory
    for path in sorted(base.rglob("*")):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") in HEDGEHOG_KINDS:
                found[(doc["kind"], doc["metadata"]["name"])] = {
                    "spec": doc.get("spec"),
                    "path": str(path.relative_to(root)),
                }
    return found


@contextlib.asynccontextmanager
async def running_system(
    database_url: str,
    tmp: Path,
    *,
    files: dict[str, str] | None = None,
    ingest: bool = True,
    start_bot: bool = True,
    **bot_env: str,
) -> AsyncIterator[System]:
    """The emulator, the repository, the App, a `serve` process and the fabric, ready."""
    pool = await database.create_pool(database_url, min_size=1, max_size=4)
    try:
        async with GhSim.start(tmp / "ghsim") as sim, aiohttp.ClientSession() as session:
            github_app = await sim.create_app(None, WEBHOOK_SECRET, name="hnp-gitops-reliability")
            await sim.create_repo(OWNER, REPO, files=files if files is not None else FILES)
            installation = await sim.create_installation(github_app["id"], OWNER, [FULL])
            tokens = {
                WRITER: await sim.create_user(WRITER, "write", [FULL]),
                READER: await sim.create_user(READER, "read", [FULL]),
            }
            system = System(sim, pool, database_url, github_app, installation["id"], tokens, tmp, session)
            try:
                if start_bot:
                    await system.add_bot(**bot_env)
                    # The reconciliation `serve` queues at start-up is over before the fabric
                    # exists, or it might find the fabric first and ingest its head as well.
                    await wait_for(lambda: start_up_reconciled(pool), timeout=30, message="the start-up reconciliation")
                    status, body = await system.call(
                        "POST",
                        "/api/fabrics",
                        {"name": FABRIC, "repository": FULL, "directory": DIRECTORY, "branch": "main"},
                    )
                    assert status == 201, body
                    if ingest:
                        done = await system.sync(direction="github_to_gui")
                        assert done["status"] == "completed", done
                        await system.idle()
                yield system
            finally:
                await system.close()
    finally:
        await pool.close()


async def start_up_reconciled(pool: asyncpg.Pool) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM job WHERE kind = 'reconcile' AND status = 'done') "
            "AND NOT EXISTS (SELECT 1 FROM job WHERE status IN ('queued', 'running'))"
        )
    )


# -- invariants ---------------------------------------------------------------------------------


async def assert_database_matches_repository(system: System, branch: str = "main") -> dict:
    """For every resource without a draft, the desired spec in Postgres is what an independent
    parse of the branch head says, and nothing else is desired. Returns the parse."""
    clone = await system.clone(branch)
    expected = parse_repository(clone)
    rows = await system.pool.fetch(
        "SELECT r.kind, r.name, r.desired_spec, r.file_path, r.state, r.draft_spec, r.draft_delete FROM resource r "
        "JOIN fabric f ON f.id = r.fabric_id WHERE f.name = $1",
        FABRIC,
    )
    seen = set()
    for r in rows:
        key = (r["kind"], r["name"])
        if r["draft_spec"] is not None or r["draft_delete"]:
            seen.add(key)
            continue
        if r["state"] == "orphaned":
            assert key not in expected, f"{key} is orphaned in the database but present in the repository"
            continue
        assert key in expected, f"{key} is desired in the database but absent from the repository"
        assert r["desired_spec"] == expected[key]["spec"], (key, r["desired_spec"], expected[key]["spec"])
        assert r["file_path"] == expected[key]["path"], (key, r["file_path"], expected[key]["path"])
        seen.add(key)
    missing = set(expected) - seen
    assert not missing, f"in the repository but not in the database: {sorted(missing)}"
    head = await system.head(branch)
    assert (await system.fabric_row())["last_ingested_sha"] == head
    return expected


async def assert_deliveries_processed_once(system: System) -> int:
    """Every delivery GitHub (the emulator) got a 2xx for is stored once and processed once;
    returns how many there were."""
    delivered = [
        d
        for d in await system.sim.deliveries(app_id=system.github_app["id"])
        if d["status"] == "delivered" and d["event"] != "ping"
    ]
    guids = {d["guid"] for d in delivered}
    rows = {
        r["delivery_id"]: r
        for r in await system.pool.fetch(
            "SELECT d.delivery_id, d.outcome, count(j.id) AS jobs, count(j.id) FILTER (WHERE j.status = 'done') AS done "
            "FROM webhook_delivery d LEFT JOIN job j ON j.delivery_id = d.delivery_id AND j.kind = 'webhook' "
            "GROUP BY d.delivery_id, d.outcome"
        )
    }
    missing = guids - set(rows)
    assert not missing, f"acknowledged deliveries not stored: {missing}"
    for guid in guids:
        row = rows[guid]
        assert row["outcome"] in ("processed", "ignored"), dict(row)
        if row["outcome"] == "processed":
            assert row["jobs"] == 1 and row["done"] == 1, dict(row)
        else:
            assert row["jobs"] == 0, dict(row)
    # One ingest per pushed head: a duplicate or late delivery never ingests a commit twice.
    twice = await system.pool.fetch(
        "SELECT head_sha, count(*) AS n FROM sync_operation WHERE direction = 'github_to_gui' "
        "AND trigger IN ('push', 'reconcile') AND status = 'completed' GROUP BY head_sha HAVING count(*) > 1"
    )
    assert not twice, [dict(r) for r in twice]
    return len(guids)


async def assert_no_job_leased(system: System) -> None:
    # The periodic reconcile keeps running while the bot lives: one in progress, inside its
    # lease, is work, not a job left leased.
    rows = await system.pool.fetch(
        "SELECT id, kind, status, attempts, last_error FROM job WHERE status = 'dead' "
        "OR (status IN ('queued', 'running') AND kind NOT LIKE 'reconcile%') "
        "OR (status = 'running' AND lease_expires_at < now())"
    )
    assert not rows, [dict(r) for r in rows]
