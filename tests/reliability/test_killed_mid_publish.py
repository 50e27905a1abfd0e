"""The bot is killed with SIGKILL at each step of a publish and started again: the sync
completes once, with one commit, one branch and one pull request, and no orphan branch.

How the kill lands exactly between two steps: a latency fault on the NEXT GitHub call holds
the bot inside that call; once the emulator has matched the fault (the bot is waiting for the
answer) the process is SIGKILLed. Whether GitHub then carries the held call out or not is the
case's choice: a latency-only fault lets GitHub do it (the bot died before it heard the
answer, the hard case), a latency fault with a 502 does not. The test waits until the held
call has finished on the emulator's side before starting `serve` again, so the new process
finds GitHub exactly as the dead one left it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import yaml

from tests.conftest import wait_for
from tests.reliability.system import (
    DIRECTORY,
    FABRIC,
    FULL,
    System,
    assert_database_matches_repository,
    running_system,
    vpc_spec,
)

CASES = {
    # name: (method, path regex, status of the held call (None: GitHub carries it out), create_pr)
    "after the tree": ("POST", r"/git/commits$", None, True),
    "after the commit": ("POST", r"/git/refs$", None, True),
    "after the ref": ("POST", r"/pulls$", 502, True),
    "after the pull request": ("POST", r"/pulls$", None, True),
    "after a direct commit, before the branch moved": ("PATCH", r"/git/refs/heads/main$", 502, False),
    "after a direct commit moved the branch": ("PATCH", r"/git/refs/heads/main$", None, False),
}


@pytest.fixture
async def system(database_url, tmp_path) -> AsyncIterator[System]:
    """Reconciliation every second: webhooks sent while the bot was dead are lost, as on
    GitHub, and the restarted bot must catch up by itself."""
    async with running_system(database_url, tmp_path, RECONCILE_INTERVAL="1") as running:
        yield running


async def kill_inside(system: System, method: str, path: str, status: int | None) -> None:
    """SIGKILL the bot while it waits for GitHub's answer to `method path`; return once the
    emulator has finished that call."""
    spec = {"method": method, "path": path, "hang": True, "count": 1}  # answered only after the kill
    if status is not None:
        spec["status"] = status
    fault = await system.sim.add_fault(**spec)
    mark = await system.request_mark()
    await wait_for(
        lambda: _matched(system, fault["id"]), timeout=30, interval=0.01, message=f"the bot to call {method} {path}"
    )
    await system.bot.kill()

    async def held_call_done() -> bool:
        return any(r["method"] == method and re.search(path, r["path"]) for r in await system.sim.requests(since=mark))

    await wait_for(held_call_done, timeout=10, message="the held call to finish on GitHub's side")


async def _matched(system: System, fault_id: int) -> bool:
    return await system.fault_hits(fault_id) != 0


async def publish_and_kill(system: System, step: str) -> tuple[str, dict, str, str]:
    """Draft vpc-1, start a sync, kill the bot at `step`, start it again and wait for the
    sync to finish. Returns (operation id, the finished row, main's head before, the tip:
    the sync branch's head, or main's for a direct commit)."""
    method, path, status, create_pr = CASES[step]
    main_before = await system.head()
    await system.draft("VPC", "vpc-1", vpc_spec(1500, 1))
    operation_id = await system.start_sync(direction="gui_to_github", create_pr=create_pr)
    await kill_inside(system, method, path, status)
    row = await system.pool.fetchrow("SELECT status FROM job WHERE operation_id = $1::uuid", operation_id)
    assert row["status"] == "running", "the kill must interrupt the sync's job"
    await system.bot.start()
    done = await system.finished(operation_id, timeout=60)
    assert done["status"] == "completed", done
    await system.idle()
    branches = await system.branches()
    tip = branches[sync_branch(operation_id)] if create_pr else branches["main"]
    return operation_id, done, main_before, tip


def sync_branch(operation_id: str) -> str:
    return f"hnp-sync/{FABRIC}/{operation_id.replace('-', '')[:8]}"


@pytest.mark.parametrize("step", list(CASES))
@pytest.mark.scenario(
    "fault",
    "`serve` SIGKILLed at a step of a publish ({step}) and started again",
    "the sync completes once: one commit, one branch, one pull request, no orphan branch; "
    "the database catches up with what landed while the bot was dead",
)
async def test_a_publish_killed_at_any_step_completes_once_after_a_restart(system: System, step: str) -> None:
    create_pr = CASES[step][3]
    operation_id, done, main_before, tip = await publish_and_kill(system, step)

    job = await system.pool.fetchrow("SELECT status, attempts FROM job WHERE operation_id = $1::uuid", operation_id)
    assert job["status"] == "done" and job["attempts"] == 2, dict(job)  # run again after the kill, once
    branches = await system.branches()
    pulls = await system.pulls()
    if create_pr:
        assert set(branches) == {"main", sync_branch(operation_id)}, branches  # no orphan branch
        assert branches["main"] == main_before
        assert len(pulls) == 1 and pulls[0]["state"] == "open", pulls  # one pull request
        assert pulls[0]["head"]["ref"] == sync_branch(operation_id) and pulls[0]["head"]["sha"] == tip
    else:
        assert set(branches) == {"main"} and not pulls, (branches, pulls)
    commit = await system.rest(f"/repos/{FULL}/git/commits/{tip}")
    assert [p["sha"] for p in commit["parents"]] == [main_before]  # exactly one commit on top
    clone = await system.clone(sync_branch(operation_id) if create_pr else "main")
    docs = list(yaml.safe_load_all((clone / DIRECTORY / "vpcs.yaml").read_text()))
    assert [d["spec"]["subnets"]["default"]["vlan"] for d in docs] == [1500, 1002]

    rows = await system.pool.fetch("SELECT number, state, head_sha FROM pull_request")
    vpc = await system.pool.fetchrow("SELECT state, draft_spec, desired_spec FROM resource WHERE name = 'vpc-1'")
    if create_pr:
        assert [(r["number"], r["state"], r["head_sha"]) for r in rows] == [(pulls[0]["number"], "open", tip)]
        assert vpc["state"] == "pending_pr"
        assert done["result"]["github_integration"]["pull_request_number"] == pulls[0]["number"]
    else:
        assert not rows
        await system.ingested(tip)  # the push sent while the bot was dead is caught up with
        await system.idle()
        vpc = await system.pool.fetchrow("SELECT state, draft_spec, desired_spec FROM resource WHERE name = 'vpc-1'")
        assert vpc["state"] == "in_sync" and vpc["desired_spec"] == vpc_spec(1500, 1)
        await assert_database_matches_repository(system)


@pytest.mark.scenario(
    "fault",
    "`serve` SIGKILLed after GitHub made the pull request but before the bot "
    "heard (its `pull_request` webhook is lost)",
    "the pull request still gets its hnp-gitops/validate and hnp-gitops/conflicts check runs",
)
async def test_a_pull_request_opened_while_the_bot_was_dead_still_gets_its_check_runs(system: System) -> None:
    """Regression: the check runs of a bot pull request used to be made only on its
    `pull_request` opened webhook, which is lost when GitHub made the pull request while the
    bot was dead (GitHub does not redeliver). The publish now queues both checks itself."""
    _, _, _, tip = await publish_and_kill(system, "after the pull request")

    async def checked() -> list[str]:
        runs = await system.rest(f"/repos/{FULL}/commits/{tip}/check-runs")
        names = sorted(c["name"] for c in runs["check_runs"] if c["status"] == "completed")
        return names if names == ["hnp-gitops/conflicts", "hnp-gitops/validate"] else []

    await wait_for(checked, timeout=15, message="the pull request's check runs")


@pytest.mark.scenario(
    "fault",
    "`serve` SIGKILLed after a direct commit moved the fabric's branch, before the bot recorded it",
    "the resumed sync reports the commit it made",
)
async def test_a_direct_commit_that_landed_before_the_kill_is_reported_by_the_resumed_sync(system: System) -> None:
    """Regression: with commit_sha recorded but not ref_done, the re-run used to re-plan on the
    branch head -- its own commit --, find nothing to change and complete with commit_sha None
    and the warning 'no commit made'. The publish now checks whether its commit landed."""
    _, done, _, tip = await publish_and_kill(system, "after a direct commit moved the branch")
    gi = done["result"]["github_integration"]
    assert gi["commit_sha"] == tip, (gi, done["result"]["warnings"])
    assert not any("no commit made" in w for w in done["result"]["warnings"]), done["result"]["warnings"]
