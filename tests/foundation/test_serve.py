"""`hnp-gitops serve` and `migrate` as real processes."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import asyncpg

from tests.conftest import free_port, test_private_key_pem, wait_for


def bot_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "HNP_GITOPS_DATA_DIR": str(tmp_path / "data"),
        "GITHUB_APP_ID": "1",
        "GITHUB_PRIVATE_KEY": test_private_key_pem(),
        "GITHUB_WEBHOOK_SECRET": "webhook-secret-123",
        "HNP_API_TOKEN": "api-token-serve-0123456789abcdef0123",
        "GITHUB_API_URL": "http://127.0.0.1:9",  # nothing listens; serve must not need it to start
        "HNP_GITOPS_LOG_FORMAT": "text",
    }
    env.update(extra)
    return env


def start(args, env):
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


async def healthz(port):
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                return response.status, await response.json()
    except aiohttp.ClientConnectionError:
        return None


async def test_serve_answers_healthz_and_stops_on_sigterm_within_10_s(tmp_path, database_url):
    port = free_port()
    proc = start(["serve", "--port", str(port)], bot_env(tmp_path, DATABASE_URL=database_url))
    try:
        status = await wait_for(lambda: healthz(port), timeout=30, message="serve to answer /healthz")
        assert status == (200, {"status": "ok", "database": "ok"})
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - began < 10
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate()[0]
    assert "webhook-secret-123" not in output and "api-token-serve-0123456789abcdef0123" not in output
    assert "GITHUB_WEBHOOK_SECRET=set" in output


async def test_serve_refuses_a_database_whose_schema_is_behind(tmp_path, empty_database_url):
    proc = start(["serve", "--port", str(free_port())], bot_env(tmp_path, DATABASE_URL=empty_database_url))
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "hnp-gitops migrate" in output and "Traceback" not in output


async def test_serve_with_migrate_flag_migrates_itself(tmp_path, empty_database_url):
    port = free_port()
    proc = start(["serve", "--migrate", "--port", str(port)], bot_env(tmp_path, DATABASE_URL=empty_database_url))
    try:
        await wait_for(lambda: healthz(port), timeout=30, message="serve --migrate to answer")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    conn = await asyncpg.connect(empty_database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migration") >= 1
    finally:
        await conn.close()


async def test_healthz_is_503_with_a_reason_when_the_database_goes_away(tmp_path, pg_server_dsn):
    from tests.conftest import create_database, drop_database

    dsn = await create_database(pg_server_dsn)
    port = free_port()
    proc = start(["serve", "--port", str(port)], bot_env(tmp_path, DATABASE_URL=dsn))
    try:
        await wait_for(lambda: healthz(port), timeout=30, message="serve to answer")
        await drop_database(pg_server_dsn, dsn)  # terminates the bot's connections too
        answer = await wait_for(lambda: _unhealthy(port), timeout=15, message="healthz to report 503")
        assert answer[0] == 503 and answer[1]["status"] == "unavailable" and answer[1]["database"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)


async def _unhealthy(port):
    answer = await healthz(port)
    return answer if answer and answer[0] == 503 else None


def test_migrate_uses_embedded_postgres_and_data_persists(tmp_path):
    env = bot_env(tmp_path)
    env.pop("DATABASE_URL", None)
    try:
        first = subprocess.run(
            [sys.executable, "-m", "bot", "migrate"], env=env, capture_output=True, text=True, timeout=120
        )
        assert first.returncode == 0, first.stderr
        assert "applied" in first.stdout and "001_domain.sql" in first.stdout
        assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
        # Stop the server, start again: the schema is still there.
        stop = subprocess.run(
            [sys.executable, "-m", "bot", "stop-db"], env=env, capture_output=True, text=True, timeout=60
        )
        assert stop.returncode == 0, stop.stderr
        second = subprocess.run(
            [sys.executable, "-m", "bot", "migrate"], env=env, capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 0, second.stderr
        assert "up to date" in second.stdout
    finally:
        subprocess.run([sys.executable, "-m", "bot", "stop-db"], env=env, capture_output=True, timeout=60)


def test_a_failed_start_stops_the_embedded_postgresql_it_started_and_leaves_one_it_found(tmp_path):
    env = bot_env(tmp_path)
    pid_file = tmp_path / "data" / "postgres" / "postmaster.pid"
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        # A fresh data directory: serve starts the embedded server, finds the schema behind, stops it.
        behind = subprocess.run(
            [sys.executable, "-m", "bot", "serve", "--port", str(free_port())],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert behind.returncode == 2 and "migration(s) pending" in behind.stderr, behind.stderr
        assert "Traceback" not in behind.stderr
        assert not pid_file.exists(), "the embedded PostgreSQL of a failed start is still running"
        # The port is taken: a clear message, and the server started for this try is stopped too.
        taken = subprocess.run(
            [sys.executable, "-m", "bot", "serve", "--migrate", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert taken.returncode == 2 and f"cannot listen on 0.0.0.0:{port}" in taken.stderr, taken.stderr
        assert not pid_file.exists()
        # One that was already running (here: left by migrate) is not this start's to stop.
        migrated = subprocess.run(
            [sys.executable, "-m", "bot", "migrate"], env=env, capture_output=True, text=True, timeout=120
        )
        assert migrated.returncode == 0, migrated.stderr
        again = subprocess.run(
            [sys.executable, "-m", "bot", "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 2 and pid_file.exists()
    finally:
        busy.close()
        subprocess.run([sys.executable, "-m", "bot", "stop-db"], env=env, capture_output=True, timeout=60)
