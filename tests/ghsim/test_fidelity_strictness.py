"""Where a bot could be fooled, the emulator is never more lenient than GitHub: each test is one
behaviour GitHub documents (REST reference, OpenAPI description or webhook examples)."""

from __future__ import annotations

import time

import jwt
from test_pulls_and_checks import branch_with_change, open_pr


async def test_mergeable_is_null_and_unknown_until_githubs_background_job_has_run(world):
    await branch_with_change(world, "f1", "a.yaml", "a: 1\n")
    created = await open_pr(world, "f1")
    assert created["mergeable"] is None and created["mergeable_state"] == "unknown"
    _, later, _ = await world.api.get(f"{world.r}/pulls/{created['number']}")
    assert later["mergeable"] is True and later["mergeable_state"] == "clean"
    # A new base commit starts the job again: the first look after it is unknown once more.
    await branch_with_change(world, "main", "b.yaml", "b: 1\n")
    _, first, _ = await world.api.get(f"{world.r}/pulls/{created['number']}")
    assert first["mergeable"] is None and first["mergeable_state"] == "unknown"
    _, second, _ = await world.api.get(f"{world.r}/pulls/{created['number']}")
    assert second["mergeable"] is True


async def test_the_control_api_can_finish_the_mergeability_job_and_webhooks_report_only_what_is_known(world, sim):
    await branch_with_change(world, "f1", "fabric/vlans/vlan-10.yaml", "vlan: 11\n")
    pr = await open_pr(world, "f1")
    await sim.wait_deliveries_idle()
    opened = world.receiver.events("pull_request", "opened")[-1]["pull_request"]
    assert opened["mergeable"] is None and opened["mergeable_state"] == "unknown"
    await branch_with_change(world, "main", "fabric/vlans/vlan-10.yaml", "vlan: 12\n")
    assert await sim.compute_mergeability("acme", "fabric", pr["number"]) == {
        "mergeable": False,
        "mergeable_state": "dirty",
    }
    _, got, _ = await world.api.get(f"{world.r}/pulls/{pr['number']}")
    assert got["mergeable"] is False and got["mergeable_state"] == "dirty"


async def test_a_head_filter_without_an_owner_is_ignored_as_github_ignores_it(world):
    await branch_with_change(world, "x1", "a.yaml", "a: 1\n")
    await branch_with_change(world, "x2", "b.yaml", "b: 1\n")
    one, two = await open_pr(world, "x1"), await open_pr(world, "x2")
    _, bare, _ = await world.api.get(f"{world.r}/pulls?head=x1")
    assert sorted(p["number"] for p in bare) == sorted([one["number"], two["number"]])
    _, owned, _ = await world.api.get(f"{world.r}/pulls?head=acme:x1")
    assert [p["number"] for p in owned] == [one["number"]]
    _, other_owner, _ = await world.api.get(f"{world.r}/pulls?head=someoneelse:x1")
    assert other_owner == []


async def test_a_pull_request_from_a_head_in_someone_elses_fork_that_does_not_exist_is_422(world):
    await branch_with_change(world, "y1", "a.yaml", "a: 1\n")
    status, body, _ = await world.api.post(f"{world.r}/pulls", {"title": "t", "head": "someoneelse:y1", "base": "main"})
    assert status == 422, body
    assert body["errors"] == [{"resource": "PullRequest", "field": "head", "code": "invalid"}]
    status, _, _ = await world.api.post(f"{world.r}/pulls", {"title": "t", "head": "acme:y1", "base": "main"})
    assert status == 201


async def test_sort_updated_lists_oldest_first_by_default_and_created_newest_first(world):
    await branch_with_change(world, "s1", "a.yaml", "a: 1\n")
    await branch_with_change(world, "s2", "b.yaml", "b: 1\n")
    first, second = await open_pr(world, "s1"), await open_pr(world, "s2")
    _, by_created, _ = await world.api.get(f"{world.r}/pulls")
    assert [p["number"] for p in by_created] == [second["number"], first["number"]]
    _, by_updated, _ = await world.api.get(f"{world.r}/pulls?sort=updated")
    assert [p["number"] for p in by_updated] == [first["number"], second["number"]]
    _, desc, _ = await world.api.get(f"{world.r}/pulls?sort=updated&direction=desc")
    assert [p["number"] for p in desc] == [second["number"], first["number"]]


async def _push_for(world, ref: str) -> dict:
    async def arrived():
        pushes = [p for p in world.receiver.events("push") if p["ref"] == ref]
        return pushes[-1] if pushes else None

    from conftest import wait_for

    return await wait_for(arrived)


async def test_a_branch_created_at_an_existing_commit_pushes_no_commits_only_the_head_commit(world):
    _, ref, _ = await world.api.get(f"{world.r}/git/ref/heads/main")
    main = ref["object"]["sha"]
    status, _, _ = await world.api.post(f"{world.r}/git/refs", {"ref": "refs/heads/copy", "sha": main})
    assert status == 201
    push = await _push_for(world, "refs/heads/copy")
    assert push["created"] is True and push["commits"] == []
    assert push["head_commit"]["id"] == main


async def test_a_branch_created_with_a_new_commit_lists_only_that_commit(world):
    new = await branch_with_change(world, "fresh", "a.yaml", "a: 1\n")
    push = await _push_for(world, "refs/heads/fresh")
    assert [c["id"] for c in push["commits"]] == [new] and push["head_commit"]["id"] == new


async def test_a_branch_pushed_with_git_at_an_existing_commit_has_no_commits(world, tmp_path):
    from conftest import git

    work = tmp_path / "clone"
    await git("clone", "-q", world.sim.git_url("acme", "fabric", world.writer_token), str(work))
    await git("push", "-q", "origin", "HEAD:refs/heads/from-git", cwd=work)
    push = await _push_for(world, "refs/heads/from-git")
    assert push["commits"] == [] and push["head_commit"] is not None


async def test_collaborator_check_answers_204_for_collaborators_and_404_otherwise(world):
    status, body, _ = await world.api.get(f"{world.r}/collaborators/alice")
    assert status == 204 and not body
    status, _, _ = await world.api.get(f"{world.r}/collaborators/acme")  # the owning organisation is no user
    assert status == 404
    await world.sim.create_user("carol", "read", [])
    status, body, _ = await world.api.get(f"{world.r}/collaborators/carol")
    assert status == 404 and body["message"] == "Not Found"


async def test_a_branch_is_found_with_its_commit_and_an_unknown_one_is_404(world):
    _, ref, _ = await world.api.get(f"{world.r}/git/ref/heads/main")
    status, branch, _ = await world.api.get(f"{world.r}/branches/main")
    assert status == 200 and branch["name"] == "main" and branch["protected"] is False
    assert branch["commit"]["sha"] == ref["object"]["sha"] and branch["commit"]["commit"]["message"]
    await branch_with_change(world, "feature/x", "a.yaml", "a: 1\n")
    status, nested, _ = await world.api.get(f"{world.r}/branches/feature/x")
    assert status == 200 and nested["name"] == "feature/x"
    status, body, _ = await world.api.get(f"{world.r}/branches/nope")
    assert status == 404 and body["message"] == "Branch not found"
    status, listed, _ = await world.api.get(f"{world.r}/branches")
    assert [b["name"] for b in listed] == ["feature/x", "main"]


async def test_check_suites_for_a_ref_list_the_suites_of_that_commit(world):
    head = await branch_with_change(world, "c1", "a.yaml", "a: 1\n")
    status, run, _ = await world.api.post(
        f"{world.r}/check-runs", {"name": "hnp-gitops/validate", "head_sha": head, "status": "in_progress"}
    )
    assert status == 201
    status, got, _ = await world.api.get(f"{world.r}/commits/{head}/check-suites")
    assert status == 200 and got["total_count"] == 1
    assert got["check_suites"][0]["id"] == run["check_suite"]["id"] and got["check_suites"][0]["head_sha"] == head
    _, named, _ = await world.api.get(f"{world.r}/commits/c1/check-suites?check_name=other")
    assert named["total_count"] == 0
    status, _, _ = await world.api.get(f"{world.r}/commits/{'0' * 40}/check-suites")
    assert status == 422


async def test_the_path_a_refs_url_names_answers_that_ref(world):
    _, ref, _ = await world.api.get(f"{world.r}/git/ref/heads/main")
    status, same, _ = await world.api.get(ref["url"])
    assert status == 200 and same == ref
    await branch_with_change(world, "team/a", "a.yaml", "a: 1\n")
    status, under, _ = await world.api.get(f"{world.r}/git/refs/heads/team")
    assert status == 200 and [r["ref"] for r in under] == ["refs/heads/team/a"]
    status, body, _ = await world.api.get(f"{world.r}/git/refs/heads/none")
    assert status == 404 and body["message"] == "Not Found"


async def test_any_value_of_recursive_recurses(world):
    _, ref, _ = await world.api.get(f"{world.r}/git/ref/heads/main")
    for value in ("1", "0", "false", "true"):
        _, tree, _ = await world.api.get(f"{world.r}/git/trees/{ref['object']['sha']}?recursive={value}")
        assert "fabric/vlans/vlan-10.yaml" in [e["path"] for e in tree["tree"]], value
    _, flat, _ = await world.api.get(f"{world.r}/git/trees/{ref['object']['sha']}")
    assert "fabric/vlans/vlan-10.yaml" not in [e["path"] for e in flat["tree"]]


async def test_created_git_objects_refs_and_check_runs_carry_a_location(world):
    api, r = world.api, world.r
    _, ref, _ = await api.get(f"{r}/git/ref/heads/main")
    main = ref["object"]["sha"]
    status, blob, headers = await api.post(f"{r}/git/blobs", {"content": "x"})
    assert status == 201 and headers["Location"] == blob["url"]
    status, tree, headers = await api.post(
        f"{r}/git/trees", {"tree": [{"path": "x", "mode": "100644", "type": "blob", "sha": blob["sha"]}]}
    )
    assert status == 201 and headers["Location"] == tree["url"]
    status, commit, headers = await api.post(
        f"{r}/git/commits", {"message": "x", "tree": tree["sha"], "parents": [main]}
    )
    assert status == 201 and headers["Location"] == commit["url"]
    status, made, headers = await api.post(f"{r}/git/refs", {"ref": "refs/heads/loc", "sha": commit["sha"]})
    assert status == 201 and headers["Location"] == made["url"]
    status, run, headers = await api.post(f"{r}/check-runs", {"name": "n", "head_sha": commit["sha"]})
    assert status == 201 and headers["Location"] == run["url"]


async def test_an_app_jwt_expiring_more_than_ten_minutes_ahead_is_refused(world):
    now = int(time.time())
    key, app_id = world.app["private_key"], str(world.app["id"])
    too_far = jwt.encode({"iat": now - 60, "exp": now + 11 * 60, "iss": app_id}, key, algorithm="RS256")
    status, body, _ = await world.api.get("/app", headers={"Authorization": f"Bearer {too_far}"})
    assert status == 401 and "too far in the future" in body["message"]
    ten = jwt.encode({"iat": now - 60, "exp": now + 10 * 60, "iss": app_id}, key, algorithm="RS256")
    status, _, _ = await world.api.get("/app", headers={"Authorization": f"Bearer {ten}"})
    assert status == 200


async def test_a_secondary_rate_limit_fault_without_a_status_answers_403(world, sim):
    fault = await sim.add_fault(path="/pulls$", secondary_rate_limit=True)
    assert fault["status"] == 403
    status, body, _ = await world.api.get(f"{world.r}/pulls")
    assert status == 403 and "secondary rate limit" in body["message"]
