"""Pull requests, check runs and comments answer as GitHub does, limits included."""

from __future__ import annotations


async def branch_with_change(world, branch: str, path: str, text: str, base: str = "main") -> str:
    api, r = world.api, world.r
    _, ref, _ = await api.get(f"{r}/git/ref/heads/{base}")
    parent = ref["object"]["sha"]
    _, c, _ = await api.get(f"{r}/git/commits/{parent}")
    _, tree, _ = await api.post(
        f"{r}/git/trees",
        {"base_tree": c["tree"]["sha"], "tree": [{"path": path, "mode": "100644", "type": "blob", "content": text}]},
    )
    _, made, _ = await api.post(
        f"{r}/git/commits", {"message": f"{branch}: {path}", "tree": tree["sha"], "parents": [parent]}
    )
    if branch == base:
        await api.patch(f"{r}/git/refs/heads/{branch}", {"sha": made["sha"]})
    else:
        status, body, _ = await api.post(f"{r}/git/refs", {"ref": f"refs/heads/{branch}", "sha": made["sha"]})
        assert status == 201, body
    return made["sha"]


async def open_pr(world, branch: str) -> dict:
    status, pr, _ = await world.api.post(f"{world.r}/pulls", {"title": branch, "head": branch, "base": "main"})
    assert status == 201, pr
    return pr


async def test_opening_a_second_pr_for_the_same_branch_or_one_without_commits_is_refused(world):
    await branch_with_change(world, "f1", "a.yaml", "a: 1\n")
    await open_pr(world, "f1")
    status, body, _ = await world.api.post(f"{world.r}/pulls", {"title": "again", "head": "acme:f1", "base": "main"})
    assert status == 422 and body["errors"][0]["message"] == "A pull request already exists for acme:f1."
    _, ref, _ = await world.api.get(f"{world.r}/git/ref/heads/main")
    await world.api.post(f"{world.r}/git/refs", {"ref": "refs/heads/same", "sha": ref["object"]["sha"]})
    status, body, _ = await world.api.post(f"{world.r}/pulls", {"title": "empty", "head": "same", "base": "main"})
    assert status == 422 and body["errors"][0]["message"] == "No commits between main and same"


async def test_listing_pulls_filters_by_state_head_and_base(world):
    await branch_with_change(world, "f1", "a.yaml", "a: 1\n")
    await branch_with_change(world, "f2", "b.yaml", "b: 1\n")
    one, two = await open_pr(world, "f1"), await open_pr(world, "f2")
    await world.api.patch(f"{world.r}/pulls/{two['number']}", {"state": "closed"})
    _, open_, _ = await world.api.get(f"{world.r}/pulls")
    assert [p["number"] for p in open_] == [one["number"]]
    _, closed, _ = await world.api.get(f"{world.r}/pulls?state=closed")
    assert [p["number"] for p in closed] == [two["number"]]
    _, by_head, _ = await world.api.get(f"{world.r}/pulls?state=all&head=acme:f2")
    assert [p["number"] for p in by_head] == [two["number"]]
    _, by_base, _ = await world.api.get(f"{world.r}/pulls?state=all&base=other")
    assert by_base == []


async def test_merging_checks_the_head_sha_and_conflicts(world, sim):
    head = await branch_with_change(world, "f1", "fabric/vlans/vlan-10.yaml", "vlan: 11\n")
    pr = await open_pr(world, "f1")
    status, body, _ = await world.api.put(f"{world.r}/pulls/{pr['number']}/merge", {"sha": "0" * 40})
    assert status == 409 and body["message"] == "Head branch was modified. Review and try the merge again."
    await branch_with_change(world, "main", "fabric/vlans/vlan-10.yaml", "vlan: 12\n")
    status, got, _ = await world.api.get(f"{world.r}/pulls/{pr['number']}")
    assert got["mergeable"] is None  # GitHub's mergeability job starts with this first look
    status, got, _ = await world.api.get(f"{world.r}/pulls/{pr['number']}")
    assert got["mergeable"] is False and got["mergeable_state"] == "dirty"
    status, body, _ = await world.api.put(f"{world.r}/pulls/{pr['number']}/merge", {"sha": head})
    assert status == 405 and body["message"] == "Pull Request is not mergeable"


async def test_a_merge_makes_a_two_parent_commit_and_closes_the_pr(world, sim):
    head = await branch_with_change(world, "f1", "new.yaml", "n: 1\n")
    base = await branch_with_change(world, "main", "other.yaml", "o: 1\n")
    pr = await open_pr(world, "f1")
    status, body, _ = await world.api.put(f"{world.r}/pulls/{pr['number']}/merge", {"sha": head})
    assert status == 200 and body["merged"] is True
    _, commit, _ = await world.api.get(f"{world.r}/git/commits/{body['sha']}")
    assert [p["sha"] for p in commit["parents"]] == [base, head]
    _, got, _ = await world.api.get(f"{world.r}/pulls/{pr['number']}")
    assert got["merged"] is True and got["state"] == "closed" and got["merge_commit_sha"] == body["sha"]
    status, again, _ = await world.api.put(f"{world.r}/pulls/{pr['number']}/merge", {})
    assert status == 405
    await sim.wait_deliveries_idle()
    closed = world.receiver.events("pull_request", "closed")[-1]
    assert closed["pull_request"]["merged"] is True
    assert world.receiver.events("push")[-1]["after"] == body["sha"]


async def test_check_runs_enforce_annotation_output_and_action_limits(world):
    head = await branch_with_change(world, "f1", "a.yaml", "a: 1\n")
    api, r = world.api, world.r
    ann = {"path": "a.yaml", "start_line": 1, "end_line": 1, "annotation_level": "warning", "message": "m"}
    status, body, _ = await api.post(
        f"{r}/check-runs",
        {"name": "c", "head_sha": head, "output": {"title": "t", "summary": "s", "annotations": [ann] * 51}},
    )
    assert status == 422 and "No more than 50 items are allowed; 51 were supplied." in body["message"]
    status, body, _ = await api.post(
        f"{r}/check-runs", {"name": "c", "head_sha": head, "output": {"title": "t", "summary": "x" * 65536}}
    )
    assert status == 422 and "Only 65535 characters are allowed; 65536 were supplied." in body["message"]
    status, body, _ = await api.post(
        f"{r}/check-runs",
        {
            "name": "c",
            "head_sha": head,
            "actions": [{"label": "l", "description": "d", "identifier": f"i{i}"} for i in range(4)],
        },
    )
    assert status == 422
    status, body, _ = await api.post(
        f"{r}/check-runs",
        {"name": "c", "head_sha": head, "actions": [{"label": "x" * 21, "description": "d", "identifier": "i"}]},
    )
    assert status == 422
    status, run, _ = await api.post(
        f"{r}/check-runs",
        {"name": "c", "head_sha": head, "output": {"title": "t", "summary": "s", "annotations": [ann] * 50}},
    )
    assert status == 201
    status, run, _ = await api.patch(
        f"{r}/check-runs/{run['id']}", {"output": {"title": "t", "summary": "s", "annotations": [ann] * 30}}
    )
    assert run["output"]["annotations_count"] == 80
    _, page, headers = await api.get(f"{r}/check-runs/{run['id']}/annotations?per_page=50&page=2")
    assert len(page) == 30 and 'rel="prev"' in headers["Link"]
    status, body, _ = await api.post(f"{r}/check-runs", {"name": "c", "head_sha": head}, token=world.writer_token)
    assert status == 403


async def test_check_runs_for_a_ref_filter_by_name_and_complete_the_suite(world, sim):
    head = await branch_with_change(world, "f1", "a.yaml", "a: 1\n")
    api, r = world.api, world.r
    _, one, _ = await api.post(f"{r}/check-runs", {"name": "validate", "head_sha": head, "status": "in_progress"})
    _, two, _ = await api.post(f"{r}/check-runs", {"name": "plan", "head_sha": head})
    _, listed, _ = await api.get(f"{r}/commits/f1/check-runs?check_name=validate")
    assert listed["total_count"] == 1 and listed["check_runs"][0]["id"] == one["id"]
    await api.patch(f"{r}/check-runs/{one['id']}", {"conclusion": "success"})
    await api.patch(f"{r}/check-runs/{two['id']}", {"status": "completed", "conclusion": "failure"})
    await sim.wait_deliveries_idle()
    suites = world.receiver.events("check_suite", "completed")
    assert suites and suites[-1]["check_suite"]["conclusion"] == "failure"
    assert [p["check_run"]["id"] for p in world.receiver.events("check_run", "completed")] == [one["id"], two["id"]]


async def test_pressing_a_check_run_button_sends_requested_action(world, sim):
    head = await branch_with_change(world, "f1", "a.yaml", "a: 1\n")
    _, run, _ = await world.api.post(
        f"{world.r}/check-runs",
        {
            "name": "c",
            "head_sha": head,
            "conclusion": "action_required",
            "output": {"title": "t", "summary": "s"},
            "actions": [{"label": "Use GUI version", "description": "Keep the HNP draft", "identifier": "keep-gui"}],
        },
    )
    await sim.press_check_run_action(run["id"], "keep-gui", world.writer)
    await sim.wait_deliveries_idle()
    (event,) = world.receiver.events("check_run", "requested_action")
    assert event["requested_action"] == {"identifier": "keep-gui"} and event["sender"]["login"] == "alice"


async def test_comments_are_created_listed_edited_and_limited(world, sim):
    await branch_with_change(world, "f1", "a.yaml", "a: 1\n")
    pr = await open_pr(world, "f1")
    url = f"{world.r}/issues/{pr['number']}/comments"
    status, body, _ = await world.api.post(url, {"body": "x" * 65537})
    assert status == 422 and body["errors"][0]["message"] == "Body is too long (maximum is 65536 characters)"
    for i in range(3):
        await world.api.post(url, {"body": f"<!-- marker -->\n{i}"})
    _, page1, headers = await world.api.get(f"{url}?per_page=2")
    assert len(page1) == 2 and 'rel="next"' in headers["Link"]
    status, edited, _ = await world.api.patch(f"{world.r}/issues/comments/{page1[0]['id']}", {"body": "edited"})
    assert status == 200 and edited["body"] == "edited"
    assert edited["user"]["login"].endswith("[bot]") and edited["performed_via_github_app"]["id"] == world.app["id"]
    await sim.comment_on_pull(world.owner, world.repo, pr["number"], world.writer, "/hnp retry")
    await sim.wait_deliveries_idle()
    created = world.receiver.events("issue_comment", "created")
    assert created[-1]["comment"]["body"] == "/hnp retry" and created[-1]["issue"]["pull_request"]
