"""The git data API: refs, trees, blobs and commits behave as on GitHub."""

from __future__ import annotations

import base64
import time

from conftest import git


async def head(world, branch="main") -> str:
    status, ref, _ = await world.api.get(f"{world.r}/git/ref/heads/{branch}")
    assert status == 200
    return ref["object"]["sha"]


async def commit_files(world, files: dict, parent: str, base_tree: str | None = None, message="change") -> str:
    entries = [
        {"path": p, "mode": "100644", "type": "blob", **({"sha": None} if c is None else {"content": c})}
        for p, c in files.items()
    ]
    body = {"tree": entries} | ({"base_tree": base_tree} if base_tree else {})
    status, tree, _ = await world.api.post(f"{world.r}/git/trees", body)
    assert status == 201, tree
    status, commit, _ = await world.api.post(
        f"{world.r}/git/commits", {"message": message, "tree": tree["sha"], "parents": [parent]}
    )
    assert status == 201, commit
    return commit["sha"]


async def tree_paths(world, sha: str) -> dict[str, str]:
    status, tree, _ = await world.api.get(f"{world.r}/git/trees/{sha}?recursive=1")
    assert status == 200
    return {e["path"]: e["sha"] for e in tree["tree"] if e["type"] == "blob"}


async def test_a_tree_built_on_a_base_tree_adds_nested_files_and_deletes_others(world):
    parent = await head(world)
    status, commit, _ = await world.api.get(f"{world.r}/git/commits/{parent}")
    base_tree = commit["tree"]["sha"]
    sha = await commit_files(
        world, {"fabric/switches/leaf-1.yaml": "kind: Switch\n", "fabric/vlans/vlan-10.yaml": None}, parent, base_tree
    )
    status, commit, _ = await world.api.get(f"{world.r}/git/commits/{sha}")
    paths = await tree_paths(world, commit["tree"]["sha"])
    assert "fabric/switches/leaf-1.yaml" in paths
    assert "fabric/vlans/vlan-10.yaml" not in paths
    assert "README.md" in paths  # kept from the base tree
    status, blob, _ = await world.api.get(f"{world.r}/git/blobs/{paths['fabric/switches/leaf-1.yaml']}")
    assert base64.b64decode(blob["content"]) == b"kind: Switch\n"


async def test_a_tree_without_base_tree_holds_only_its_entries(world):
    parent = await head(world)
    sha = await commit_files(world, {"only/this.yaml": "a: 1\n"}, parent)
    status, commit, _ = await world.api.get(f"{world.r}/git/commits/{sha}")
    assert (await tree_paths(world, commit["tree"]["sha"])).keys() == {"only/this.yaml"}


async def test_updating_a_ref_to_a_commit_that_is_not_a_descendant_needs_force(world):
    main = await head(world)
    ahead = await commit_files(world, {"x.yaml": "x: 1\n"}, main)
    status, _, _ = await world.api.patch(f"{world.r}/git/refs/heads/main", {"sha": ahead})
    assert status == 200
    sideways = await commit_files(world, {"y.yaml": "y: 1\n"}, main)
    status, body, _ = await world.api.patch(f"{world.r}/git/refs/heads/main", {"sha": sideways})
    assert status == 422
    assert body["message"] == "Update is not a fast forward"
    assert body["documentation_url"].startswith("https://docs.github.com/rest/git/refs")
    assert await head(world) == ahead
    status, body, _ = await world.api.patch(f"{world.r}/git/refs/heads/main", {"sha": sideways, "force": True})
    assert status == 200 and body["object"]["sha"] == sideways


async def test_refs_are_created_listed_and_deleted_with_githubs_errors(world):
    main = await head(world)
    status, body, _ = await world.api.post(f"{world.r}/git/refs", {"ref": "refs/heads/draft/one", "sha": main})
    assert status == 201 and body["ref"] == "refs/heads/draft/one"
    status, body, _ = await world.api.post(f"{world.r}/git/refs", {"ref": "refs/heads/draft/one", "sha": main})
    assert status == 422 and body["message"] == "Reference already exists"
    status, body, _ = await world.api.post(f"{world.r}/git/refs", {"ref": "refs/heads/x", "sha": "1" * 40})
    assert status == 422 and body["message"] == "Object does not exist"
    status, refs, _ = await world.api.get(f"{world.r}/git/matching-refs/heads/draft/")
    assert [r["ref"] for r in refs] == ["refs/heads/draft/one"]
    status, _, _ = await world.api.delete(f"{world.r}/git/refs/heads/draft/one")
    assert status == 204
    status, body, _ = await world.api.delete(f"{world.r}/git/refs/heads/draft/one")
    assert status == 422 and body["message"] == "Reference does not exist"
    status, body, _ = await world.api.get(f"{world.r}/git/ref/heads/draft/one")
    assert status == 404 and body["message"] == "Not Found"


async def test_blobs_round_trip_in_base64_and_utf8(world):
    status, made, _ = await world.api.post(f"{world.r}/git/blobs", {"content": "héllo\n", "encoding": "utf-8"})
    assert status == 201
    status, made2, _ = await world.api.post(
        f"{world.r}/git/blobs", {"content": base64.b64encode("héllo\n".encode()).decode(), "encoding": "base64"}
    )
    assert made2["sha"] == made["sha"]
    status, blob, _ = await world.api.get(f"{world.r}/git/blobs/{made['sha']}")
    assert blob["encoding"] == "base64" and base64.b64decode(blob["content"]).decode() == "héllo\n"


async def test_commits_keep_given_author_and_dates(world):
    parent = await head(world)
    status, c, _ = await world.api.get(f"{world.r}/git/commits/{parent}")
    status, made, _ = await world.api.post(
        f"{world.r}/git/commits",
        {
            "message": "by hand",
            "tree": c["tree"]["sha"],
            "parents": [parent],
            "author": {"name": "Ann", "email": "ann@example.com", "date": "2024-01-02T03:04:05+02:00"},
        },
    )
    assert status == 201
    assert made["author"] == {"name": "Ann", "email": "ann@example.com", "date": "2024-01-02T01:04:05Z"}
    assert made["parents"][0]["sha"] == parent
    status, body, _ = await world.api.post(f"{world.r}/git/commits", {"message": "m", "tree": "2" * 40})
    assert status == 422


async def test_a_thousand_file_commit_through_the_trees_api_is_fast_and_valid(world, sim):
    parent = await head(world)
    files = {f"fabric/d{i % 20}/obj-{i}.yaml": f"name: obj-{i}\nvalue: {i}\n" for i in range(1000)}
    await sim.clear_requests()
    started = time.perf_counter()
    sha = await commit_files(world, files, parent)
    status, _, _ = await world.api.patch(f"{world.r}/git/refs/heads/main", {"sha": sha})
    wall = time.perf_counter() - started
    assert status == 200
    emulator = sum(r["duration_ms"] for r in await sim.requests()) / 1000
    print(f"1,000-file commit via trees API: emulator {emulator:.3f}s, wall {wall:.3f}s")
    assert emulator < 1.0
    status, commit, _ = await world.api.get(f"{world.r}/git/commits/{sha}")
    assert len(await tree_paths(world, commit["tree"]["sha"])) == 1000
    repo_dir = sim.sim.state.repo("acme", "fabric").git.git_dir
    await git("--git-dir", repo_dir, "fsck", "--strict", "--no-dangling")
