"""GitHub misbehaves: bursts of 500/502, answers slower than the client's timeout, secondary
rate limits and a spent primary limit. Each test checks the end state on GitHub (REST, a git
clone) and in Postgres: the work is done once and nothing is lost."""

from __future__ import annotations

import pytest
import yaml

from bot.operator_cli import describe_operation
from tests.conftest import wait_for
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


async def remaining_faults(system: System) -> list[dict]:
    return [f for f in await system.sim.faults() if f["kind"] == "request"]


async def publish_and_push(system: System, vlan: int) -> tuple[dict, str]:
    """A person pushes a new VPC; HNP drafts vpc-1 and runs a bidirectional sync with a PR."""
    head = await system.push({f"{DIRECTORY}/vpc-7.yaml": vpc("vpc-7", 1007, 7)}, "add vpc-7")
    await system.draft("VPC", "vpc-1", vpc_spec(vlan, 1))
    done = await system.sync(direction="bidirectional", create_pr=True, timeout=90)
    return done, head


async def assert_one_pull_request_carrying(system: System, operation_id: str, vlan: int) -> None:
    branches = await system.branches()
    sync_branch = f"hnp-sync/{FABRIC}/{str(operation_id).replace('-', '')[:8]}"
    assert set(branches) == {"main", sync_branch}, branches
    [pr] = await system.pulls()
    assert pr["state"] == "open" and pr["head"]["sha"] == branches[sync_branch]
    commit = await system.rest(f"/repos/{FULL}/git/commits/{branches[sync_branch]}")
    assert [p["sha"] for p in commit["parents"]] == [branches["main"]]  # one commit
    clone = await system.clone(sync_branch)
    docs = list(yaml.safe_load_all((clone / DIRECTORY / "vpcs.yaml").read_text()))
    assert docs[0]["spec"]["subnets"]["default"]["vlan"] == vlan


@pytest.mark.scenario(
    "fault",
    "bursts of 500 and 502 from GitHub on the tarball, tree, commit, ref and "
    "pull-request calls; one burst longer than the client's own retries",
    "the layer retries, the queue re-runs the job when the layer gives up; one commit, "
    "one pull request, the push ingested once",
)
async def test_bursts_of_server_errors_end_in_one_commit_and_one_pull_request(system: System) -> None:
    for method, path, status, count in [
        ("GET", r"/tarball/", 500, 2),
        ("POST", r"/git/trees$", 502, 6),  # 6 > the layer's 4 attempts
        ("POST", r"/git/commits$", 500, 1),
        ("POST", r"/git/refs$", 502, 2),
        ("POST", r"/pulls$", 500, 2),
        ("GET", r"/git/ref/heads/main$", 502, 2),
    ]:
        await system.sim.add_fault(method=method, path=path, status=status, count=count)
    done, head = await publish_and_push(system, 1500)
    assert done["status"] == "completed", done
    assert await remaining_faults(system) == []  # every injected failure was met
    job = await system.pool.fetchrow("SELECT attempts FROM job WHERE operation_id = $1", done["id"])
    assert job["attempts"] == 2  # the 6 x 502 burst outlasted the layer's retries: the queue re-ran it
    await system.idle()
    await assert_one_pull_request_carrying(system, done["id"], 1500)
    await assert_database_matches_repository(system)
    assert await system.desired() and (await system.desired())[("VPC", "vpc-7")] == vpc_spec(1007, 7)
    await assert_deliveries_processed_once(system)
    await assert_no_job_leased(system)
    assert head == (await system.fabric_row())["last_ingested_sha"]


@pytest.mark.scenario(
    "fault",
    "GitHub answers slower than the client's timeout: reads (retried by the layer) "
    "and a commit POST that GitHub carries out after the bot gave up on it",
    "reads are retried; the timed-out POST is not repeated blindly: the job re-runs and "
    "the branch carries exactly one commit",
)
async def test_timeouts_are_retried_and_a_timed_out_commit_is_not_doubled(system: System) -> None:
    # Each answer is withheld until the bot gives up (its GitHub timeout here is 3 s): a timeout
    # however busy the machine is, and an answer that is only slow is not taken for a lost one.
    await system.sim.add_fault(method="GET", path=r"/git/trees/", hang=True, count=2)
    await system.sim.add_fault(method="GET", path=r"/tarball/", hang=True, count=1)
    await system.sim.add_fault(method="POST", path=r"/git/commits$", hang=True, count=1)
    mark = await system.request_mark()
    done, _ = await publish_and_push(system, 1600)
    assert done["status"] == "completed", done
    assert await remaining_faults(system) == []
    await system.idle()
    commits_made = [
        r
        for r in await system.bot_requests(mark)
        if r["method"] == "POST" and r["path"].endswith("/git/commits") and r["status"] == 201
    ]
    assert len(commits_made) == 2  # the timed-out one (made by GitHub, answer lost) and the re-run's
    await assert_one_pull_request_carrying(system, done["id"], 1600)  # ...of which one is on a branch
    await assert_database_matches_repository(system)
    await assert_no_job_leased(system)


@pytest.mark.scenario(
    "fault",
    "secondary rate limits (403 with Retry-After: 1) on reads and writes of an ingest and a publish",
    "the bot waits Retry-After and succeeds; no request is sent inside the wait",
)
async def test_a_secondary_rate_limit_is_waited_out(system: System) -> None:
    fault_paths = [("GET", r"/git/trees/"), ("POST", r"/check-runs$"), ("POST", r"/git/trees$"), ("POST", r"/pulls$")]
    for method, path in fault_paths:
        await system.sim.add_fault(
            method=method, path=path, status=403, secondary_rate_limit=True, retry_after=1, count=1
        )
    mark = await system.request_mark()
    done, _ = await publish_and_push(system, 1700)
    assert done["status"] == "completed", done
    assert await remaining_faults(system) == []
    await system.idle()
    limited = [r for r in await system.sim.requests(since=mark) if r["status"] == 403]
    assert len(limited) == len(fault_paths)
    # Each wait took at least the Retry-After: the whole sync could not be faster than that.
    assert done["result"]["performance"]["duration_ms"] >= 1000 * 2  # at least the publish's two waits
    await assert_one_pull_request_carrying(system, done["id"], 1700)
    await assert_database_matches_repository(system)
    await assert_no_job_leased(system)


@pytest.mark.scenario(
    "fault",
    "the installation's primary rate limit spent (X-RateLimit-Remaining: 0, reset in 3 s) as the bot makes "
    "its first call about a push",
    "the ingest is deferred until the reset without spinning, then completes; the job's attempts are not used up",
)
async def test_a_spent_primary_rate_limit_defers_the_work_until_the_reset(system: System) -> None:
    # The limit is spent while the bot's first call about the push is held: that call is refused
    # however long the push and its delivery took (the reset is counted from here).
    first_call = await system.sim.add_fault(method="*", path=rf"^/repos/{FULL}/", hold=True)
    mark = await system.request_mark()
    head = await system.push({f"{DIRECTORY}/vpc-8.yaml": vpc("vpc-8", 1008, 8)}, "add vpc-8")
    await system.sim.wait_held(first_call["id"], timeout=30)
    await system.sim.set_rate_limit(installation_id=system.installation_id, remaining=0, reset_in=3)
    await system.sim.release_fault(first_call["id"])
    await system.ingested(head, timeout=30)
    await system.idle()
    refused = [r for r in await system.bot_requests(mark) if r["status"] == 403]
    assert 1 <= len(refused) <= 2, refused  # it stopped asking until the reset: no spinning
    job = await system.pool.fetchrow(
        "SELECT attempts, status FROM job WHERE kind = 'ingest' AND payload->>'head_sha' = $1", head
    )
    assert job["status"] == "done" and job["attempts"] == 1  # waiting for GitHub is not a failed attempt
    assert (await system.desired())[("VPC", "vpc-8")] == vpc_spec(1008, 8)
    await assert_database_matches_repository(system)
    await assert_deliveries_processed_once(system)
    await assert_no_job_leased(system)


@pytest.mark.scenario(
    "fault",
    "GitHub answers every POST .../git/commits with 500 while a sync publishes, until the fault is lifted",
    "while its job retries, GET /api/operations/{id}, the operator CLI's status and the status page say "
    "`retrying` with the attempt, the next try and the last error (error stays null); lifted, the sync completes",
)
async def test_a_retrying_operation_says_why(system: System) -> None:
    await system.draft("VPC", "vpc-1", vpc_spec(1600, 1))
    await system.sim.add_fault(method="POST", path=r"/git/commits$", status=500, count="always")
    operation_id = await system.start_sync(direction="gui_to_github", create_pr=True)

    async def retrying_again() -> dict | None:
        operation = await system.operation(operation_id)
        retrying = operation["retrying"]
        return operation if retrying and retrying["attempt"] >= 2 and retrying["next_try_at"] else None

    operation = await wait_for(retrying_again, timeout=60, interval=0.05, message="the sync to be retried")
    retrying = operation["retrying"]
    assert operation["error"] is None and operation["status"] not in ("completed", "failed", "cancelled")
    assert retrying["max_attempts"] >= retrying["attempt"] and retrying["last_error"], retrying
    assert "500" in retrying["last_error"] or "GitHub" in retrying["last_error"], retrying
    shown = describe_operation(operation)
    assert f"retrying: attempt {retrying['attempt']} of {retrying['max_attempts']}" in shown, shown
    assert "last error:" in shown, shown
    async with system.session.get(f"{system.bot.url}/", headers=system.headers()) as r:
        page = await r.text()
    assert r.status == 200 and "retrying: attempt" in page, page[-2000:]

    await system.sim.clear_faults()
    done = await system.finished(operation_id, timeout=60)
    assert done["status"] == "completed", (done["status"], done["error"])
    assert (await system.operation(operation_id))["retrying"] is None
