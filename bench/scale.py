"""Many fabrics, many installations, several replicas: a burst of pushes, fairly served.

    python -m bench.scale [--fabrics 200] [--repositories 50] [--installations 10]
                          [--pushes 1000] [--processes 1,2,4] [--sweep-spread 5]

Everything real: the GitHub emulator (ghsim, real git), PostgreSQL (embedded) and `hnp-gitops
serve` as 1, 2 and 4 processes on that one database (4 job workers each). The App is installed
on `--installations` organisations with `--repositories` repositories between them; each
repository holds `fabrics / repositories` fabrics, each on a branch of its own (directory
`fabric`, 10 VPCs in 2 files), registered through the HNP API and ingested first.

Each round (one per process count) sends a burst of `--pushes` signed push deliveries: a push
is a real fast-forward of the fabric's branch in the emulator's git repository to a commit that
changes one VPC's label (the commits are made beforehand with git fast-import; the branch is
moved with `git update-ref`, compare-and-swap, as receive-pack moves it), then its delivery,
sent by this benchmark straight away to one of the serve processes in turn (a load balancer),
signed with the webhook secret, 16 pushes at a time. (Moving refs through ghsim's REST API
costs it several git commands per push, about 8 a second on this loaded machine: the burst
would measure the emulator.) One installation sends half of the pushes; the
others share the rest by weights 9, 8, ..., 1 (the last is the quietest). Within an
installation, fabrics are picked at random.

Measured per round:
  - until every fabric's database state (last_ingested_sha and the changed label) equals its
    branch head, from the first push;
  - push -> database per push, p50/p99 per installation: from the branch moving until the
    fabric's last ingested commit is that one or a later one (polled every 25 ms);
  - GitHub calls the bot made (ghsim's request log), in all and per installation, and the
    installation tokens minted; ingests run (ingest jobs that ran) against pushes received,
    and the bound: calls <= 6 per ingest run;
  - invariants: every delivery processed once, each fabric's ingested commits only move
    forward, no commit ingested twice, no pull request, no job dead or left running;
  - then two reconcile sweeps of every fabric, each spread over `--sweep-spread` seconds: the
    first reads the heads the burst moved; the second, with nothing changed, is measured: calls,
    of them 304 (free under GitHub's rate limit), duration and the most checks in one second.

ghsim sends no webhooks during the rounds (the App's webhook URL is unset): the benchmark's
deliveries are the ones measured, and the emulator's CPU goes to answering the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import random
import re
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import GIT_ENV, Stack, percentile, print_table, wait_until, write_results
from bot.jobs.queue import enqueue
from bot.storage import database

TARGET_ALL_S = 30.0  # every fabric's state in the database, one serve process
TARGET_QUIET_P99_S = 2.0
CALLS_PER_INGEST = 6
DIRECTORY = "fabric"
VPCS = 10  # per fabric, in two files
LABEL = "bench.example.com/push"
CONCURRENCY = 16  # pushes in flight during a burst
POLL_SECONDS = 0.025


def vpc(name: str, number: int, label: str) -> str:
    return (
        f"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  name: {name}\n"
        f'  labels:\n    {LABEL}: "{label}"\nspec:\n  subnets:\n    default:\n'
        f"      subnet: 10.{number // 250}.{number % 250}.0/24\n      vlan: {1000 + number}\n"
    )


def first_file(label: str) -> str:
    return "---\n".join(vpc(f"vpc-{n}", n, label if n == 0 else "0") for n in range(VPCS // 2))


def second_file() -> str:
    return "---\n".join(vpc(f"vpc-{n}", n, "0") for n in range(VPCS // 2, VPCS))


@dataclass
class FabricSpot:
    id: int
    name: str
    installation: int  # index 0..installations-1
    installation_id: int
    repository: str
    branch: str
    chain: list[str] = field(default_factory=list)  # every commit the branch has pointed at, in order
    position: dict[str, int] = field(default_factory=dict)  # commit -> index in chain
    label: str = "0"  # vpc-0's label at the head of the chain


@dataclass
class Push:
    fabric: FabricSpot
    index: int  # in the fabric's chain
    sha: str
    sent_at: float = 0.0
    reached_at: float | None = None


# --- setup ------------------------------------------------------------------------------------


async def build_world(stack: Stack, args: argparse.Namespace) -> list[FabricSpot]:
    """Organisations, repositories, installations, fabrics (registered and ingested)."""
    sim = stack.sim
    per_repo = args.fabrics // args.repositories
    repos = [(f"org-{n % args.installations}", f"fabrics-{n}") for n in range(args.repositories)]
    by_org: dict[str, list[str]] = defaultdict(list)
    for owner, name in repos:
        await sim.create_repo(
            owner,
            name,
            files={f"{DIRECTORY}/vpcs.yaml": first_file("0"), f"{DIRECTORY}/more.yaml": second_file()},
        )
        by_org[owner].append(f"{owner}/{name}")
    user_token = await sim.create_user("bench", "write", [f"{o}/{n}" for o, n in repos])
    await sim.set_rate_limit(user="bench", limit=1_000_000, remaining=1_000_000, reset_in=3600)
    installations: dict[str, int] = {}
    for owner in sorted(by_org, key=lambda o: int(o.split("-")[1])):
        installations[owner] = (await sim.create_installation(stack.app["id"], owner, by_org[owner]))["id"]
    await sim.wait_deliveries_idle(timeout=120)
    await wait_until(
        lambda: stack.db.fetchval("SELECT count(*) = $1 FROM installation", len(installations)),
        timeout=120,
        what="serve to learn every installation",
    )
    fabrics: list[FabricSpot] = []
    async with aiohttp.ClientSession(headers={"Authorization": f"token {user_token}"}) as gh:
        for owner, name in repos:
            async with gh.get(f"{sim.base_url}/repos/{owner}/{name}/git/ref/heads/main") as r:
                main = (await r.json())["object"]["sha"]
            for k in range(per_repo):
                branch = f"fabric-{k}"
                async with gh.post(
                    f"{sim.base_url}/repos/{owner}/{name}/git/refs", json={"ref": f"refs/heads/{branch}", "sha": main}
                ) as r:
                    if r.status != 201:
                        raise RuntimeError(f"branch {branch} of {owner}/{name}: {r.status} {await r.text()}")
                fabric_name = f"{owner}-{name}-{k}"
                await stack.api(
                    "POST",
                    "/api/fabrics",
                    {"name": fabric_name, "repository": f"{owner}/{name}", "directory": DIRECTORY, "branch": branch},
                )
                fabric_id = int(await stack.db.fetchval("SELECT id FROM fabric WHERE name = $1", fabric_name))
                index = int(owner.split("-")[1])
                spot = FabricSpot(
                    fabric_id, fabric_name, index, installations[owner], f"{owner}/{name}", branch, [main], {main: 0}
                )
                fabrics.append(spot)
    jobs = await database.create_pool(stack.dsn, min_size=1, max_size=2)  # the bot's codecs (JSON payloads)
    try:
        for spot in fabrics:  # the first ingest of each (it also learns the fabric's installation)
            await enqueue(jobs, "ingest", {"fabric_id": spot.id, "trigger": "push"}, fabric_id=spot.id)
    finally:
        await jobs.close()
    await wait_until(
        lambda: stack.db.fetchval(
            "SELECT count(*) = $1 FROM fabric WHERE last_ingested_sha IS NOT NULL AND installation_id IS NOT NULL",
            len(fabrics),
        ),
        timeout=600,
        interval=0.5,
        what="every fabric's first ingest",
    )
    return fabrics


def plan_burst(fabrics: list[FabricSpot], args: argparse.Namespace, rng: random.Random) -> list[FabricSpot]:
    """Which fabric each push of the burst goes to, in sending order: one installation half of
    them, the others by weights 9..1, fabrics at random within an installation."""
    by_installation: dict[int, list[FabricSpot]] = defaultdict(list)
    for spot in fabrics:
        by_installation[spot.installation].append(spot)
    others = sorted(i for i in by_installation if i != 0)
    weights = {i: len(others) - n for n, i in enumerate(others)}
    busy = args.pushes // 2 if others else args.pushes
    counts = {0: busy}
    rest = args.pushes - busy
    total_weight = sum(weights.values())
    for i in others:
        counts[i] = rest * weights[i] // total_weight if total_weight else 0
    counts[others[0] if others else 0] += args.pushes - sum(counts.values())  # rounding
    order = [i for i, n in counts.items() for _ in range(n)]
    rng.shuffle(order)
    return [rng.choice(by_installation[i]) for i in order]


def bare_repository(stack: Stack, repository: str) -> Path:
    """The emulator's git repository of owner/name (ghsim keeps each as a bare repository)."""
    owner, name = repository.split("/")
    return stack.tmp / "ghsim" / "repos" / owner / f"{name}.git"


async def stage_commits(stack: Stack, fabrics: list[FabricSpot], plan: list[FabricSpot]) -> list[Push]:
    """Make every commit of the burst now, in the emulator's repositories (git fast-import, one
    chain per fabric branch, kept under refs/stage/), so that during the burst a push only moves
    a branch."""
    per_fabric: dict[int, int] = Counter(spot.id for spot in plan)
    by_repo: dict[str, list[FabricSpot]] = defaultdict(list)
    for spot in fabrics:
        if per_fabric.get(spot.id):
            by_repo[spot.repository].append(spot)
    round_tag = uuid.uuid4().hex[:8]

    async def one_repo(repository: str, spots: list[FabricSpot]) -> None:
        bare = bare_repository(stack, repository)
        stream: list[bytes] = []
        mark = 0
        marks: dict[int, tuple[FabricSpot, int]] = {}
        stamp = int(time.time())
        for spot in spots:
            for n in range(per_fabric[spot.id]):
                mark += 1
                marks[mark] = (spot, n)
                body = first_file(f"{round_tag}-{n + 1}").encode()
                message = f"push {n + 1} to {spot.name}".encode()
                stream.append(f"commit refs/stage/{spot.branch}\nmark :{mark}\n".encode())
                stream.append(f"committer Bench <bench@example.com> {stamp + mark} +0000\n".encode())
                stream.append(f"data {len(message)}\n".encode() + message + b"\n")
                if n == 0:
                    stream.append(f"from {spot.chain[-1]}\n".encode())
                stream.append(f"M 100644 inline {DIRECTORY}/vpcs.yaml\n".encode())
                stream.append(f"data {len(body)}\n".encode() + body + b"\n\n")
        marks_file = stack.tmp / f"marks-{repository.replace('/', '-')}"
        proc = await asyncio.create_subprocess_exec(
            "git",
            f"--git-dir={bare}",
            "fast-import",
            "--quiet",
            "--force",
            f"--export-marks={marks_file}",
            env=GIT_ENV,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate(b"".join(stream) + b"done\n")
        if proc.returncode:
            raise RuntimeError(f"git fast-import failed: {err.decode()[-500:]}")
        for line in marks_file.read_text().split("\n"):
            if line.startswith(":"):
                number, sha = line[1:].split()
                spot, n = marks[int(number)]
                spot.position[sha] = len(spot.chain) + n
        for spot in spots:
            spot.label = f"{round_tag}-{per_fabric[spot.id]}"

    limit = asyncio.Semaphore(4)

    async def bounded(repository: str, spots: list[FabricSpot]) -> None:
        async with limit:
            await one_repo(repository, spots)

    await asyncio.gather(*(bounded(r, s) for r, s in by_repo.items()))
    staged: dict[int, list[str]] = {}
    for spot in fabrics:
        new = sorted((i, sha) for sha, i in spot.position.items() if i >= len(spot.chain))
        staged[spot.id] = [sha for _, sha in new]
    pushes: list[Push] = []
    taken: Counter[int] = Counter()
    for spot in plan:
        n = taken[spot.id]
        taken[spot.id] += 1
        pushes.append(Push(spot, len(spot.chain) + n, staged[spot.id][n]))
    for spot in fabrics:
        spot.chain.extend(staged[spot.id])
    return pushes


class RefMover:
    """Moves branches in the emulator's repositories as a push does (compare-and-swap), with
    one `git update-ref --stdin` per repository: the burst is paced by the bot, not by the
    emulator's REST handling of ref updates."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def move(self, repository: str, branch: str, new: str, old: str) -> None:
        async with self.locks[repository]:
            proc = self.procs.get(repository)
            if proc is None:
                proc = self.procs[repository] = await asyncio.create_subprocess_exec(
                    "git",
                    f"--git-dir={bare_repository(self.stack, repository)}",
                    "update-ref",
                    "--stdin",
                    env=GIT_ENV,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(f"start\nupdate refs/heads/{branch} {new} {old}\ncommit\n".encode())
            await proc.stdin.drain()
            for expected in (b"start: ok", b"commit: ok"):
                line = (await proc.stdout.readline()).strip()
                if line != expected:
                    raise RuntimeError(f"moving {branch} of {repository}: {line!r}")

    async def close(self) -> None:
        for proc in self.procs.values():
            if proc.stdin is not None:
                proc.stdin.close()
            with contextlib.suppress(ProcessLookupError):
                async with asyncio.timeout(10):
                    await proc.wait()
        self.procs.clear()


# --- the burst ----------------------------------------------------------------------------------


def push_delivery(push: Push, before: str, secret: str) -> tuple[bytes, dict[str, str]]:
    spot = push.fabric
    owner, name = spot.repository.split("/")
    person = {"name": "Bench", "email": "bench@example.com", "username": "bench"}
    body = {
        "ref": f"refs/heads/{spot.branch}",
        "before": before,
        "after": push.sha,
        "created": False,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "commits": [
            {
                "id": push.sha,
                "message": f"push {push.index}",
                "author": person,
                "committer": person,
                "added": [],
                "removed": [],
                "modified": [f"{DIRECTORY}/vpcs.yaml"],
            }
        ],
        "head_commit": {"id": push.sha, "message": f"push {push.index}"},
        "repository": {"name": name, "full_name": spot.repository, "owner": {"login": owner}, "private": True},
        "pusher": {"name": "bench", "email": "bench@example.com"},
        "sender": {"login": "bench", "type": "User"},
        "installation": {"id": spot.installation_id},
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest(),
    }
    return raw, headers


async def send_burst(stack: Stack, pushes: list[Push]) -> dict[str, Any]:
    """Move each branch and send its delivery, CONCURRENCY at a time, one fabric's pushes in order."""
    ports = [port for _, port in stack.replicas]
    locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
    statuses: Counter[str] = Counter()
    queue: asyncio.Queue[tuple[int, Push]] = asyncio.Queue()
    for n, p in enumerate(pushes):
        queue.put_nowait((n, p))
    mover = RefMover(stack)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:

            async def pusher() -> None:
                while not queue.empty():
                    n, push = queue.get_nowait()
                    spot = push.fabric
                    before = spot.chain[push.index - 1]
                    async with locks[spot.id]:
                        await mover.move(spot.repository, spot.branch, push.sha, before)
                        push.sent_at = time.perf_counter()
                    body, headers = push_delivery(push, before, stack.secret)
                    port = ports[n % len(ports)]
                    async with session.post(f"http://127.0.0.1:{port}/webhook", data=body, headers=headers) as r:
                        statuses[f"{r.status} {(await r.json()).get('status')}"] += 1

            began = time.perf_counter()
            await asyncio.gather(*(pusher() for _ in range(CONCURRENCY)))
            return {"seconds": round(time.perf_counter() - began, 3), "answers": dict(statuses)}
    finally:
        await mover.close()


async def watch(stack: Stack, fabrics: list[FabricSpot], pushes: list[Push], timeout: float) -> float:
    """Poll the fabrics until every one is at its branch head; note when each push arrived.
    Returns the moment the last fabric got there."""
    by_id = {spot.id: spot for spot in fabrics}
    waiting: dict[int, list[Push]] = defaultdict(list)
    for p in pushes:
        waiting[p.fabric.id].append(p)
    deadline = time.perf_counter() + timeout
    async with stack.db.acquire() as conn:
        while waiting:
            rows = await conn.fetch("SELECT id, last_ingested_sha FROM fabric")
            now = time.perf_counter()
            for row in rows:
                spot = by_id.get(row["id"])
                if spot is None or row["id"] not in waiting:
                    continue
                at = spot.position.get(row["last_ingested_sha"], -1)
                left = []
                for p in waiting[row["id"]]:
                    if p.index <= at and p.sent_at:
                        p.reached_at = now
                    else:
                        left.append(p)
                if left:
                    waiting[row["id"]] = left
                else:
                    del waiting[row["id"]]
            if not waiting:
                return now
            if now > deadline:
                raise TimeoutError(
                    f"{sum(len(v) for v in waiting.values())} pushes not in the database after {timeout} s"
                )
            for proc, _ in stack.replicas:
                if proc.poll() is not None:
                    raise RuntimeError(f"serve exited with code {proc.returncode}")
            await asyncio.sleep(POLL_SECONDS)
    return time.perf_counter()


# --- what the bot did -----------------------------------------------------------------------------

TOKEN_PATH = re.compile(r"^/app/installations/(\d+)/access_tokens$")


def bot_calls(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The REST requests the bot made: as an installation, or as the App (JWT)."""
    return [r for r in requests if r.get("installation_id") is not None or (r.get("user") or "").startswith("app:")]


def calls_by_installation(calls: list[dict[str, Any]], names: dict[int, int]) -> dict[str, Any]:
    per: Counter[int] = Counter()
    tokens: Counter[int] = Counter()
    for r in calls:
        minted = TOKEN_PATH.match(r["path"])
        if minted:
            tokens[int(minted.group(1))] += 1
            per[int(minted.group(1))] += 1
        elif r.get("installation_id") is not None:
            per[int(r["installation_id"])] += 1
    return {
        "calls": {names.get(i, i): n for i, n in sorted(per.items(), key=lambda kv: names.get(kv[0], kv[0]))},
        "tokens": {names.get(i, i): n for i, n in sorted(tokens.items(), key=lambda kv: names.get(kv[0], kv[0]))},
    }


async def invariants(
    stack: Stack, fabrics: list[FabricSpot], since_job: int, started: Any, pushes: int
) -> dict[str, Any]:
    db = stack.db
    deliveries = await db.fetch(
        "SELECT d.delivery_id, d.outcome, count(j.id) AS jobs, coalesce(sum(j.attempts), 0) AS runs "
        "FROM webhook_delivery d LEFT JOIN job j ON j.delivery_id = d.delivery_id "
        "WHERE d.event = 'push' AND d.received_at >= $1 GROUP BY d.delivery_id, d.outcome",
        started,
    )
    operations = await db.fetch(
        "SELECT fabric_id, head_sha, created_at FROM sync_operation WHERE trigger = 'push' AND status = 'completed' "
        "AND created_at >= $1 ORDER BY created_at",
        started,
    )
    positions = {spot.id: spot.position for spot in fabrics}
    backwards = 0
    seen: dict[int, int] = {}
    twice: Counter[tuple[int, str]] = Counter()
    for op in operations:
        at = positions.get(op["fabric_id"], {}).get(op["head_sha"], -1)
        if at < seen.get(op["fabric_id"], -1):
            backwards += 1
        seen[op["fabric_id"]] = max(at, seen.get(op["fabric_id"], -1))
        twice[(op["fabric_id"], op["head_sha"])] += 1
    jobs = await db.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'dead') AS dead, "
        "count(*) FILTER (WHERE status IN ('running', 'queued') AND kind NOT LIKE 'reconcile%') AS unfinished "
        "FROM job WHERE id > $1",
        since_job,
    )
    return {
        "deliveries_stored": len(deliveries),
        "deliveries_processed_once": sum(1 for d in deliveries if d["outcome"] == "processed" and d["runs"] == 1),
        "every_delivery_processed_once": len(deliveries) == pushes
        and all(d["outcome"] == "processed" and d["jobs"] == 1 and d["runs"] == 1 for d in deliveries),
        "ingests_that_went_backwards": backwards,
        "commits_ingested_twice": sum(1 for n in twice.values() if n > 1),
        "pull_requests": await db.fetchval("SELECT count(*) FROM pull_request"),
        "dead_jobs": jobs["dead"],
        "unfinished_jobs": jobs["unfinished"],
    }


async def state_matches_heads(stack: Stack, fabrics: list[FabricSpot]) -> int:
    """Fabrics whose database state is their branch head: the last ingested commit, and vpc-0's
    label as the head commit wrote it."""
    rows = await stack.db.fetch(
        "SELECT f.id, f.last_ingested_sha, r.desired_metadata->'labels'->>$1 AS label FROM fabric f "
        "JOIN resource r ON r.fabric_id = f.id AND r.kind = 'VPC' AND r.name = 'vpc-0'",
        LABEL,
    )
    at = {r["id"]: (r["last_ingested_sha"], r["label"]) for r in rows}
    return sum(1 for spot in fabrics if at.get(spot.id) == (spot.chain[-1], spot.label))


async def sweep(stack: Stack, fabrics: list[FabricSpot], spread: float, names: dict[int, int]) -> dict[str, Any]:
    """One reconcile of every fabric, spread over `spread` seconds; nothing changed since the
    burst, so every check should be a 304."""
    await stack.db.execute("DELETE FROM job WHERE kind LIKE 'reconcile%' AND status = 'queued'")
    mark = await _request_mark(stack)
    began = time.perf_counter()
    jobs = await database.create_pool(stack.dsn, min_size=1, max_size=1)
    try:
        job_id = await enqueue(jobs, "reconcile", {"spread_seconds": spread})
    finally:
        await jobs.close()
    await wait_until(
        lambda: stack.db.fetchval(
            "SELECT (SELECT status FROM job WHERE id = $1) = 'done' AND NOT EXISTS (SELECT 1 FROM job "
            "WHERE kind = 'reconcile_installation' AND id > $1 AND status IN ('queued', 'running'))",
            job_id,
        ),
        timeout=spread + 120,
        interval=0.1,
        what="the reconcile sweep",
    )
    seconds = time.perf_counter() - began
    checks = [
        r
        for r in bot_calls(await stack.sim.requests(since=mark))
        if r["method"] == "GET" and "/git/ref/heads/" in r["path"]
    ]
    stamps = sorted(_stamp(r["time"]) for r in checks)  # ghsim logs whole seconds
    busiest = max(Counter(stamps).values(), default=0)
    per: Counter[int] = Counter(names.get(int(r["installation_id"]), -1) for r in checks if r.get("installation_id"))
    return {
        "fabrics": len(fabrics),
        "spread_s": spread,
        "checks": len(checks),
        "not_modified_304": sum(1 for r in checks if r["status"] == 304),
        "seconds": round(seconds, 2),
        "first_to_last_check_s": round(stamps[-1] - stamps[0], 2) if stamps else None,
        "most_checks_in_one_second": busiest,
        "checks_per_installation": dict(sorted(per.items())),
        "ingests_queued": await stack.db.fetchval(
            "SELECT count(*) FROM job WHERE kind = 'ingest' AND id > $1 AND payload->>'trigger' = 'reconcile'", job_id
        ),
    }


def _stamp(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    from datetime import datetime

    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


async def _request_mark(stack: Stack) -> int:
    found = await stack.sim.requests()
    return found[-1]["seq"] if found else 0


# --- a round --------------------------------------------------------------------------------------


async def run_round(
    stack: Stack,
    fabrics: list[FabricSpot],
    processes: int,
    args: argparse.Namespace,
    rng: random.Random,
) -> dict[str, Any]:
    await stack.set_replicas(processes)
    await stack.db.execute("DELETE FROM job WHERE kind LIKE 'reconcile%' AND status = 'queued'")
    plan = plan_burst(fabrics, args, rng)
    pushes = await stage_commits(stack, fabrics, plan)
    await wait_until(
        lambda: stack.db.fetchval(
            "SELECT count(*) = 0 FROM job WHERE status IN ('queued', 'running') AND kind NOT LIKE 'reconcile%'"
        ),
        timeout=120,
        what="the queue to be idle before the burst",
    )
    since_job = await stack.db.fetchval("SELECT coalesce(max(id), 0) FROM job")
    started = await stack.db.fetchval("SELECT now()")
    mark = await _request_mark(stack)
    print(f"\n{processes} serve process(es): burst of {len(pushes)} pushes", flush=True)
    began = time.perf_counter()
    watcher = asyncio.create_task(watch(stack, fabrics, pushes, args.timeout))
    sent = await send_burst(stack, pushes)
    done_at = await watcher
    all_in_s = done_at - began
    # The jobs' own bookkeeping (finish, the webhook jobs behind the last ingest) settles.
    await wait_until(
        lambda: stack.db.fetchval(
            "SELECT count(*) = 0 FROM job WHERE id > $1 AND status IN ('queued', 'running') "
            "AND kind NOT LIKE 'reconcile%'",
            since_job,
        ),
        timeout=120,
        what="the queue to be idle after the burst",
    )
    names = {spot.installation_id: spot.installation for spot in fabrics}
    calls = bot_calls(await stack.sim.requests(since=mark))
    split = calls_by_installation(calls, names)
    ingests = await stack.db.fetchrow(
        "SELECT count(*) AS jobs, coalesce(sum(attempts), 0) AS runs FROM job WHERE kind = 'ingest' AND id > $1",
        since_job,
    )
    ingests_changed = await stack.db.fetchval(
        "SELECT count(*) FROM sync_operation WHERE trigger = 'push' AND status = 'completed' AND created_at >= $1",
        started,
    )
    per_installation = []
    for i in sorted({p.fabric.installation for p in pushes}):
        mine = [p for p in pushes if p.fabric.installation == i]
        latencies = [p.reached_at - p.sent_at for p in mine if p.reached_at is not None]
        per_installation.append(
            {
                "installation": i,
                "pushes": len(mine),
                "fabrics_pushed": len({p.fabric.id for p in mine}),
                "p50_ms": round(percentile(latencies, 50) * 1000, 1),
                "p99_ms": round(percentile(latencies, 99) * 1000, 1),
                "max_ms": round(max(latencies) * 1000, 1),
                "github_calls": split["calls"].get(i, 0),
                "tokens_minted": split["tokens"].get(i, 0),
            }
        )
    checks = await invariants(stack, fabrics, since_job, started, len(pushes))
    # Where a push's time went: from queued to done, per kind of job and installation.
    waits = await stack.db.fetch(
        "SELECT coalesce(installation_id, 0) AS installation_id, kind, count(*) AS jobs, "
        "round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)) * 1000)::numeric) "
        "AS p50_ms, round((percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)) "
        "* 1000)::numeric) AS p99_ms FROM job WHERE id > $1 AND status = 'done' AND kind IN ('webhook', 'ingest') "
        "GROUP BY 1, 2 ORDER BY 2, 1",
        since_job,
    )
    queued_to_done = [
        {"installation": names.get(w["installation_id"], -1), "kind": w["kind"], "jobs": w["jobs"],
         "p50_ms": int(w["p50_ms"]), "p99_ms": int(w["p99_ms"])}
        for w in waits
    ]  # fmt: skip
    matching = await state_matches_heads(stack, fabrics)
    # The first sweep after the burst reads the moved heads in full and keeps their ETags; the
    # second finds nothing changed: every check should then be a 304.
    swept_after_burst = await sweep(stack, fabrics, args.sweep_spread, names)
    swept = await sweep(stack, fabrics, args.sweep_spread, names)
    errors = []
    for log in sorted(stack.tmp.glob("serve*.log")):
        errors += [
            line for line in log.read_text(errors="replace").splitlines() if " ERROR " in line or "Traceback" in line
        ]
    quietest = per_installation[-1] if per_installation else None
    every = [p.reached_at - p.sent_at for p in pushes if p.reached_at is not None]
    runs = int(ingests["runs"])
    return {
        "processes": processes,
        "workers_per_process": 4,
        "pushes": len(pushes),
        "fabrics_pushed": len({p.fabric.id for p in pushes}),
        "burst_send_s": sent["seconds"],
        "answers": sent["answers"],
        "all_in_database_s": round(all_in_s, 3),
        "fabrics_matching_head": matching,
        "latency_all": {
            "p50_ms": round(percentile(every, 50) * 1000, 1),
            "p99_ms": round(percentile(every, 99) * 1000, 1),
        },
        "quietest": quietest,
        "per_installation": per_installation,
        "github_calls": len(calls),
        "tokens_minted": sum(split["tokens"].values()),
        "ingest_jobs": int(ingests["jobs"]),
        "ingests_run": runs,
        "ingests_that_changed_state": ingests_changed,
        "calls_per_ingest_run": round(len(calls) / runs, 2) if runs else None,
        "calls_within_bound": len(calls) <= CALLS_PER_INGEST * runs,
        "invariants": checks,
        "queued_to_done": queued_to_done,
        "reconcile_sweep": swept,
        "reconcile_sweep_after_burst": swept_after_burst,
        "serve_errors": errors[:5],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    rounds = []
    async with Stack.start(
        "scale", repository=False, extra_env={"RECONCILE_INTERVAL": "3600", "HNP_GITOPS_LOG_LEVEL": "WARNING"}
    ) as stack:
        began = time.perf_counter()
        fabrics = await build_world(stack, args)
        print(
            f"{len(fabrics)} fabrics in {args.repositories} repositories across {args.installations} installations, "
            f"ingested in {time.perf_counter() - began:.1f} s",
            flush=True,
        )
        # ghsim's own webhooks stop here (see the docstring): it does not even build them.
        await stack.sim.set_webhook_url(stack.app["id"], None)
        for processes in args.processes:
            rounds.append(await run_round(stack, fabrics, processes, args, rng))
            report(rounds[-1])
    data = {
        "settings": {
            "fabrics": args.fabrics,
            "repositories": args.repositories,
            "installations": args.installations,
            "pushes": args.pushes,
            "processes": args.processes,
            "concurrency": CONCURRENCY,
            "sweep_spread_s": args.sweep_spread,
            "seed": args.seed,
        },
        "target": {
            "all_in_database_s": TARGET_ALL_S,
            "quiet_p99_ms": TARGET_QUIET_P99_S * 1000,
            "calls_per_ingest_run": CALLS_PER_INGEST,
        },
        "rounds": rounds,
    }
    write_results(args.output, data)
    return data


def report(r: dict[str, Any]) -> None:
    print_table(
        r["queued_to_done"],
        ("kind", "installation", "jobs", "p50_ms", "p99_ms"),
        title=f"\n{r['processes']} process(es): jobs from queued to done",
    )
    print_table(
        r["per_installation"],
        ("installation", "pushes", "fabrics_pushed", "p50_ms", "p99_ms", "max_ms", "github_calls", "tokens_minted"),
        title=f"\n{r['processes']} process(es): push -> database per installation",
    )
    sweep_ = r["reconcile_sweep"]
    print(
        f"\nburst sent in {r['burst_send_s']} s; every fabric in the database after {r['all_in_database_s']} s "
        f"({r['fabrics_matching_head']} fabrics at their head); {r['ingests_run']} ingests run for {r['pushes']} "
        f"pushes ({r['ingests_that_changed_state']} changed state); {r['github_calls']} GitHub calls "
        f"({r['calls_per_ingest_run']} per ingest run, bound {CALLS_PER_INGEST}); "
        f"{r['tokens_minted']} tokens minted\ninvariants: {r['invariants']}\n"
        f"reconcile sweep: {sweep_['checks']} checks, {sweep_['not_modified_304']} of them 304, "
        f"{sweep_['first_to_last_check_s']} s first to last, at most {sweep_['most_checks_in_one_second']} in one "
        f"second",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--fabrics", type=int, default=200)
    parser.add_argument("--repositories", type=int, default=50)
    parser.add_argument("--installations", type=int, default=10)
    parser.add_argument("--pushes", type=int, default=1000)
    parser.add_argument(
        "--processes", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2, 4], help="e.g. 1,2,4"
    )
    parser.add_argument("--sweep-spread", type=float, default=5.0, help="seconds the reconcile sweep is spread over")
    parser.add_argument("--timeout", type=float, default=300, help="longest a burst may take to reach the database")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--output", default="scale", help="results name (bench/results/<name>.json)")
    args = parser.parse_args(argv)
    if args.fabrics % args.repositories or args.repositories % args.installations:
        parser.error("--fabrics must be a multiple of --repositories, and --repositories of --installations")
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
