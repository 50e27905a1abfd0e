"""Contents (JSON, raw, write, delete), compare, commits, and running as a process."""

from __future__ import annotations

import base64

import aiohttp
from conftest import git

from ghsim.testing import GhSim


async def test_contents_come_as_base64_json_or_raw(world):
    status, body, _ = await world.api.get(f"{world.r}/contents/fabric/vlans/vlan-10.yaml")
    assert status == 200 and body["type"] == "file" and body["encoding"] == "base64"
    assert base64.b64decode(body["content"]) == b"kind: VLAN\nvlan: 10\n"
    status, raw, _ = await world.api.get(
        f"{world.r}/contents/fabric/vlans/vlan-10.yaml", headers={"Accept": "application/vnd.github.raw"}, raw=True
    )
    assert status == 200 and raw == b"kind: VLAN\nvlan: 10\n"
    status, listing, _ = await world.api.get(f"{world.r}/contents/fabric/vlans")
    assert [(e["name"], e["type"], e["size"]) for e in listing] == [("vlan-10.yaml", "file", 20)]
    status, body, _ = await world.api.get(f"{world.r}/contents/missing.yaml")
    assert status == 404


async def test_contents_put_and_delete_commit_one_file_each(world, sim):
    url = f"{world.r}/contents/fabric/vlans/vlan-20.yaml"
    content = base64.b64encode(b"vlan: 20\n").decode()
    status, made, _ = await world.api.put(url, {"message": "add vlan 20", "content": content})
    assert status == 201 and made["content"]["path"] == "fabric/vlans/vlan-20.yaml"
    status, body, _ = await world.api.put(url, {"message": "again", "content": content})
    assert status == 422 and "sha" in body["message"]
    status, body, _ = await world.api.put(url, {"message": "stale", "content": content, "sha": "1" * 40})
    assert status == 409
    status, updated, _ = await world.api.put(
        url, {"message": "edit", "content": base64.b64encode(b"vlan: 21\n").decode(), "sha": made["content"]["sha"]}
    )
    assert status == 200 and updated["commit"]["parents"][0]["sha"] == made["commit"]["sha"]
    status, deleted, _ = await world.api.delete(url, {"message": "rm", "sha": updated["content"]["sha"]})
    assert status == 200 and deleted["content"] is None
    await sim.wait_deliveries_idle()
    pushes = world.receiver.events("push")
    assert [p["commits"][0]["message"] for p in pushes[-3:]] == ["add vlan 20", "edit", "rm"]
    assert pushes[-1]["commits"][0]["removed"] == ["fabric/vlans/vlan-20.yaml"]


async def test_compare_reports_statuses_renames_and_ahead_behind(world, tmp_path):
    dest = tmp_path / "w"
    await git("clone", "-q", world.sim.git_url("acme", "fabric", world.writer_token), str(dest))
    await git("checkout", "-qb", "topic", cwd=dest)
    (dest / "fabric/vlans/vlan-10.yaml").write_text("kind: VLAN\nvlan: 10\nname: ten\n")
    await git("mv", "README.md", "README.txt", cwd=dest)
    (dest / "added.yaml").write_text("a: 1\n")
    await git("add", "-A", ".", cwd=dest)
    await git("commit", "-qm", "topic work", cwd=dest)
    await git("push", "-q", "origin", "topic", cwd=dest)
    status, cmp, _ = await world.api.get(f"{world.r}/compare/main...topic")
    assert status == 200 and cmp["status"] == "ahead" and (cmp["ahead_by"], cmp["behind_by"]) == (1, 0)
    files = {f["filename"]: f for f in cmp["files"]}
    assert files["added.yaml"]["status"] == "added"
    assert files["fabric/vlans/vlan-10.yaml"]["status"] == "modified"
    assert (
        files["fabric/vlans/vlan-10.yaml"]["additions"] == 1
        and "+name: ten" in files["fabric/vlans/vlan-10.yaml"]["patch"]
    )
    assert files["README.txt"]["status"] == "renamed" and files["README.txt"]["previous_filename"] == "README.md"
    status, back, _ = await world.api.get(f"{world.r}/compare/topic...main")
    assert back["status"] == "behind" and back["files"] == []


async def test_commits_are_listed_newest_first_with_pagination(world):
    for i in range(3):
        await world.api.put(
            f"{world.r}/contents/f{i}.yaml", {"message": f"c{i}", "content": base64.b64encode(b"x").decode()}
        )
    status, page, headers = await world.api.get(f"{world.r}/commits?per_page=2")
    assert [c["commit"]["message"] for c in page] == ["c2", "c1"] and 'rel="next"' in headers["Link"]
    status, one, _ = await world.api.get(f"{world.r}/commits/{page[0]['sha']}")
    assert [f["filename"] for f in one["files"]] == ["f2.yaml"] and one["stats"]["additions"] == 1


async def test_python_m_ghsim_serves_rest_and_git_as_a_process(tmp_path):
    async with GhSim.start_subprocess(tmp_path / "data") as sim:
        app = await sim.create_app(None, "x")
        await sim.create_repo("acme", "fabric")
        inst = await sim.create_installation(app["id"], "acme", ["acme/fabric"])
        token = await sim.installation_token(inst["id"])
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{sim.base_url}/repos/acme/fabric", headers={"Authorization": f"token {token}"}) as r:
                assert r.status == 200 and (await r.json())["full_name"] == "acme/fabric"
        await git("clone", "-q", sim.git_url("acme", "fabric", token), str(tmp_path / "c"))
        assert (tmp_path / "c" / "README.md").exists()
        assert sim.sim is None
