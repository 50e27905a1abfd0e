"""Conflicts where people look: the bot's pull request, its check run and its one comment.

The whole bot runs in this process against the GitHub emulator (tests/publish/harness.py):
drafts go in through the HNP API, a person pushes with real git, buttons are pressed and
comments posted as people do on github.com, and the outcome is read back from GitHub's REST
answers and a clone of the repository.
"""

from __future__ import annotations

import yaml

from bot.core.checks import COMMENT_MARKER, CONFLICTS_CHECK
from tests.conftest import wait_for
from tests.publish.harness import OWNER, REPO, VPCS, World, vpc_spec, world


async def conflict_runs(w: World, sha: str) -> list[dict]:
    data = await w.rest(f"/repos/{OWNER}/{REPO}/commits/{sha}/check-runs")
    return sorted((r for r in data["check_runs"] if r["name"] == CONFLICTS_CHECK), key=lambda r: r["id"])


async def latest_run(w: World, sha: str) -> dict | None:
    runs = await conflict_runs(w, sha)
    return runs[-1] if runs else None


async def bot_comments(w: World, number: int) -> list[dict]:
    found = await w.rest(f"/repos/{OWNER}/{REPO}/issues/{number}/comments")
    return [c for c in found if COMMENT_MARKER in c["body"]]


async def open_pr(w: World) -> dict:
    [pr] = await w.pulls("open")
    return pr


async def pr_with_draft(w: World, vlan: int = 1500) -> dict:
    """vpc-1's VLAN drafted in the GUI and published as a pull request; its check is green."""
    await w.draft("VPC", "vpc-1", {"spec": vpc_spec(1, vlan)})
    done = await w.sync(direction="gui_to_github", create_pr=True)
    assert done["status"] == "completed", done
    await w.idle()
    pr = await open_pr(w)
    run = await latest_run(w, pr["head"]["sha"])
    assert run is not None and run["conclusion"] == "success", run
    return pr


async def push_vlan(w: World, vlan: int, *, other: str | None = None) -> None:
    """A person changes vpc-1 on main (its VLAN, or another field) and pushes."""
    text = VPCS.replace("vlan: 1001", f"vlan: {vlan}")
    if other:
        text = text.replace("subnet: 10.0.1.0/24   # servers", other)
    sha = await w.push_as_person("main", {"fabric/vpcs.yaml": text}, "change vpc-1")

    async def ingested() -> bool:
        return await w.pool.fetchval("SELECT last_ingested_sha FROM fabric WHERE name = $1", w.fabric) == sha

    await wait_for(ingested, timeout=30, message="the push to be ingested")
    await w.idle()


async def settled(w: World, conclusion: str, *, other_than: str | None = None) -> dict:
    """Wait for the open pull request's head (a new one, when `other_than` is given) to carry
    a conflicts check with this conclusion; returns the pull request."""

    async def ready() -> dict | None:
        await w.idle()
        pr = await open_pr(w)
        if pr["head"]["sha"] == other_than:
            return None
        run = await latest_run(w, pr["head"]["sha"])
        return pr if run is not None and run["conclusion"] == conclusion else None

    return await wait_for(ready, timeout=30, message=f"a {conclusion} conflicts check")


async def test_a_push_changing_the_drafted_vlan_turns_the_check_to_action_required_and_gui_wins_fixes_it(
    pool, tmp_path
):
    async with world(pool, tmp_path) as w:
        pr = await pr_with_draft(w, 1500)

        await push_vlan(w, 1600)

        head = (await settled(w, "action_required"))["head"]["sha"]
        run = await latest_run(w, head)
        assert "spec.subnets.default.vlan" in run["output"]["summary"]
        annotations = await w.rest(f"/repos/{OWNER}/{REPO}/check-runs/{run['id']}/annotations")
        [note] = annotations
        clone = await w.clone(pr["head"]["ref"])
        lines = (clone / "fabric/vpcs.yaml").read_text().splitlines()
        assert note["path"] == "fabric/vpcs.yaml" and "vlan: 1500" in lines[note["start_line"] - 1]
        [comment] = await bot_comments(w, pr["number"])
        assert "1 conflict" in comment["body"] and "1600" in comment["body"]
        assert (await w.resource("VPC", "vpc-1"))["state"] == "conflict"

        await w.sim.press_check_run_action(run["id"], "gui_wins", "alice")

        new_head = (await settled(w, "success", other_than=head))["head"]["sha"]
        # The new commit merges the fabric's branch into the pull request's, as a person would.
        commit = await w.rest(f"/repos/{OWNER}/{REPO}/commits/{new_head}")
        assert [p["sha"] for p in commit["parents"]] == [head, await w.head("main")]
        comments = await bot_comments(w, pr["number"])
        assert [c["id"] for c in comments] == [comment["id"]] and "No conflicts" in comments[0]["body"]
        clone = await w.clone(pr["head"]["ref"])
        body = [
            d for d in yaml.safe_load_all((clone / "fabric/vpcs.yaml").read_text()) if d["metadata"]["name"] == "vpc-1"
        ][0]
        assert body["spec"]["subnets"]["default"]["vlan"] == 1500
        status, listed = await w.call("GET", f"/api/fabrics/{w.fabric}/conflicts?status=resolved")
        assert [(c["resolved_with"], c["resolved_by"]) for c in listed["conflicts"]] == [("gui_wins", "alice")]


async def test_a_push_changing_another_field_merges_without_a_conflict(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        pr = await pr_with_draft(w, 1500)

        await push_vlan(w, 1001, other="subnet: 10.0.1.0/24\n      gateway: 10.0.1.254")

        run = await latest_run(w, (await open_pr(w))["head"]["sha"])
        assert run["conclusion"] == "success"
        resource = await w.resource("VPC", "vpc-1")
        assert resource["state"] == "pending_pr"
        assert resource["draft"]["spec"]["subnets"]["default"] == {
            "subnet": "10.0.1.0/24",
            "gateway": "10.0.1.254",
            "vlan": 1500,
        }
        [comment] = await bot_comments(w, pr["number"])
        assert "No conflicts" in comment["body"]


async def test_a_resolve_command_from_a_writer_resolves_and_from_a_reader_is_politely_refused(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        pr = await pr_with_draft(w, 1500)
        await push_vlan(w, 1600)
        await w.sim.create_user("rita", "read", [f"{OWNER}/{REPO}"])
        head = (await settled(w, "action_required"))["head"]["sha"]

        await w.sim.comment_on_pull(OWNER, REPO, pr["number"], "rita", "/hnp resolve gui")
        await w.idle()

        replies = [
            c
            for c in await w.rest(f"/repos/{OWNER}/{REPO}/issues/{pr['number']}/comments")
            if c["user"]["type"] == "Bot" and "@rita" in c["body"]
        ]
        assert len(replies) == 1 and "write access" in replies[0]["body"]
        assert (await open_pr(w))["head"]["sha"] == head
        assert (await w.resource("VPC", "vpc-1"))["state"] == "conflict"

        await w.sim.comment_on_pull(OWNER, REPO, pr["number"], "alice", "Let's keep Git's.\n/hnp resolve git vpc/vpc-1")

        # Git won the only change the pull request carried: nothing is left to merge, so the
        # bot closes it, says why, deletes its branch and clears the draft.
        async def closed() -> dict | None:
            await w.idle()
            found = await w.rest(f"/repos/{OWNER}/{REPO}/pulls/{pr['number']}")
            return found if found["state"] == "closed" else None

        assert (await wait_for(closed, timeout=30, message="the empty pull request to be closed"))["merged"] is False
        said = [c["body"] for c in await w.rest(f"/repos/{OWNER}/{REPO}/issues/{pr['number']}/comments")]
        assert any("no longer changes anything" in body for body in said)
        assert pr["head"]["ref"] not in await w.branches()
        resource = await w.resource("VPC", "vpc-1")
        assert (resource["state"], resource["draft"], resource["pull_request"]) == ("in_sync", None, None)
        assert await w.pool.fetchval("SELECT count(*) FROM resource WHERE state = 'pending_pr'") == 0
        rows = await w.pool.fetch("SELECT actor, allowed, outcome FROM pr_command ORDER BY created_at")
        assert [(r["actor"], r["allowed"]) for r in rows] == [("rita", False), ("alice", True)]


async def test_a_conflict_resolved_through_the_hnp_api_reaches_the_pull_request_and_its_check_turns_green(
    pool, tmp_path
):
    async with world(pool, tmp_path) as w:
        pr = await pr_with_draft(w, 1500)
        await push_vlan(w, 1600)
        head = (await settled(w, "action_required"))["head"]["sha"]
        status, listed = await w.call("GET", f"/api/fabrics/{w.fabric}/conflicts")
        [conflict] = listed["conflicts"]

        status, answer = await w.call(
            "POST", f"/api/conflicts/{conflict['id']}/resolve", {"resolution": "gui_wins", "user": "operator-1"}
        )
        assert status == 200 and answer["changed"] is True, answer

        new_head = (await settled(w, "success", other_than=head))["head"]["sha"]
        commit = await w.rest(f"/repos/{OWNER}/{REPO}/commits/{new_head}")
        assert [p["sha"] for p in commit["parents"]] == [head, await w.head("main")]
        clone = await w.clone(pr["head"]["ref"])
        body = [
            d for d in yaml.safe_load_all((clone / "fabric/vpcs.yaml").read_text()) if d["metadata"]["name"] == "vpc-1"
        ][0]
        assert body["spec"]["subnets"]["default"]["vlan"] == 1500
        [comment] = await bot_comments(w, pr["number"])
        assert "No conflicts" in comment["body"]


async def closed_pull(w: World, number: int) -> dict:
    async def closed() -> dict | None:
        await w.idle()
        found = await w.rest(f"/repos/{OWNER}/{REPO}/pulls/{number}")
        return found if found["state"] == "closed" else None

    return await wait_for(closed, timeout=30, message=f"pull request #{number} to be closed")


async def test_git_wins_through_the_hnp_api_closes_the_now_empty_pull_request_and_clears_the_draft(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        pr = await pr_with_draft(w, 1500)
        await push_vlan(w, 1600)
        await settled(w, "action_required")
        _, listed = await w.call("GET", f"/api/fabrics/{w.fabric}/conflicts")
        [conflict] = listed["conflicts"]

        status, answer = await w.call("POST", f"/api/conflicts/{conflict['id']}/resolve", {"resolution": "github_wins"})
        assert status == 200, answer

        assert (await closed_pull(w, pr["number"]))["merged"] is False
        assert pr["head"]["ref"] not in await w.branches()
        resource = await w.resource("VPC", "vpc-1")
        assert (resource["state"], resource["draft"], resource["pull_request"]) == ("in_sync", None, None)
        assert resource["desired"]["spec"]["subnets"]["default"]["vlan"] == 1600
        _, fabric = await w.call("GET", f"/api/fabrics/{w.fabric}")
        assert fabric["pull_request"] is None and "pending_pr" not in fabric["resources"]


async def test_a_pull_request_whose_change_reached_the_base_another_way_is_closed(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        pr = await pr_with_draft(w, 1500)

        await push_vlan(w, 1500)  # a person made the same change on main

        await closed_pull(w, pr["number"])
        said = [c["body"] for c in await w.rest(f"/repos/{OWNER}/{REPO}/issues/{pr['number']}/comments")]
        assert any("Every change it carried is on main now" in body for body in said)
        resource = await w.resource("VPC", "vpc-1")
        assert (resource["state"], resource["draft"]) == ("in_sync", None)
        assert await w.pool.fetchval("SELECT count(*) FROM resource WHERE state = 'pending_pr'") == 0
