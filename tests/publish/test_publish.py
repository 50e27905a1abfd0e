"""GUI -> GitHub, as HNP drives it: drafts through the API, a sync, and the outcome checked in
a real `git clone` of the repository and in GitHub's REST answers."""

from __future__ import annotations

import yaml

from bot.core import render
from tests.publish.harness import LONE, OWNER, PERSON, README, REPO, VPCS, vpc_spec, world

MAX_CALLS = 8  # at most 8 GitHub calls per publish, pull request included


def documents(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


async def parents(w, clone, rev: str = "HEAD") -> list[str]:
    return (await w.git(clone, "rev-list", "--parents", "-n", "1", rev)).split()[1:]


async def test_editing_one_document_of_a_multi_document_file_changes_only_its_bytes(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        main_before = await w.head()
        await w.draft("VPC", "vpc-2", {"spec": vpc_spec(2, 1022)})
        mark = await w.request_mark()
        done = await w.sync(direction="gui_to_github", create_pr=True)
        assert done["status"] == "completed", done
        gi = done["result"]["github_integration"]
        branch = gi["branch_name"]
        assert branch == f"hnp-sync/lab/{done['operation_id'][:8]}"

        clone = await w.clone(branch)
        assert (clone / "fabric/vpcs.yaml").read_text() == VPCS.replace("vlan: 1002", "vlan: 1022")
        assert (clone / "fabric/lone.yaml").read_text() == LONE
        assert (clone / "README.md").read_text() == README
        assert await parents(w, clone) == [main_before]  # one commit, on top of main
        author = (await w.git(clone, "log", "-1", "--format=%an|%s")).strip()
        assert author == f"{w.github_app['bot_login']}|hnp-gitops: 1 resource (1 updated) in fabric lab"

        pulls = await w.pulls()
        assert [(p["number"], p["head"]["ref"], p["base"]["ref"], p["state"]) for p in pulls] == [
            (gi["pull_request_number"], branch, "main", "open")
        ]
        assert "| VPC | vpc-2 | updated |" in pulls[0]["body"]
        assert pulls[0]["user"]["login"] == w.github_app["bot_login"]

        calls = await w.bot_requests_since(mark)
        # (other concerns -- the validate check run on the new pull request -- call GitHub too)
        writes = [
            (r["method"], r["path"].split("/", 4)[-1])
            for r in calls
            if r["method"] != "GET" and ("/git/" in r["path"] or r["path"].endswith("/pulls"))
        ]
        assert writes == [("POST", "git/trees"), ("POST", "git/commits"), ("POST", "git/refs"), ("POST", "pulls")]
        assert gi["api_calls_made"] <= MAX_CALLS
        resource = await w.resource("VPC", "vpc-2")
        assert resource["state"] == "pending_pr"
        assert resource["pull_request"]["number"] == gi["pull_request_number"]


async def test_deleting_removes_the_document_and_a_file_with_no_document_left(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        main_before = await w.head()
        await w.draft("VPC", "vpc-1", {"delete": True})
        await w.draft("VPC", "lone", {"delete": True})
        done = await w.sync(direction="gui_to_github", create_pr=False)
        assert done["status"] == "completed", done
        stats = done["result"]["statistics"]
        assert (stats["resources_deleted"], stats["files_deleted"], stats["files_updated"]) == (2, 1, 1)

        clone = await w.clone("main")
        assert not (clone / "fabric/lone.yaml").exists()
        text = (clone / "fabric/vpcs.yaml").read_text()
        assert [d["metadata"]["name"] for d in documents(text)] == ["vpc-2", "vpc-3"]
        # the other documents, with their comments, are byte-identical
        assert text.endswith(VPCS[VPCS.index("# the second VPC") :])
        assert text.startswith("# VPCs of the lab. Keep them sorted by name.\n")
        assert await parents(w, clone) == [main_before]  # a fast-forward of main
        assert (await w.pulls()) == []

        await w.idle()  # the push comes back as a webhook and is ingested
        for name in ("vpc-1", "lone"):
            status, _ = await w.call("GET", f"/api/fabrics/lab/resources/VPC/{name}")
            resource = await w.resource("VPC", name) if status == 200 else None
            assert resource is None or resource["draft"] is None


async def test_a_new_resource_is_written_to_its_managed_path(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        spec = vpc_spec(7, 1007)
        drafted = await w.draft("VPC", "vpc-new", {"spec": spec, "labels": {"team": "gui"}})
        assert drafted["state"] == "draft" and drafted["desired"] is None
        done = await w.sync(direction="gui_to_github", create_pr=False)
        assert done["status"] == "completed", done
        assert done["result"]["statistics"]["files_created"] == 1

        clone = await w.clone("main")
        text = (clone / "fabric/managed/vpcs/vpc-new.yaml").read_text()
        assert text == render.render_resource("VPC", "vpc-new", spec=drafted["draft"]["spec"], labels={"team": "gui"})
        assert list(yaml.safe_load(text)) == ["apiVersion", "kind", "metadata", "spec"]
        assert yaml.safe_load(text)["spec"] == spec
        assert (clone / "fabric/vpcs.yaml").read_text() == VPCS

        await w.idle()  # ingested from the push: desired now, and the draft is cleared
        resource = await w.resource("VPC", "vpc-new")
        assert (resource["state"], resource["draft"], resource["file"]["path"]) == (
            "in_sync",
            None,
            "fabric/managed/vpcs/vpc-new.yaml",
        )


async def test_a_draft_equal_to_desired_is_cleared_and_a_sync_then_makes_no_commit(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        main_before = await w.head()
        same = await w.draft("VPC", "vpc-3", {"spec": vpc_spec(3, 1003)})
        assert same["cleared"] is True and same["state"] == "in_sync"
        mark = await w.request_mark()
        done = await w.sync(direction="gui_to_github", create_pr=True)
        assert done["status"] == "completed" and done["result"]["success"], done
        assert "no drafts to publish" in done["result"]["warnings"]
        assert await w.head() == main_before
        assert [r for r in await w.bot_requests_since(mark) if r["method"] != "GET"] == []
        assert await w.branches() == {"main"}


async def test_a_second_sync_updates_the_open_pull_request_and_an_unchanged_one_adds_no_commit(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        await w.draft("VPC", "vpc-1", {"spec": vpc_spec(1, 1011)})
        first = await w.sync(direction="gui_to_github", create_pr=True)
        branch = first["result"]["github_integration"]["branch_name"]
        number = first["result"]["github_integration"]["pull_request_number"]
        first_commit = await w.head(branch)

        await w.draft("VPC", "vpc-3", {"spec": vpc_spec(3, 1033)})
        second = await w.sync(direction="gui_to_github", create_pr=True)
        assert second["status"] == "completed", second
        gi = second["result"]["github_integration"]
        assert (gi["branch_name"], gi["pull_request_number"]) == (branch, number)

        clone = await w.clone(branch)
        assert await parents(w, clone) == [first_commit]
        assert (clone / "fabric/vpcs.yaml").read_text() == VPCS.replace("vlan: 1001", "vlan: 1011").replace(
            "vlan: 1003", "vlan: 1033"
        )
        pulls = await w.pulls()
        assert len(pulls) == 1
        assert "| VPC | vpc-1 | updated |" in pulls[0]["body"] and "| VPC | vpc-3 | updated |" in pulls[0]["body"]

        head = await w.head(branch)
        third = await w.sync(direction="gui_to_github", create_pr=True)
        assert third["status"] == "completed", third
        assert await w.head(branch) == head  # nothing to change: no commit
        assert len(await w.pulls()) == 1


async def test_merging_the_pull_request_makes_the_drafts_desired_and_clears_them(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        await w.draft("VPC", "vpc-2", {"spec": vpc_spec(2, 1022)})
        await w.draft("VPC", "lone", {"delete": True})
        done = await w.sync(direction="gui_to_github", create_pr=True)
        number = done["result"]["github_integration"]["pull_request_number"]
        await w.idle()
        await w.sim.merge_pull(OWNER, REPO, number, PERSON)
        await w.idle()

        assert (await w.rest(f"/repos/{OWNER}/{REPO}/pulls/{number}"))["merged"] is True
        clone = await w.clone("main")
        assert (clone / "fabric/vpcs.yaml").read_text() == VPCS.replace("vlan: 1002", "vlan: 1022")
        assert not (clone / "fabric/lone.yaml").exists()
        resource = await w.resource("VPC", "vpc-2")
        assert (resource["state"], resource["draft"], resource["pull_request"]) == ("in_sync", None, None)
        assert resource["desired"]["spec"] == vpc_spec(2, 1022)
        status, listed = await w.call("GET", "/api/fabrics/lab/resources?state=pending_pr")
        assert status == 200 and listed["resources"] == []


async def test_closing_the_pull_request_unmerged_returns_its_resources_to_draft_and_deletes_the_branch(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        await w.draft("VPC", "vpc-2", {"spec": vpc_spec(2, 1022)})
        done = await w.sync(direction="gui_to_github", create_pr=True)
        gi = done["result"]["github_integration"]
        assert gi["branch_name"] in await w.branches()
        await w.idle()
        await w.sim.close_pull(OWNER, REPO, gi["pull_request_number"], PERSON)
        await w.idle()

        assert await w.branches() == {"main"}
        resource = await w.resource("VPC", "vpc-2")
        assert (resource["state"], resource["pull_request"]) == ("draft", None)
        assert resource["draft"]["spec"] == vpc_spec(2, 1022)
        status, fabric = await w.call("GET", "/api/fabrics/lab")
        assert fabric["pull_request"] is None

        # publishing again opens a new pull request on a new branch
        again = await w.sync(direction="gui_to_github", create_pr=True)
        assert again["result"]["github_integration"]["pull_request_number"] != gi["pull_request_number"]
        assert len(await w.pulls("open")) == 1


async def test_a_person_pushing_to_the_sync_branch_makes_new_drafts(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        await w.draft("VPC", "vpc-2", {"spec": vpc_spec(2, 1022)})
        done = await w.sync(direction="gui_to_github", create_pr=True)
        branch = done["result"]["github_integration"]["branch_name"]
        await w.idle()
        edited = VPCS.replace("vlan: 1002", "vlan: 1222").replace("vlan: 1003", "vlan: 1333")
        await w.push_as_person(branch, {"fabric/vpcs.yaml": edited}, "review: other VLANs")
        await w.idle()

        for name, spec in (("vpc-2", vpc_spec(2, 1222)), ("vpc-3", vpc_spec(3, 1333))):
            resource = await w.resource("VPC", name)
            assert resource["draft"]["spec"] == spec, resource
            assert (resource["state"], resource["draft"]["drafted_by"]) == ("pending_pr", PERSON)
        untouched = await w.resource("VPC", "vpc-1")
        assert untouched["draft"] is None


async def test_cancelling_mid_operation_leaves_no_branch_or_pull_request(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        await w.draft("VPC", "vpc-2", {"spec": vpc_spec(2, 1022)})
        # Opening the pull request is held, so the cancel lands while it is being made.
        fault = await w.sim.add_fault(method="POST", path=r"/pulls$", hold=True)
        operation_id = await w.start_sync(direction="gui_to_github", create_pr=True)
        await w.sim.wait_held(fault["id"], timeout=20)
        assert any(b.startswith("hnp-sync/") for b in await w.branches())
        status, cancelled = await w.call("POST", f"/api/operations/{operation_id}/cancel")
        assert status == 202 and cancelled["cancel_requested"] is True
        await w.sim.release_fault(fault["id"])
        finished = await w.operation(operation_id, wait=20)
        assert finished["status"] == "cancelled", finished
        assert any("deleted branch" in line for line in finished["result"]["warnings"])

        assert await w.branches() == {"main"}
        assert all(p["state"] == "closed" for p in await w.pulls())
        resource = await w.resource("VPC", "vpc-2")
        assert (resource["state"], resource["pull_request"]) == ("draft", None)


async def test_a_branch_that_moves_during_a_direct_commit_is_re_read_and_the_commit_retried(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        await w.draft("VPC", "vpc-1", {"spec": vpc_spec(1, 1011)})
        # The bot's commit is held while a person pushes to main.
        fault = await w.sim.add_fault(method="POST", path=r"/git/commits$", hold=True)
        operation_id = await w.start_sync(direction="gui_to_github", create_pr=False)
        await w.sim.wait_held(fault["id"], timeout=20)
        theirs = await w.push_as_person("main", {"README.md": README + "\nEdited meanwhile.\n"}, "docs")
        await w.sim.release_fault(fault["id"])
        done = await w.operation(operation_id, wait=30)
        assert done["status"] == "completed", done
        assert any("moved during the sync" in line for line in done["result"]["warnings"])

        clone = await w.clone("main")
        assert await parents(w, clone) == [theirs]  # re-planned on the moved head: still a fast-forward
        assert (clone / "README.md").read_text() == README + "\nEdited meanwhile.\n"
        assert (clone / "fabric/vpcs.yaml").read_text() == VPCS.replace("vlan: 1001", "vlan: 1011")


async def test_a_sync_interrupted_after_its_branch_was_made_resumes_without_duplicates(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        main_before = await w.head()
        await w.draft("VPC", "vpc-2", {"spec": vpc_spec(2, 1022)})
        # GitHub fails every try of opening the pull request in the first run (the GitHub
        # layer retries 4 times); the job is run again and resumes from its recorded progress.
        await w.sim.add_fault(method="POST", path=r"/pulls$", status=502, count=4)
        done = await w.sync(direction="gui_to_github", create_pr=True)
        assert done["status"] == "completed", done
        branch = done["result"]["github_integration"]["branch_name"]

        assert len(await w.pulls()) == 1
        assert sorted(await w.branches()) == sorted(["main", branch])
        clone = await w.clone(branch)
        assert await parents(w, clone) == [main_before]
        assert (await w.git(clone, "rev-list", "--count", f"{main_before}..HEAD")).strip() == "1"
        attempts = await w.pool.fetchval(
            "SELECT attempts FROM job WHERE operation_id = $1", __import__("uuid").UUID(done["operation_id"])
        )
        assert attempts == 2


async def test_bidirectional_ingests_then_publishes_as_one_operation(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        await w.draft("VPC", "vpc-1", {"spec": vpc_spec(1, 1011)})
        await w.sim.set_webhook_url(w.github_app["id"], None)  # the push below is not delivered
        theirs = await w.push_as_person("main", {"fabric/lone.yaml": LONE.replace("vlan: 1009", "vlan: 1099")}, "lone")
        done = await w.sync(direction="bidirectional", create_pr=False)
        assert done["status"] == "completed", done
        result = done["result"]
        assert result["direction"] == "bidirectional"
        assert set(result["parts"]) == {"github_to_gui", "gui_to_github"}
        assert result["parts"]["github_to_gui"]["github_integration"]["commit_sha"] == theirs
        assert result["parts"]["gui_to_github"]["statistics"]["resources_updated"] == 1
        total = sum(p["github_integration"]["api_calls_made"] for p in result["parts"].values())
        assert result["github_integration"]["api_calls_made"] >= total > 0
        lone = await w.resource("VPC", "lone")
        assert lone["desired"]["spec"] == vpc_spec(9, 1099)
        clone = await w.clone("main")
        assert await parents(w, clone) == [theirs]
        assert (clone / "fabric/vpcs.yaml").read_text() == VPCS.replace("vlan: 1001", "vlan: 1011")


async def test_a_sync_that_fails_says_why_and_removes_the_branch_it_made(pool, tmp_path):
    async with world(pool, tmp_path) as w:
        await w.draft("VPC", "vpc-2", {"spec": vpc_spec(2, 1022)})
        await w.sim.add_fault(
            method="POST",
            path=r"/pulls$",
            status=422,
            count=5,
            body={"message": "Validation Failed: base branch is protected"},
        )
        done = await w.sync(direction="gui_to_github", create_pr=True)
        assert done["status"] == "failed", done
        assert "base branch is protected" in done["error"]
        assert any("deleted branch" in line for line in done["result"]["warnings"])
        assert await w.branches() == {"main"} and await w.pulls() == []
        resource = await w.resource("VPC", "vpc-2")
        assert (resource["state"], resource["pull_request"]) == ("draft", None)
        status, fabric = await w.call("GET", "/api/fabrics/lab")
        assert fabric["pull_request"] is None


async def test_a_write_github_refuses_the_app_is_a_permission_denied_conflict_until_a_write_goes_through(
    pool, tmp_path
):
    async with world(pool, tmp_path) as w:
        main_before = await w.head()
        await w.draft("VPC", "vpc-1", {"spec": vpc_spec(1, 1011)})
        # A protected branch: GitHub answers the app's ref update with 403 (not a rate limit).
        await w.sim.add_fault(
            method="PATCH",
            path=r"/git/refs/heads/main$",
            status=403,
            count=1,
            body={"message": "Resource not accessible by integration"},
        )
        done = await w.sync(direction="gui_to_github", create_pr=False)
        assert done["status"] == "failed", done
        assert "refused the app's write" in done["error"]
        assert await w.head() == main_before  # nothing landed
        status, listed = await w.call("GET", "/api/fabrics/lab/conflicts")
        assert status == 200
        denied = [c for c in listed["conflicts"] if c["type"] == "permission_denied"]
        assert len(denied) == 1 and denied[0]["severity"] == "critical", listed
        assert (await w.resource("VPC", "vpc-1"))["state"] == "conflict"

        # Access given back: a forced sync writes, and the refusal is superseded.
        done = await w.sync(direction="gui_to_github", create_pr=False, force_sync=True)
        assert done["status"] == "completed", done
        status, listed = await w.call("GET", "/api/fabrics/lab/conflicts")
        assert [c for c in listed["conflicts"] if c["type"] == "permission_denied"] == []
        clone = await w.clone("main")
        assert (clone / "fabric/vpcs.yaml").read_text() == VPCS.replace("vlan: 1001", "vlan: 1011")
