"""Webhook intake: how many signed deliveries per second `serve` acknowledges durably, and how
fast, beside a receiver that only checks the signature (the ceiling).

    python -m bench.intake [--count 10000] [--warmup 1000] [--concurrency 32] [--client python|wrk]
                           [--no-references]

Four targets, measured one after the other with the same load:
  ceiling  a minimal aiohttp receiver (`python -m bench.intake ceiling`, one process, like
           serve) that reads the body, checks X-Hub-Signature-256 and answers 202. No storage.
  plain    the ceiling plus one INSERT of the delivery (its own commit) before answering: the
           "plain insert-per-request receiver" the issue names as the reference (same
           PostgreSQL server as serve, its own database).
  grouped  the ceiling plus the same INSERTs group-committed by one writer task, and nothing
           else: about the least a durable Python receiver can do on this PostgreSQL.
  serve    `hnp-gitops serve` as a real process with 4 job workers, on a real PostgreSQL
           (embedded, in a temporary directory), its GitHub the emulator.
The load generator is a separate process (`python -m bench.intake load`): `concurrency`
keep-alive connections on loopback, each sending its next delivery as soon as the previous
one is answered, `count` deliveries in all after `warmup` unmeasured ones. It is written on
asyncio's transport layer rather than aiohttp's client so that the client, which shares the
machine's CPUs with the server, is not what is measured.

Each delivery is a realistic GitHub push (GitHub's sample payload from ../shared, about
7 KB; a built-in one of the same shape when absent), with its own X-GitHub-Delivery id and
`after` sha, signed with HMAC-SHA256 over the body. The repositories it names have no
fabric: serve stores each delivery with its inbox row; its workers make the 'webhook' jobs
and run them (a couple of queries each, no GitHub call) after the burst, so the figure is
intake, not ingestion.

Afterwards the deliveries stored in webhook_delivery are counted: every delivery answered 202
must be there (none lost). Also reported: how many commits carried them (group commit), how
long the workers took to finish the jobs, and the CPU each part spent per delivery (receiver,
every PostgreSQL process, load generator) with how busy the machine was: on a small machine
the three share the CPUs, and that is what decides the figures.
With `--client wrk` (if installed) wrk sends the load instead, for `--seconds` with one body;
wrk cannot finish its in-flight requests, so then stored >= acknowledged is what is checked.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    ROOT,
    CpuMeter,
    Stack,
    create_database,
    drop_database,
    free_port,
    percentile,
    print_table,
    sample_push_payload,
    stop,
    wait_until,
    write_results,
)
from bot.storage import jobs as job_store

TARGET_RATIO = 0.5
TARGET_P99_MS = 25.0


# --- the ceiling and the references: verify the signature, (store,) answer 202 ----------------

Store = Callable[[tuple[str, str, bytes]], Awaitable[None]]


def _signed_receiver(secret: str, store: Store | None = None) -> Any:
    """The ceiling's aiohttp app: read the body, check X-Hub-Signature-256, answer 202. With
    `store`, the delivery (id, event, body) is awaited into it before the answer."""
    from aiohttp import web

    key = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        given = request.headers.get("X-Hub-Signature-256", "")
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, expected):
            return web.json_response({"error": "bad signature"}, status=401)
        delivery_id = request.headers.get("X-GitHub-Delivery")
        if store is not None:
            await store((delivery_id, request.headers.get("X-GitHub-Event"), body))
        return web.json_response({"status": "queued", "delivery_id": delivery_id}, status=202)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=25 * 1024 * 1024)
    app.router.add_post("/webhook", receive)
    app.router.add_get("/healthz", healthz)
    return app


def _serve_app(app: Any, port: int) -> None:
    from aiohttp import web

    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def run_ceiling(port: int, secret: str) -> None:
    _serve_app(_signed_receiver(secret), port)


def run_reference(port: int, secret: str, dsn: str, *, grouped: bool) -> None:
    """A durable receiver with nothing of the bot in it: the ceiling, plus the delivery
    INSERTed before the answer. Not `grouped`: what the issue calls a plain insert-per-request
    receiver (each INSERT its own transaction, so its own commit). `grouped`: the same rows
    group-committed (one writer task stores everything waiting with one INSERT), i.e. about
    the least any durable Python receiver on this PostgreSQL can do. Beside serve they say what
    group commit buys, and what the rest of serve's intake (JSON, routing, the inbox) costs."""
    import asyncpg

    pool: asyncpg.Pool | None = None
    waiting: asyncio.Queue = asyncio.Queue()

    async def insert_one(row: tuple[str, str, bytes]) -> None:
        await pool.execute(
            "INSERT INTO webhook_delivery (delivery_id, event, body) VALUES ($1, $2, $3) "
            "ON CONFLICT (delivery_id) DO NOTHING",
            *row,
        )

    async def insert_grouped(row: tuple[str, str, bytes]) -> None:
        done = asyncio.get_running_loop().create_future()
        waiting.put_nowait((row, done))
        await done

    async def write_waiting() -> None:  # the one writer task of `grouped`
        while True:
            batch = [await waiting.get()]
            while not waiting.empty():
                batch.append(waiting.get_nowait())
            rows = [row for row, _ in batch]
            try:
                await pool.execute(
                    "INSERT INTO webhook_delivery (delivery_id, event, body) "
                    "SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[]) "
                    "ON CONFLICT (delivery_id) DO NOTHING",
                    [r[0] for r in rows],
                    [r[1] for r in rows],
                    [r[2] for r in rows],
                )
            except Exception as failure:
                for _, done in batch:
                    done.set_exception(failure)
                continue
            for _, done in batch:
                done.set_result(None)

    async def database(app: Any):
        nonlocal pool
        pool = await asyncpg.create_pool(dsn, min_size=8, max_size=64)
        writer = asyncio.create_task(write_waiting()) if grouped else None
        yield
        if writer is not None:
            writer.cancel()
        await pool.close()

    app = _signed_receiver(secret, insert_grouped if grouped else insert_one)
    app.cleanup_ctx.append(database)
    _serve_app(app, port)


# --- the load generator -------------------------------------------------------------------


class _Deliveries:
    """Signed push deliveries, each with its own id and `after` sha (so its own signature)."""

    def __init__(self, host: str, path: str, secret: str, prefix: str, repositories: int = 1) -> None:
        body = sample_push_payload()
        data = json.loads(body)
        self.marker = data.get("after") or "0" * 40
        if self.marker.encode() not in body:
            raise SystemExit("the sample push payload has no 'after' sha to vary")
        self.body = body
        self.repositories = max(1, repositories)
        self.repo_marker = b'"full_name": "Codertocat/Hello-World"'
        if self.repositories > 1 and self.repo_marker not in body:
            self.repo_marker = b'"full_name":"Codertocat/Hello-World"'
        self.key = secret.encode()
        self.prefix = prefix
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: GitHub-Hookshot/bench\r\n"
            "Content-Type: application/json\r\nX-GitHub-Event: push\r\nX-GitHub-Hook-ID: 1\r\n"
            "X-GitHub-Hook-Installation-Target-Type: integration\r\n"
            "X-GitHub-Hook-Installation-Target-ID: 1\r\n"
        )

    def make(self, n: int) -> bytes:
        after = hashlib.sha1(f"{self.prefix}{n}".encode()).hexdigest()
        body = self.body.replace(self.marker.encode(), after.encode())
        if self.repositories > 1:  # the n-th delivery names repository Hello-World-<n mod repositories>
            body = body.replace(self.repo_marker, self.repo_marker[:-1] + f'-{n % self.repositories}"'.encode())
        signature = hmac.new(self.key, body, hashlib.sha256).hexdigest()
        delivery = f"{self.prefix}{uuid.uuid4()}"
        return (
            self.head + f"X-GitHub-Delivery: {delivery}\r\nX-Hub-Signature-256: sha256={signature}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection in a closed loop: send, read the answer, send again."""

    def __init__(self, load: _Load) -> None:
        self.load = load
        self.buffer = bytearray()
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.next()

    def next(self) -> None:
        request = self.load.take()
        if request is None:
            self.transport.close()
            return
        self.sent_at = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        self.load.answered(int(head[0].split()[1]), body, time.perf_counter() - self.sent_at)
        self.next()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)


class _Load:
    def __init__(self, deliveries: _Deliveries, count: int) -> None:
        self.deliveries = deliveries
        self.count = count
        self.sent = 0
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.answers: dict[str, int] = {}

    def take(self) -> bytes | None:
        if self.sent >= self.count:
            return None
        self.sent += 1
        return self.deliveries.make(self.sent)

    def answered(self, status: int, body: bytes, seconds: float) -> None:
        self.latencies.append(seconds)
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
        try:
            answer = json.loads(body).get("status", "?")
        except ValueError:
            answer = "?"
        self.answers[answer] = self.answers.get(answer, 0) + 1


async def _send(
    host: str, port: int, deliveries: _Deliveries, count: int, concurrency: int, timeout: float
) -> dict[str, Any]:
    load = _Load(deliveries, count)
    loop = asyncio.get_running_loop()
    began = time.perf_counter()
    connections = []
    for _ in range(min(concurrency, count)):
        _, protocol = await loop.create_connection(lambda: _Connection(load), host, port)
        connections.append(protocol)
    async with asyncio.timeout(timeout):
        done = await asyncio.gather(*(c.closed for c in connections))
    elapsed = time.perf_counter() - began
    errors = [str(e) for e in done if e is not None]
    lat = load.latencies
    return {
        "sent": load.sent,
        "answered": len(lat),
        "statuses": load.statuses,
        "answers": load.answers,
        "errors": errors[:5],
        "seconds": round(elapsed, 3),
        "per_second": round(len(lat) / elapsed, 1) if elapsed else None,
        "p50_ms": round(percentile(lat, 50) * 1000, 2),
        "p90_ms": round(percentile(lat, 90) * 1000, 2),
        "p99_ms": round(percentile(lat, 99) * 1000, 2),
        "max_ms": round(max(lat, default=0) * 1000, 2),
    }


def run_load(args: argparse.Namespace) -> None:
    deliveries = _Deliveries(f"{args.host}:{args.port}", "/webhook", args.secret, args.prefix, args.repositories)
    result: dict[str, Any] = {}

    async def go() -> None:
        import resource

        began = resource.getrusage(resource.RUSAGE_SELF)
        if args.warmup:
            deliveries.prefix = args.prefix + "w-"
            result["warmup"] = await _send(
                args.host, args.port, deliveries, args.warmup, args.concurrency, args.timeout
            )
        deliveries.prefix = args.prefix + "m-"
        result["measured"] = await _send(args.host, args.port, deliveries, args.count, args.concurrency, args.timeout)
        ended = resource.getrusage(resource.RUSAGE_SELF)
        # CPU of warm-up and measured load together (the receivers are metered over the same span)
        result["client_cpu_seconds"] = round(ended.ru_utime + ended.ru_stime - began.ru_utime - began.ru_stime, 3)

    asyncio.run(go())
    print(json.dumps(result), flush=True)


# --- wrk (optional) ---------------------------------------------------------------------------

_WRK_SCRIPT = """
local counter = 0
local prefix = "%(prefix)s" .. tostring(math.random(1, 1e9)) .. "-"
local accepted = 0
local other = 0
wrk.method = "POST"
wrk.body = io.open("%(body)s", "rb"):read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "push"
wrk.headers["X-Hub-Signature-256"] = "%(signature)s"
function setup(thread) thread:set("id", tostring(math.random(1, 1e9))) end
function request()
  counter = counter + 1
  wrk.headers["X-GitHub-Delivery"] = prefix .. id .. "-" .. counter
  return wrk.format(nil, "/webhook")
end
"""


async def _wrk(port: int, secret: str, prefix: str, seconds: float, concurrency: int, tmp: Path) -> dict[str, Any]:
    body = sample_push_payload()
    (tmp / "body.json").write_bytes(body)
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    script = tmp / "deliveries.lua"
    script.write_text(_WRK_SCRIPT % {"prefix": prefix, "body": tmp / "body.json", "signature": signature})
    proc = await asyncio.create_subprocess_exec(
        "wrk",
        "-t",
        "1",
        "-c",
        str(concurrency),
        "-d",
        f"{seconds:g}s",
        "--latency",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}/webhook",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(seconds + 60):
        out = (await proc.communicate())[0].decode()
    return _parse_wrk(out)


def _parse_wrk(out: str) -> dict[str, Any]:
    def ms(text: str) -> float:
        for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60000.0)):
            if text.endswith(unit):
                return round(float(text[: -len(unit)]) * factor, 2)
        return float(text)

    result: dict[str, Any] = {"client": "wrk"}
    for line in out.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "50%":
            result["p50_ms"] = ms(words[1])
        elif words[0] == "90%":
            result["p90_ms"] = ms(words[1])
        elif words[0] == "99%":
            result["p99_ms"] = ms(words[1])
        elif words[0] == "Latency" and len(words) >= 4:
            result["max_ms"] = ms(words[3])
        elif "requests in" in line:
            result["answered"] = int(words[0])
            result["seconds"] = ms(words[3].rstrip(",")) / 1000
        elif words[0] == "Requests/sec:":
            result["per_second"] = float(words[1])
        elif line.strip().startswith("Non-2xx"):
            result["non_2xx"] = int(words[-1])
    result["statuses"] = {"202": result.get("answered", 0) - result.get("non_2xx", 0)}
    result["raw"] = out
    return result


# --- the benchmark --------------------------------------------------------------------------


async def _load(args: argparse.Namespace, port: int, secret: str, prefix: str, tmp: Path) -> dict[str, Any]:
    if args.client == "wrk":
        if args.warmup:
            await _wrk(port, secret, prefix + "w-", 2, args.concurrency, tmp)
        return {"measured": await _wrk(port, secret, prefix + "m-", args.seconds, args.concurrency, tmp)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.intake",
        "load",
        "--port",
        str(port),
        "--secret",
        secret,
        "--count",
        str(args.count),
        "--warmup",
        str(args.warmup),
        "--concurrency",
        str(args.concurrency),
        "--prefix",
        prefix,
        "--repositories",
        str(args.repositories),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    async with asyncio.timeout(args.timeout + 30):
        out, _ = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"the load generator failed with exit code {proc.returncode}")
    return json.loads(out.decode().strip().splitlines()[-1])


async def _metered_load(
    args: argparse.Namespace, port: int, secret: str, prefix: str, tmp: Path, receiver_pid: int
) -> dict[str, Any]:
    """The load, with the CPU each part spent on it: per delivery (warm-up and measured ones
    together), in microseconds, and how busy the machine was."""
    meter = CpuMeter(receiver=receiver_pid)
    meter.start()
    result = await _load(args, port, secret, prefix, tmp)
    spent = meter.stop()
    deliveries = args.count + args.warmup if args.client == "python" else None
    spent["client"] = result.get("client_cpu_seconds")

    def per_delivery(seconds: float | None) -> float | None:
        return round(seconds / deliveries * 1e6, 1) if seconds is not None and deliveries else None

    cpu = {
        "receiver_us": per_delivery(spent["receiver"]),
        "postgres_us": per_delivery(spent["postgres"]),
        "client_us": per_delivery(spent["client"]),
        "machine_busy_pct": spent["machine_busy_pct"],
        "seconds": {k: spent[k] for k in ("receiver", "postgres", "client")},
    }
    return {**result, "cpu": cpu}


async def _measure_receiver(
    args: argparse.Namespace, tmp: Path, role: str, target: str, extra: list[str]
) -> dict[str, Any]:
    """Start `python -m bench.intake <role>` and put the load on it."""
    port, secret = free_port(), secrets.token_hex(16)
    log = open(tmp / f"{role}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.intake", role, "--port", str(port), "--secret", secret, *extra],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    log.close()
    try:
        import aiohttp

        async def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"the {role} receiver exited with code {proc.returncode}")
            try:
                async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz") as r:
                    return r.status == 200
            except aiohttp.ClientConnectionError:
                return False

        await wait_until(up, timeout=30, what=f"the {role} receiver to start")
        result = await _metered_load(args, port, secret, f"{role}-", tmp, proc.pid)
    finally:
        stop(proc, f"{role} receiver")
    return {"target": target, **result["measured"], "cpu": result["cpu"], "acknowledged_total": _acknowledged(result)}


def _acknowledged(result: dict[str, Any]) -> int:
    return sum(part.get("statuses", {}).get("202", 0) for key, part in result.items() if key in ("warmup", "measured"))


async def measure_ceiling(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    return await _measure_receiver(args, tmp, "ceiling", "ceiling (signature check only)", [])


REFERENCES = {
    "plain": "plain (one INSERT, one commit per delivery)",
    "grouped": "grouped (the INSERTs group-committed, nothing else)",
}


async def measure_reference(args: argparse.Namespace, stack: Stack, role: str) -> dict[str, Any]:
    """A reference receiver (see run_reference) on the same PostgreSQL server as serve (its own
    database), while serve sits idle."""
    import asyncpg

    name = f"{stack.dsn.rsplit('/', 1)[-1].split('?')[0]}_{role}"
    dsn = await create_database(stack.dsn, name, migrate=True)
    try:
        result = await _measure_receiver(args, stack.tmp, role, REFERENCES[role], ["--dsn", dsn])
        conn = await asyncpg.connect(dsn)
        try:
            result["stored_total"] = await conn.fetchval("SELECT count(*) FROM webhook_delivery")
            result["lost"] = max(0, result["acknowledged_total"] - result["stored_total"])
        finally:
            await conn.close()
    finally:
        await drop_database(stack.dsn, name)
    return result


async def measure_serve(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """serve under the load; before it, on the same PostgreSQL, the reference receivers (unless
    --no-references)."""
    async with Stack.start("intake", workers=args.workers, repository=False) as stack:
        references = (
            {role: await measure_reference(args, stack, role) for role in REFERENCES} if args.references else {}
        )
        batches_before = await _commits(stack)
        profiler = _start_profiler(args.profile, stack.serve_pid) if args.profile else None
        try:
            result = await _metered_load(args, stack.port, stack.secret, "bench-", stack.tmp, stack.serve_pid)
        finally:
            if profiler is not None:
                _stop_profiler(profiler)
        measured = result["measured"]
        acked = _acknowledged(result)
        stored = await stack.db.fetchval("SELECT count(*) FROM webhook_delivery WHERE delivery_id LIKE 'bench-%'")
        stored_measured = await stack.db.fetchval(
            "SELECT count(*) FROM webhook_delivery WHERE delivery_id LIKE 'bench-m-%'"
        )
        transactions = await _commits(stack) - batches_before
        # The jobs the deliveries queued, run by the bot's own workers (bounded wait).
        began = time.perf_counter()
        pending = None
        try:
            await wait_until(
                lambda: _no_pending_jobs(stack),
                timeout=args.drain_timeout,
                interval=0.2,
                what="the webhook jobs to finish",
            )
        except TimeoutError:
            pending = await job_store.outstanding(stack.db)
        drained = time.perf_counter() - began
        processed = await stack.db.fetchval(
            "SELECT count(*) FROM webhook_delivery WHERE delivery_id LIKE 'bench-%' AND outcome = 'processed'"
        )
        errors = stack.serve_log_errors()
    return {
        "target": "serve (stored in PostgreSQL, queued for its job)",
        **measured,
        "cpu": result["cpu"],
        "acknowledged_total": acked,
        "stored_total": stored,
        "stored_measured": stored_measured,
        "lost": max(0, acked - stored),
        "xact_commits": transactions,
        "jobs_drain_seconds_after_load": round(drained, 2),
        "jobs_still_pending": pending,
        "deliveries_processed": processed,
        "serve_errors": errors[:5],
    }, references


def _start_profiler(out: str, pid: int) -> subprocess.Popen:
    """py-spy sampling `serve` (SVG flame graph, or collapsed stacks when `out` ends in .txt)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    fmt = "raw" if out.endswith(".txt") else "flamegraph"
    proc = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--rate", "200", "--format", fmt, "-o", out],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)  # attached before the load starts
    return proc


def _stop_profiler(proc: subprocess.Popen) -> None:
    import signal

    proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


async def _commits(stack: Stack) -> int:
    return await stack.db.fetchval("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")


async def _no_pending_jobs(stack: Stack) -> bool:
    return not await job_store.outstanding(stack.db)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    if args.client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk), use --client python")
    tmp = Path(tempfile.mkdtemp(prefix="hnp-bench-intake-"))
    try:
        ceiling = await measure_ceiling(args, tmp)
        bot, references = await measure_serve(args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def of_ceiling(row: dict[str, Any]) -> float | None:
        return round(row["per_second"] / ceiling["per_second"], 3) if ceiling.get("per_second") else None

    ratio = of_ceiling(bot)
    rows = [
        {**ceiling, "name": "ceiling"},
        *({**r, "name": role} for role, r in references.items()),
        {**bot, "name": "serve"},
    ]
    for row in rows:
        row["x_ceiling"] = of_ceiling(row)
        row.update({f"cpu_{k}": v for k, v in row["cpu"].items() if k != "seconds"})
    print_table(
        rows,
        ("name", "answered", "per_second", "x_ceiling", "p50_ms", "p90_ms", "p99_ms", "max_ms", "statuses"),
        title=f"\nWebhook intake: {args.count:,} signed push deliveries, concurrency {args.concurrency}, "
        f"client {args.client}",
    )
    print_table(
        rows,
        ("name", "cpu_receiver_us", "cpu_postgres_us", "cpu_client_us", "cpu_machine_busy_pct"),
        title=f"\nCPU per delivery (microseconds; {os.cpu_count()} CPUs shared by receiver, PostgreSQL and "
        "load generator)",
    )
    lost_ok = bot["lost"] == 0 and (bot["stored_total"] == bot["acknowledged_total"] or args.client == "wrk")
    print(f"\nserve / ceiling = {ratio}  (target >= {TARGET_RATIO})")
    for role, reference in references.items():
        print(
            f"serve / {role} = {round(bot['per_second'] / reference['per_second'], 2)}  "
            f"({role} / ceiling = {of_ceiling(reference)}; {role} p99 {reference['p99_ms']} ms, "
            f"{reference['stored_total']:,} stored of {reference['acknowledged_total']:,} acknowledged)"
        )
    print(f"serve p99 = {bot['p99_ms']} ms  (target < {TARGET_P99_MS} ms)")
    print(
        f"acknowledged {bot['acknowledged_total']:,}, stored {bot['stored_total']:,}, lost {bot['lost']} "
        f"({'ok' if lost_ok else 'MISMATCH'}); {bot['xact_commits']:,} database commits in all during the load"
    )
    if bot["jobs_still_pending"]:
        print(
            f"the workers had {bot['jobs_still_pending']:,} jobs still to run {bot['jobs_drain_seconds_after_load']} s "
            f"after the load ended"
        )
    else:
        print(f"the workers queued and finished the jobs {bot['jobs_drain_seconds_after_load']} s after the load ended")
    ok = bool(ratio is not None and ratio >= TARGET_RATIO and bot["p99_ms"] < TARGET_P99_MS and lost_ok)
    data = {
        "settings": {
            "count": args.count,
            "warmup": args.warmup,
            "concurrency": args.concurrency,
            "client": args.client,
            "workers": args.workers,
            "payload_bytes": len(sample_push_payload()),
            "repository": "Codertocat/Hello-World (no fabric: each job is a few queries)",
        },
        "ceiling": {k: v for k, v in ceiling.items() if k != "raw"},
        "references": {role: {k: v for k, v in r.items() if k != "raw"} for role, r in references.items()},
        "serve": {k: v for k, v in bot.items() if k != "raw"},
        "ratio": ratio,
        "reference_ratios": {role: of_ceiling(r) for role, r in references.items()},
        "targets": {"ratio_min": TARGET_RATIO, "p99_ms_max": TARGET_P99_MS, "lost": 0},
        "pass": ok,
    }
    write_results(args.output, data)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="role")
    ceiling = sub.add_parser("ceiling", help="(internal) run the signature-only receiver")
    ceiling.add_argument("--port", type=int, required=True)
    ceiling.add_argument("--secret", required=True)
    for role in REFERENCES:
        reference = sub.add_parser(role, help=f"(internal) run the {role} reference receiver")
        reference.add_argument("--port", type=int, required=True)
        reference.add_argument("--secret", required=True)
        reference.add_argument("--dsn", required=True)
    load = sub.add_parser("load", help="(internal) run the load generator; prints JSON")
    load.add_argument("--host", default="127.0.0.1")
    load.add_argument("--port", type=int, required=True)
    load.add_argument("--secret", required=True)
    load.add_argument("--count", type=int, default=20000)
    load.add_argument("--warmup", type=int, default=2000)
    load.add_argument("--concurrency", type=int, default=32)
    load.add_argument("--prefix", default="bench-")
    load.add_argument("--repositories", type=int, default=1)
    load.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--count", type=int, default=10000, help="measured deliveries (default 10,000)")
    parser.add_argument("--warmup", type=int, default=1000, help="unmeasured deliveries sent first")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--repositories", type=int, default=1000, help="distinct repositories the deliveries name (none has a fabric)"
    )
    parser.add_argument(
        "--no-references",
        dest="references",
        action="store_false",
        help="leave out the plain and grouped reference receivers",
    )
    parser.add_argument("--profile", metavar="SVG", help="record serve under the load with py-spy into SVG")
    parser.add_argument("--workers", type=int, default=4, help="serve's job workers (HNP_GITOPS_WORKERS)")
    parser.add_argument("--client", choices=("python", "wrk"), default="python")
    parser.add_argument("--seconds", type=float, default=10, help="load duration with --client wrk")
    parser.add_argument("--timeout", type=float, default=300, help="longest the load may take")
    parser.add_argument(
        "--drain-timeout", type=float, default=30, help="longest to wait afterwards for the workers to finish the jobs"
    )
    parser.add_argument("--output", default="intake", help="results name (bench/results/<name>.json)")
    args = parser.parse_args(argv)
    if args.role == "ceiling":
        run_ceiling(args.port, args.secret)
        return 0
    if args.role in REFERENCES:
        run_reference(args.port, args.secret, args.dsn, grouped=args.role == "grouped")
        return 0
    if args.role == "load":
        run_load(args)
        return 0
    asyncio.run(run(args))  # a missed target is in the JSON ("pass"), not the exit code
    return 0


if __name__ == "__main__":
    sys.exit(main())
