"""Two `serve` processes on one database race on one fabric: the work is still done once."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.reliability.system import (
    DIRECTORY,
    FABRIC,
    FULL,
    System,
    assert_database_matches_repository,
    assert_deliveries_processed_once,
    assert_no_job_leased,
    vpc,
    vpc_spec,
)


@pytest.mark.scenario(
    "fault",
    "two `serve` processes on one database racing on one fabric: syncs requested "
    "from both at once, the same delivery posted to both at once, a second sync while "
    "the pull request is open",
    "one sync runs (the other gets 409), one delivery is stored, one commit per sync, one pull request",
)
async def test_two_serve_processes_racing_on_one_fabric_make_one_commit_and_one_pull_request(system: System) -> None:
    first = system.bot
    second = await system.add_bot(deliver=False)
    await system.draft("VPC", "vpc-1", vpc_spec(1500, 1))
    await system.draft("VPC", "vpc-2", vpc_spec(1600, 2))

    # The sync that wins cannot finish before every request is answered: its tree is held.
    tree = await system.sim.add_fault(method="POST", path=r"/git/trees$", hold=True)
    answers = await asyncio.gather(
        *[
            system.call("POST", f"/api/fabrics/{FABRIC}/sync", {"direction": "gui_to_github", "create_pr": True}, bot=b)
            for b in (first, second, first, second)
        ]
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [202, 409, 409, 409], answers
    [operation_id] = [body["operation_id"] for status, body in answers if status == 202]
    await system.sim.release_fault(tree["id"])
    done = await system.finished(operation_id)
    assert done["status"] == "completed", done
    await system.idle()

    # A person pushes; the same delivery reaches both processes at the same moment.
    head = await system.push({f"{DIRECTORY}/vpc-5.yaml": vpc("vpc-5", 1005, 5)}, "add vpc-5")
    await system.ingested(head)
    [delivery] = [d for d in await system.sim.deliveries(event="push") if d["payload"]["after"] == head]
    results = await asyncio.gather(
        *[
            system.session.post(f"{b.url}/webhook", data=_body(delivery), headers=_headers(delivery))
            for b in (first, second)
        ]
    )
    answers = sorted([(r.status, (await r.json())["status"]) for r in results])
    assert answers == [(202, "duplicate"), (202, "duplicate")], answers  # the first copy was stored already

    # A second sync (through the other process) updates the open pull request: no second one.
    await system.draft("VPC", "lone", vpc_spec(1900, 9))
    second_op = await system.start_sync(bot=second, direction="gui_to_github", create_pr=True)
    done2 = await system.finished(second_op)
    assert done2["status"] == "completed", done2
    await system.idle()

    pulls = await system.pulls()
    branches = await system.branches()
    sync_branch = f"hnp-sync/{FABRIC}/{operation_id.replace('-', '')[:8]}"
    assert len(pulls) == 1 and pulls[0]["head"]["ref"] == sync_branch, pulls
    assert set(branches) == {"main", sync_branch}, branches
    compare = await system.rest(f"/repos/{FULL}/compare/main...{sync_branch}")
    assert compare["ahead_by"] == 2, compare  # one commit per sync, on the one branch
    ran = await system.pool.fetch(
        "SELECT attempts FROM job WHERE operation_id = ANY($1::uuid[])", [operation_id, second_op]
    )
    assert [r["attempts"] for r in ran] == [1, 1]  # each sync ran once, in one of the processes
    assert await system.pool.fetchval("SELECT count(*) FROM pull_request") == 1
    await assert_deliveries_processed_once(system)
    await assert_database_matches_repository(system)
    await assert_no_job_leased(system)


def _body(delivery: dict) -> bytes:
    return json.dumps(delivery["payload"], separators=(",", ":")).encode()


def _headers(delivery: dict) -> dict[str, str]:
    headers = {
        k: v for k, v in delivery["request_headers"].items() if k.lower().startswith("x-") or k == "Content-Type"
    }
    return headers
