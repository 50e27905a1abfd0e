"""Webhook deliveries as GitHub really sends them: twice, out of order, or not at all."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.reliability.system import (
    DIRECTORY,
    OWNER,
    REPO,
    WRITER,
    System,
    assert_database_matches_repository,
    assert_deliveries_processed_once,
    assert_no_job_leased,
    running_system,
    sign,
    vpc,
    vpc_spec,
)


async def push_deliveries(system: System, after: str) -> list[dict]:
    return [d for d in await system.sim.deliveries(event="push") if d["payload"]["after"] == after]


async def ingest_operations(system: System) -> list[dict]:
    return [
        dict(r)
        for r in await system.pool.fetch(
            "SELECT head_sha, trigger, status FROM sync_operation WHERE direction = 'github_to_gui' "
            "AND trigger IN ('push', 'reconcile') ORDER BY created_at"
        )
    ]


@pytest.mark.scenario(
    "fault",
    "the same push webhook delivered twice (same X-GitHub-Delivery), and redelivered later from GitHub's delivery log",
    "every copy is acknowledged (202), one is stored and processed: one ingest",
)
async def test_a_delivery_sent_twice_is_processed_once(system: System) -> None:
    await system.sim.add_fault(mode="duplicate", event="push", count=1)
    head = await system.push({f"{DIRECTORY}/vpc-5.yaml": vpc("vpc-5", 1005, 5)}, "add vpc-5")
    await system.ingested(head)
    await system.idle()
    copies = await push_deliveries(system, head)
    assert len(copies) == 2 and copies[0]["guid"] == copies[1]["guid"]
    assert all(c["status_code"] == 202 for c in copies)
    assert sorted(json.loads(c["response"])["status"] for c in copies) == ["duplicate", "queued"]
    await system.sim.redeliver(copies[0]["id"])  # a person presses "Redeliver" in the App's settings
    await system.idle()
    again = [d for d in await push_deliveries(system, head) if d["redelivery"]]
    assert [json.loads(d["response"])["status"] for d in again] == ["duplicate"]
    assert (
        await system.pool.fetchval("SELECT count(*) FROM webhook_delivery WHERE delivery_id = $1", copies[0]["guid"])
        == 1
    )
    assert [o["head_sha"] for o in await ingest_operations(system)] == [head]
    await assert_deliveries_processed_once(system)
    await assert_database_matches_repository(system)
    await assert_no_job_leased(system)


@pytest.mark.scenario(
    "fault",
    "deliveries out of order: pushes held back and reordered, and an older push "
    "delivered (with a new delivery id) after a newer one was ingested",
    "the older push changes nothing: the database says what the newest commit says",
)
async def test_an_older_push_after_a_newer_one_changes_nothing(system: System) -> None:
    clone = await system.clone()
    await system.sim.add_fault(mode="reorder", event="push", count=2)
    older = await system.push({f"{DIRECTORY}/vpc-6.yaml": vpc("vpc-6", 1061, 6)}, "vpc-6 at 1061", clone=clone)
    newer = await system.push({f"{DIRECTORY}/vpc-6.yaml": vpc("vpc-6", 1062, 6)}, "vpc-6 at 1062", clone=clone)
    await system.ingested(newer)
    await system.idle()
    assert (await system.desired())[("VPC", "vpc-6")] == vpc_spec(1062, 6)
    before = await system.state_snapshot()

    [old] = await push_deliveries(system, older)  # its payload, sent again as a new delivery
    body = json.dumps(old["payload"]).encode()
    async with system.session.post(
        f"{system.bot.url}/webhook",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(body),
        },
    ) as r:
        assert r.status == 202 and (await r.json())["status"] == "queued"
    await system.idle()
    after = await system.state_snapshot()
    assert after["resources"] == before["resources"] and after["fabrics"] == before["fabrics"]
    assert after["operations"] == before["operations"]  # not even an empty ingest
    assert (await system.fabric_row())["last_ingested_sha"] == newer
    await assert_deliveries_processed_once(system)
    await assert_database_matches_repository(system)
    await assert_no_job_leased(system)


@pytest.fixture
async def reconciling_system(database_url: str, tmp_path: Path) -> AsyncIterator[System]:
    async with running_system(database_url, tmp_path, RECONCILE_INTERVAL="1") as running:
        yield running


@pytest.mark.scenario(
    "fault",
    "push deliveries dropped (never sent to the bot)",
    "reconciliation (RECONCILE_INTERVAL) finds the new branch head and ingests it",
)
async def test_a_dropped_delivery_is_caught_up_by_reconciliation(reconciling_system: System) -> None:
    system = reconciling_system
    await system.sim.add_fault(mode="drop", event="push", count=2)
    first = await system.push({f"{DIRECTORY}/vpc-3.yaml": vpc("vpc-3", 1003, 3)}, "add vpc-3")
    head = await system.push({f"{DIRECTORY}/vpc-4.yaml": vpc("vpc-4", 1004, 4)}, "add vpc-4")
    assert [d["status"] for d in await push_deliveries(system, first) + await push_deliveries(system, head)] == [
        "dropped",
        "dropped",
    ]
    await system.ingested(head, timeout=30)
    await system.idle()
    assert {o["trigger"] for o in await ingest_operations(system)} == {"reconcile"}
    desired = await system.desired()
    assert desired[("VPC", "vpc-3")] == vpc_spec(1003, 3) and desired[("VPC", "vpc-4")] == vpc_spec(1004, 4)
    await assert_database_matches_repository(system)
    await assert_no_job_leased(system)  # a reconcile in progress (every second here) is work, not a leftover


@pytest.mark.scenario(
    "fault",
    "the `pull_request` closed webhook of the bot's pull request dropped (a person "
    "closed it on GitHub), then a new draft is synced with create_pr",
    "the new draft reaches an open pull request; nothing is committed to the closed one",
)
async def test_a_pull_request_closed_while_its_webhook_was_lost_is_not_updated_again(system: System) -> None:
    """The bot learns that its pull request was closed from the `pull_request` webhook. When
    that delivery is lost, the next sync asks GitHub before adding to the pull request (one
    call) and opens a new one, instead of committing to a closed pull request's branch."""
    await system.draft("VPC", "vpc-1", vpc_spec(1500, 1))
    done = await system.sync(direction="gui_to_github", create_pr=True)
    assert done["status"] == "completed", done
    await system.idle()
    [first] = await system.pulls("open")
    await system.sim.add_fault(mode="drop", event="pull_request", action="closed", count=1)
    await system.sim.close_pull(OWNER, REPO, first["number"], WRITER)
    await system.idle()
    assert [d["status"] for d in await system.sim.deliveries(event="pull_request") if d["action"] == "closed"] == [
        "dropped"
    ]

    await system.draft("VPC", "vpc-2", vpc_spec(1600, 2))
    done = await system.sync(direction="gui_to_github", create_pr=True)
    await system.idle()
    open_pulls = await system.pulls("open")
    assert len(open_pulls) == 1, (done["status"], done["result"], open_pulls)
    clone = await system.clone(open_pulls[0]["head"]["ref"])
    text = (clone / DIRECTORY / "vpcs.yaml").read_text()
    assert "vlan: 1600" in text, text
