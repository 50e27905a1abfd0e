"""Installations keep the reachable repositories and fabric connections current; pushes from
GitHub are processed; reconciliation catches what webhooks missed."""

from __future__ import annotations

from bot.features.installations import ensure_installation
from bot.features.reconcile import reconcile_once
from bot.github.client import GitHub, new_session
from bot.jobs.kinds import JobKind
from bot.jobs.queue import JobContext, JobHandler
from bot.storage import fabrics as fabric_store
from tests.conftest import wait_for
from tests.intake.intake_helpers import bot_on, github_world, record_tables


async def _fabric(pool, fabric_id):
    return await fabric_store.get(pool, fabric_id)


async def test_installation_events_keep_repositories_and_fabric_connections_current(tmp_path, pool):
    fabric = await fabric_store.create(pool, name="dc1", repository="acme/fabric", directory="fabric", branch="main")
    async with github_world(tmp_path, install=False) as world:
        async with bot_on(world, pool):
            # serve reconciles at start-up; not installed yet, it finds the fabric unreachable
            await wait_for(
                lambda: pool.fetchval(
                    "SELECT bool_and(status = 'done') FROM job WHERE kind = 'reconcile_installation'"
                ),
                timeout=20,
                message="the start-up reconciliation",
            )
            before = await _fabric(pool, fabric.id)
            assert before.connection_status == "disconnected" and "not installed" in before.status_detail
            installation_id = await world.install()
            connected = await wait_for(
                lambda: pool.fetchrow(
                    "SELECT installation_id, connection_status FROM fabric WHERE id = $1 AND connection_status = 'connected'",
                    fabric.id,
                ),
                timeout=20,
                message="the installation event to connect the fabric",
            )
            assert connected["installation_id"] == installation_id
            assert await pool.fetchval("SELECT account FROM installation WHERE id = $1", installation_id) == "acme"
            assert await pool.fetch("SELECT repository FROM installation_repository") == [("acme/fabric",)]

            await world.sim.change_installation_repositories(installation_id, remove=["acme/fabric"])
            lost = await wait_for(
                lambda: pool.fetchrow(
                    "SELECT installation_id, status_detail FROM fabric WHERE id = $1 AND connection_status = 'disconnected'",
                    fabric.id,
                ),
                timeout=20,
                message="the fabric to be disconnected",
            )
            assert lost["installation_id"] is None and "acme/fabric was removed" in lost["status_detail"]
            assert await pool.fetchval("SELECT count(*) FROM installation_repository") == 0

            await world.sim.change_installation_repositories(installation_id, add=["acme/fabric"])
            await wait_for(
                lambda: pool.fetchval(
                    "SELECT connection_status = 'connected' AND installation_id = $2 AND status_detail IS NULL "
                    "FROM fabric WHERE id = $1",
                    fabric.id,
                    installation_id,
                ),
                timeout=20,
                message="reconnected",
            )

            await world.sim.delete_installation(installation_id)
            gone = await wait_for(
                lambda: pool.fetchrow(
                    "SELECT status_detail FROM fabric WHERE id = $1 AND connection_status = 'disconnected'", fabric.id
                ),
                timeout=20,
                message="uninstall to disconnect the fabric",
            )
            assert "uninstalled" in gone["status_detail"]
            assert await pool.fetchval("SELECT count(*) FROM installation") == 0

            # A delivery's outcome is written when its job finishes, just after the state it changed
            # (so this waits while the workers still run).
            async def installation_outcomes() -> list[str]:
                rows = await pool.fetch("SELECT event, outcome FROM webhook_delivery ORDER BY received_at")
                return [r["outcome"] for r in rows if r["event"].startswith("installation")]

            async def all_finished() -> bool:
                return "pending" not in await installation_outcomes()

            await wait_for(all_finished, timeout=20, message="every installation delivery to finish")
            assert await installation_outcomes() == ["processed"] * 4


async def test_a_signed_push_from_github_is_processed(tmp_path, pool):
    await record_tables(pool)
    async with github_world(tmp_path) as world:
        async with bot_on(world, pool):
            head = await world.commit("fabric/vpc-2.yaml", "kind: VPC\nmetadata:\n  name: vpc-2\n")
            await world.sim.wait_deliveries_idle()
            seen = await wait_for(
                lambda: pool.fetchrow("SELECT delivery_id, ref FROM seen_event"),
                timeout=20,
                message="the push to reach its handler",
            )
            await wait_for(
                lambda: pool.fetchval(
                    "SELECT outcome = 'processed' FROM webhook_delivery WHERE delivery_id = $1", seen["delivery_id"]
                ),
                timeout=20,
                message="the delivery's job to finish",
            )
        sent = [d for d in await world.sim.deliveries(event="push")]
    assert seen["ref"] == "refs/heads/main"
    assert [d["guid"] for d in sent] == [seen["delivery_id"]] and sent[0]["status_code"] == 202
    delivery = await pool.fetchrow(
        "SELECT outcome, body FROM webhook_delivery WHERE delivery_id = $1", seen["delivery_id"]
    )
    assert delivery["outcome"] == "processed" and head.encode() in bytes(delivery["body"])


def recording_ingest(seen: list) -> dict[str, JobHandler]:
    async def ingest(ctx: JobContext) -> None:  # stands in for the real ingest
        await ctx.pool.execute(
            "INSERT INTO job_run (job_id, kind, worker, attempts, key, payload) VALUES ($1, $2, 'x', $3, $4, $5)",
            ctx.job.id,
            ctx.job.kind,
            ctx.job.attempts,
            ctx.job.ordering_key,
            ctx.job.payload,
        )
        seen.append(ctx.job.payload)

    return {JobKind.INGEST: ingest}


async def test_a_dropped_push_delivery_is_caught_by_reconciliation_inside_serve(tmp_path, pool):
    await record_tables(pool)
    seen: list = []
    async with github_world(tmp_path) as world:
        start = await world.head()
        fabric = await fabric_store.create(
            pool,
            name="dc1",
            repository="acme/fabric",
            directory="fabric",
            branch="main",
            installation_id=world.installation_id,
        )
        await fabric_store.set_ingested(pool, fabric.id, start)
        await world.sim.add_fault(mode="drop", event="push", count=1)
        async with bot_on(world, pool, config=world.config(reconcile_interval=0.5), extra_jobs=recording_ingest(seen)):
            head = await world.commit("fabric/vpc-2.yaml", "kind: VPC\nmetadata:\n  name: vpc-2\n")
            await world.sim.wait_deliveries_idle()
            run = await wait_for(
                lambda: pool.fetchrow(
                    "SELECT key, payload FROM job_run WHERE kind = 'ingest' AND payload->>'head_sha' = $1", head
                ),
                timeout=20,
                message="reconciliation to queue an ingest of the new head",
            )
        dropped = await world.sim.deliveries(event="push")
    assert [d["status"] for d in dropped] == ["dropped"]
    assert await pool.fetchval("SELECT count(*) FROM webhook_delivery WHERE event = 'push'") == 0
    assert run["key"] == f"fabric:{fabric.id}"
    assert run["payload"] == {"fabric_id": fabric.id, "head_sha": head, "trigger": "reconcile"}
    assert await pool.fetchval("SELECT count(*) FROM job WHERE kind = 'reconcile' AND status = 'done'") >= 1


async def test_reconciliation_asks_with_the_etag_and_queues_only_what_moved(tmp_path, pool):
    async with github_world(tmp_path) as world:
        head = await world.head()
        fabric = await fabric_store.create(
            pool,
            name="dc1",
            repository="acme/fabric",
            directory="fabric",
            branch="main",
            installation_id=world.installation_id,
        )
        await fabric_store.set_ingested(pool, fabric.id, head)
        gone = await fabric_store.create(
            pool,
            name="dc2",
            repository="acme/fabric",
            directory="",
            branch="no-such-branch",
            installation_id=world.installation_id,
        )
        async with new_session() as session:
            layer = GitHub.from_config(session, world.config())
            first = await reconcile_once(pool, layer)
            etag = (await _fabric(pool, fabric.id)).branch_etag
            second = await reconcile_once(pool, layer)
            moved = await world.commit("fabric/vpc-2.yaml", "kind: VPC\n")
            third = await reconcile_once(pool, layer)
            fourth = await reconcile_once(pool, layer)  # the ingest is still queued: not queued twice
    assert first.in_sync == 1 and etag
    assert second.unchanged == 1 and second.counter.not_modified == 1
    assert third.enqueued == {fabric.id: moved} and fourth.enqueued == {fabric.id: moved}
    assert await pool.fetchval("SELECT count(*) FROM job WHERE kind = 'ingest' AND fabric_id = $1", fabric.id) == 1
    missing = await _fabric(pool, gone.id)
    assert missing.connection_status == "branch_missing" and "no-such-branch" in missing.status_detail


async def test_an_unknown_installation_is_looked_up_on_github(tmp_path, pool):
    async with github_world(tmp_path) as world:  # installed, but its webhook never reached us
        await world.sim.create_repo("acme", "elsewhere", auto_init=True)
        known = await fabric_store.create(pool, name="dc1", repository="acme/fabric", directory="", branch="main")
        stranger = await fabric_store.create(pool, name="dc2", repository="acme/elsewhere", directory="", branch="main")
        async with new_session() as session:
            layer = GitHub.from_config(session, world.config())
            found = await ensure_installation(pool, layer, known)
            not_found = await ensure_installation(pool, layer, stranger)
    assert found == world.installation_id
    fabric = await _fabric(pool, known.id)
    assert fabric.installation_id == world.installation_id and fabric.connection_status == "connected"
    assert not_found is None
    other = await _fabric(pool, stranger.id)
    assert other.connection_status == "disconnected" and "not installed on acme/elsewhere" in other.status_detail
    assert await pool.fetchval("SELECT count(*) FROM installation_repository WHERE repository = 'acme/fabric'") == 1
