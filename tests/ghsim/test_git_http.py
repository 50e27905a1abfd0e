"""git over smart HTTP: real clone/fetch/push with GitHub-style tokens, and the webhooks
a push produces."""

from __future__ import annotations

import os
import time

from conftest import git


async def clone(world, tmp_path, token, name="work"):
    dest = tmp_path / name
    await git("clone", "-q", world.sim.git_url(world.owner, world.repo, token), str(dest))
    return dest


async def test_clone_with_an_installation_token_and_refusal_without_one(world, tmp_path):
    dest = await clone(world, tmp_path, world.token)
    assert (dest / "fabric/vlans/vlan-10.yaml").read_text() == "kind: VLAN\nvlan: 10\n"
    code, out = await git(
        "clone", "-q", world.sim.git_url(world.owner, world.repo), str(tmp_path / "anon"), check=False
    )
    assert code != 0 and "could not read Username" in out
    code, out = await git(
        "clone", "-q", world.sim.git_url(world.owner, world.repo, "ghs_not_a_token"), str(tmp_path / "bad"), check=False
    )
    assert code != 0 and "Authentication failed" in out


async def test_a_reader_can_fetch_but_not_push(world, tmp_path):
    dest = await clone(world, tmp_path, world.reader_token)
    (dest / "new.yaml").write_text("a: 1\n")
    await git("add", ".", cwd=dest)
    await git("commit", "-qm", "reader change", cwd=dest)
    code, out = await git("push", "-q", "origin", "HEAD:main", cwd=dest, check=False)
    assert code != 0 and "403" in out
    status, ref, _ = await world.api.get(f"{world.r}/git/ref/heads/main")
    code, local_parent = await git("rev-parse", "HEAD~1", cwd=dest)
    assert ref["object"]["sha"] == local_parent.strip()


async def test_a_push_delivers_push_with_added_modified_removed_and_synchronizes_the_pr(world, tmp_path, sim):
    dest = await clone(world, tmp_path, world.writer_token)
    await git("checkout", "-qb", "feature", cwd=dest)
    (dest / "fabric/vlans/vlan-20.yaml").write_text("kind: VLAN\nvlan: 20\n")
    await git("add", ".", cwd=dest)
    await git("commit", "-qm", "add vlan 20", cwd=dest)
    await git("push", "-q", "origin", "feature", cwd=dest)
    status, pr, _ = await world.api.post(f"{world.r}/pulls", {"title": "VLAN 20", "head": "feature", "base": "main"})
    assert status == 201
    await sim.wait_deliveries_idle()
    created = world.receiver.events("push")[-1]
    assert created["created"] is True and created["ref"] == "refs/heads/feature"
    assert created["pusher"]["name"] == "alice" and created["sender"]["login"] == "alice"

    (dest / "fabric/vlans/vlan-20.yaml").write_text("kind: VLAN\nvlan: 21\n")
    os.remove(dest / "fabric/vlans/vlan-10.yaml")
    (dest / "fabric/switch.yaml").write_text("kind: Switch\n")
    await git("add", "-A", ".", cwd=dest)
    await git("commit", "-qm", "second", cwd=dest)
    code, before = await git("rev-parse", "HEAD~1", cwd=dest)
    code, after = await git("rev-parse", "HEAD", cwd=dest)
    await git("push", "-q", "origin", "feature", cwd=dest)
    await sim.wait_deliveries_idle()
    push = world.receiver.events("push")[-1]
    assert (push["before"], push["after"]) == (before.strip(), after.strip())
    assert push["created"] is False and push["deleted"] is False and push["forced"] is False
    (c,) = push["commits"]
    assert c["added"] == ["fabric/switch.yaml"]
    assert c["removed"] == ["fabric/vlans/vlan-10.yaml"]
    assert c["modified"] == ["fabric/vlans/vlan-20.yaml"]
    assert push["head_commit"]["id"] == after.strip()
    assert push["installation"]["id"] == world.installation_id
    sync = world.receiver.events("pull_request", "synchronize")
    assert sync and sync[-1]["after"] == after.strip() and sync[-1]["pull_request"]["head"]["sha"] == after.strip()
    status, got, _ = await world.api.get(f"{world.r}/pulls/{pr['number']}")
    assert got["head"]["sha"] == after.strip()


async def test_force_push_and_branch_deletion_are_reported(world, tmp_path, sim):
    dest = await clone(world, tmp_path, world.writer_token)
    await git("checkout", "-qb", "topic", cwd=dest)
    (dest / "a.yaml").write_text("a: 1\n")
    await git("add", ".", cwd=dest)
    await git("commit", "-qm", "a", cwd=dest)
    await git("push", "-q", "origin", "topic", cwd=dest)
    await git("commit", "-q", "--amend", "-m", "a, amended", cwd=dest)
    await git("push", "-q", "-f", "origin", "topic", cwd=dest)
    await git("push", "-q", "origin", ":topic", cwd=dest)
    await sim.wait_deliveries_idle()
    pushes = [p for p in world.receiver.events("push") if p["ref"] == "refs/heads/topic"]
    assert [(p["created"], p["forced"], p["deleted"]) for p in pushes] == [
        (True, False, False),
        (False, True, False),
        (False, False, True),
    ]
    assert pushes[-1]["after"] == "0" * 40 and pushes[-1]["head_commit"] is None


async def test_a_thousand_file_push_is_fast(world, tmp_path, sim):
    dest = await clone(world, tmp_path, world.writer_token)
    for i in range(1000):
        folder = dest / "fabric" / f"group-{i % 25}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"obj-{i}.yaml").write_text(f"name: obj-{i}\nvalue: {i}\n")
    await git("add", ".", cwd=dest)
    await git("commit", "-qm", "a thousand files", cwd=dest)
    await sim.clear_requests()
    started = time.perf_counter()
    await git("push", "-q", "origin", "HEAD:main", cwd=dest)
    wall = time.perf_counter() - started
    emulator = sum(r["duration_ms"] for r in await sim.requests(include_git=True) if r["kind"] == "git") / 1000
    print(f"1,000-file git push: emulator {emulator:.3f}s, wall {wall:.3f}s")
    assert emulator < 1.0
    await sim.wait_deliveries_idle()
    push = world.receiver.events("push")[-1]
    assert len(push["commits"][0]["added"]) == 1000
