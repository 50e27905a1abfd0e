"""Soak: a fixed number of rounds of mixed work -- people pushing, HNP drafting and syncing,
pull requests merged and closed -- while GitHub fails in the ways it does (5xx bursts,
secondary rate limits, slow answers, webhooks duplicated, reordered and dropped) and the bot
is SIGKILLed once mid-sync. Then the invariants:

- the database equals an independent parse (yaml.safe_load_all of a git clone) of the
  branch head, for every resource without a draft;
- every delivery the bot acknowledged is stored once and processed once, and no commit was
  ingested twice;
- no job is left leased, queued or dead; every sync completed; no orphan branch.

Deterministic: one seeded random generator drives every choice. Bounded: HNP_SOAK_ROUNDS
rounds (default 24, well under a minute here); set it higher for a longer soak.
"""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from ghsim.testing import ControlError
from tests.conftest import wait_for
from tests.reliability.system import (
    DIRECTORY,
    OWNER,
    REPO,
    WRITER,
    System,
    assert_database_matches_repository,
    assert_deliveries_processed_once,
    assert_no_job_leased,
    git,
    running_system,
    vpc,
    vpc_spec,
)

ROUNDS = int(os.environ.get("HNP_SOAK_ROUNDS", "24"))
SEED = int(os.environ.get("HNP_SOAK_SEED", "20261124"))

FAULTS = [
    {"method": "*", "path": r"/tarball/", "status": 500, "count": 2},
    {"method": "POST", "path": r"/git/(trees|commits)$", "status": 502, "count": 3},
    {"method": "GET", "path": r"/git/ref", "status": 503, "count": 2},
    {
        "method": "POST",
        "path": r"/(pulls|check-runs)$",
        "status": 403,
        "secondary_rate_limit": True,
        "retry_after": 1,
        "count": 1,
    },
    {"method": "GET", "path": r"/git/trees/", "hang": True, "count": 1},  # answered after the bot's timeout
    {"mode": "duplicate", "event": "*", "count": 3},
    {"mode": "reorder", "event": "push", "count": 2},
    {"mode": "drop", "event": "push", "count": 1},
]
# A lost `pull_request` webhook is caught up with by the next sync that touches the pull request
# (test_deliveries.py::test_a_pull_request_closed_while_its_webhook_was_lost_is_not_updated_again),
# not by the reconcile; whether the soak's end state shows it depends on timing, so the soak
# injects it only when asked.
if os.environ.get("HNP_SOAK_LOSE_PR_EVENTS") == "1":
    FAULTS.append({"mode": "drop", "event": "pull_request", "count": 1})


@pytest.fixture
async def soak_system(database_url: str, tmp_path: Path) -> AsyncIterator[System]:
    async with running_system(database_url, tmp_path, RECONCILE_INTERVAL="2", HNP_TEST_LEASE="3") as running:
        yield running


class Person:
    """alice, with a clone she keeps, pushing edits to main."""

    def __init__(self, system: System, rng: random.Random) -> None:
        self.system, self.rng = system, rng
        self.clone: Path | None = None
        self.next_vpc = 20

    async def push(self) -> str:
        if self.clone is None:
            self.clone = await self.system.clone()
        for _ in range(5):  # the bot may move main between her fetch and her push
            await git(self.clone, "fetch", "-q", "origin")
            await git(self.clone, "reset", "-q", "--hard", "origin/main")
            message = self.edit()
            await git(self.clone, "add", "-A")
            await git(self.clone, "commit", "-q", "--allow-empty", "-m", message)
            if (
                await git(self.clone, "push", "-q", "origin", "HEAD:refs/heads/main", check=False) == ""
                and await git(self.clone, "rev-parse", "HEAD") == await self.system.head()
            ):
                return message
        raise AssertionError("alice could not push five times in a row")

    def edit(self) -> str:
        base = self.clone / DIRECTORY
        files = sorted(p for p in base.rglob("*.yaml"))
        choice = self.rng.random()
        if choice < 0.35 or not files:
            n = self.next_vpc
            self.next_vpc += 1
            folder = self.rng.choice(["", "team-a/", "team-b/nested/"])
            target = base / f"{folder}vpc-{n}.yaml"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(vpc(f"vpc-{n}", 1000 + n * 4, n))
            return f"add vpc-{n}"
        path = self.rng.choice(files)
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        if choice < 0.8 and docs:
            doc = self.rng.choice(docs)
            octet = int(doc["spec"]["subnets"]["default"]["subnet"].split(".")[2])
            doc["spec"]["subnets"]["default"]["vlan"] = 1001 + octet * 4 + self.rng.randrange(3)
            path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
            return f"change {doc['metadata']['name']}"
        if choice < 0.9:
            target = base / "moved" / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if target != path:
                path.rename(target)
            return f"move {path.name}"
        path.unlink()
        return f"delete {path.name}"


async def desired_names(system: System) -> list[str]:
    return sorted(name for (_, name) in await system.desired())


@pytest.mark.timeout(600)
@pytest.mark.scenario(
    "soak",
    f"{ROUNDS} seeded rounds of pushes (add, edit, move, delete), drafts (edit, new, "
    "delete), syncs (PR, direct, bidirectional), merges and closes, with 5xx bursts, rate "
    "limits, timeouts, duplicated / reordered / dropped webhooks and one SIGKILL as a sync runs",
    "the database equals an independent parse of the branch head; every acknowledged "
    "delivery processed once; no job left leased; every sync completed; no orphan branch",
)
async def test_soak_mixed_work_under_faults_keeps_every_invariant(soak_system: System) -> None:
    system = soak_system
    rng = random.Random(SEED)
    alice = Person(system, rng)
    operations: list[str] = []
    killed = False
    for round_no in range(ROUNDS):
        fault = dict(rng.choice(FAULTS))
        await system.sim.add_fault(**fault)
        for _ in range(rng.randint(1, 2)):
            await alice.push()
        names = await desired_names(system)
        for _ in range(rng.randint(0, 3)):
            roll = rng.random()
            if roll < 0.6 and names:
                name = rng.choice(names)
                octet = int(name.split("-")[1]) if name.split("-")[-1].isdigit() else 9
                await system.draft("VPC", name, vpc_spec(3000 + octet * 4 + rng.randrange(4), octet))
            elif roll < 0.8:
                n = 100 + (round_no * 3 + rng.randrange(3)) % 150
                await system.draft("VPC", f"gui-{n}", vpc_spec(3000 + (n - 100) * 4, n))
            elif names:
                await system.draft("VPC", rng.choice(names), delete=True)
        direction = rng.choice(["gui_to_github", "gui_to_github", "bidirectional"])
        create_pr = rng.random() < 0.6
        operation_id = await system.start_sync(direction=direction, create_pr=create_pr)
        operations.append(operation_id)
        if not killed and round_no >= ROUNDS // 2:
            killed = True
            await wait_for(
                lambda: _started(system, operation_id), timeout=30, interval=0.01, message="the sync to start"
            )
            await system.bot.kill()
            await system.bot.start()
        done = await system.finished(operation_id, timeout=120)
        assert done["status"] == "completed", (round_no, done["status"], done["error"])
        pulls = await system.pulls("open")
        if pulls and rng.random() < 0.5:
            merge = rng.random() < 0.7
            try:
                if merge:
                    await system.sim.merge_pull(OWNER, REPO, pulls[0]["number"], WRITER)
            except ControlError as refused:  # 405: it conflicts with main; a person closes it
                assert refused.status == 405, refused
                merge = False
            if not merge:
                await system.sim.close_pull(OWNER, REPO, pulls[0]["number"], WRITER)

    # Quiet: GitHub behaves again, and the bot catches up.
    await system.sim.clear_faults()
    head = await system.head()
    await system.ingested(head, timeout=60)
    await system.idle(timeout=90)
    assert killed

    expected = await assert_database_matches_repository(system)
    assert len(expected) >= 5, expected
    await assert_deliveries_processed_once(system)
    await assert_no_job_leased(system)
    statuses = [
        r["status"]
        for r in await system.pool.fetch("SELECT status FROM sync_operation WHERE id = ANY($1::uuid[])", operations)
    ]
    assert statuses == ["completed"] * len(operations), statuses
    # No orphan branch: every hnp-sync branch belongs to an open or merged pull request.
    pulls = await system.pulls()
    kept = {p["head"]["ref"] for p in pulls if p["state"] == "open" or p.get("merged_at")}
    branches = set(await system.branches()) - {"main"}
    assert branches <= kept, (branches, kept)
    assert len([p for p in pulls if p["state"] == "open"]) <= 1, pulls
    assert await system.pool.fetchval("SELECT count(*) FROM pull_request WHERE state = 'open'") == len(
        [p for p in pulls if p["state"] == "open"]
    )


async def _started(system: System, operation_id: str) -> bool:
    """The sync's job has been taken: it is running, or (a short sync, or one deferred by a rate
    limit, can be between two polls) it was taken at least once. The kill then lands mid-sync or
    just after it; test_killed_mid_publish.py kills at exact points."""
    job = await system.pool.fetchrow("SELECT status, attempts FROM job WHERE operation_id = $1::uuid", operation_id)
    return job is not None and (job["status"] == "running" or job["attempts"] > 0)
