"""Workers in separate processes sharing one database: a killed worker's job is finished by
another process once its lease expires, and two `serve` processes run each job once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from bot.jobs.queue import enqueue
from tests.conftest import free_port, test_private_key_pem, wait_for
from tests.intake.intake_helpers import delivery_headers, push_payload

HELPER = Path(__file__).with_name("worker_proc.py")
# A bound for a hung start, not a speed target: two serve processes and their imports on a
# loaded 2-core machine can take half a minute.
SERVE_START_DEADLINE = 90


def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DATABASE_URL": database_url,
        "GITHUB_APP_ID": "1",
        "GITHUB_PRIVATE_KEY": test_private_key_pem(),
        "GITHUB_WEBHOOK_SECRET": "webhook-secret-processes",
        "HNP_API_TOKEN": "api-token-processes-0123456789abcdef",
        "GITHUB_API_URL": "http://127.0.0.1:9",
        "HNP_GITOPS_LOG_FORMAT": "text",
        "RECONCILE_INTERVAL": "3600",
    }


def start(tmp_path, database_url, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(HELPER), *args],
        env=env(tmp_path, database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.communicate()[0]


async def _tables(pool):
    await pool.execute("CREATE TABLE proc_run (job_id bigint, pid int, attempts int, phase text)")


async def test_a_job_whose_worker_is_killed_is_finished_by_another_process_after_the_lease(
    tmp_path, database_url, pool
):
    await _tables(pool)
    first = start(tmp_path, database_url, "worker", "--lease", "1.5", "--workers", "1")
    second = None
    try:
        job_id = await enqueue(pool, "test.proc", {"hang_first": True}, ordering_key="fabric:1")
        started = await wait_for(
            lambda: pool.fetchrow("SELECT pid FROM proc_run WHERE job_id = $1 AND phase = 'started'", job_id),
            timeout=30,
            message="the first worker to start the job",
        )
        assert started["pid"] == first.pid
        first.kill()  # SIGKILL: no clean-up, the lease stays until it expires
        first.wait(timeout=10)
        assert await pool.fetchval("SELECT status FROM job WHERE id = $1", job_id) == "running"

        second = start(tmp_path, database_url, "worker", "--lease", "1.5", "--workers", "1")
        finished = await wait_for(
            lambda: pool.fetchrow(
                "SELECT pid, attempts FROM proc_run WHERE job_id = $1 AND phase = 'finished'", job_id
            ),
            timeout=30,
            message="another process to finish the job",
        )
        assert finished["pid"] == second.pid and finished["attempts"] == 2
        job = await wait_for(
            lambda: pool.fetchrow(
                "SELECT status, attempts, leased_by FROM job WHERE id = $1 AND status = 'done'", job_id
            ),
            timeout=10,
        )
        assert str(second.pid) in job["leased_by"]
    finally:
        stop(first)
        if second is not None:
            stop(second)


async def _healthy(port):
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                return response.status == 200
    except aiohttp.ClientConnectionError:
        return False


async def test_two_serve_processes_on_one_database_run_each_job_exactly_once(tmp_path, database_url, pool):
    await _tables(pool)
    ports = [free_port(), free_port()]
    procs = [start(tmp_path, database_url, "serve", "--lease", "5", "--port", str(port)) for port in ports]
    outputs = []
    try:
        for port in ports:
            await wait_for(lambda: _healthy(port), timeout=SERVE_START_DEADLINE, message=f"serve on {port}")
        for n in range(200):  # different keys, so both processes can take them side by side
            await enqueue(pool, "test.proc", {"seconds": 0.01}, ordering_key=f"fabric:{n % 20}")
        await wait_for(
            lambda: pool.fetchval("SELECT count(*) = 200 FROM job WHERE kind = 'test.proc' AND status = 'done'"),
            timeout=60,
            message="200 jobs done",
        )
    finally:
        outputs = [stop(p) for p in procs]
    runs = await pool.fetch("SELECT job_id, count(*) AS n FROM proc_run GROUP BY job_id")
    assert len(runs) == 200 and all(r["n"] == 1 for r in runs)
    by_pid = dict(await pool.fetch("SELECT pid, count(*) FROM proc_run GROUP BY pid"))
    assert set(by_pid) == {p.pid for p in procs}, by_pid  # both did work
    assert all("Traceback" not in out for out in outputs), outputs


async def test_deliveries_acknowledged_by_a_receive_only_process_are_run_by_another(tmp_path, database_url, pool):
    """HNP_GITOPS_WORKERS=0: a process that only acknowledges. Its deliveries wait in the inbox
    until the other process's workers (woken by the inbox NOTIFY) make and run their jobs: each
    once, in the order the deliveries arrived."""
    receiver_port, worker_port = free_port(), free_port()
    receiver = subprocess.Popen(
        [sys.executable, str(HELPER), "serve", "--lease", "5", "--port", str(receiver_port)],
        env={**env(tmp_path, database_url), "HNP_GITOPS_WORKERS": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    worker = start(tmp_path, database_url, "serve", "--lease", "5", "--port", str(worker_port))
    outputs = []
    try:
        for port in (receiver_port, worker_port):
            await wait_for(lambda: _healthy(port), timeout=SERVE_START_DEADLINE, message=f"serve on {port}")
        async with aiohttp.ClientSession() as session:
            for n in range(40):
                body = json.dumps(push_payload(f"acme/r{n % 3}")).encode()
                headers = delivery_headers("push", body, delivery_id=f"d-{n:02d}", secret="webhook-secret-processes")
                async with session.post(
                    f"http://127.0.0.1:{receiver_port}/webhook", data=body, headers=headers
                ) as answer:
                    assert answer.status == 202 and (await answer.json())["status"] == "queued"

        async def all_processed() -> bool:
            return await pool.fetchval("SELECT count(*) = 40 FROM webhook_delivery WHERE outcome = 'processed'")

        await wait_for(all_processed, timeout=30, message="the other process to run the deliveries")
    finally:
        outputs = [stop(p) for p in (receiver, worker)]
    assert await pool.fetchval("SELECT count(*) FROM delivery_inbox") == 0
    jobs = await pool.fetch(
        "SELECT delivery_id, ordering_key, attempts, leased_by FROM job WHERE kind = 'webhook' ORDER BY id"
    )
    assert len(jobs) == 40 and all(j["attempts"] == 1 for j in jobs)
    for key in ("repo:acme/r0", "repo:acme/r1", "repo:acme/r2"):
        ids = [j["delivery_id"] for j in jobs if j["ordering_key"] == key]
        assert ids == sorted(ids) and len(ids) >= 13, (key, ids)
    assert all("Traceback" not in out for out in outputs), outputs
