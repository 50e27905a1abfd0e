"""A full scenario -- pushes, drafts, a pull request merged, one closed, a direct commit, a PR
comment command, GitHub failing now and then, refused deliveries and API calls -- run by a
`serve` process logging at debug level. Afterwards:

- no secret is in its logs: not the HNP API token, the webhook secret, the App's private key
  (whole or any line of it), any installation token GitHub issued to it, or an App JWT;
- the bot wrote only inside the fabric's directory and only on the fabric's branches: every
  write request it made to GitHub, every ref in the repository and every commit it authored.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.reliability.system import (
    API_TOKEN,
    DIRECTORY,
    FILES,
    FULL,
    OWNER,
    REPO,
    WEBHOOK_SECRET,
    WRITER,
    System,
    git,
    running_system,
    sign,
    vpc,
    vpc_spec,
)


@pytest.fixture
async def debug_system(database_url: str, tmp_path: Path) -> AsyncIterator[System]:
    async with running_system(database_url, tmp_path, HNP_TEST_LOG_LEVEL="debug") as running:
        yield running


async def full_scenario(system: System) -> None:
    # GitHub fails now and then (the warnings name the request).
    await system.sim.add_fault(method="GET", path=r"/tarball/", status=502, count=1)
    await system.sim.add_fault(method="POST", path=r"/git/trees$", status=500, count=1)
    head = await system.push({f"{DIRECTORY}/vpc-5.yaml": vpc("vpc-5", 1005, 5)}, "add vpc-5")
    await system.ingested(head)
    # Refused at the door: a forged delivery and a wrong API token.
    body = b'{"ref": "refs/heads/main"}'
    async with system.session.post(
        f"{system.bot.url}/webhook",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(body, "forged"),
        },
    ) as r:
        assert r.status == 401
    status, _ = await system.call("GET", "/api/fabrics", headers={"Authorization": "Bearer wrong"})
    assert status == 401

    # A pull request with an edit, a new resource and a deletion; a command; merged.
    await system.draft("VPC", "vpc-1", vpc_spec(1500, 1))
    await system.draft("VPC", "vpc-new", vpc_spec(1050, 50))
    await system.draft("VPC", "lone", delete=True)
    done = await system.sync(direction="gui_to_github", create_pr=True)
    assert done["status"] == "completed", done
    await system.idle()
    [pr] = await system.pulls("open")
    await system.sim.comment_on_pull(OWNER, REPO, pr["number"], WRITER, "/hnp recheck")
    await system.idle()
    await system.sim.merge_pull(OWNER, REPO, pr["number"], WRITER)
    await system.idle()
    # A direct commit, then a pull request closed unmerged (its branch is deleted).
    await system.draft("VPC", "vpc-2", vpc_spec(1600, 2))
    done = await system.sync(direction="gui_to_github", create_pr=False)
    assert done["status"] == "completed", done
    await system.idle()
    await system.draft("VPC", "vpc-5", vpc_spec(1700, 5))
    done = await system.sync(direction="bidirectional", create_pr=True)
    assert done["status"] == "completed", done
    await system.idle()
    [pr] = await system.pulls("open")
    await system.sim.close_pull(OWNER, REPO, pr["number"], WRITER)
    await system.idle()

    async def branch_gone() -> bool:
        return pr["head"]["ref"] not in await system.branches()

    await wait_for(branch_gone, timeout=30, message="the closed pull request's branch to be deleted")


def secrets_of(system: System) -> dict[str, str]:
    found = {
        "HNP_API_TOKEN": API_TOKEN,
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GITHUB_PRIVATE_KEY": system.github_app["private_key"],
    }
    for n, line in enumerate(system.github_app["private_key"].splitlines()):
        if len(line) >= 16 and "-----" not in line:
            found[f"private key line {n}"] = line
    for token, info in system.sim.sim.state.tokens.items():
        found[f"{info.kind} token {token[:4]}..."] = token
    for login, token in system.tokens.items():
        found[f"{login}'s token"] = token
    return found


@pytest.mark.scenario(
    "security",
    "a full scenario (pushes, drafts, a PR merged and one closed, a direct commit, a "
    "comment command, GitHub errors, refused deliveries and tokens) logged at debug level",
    "no token, private key (or any line of it), webhook secret, installation token or App JWT appears in the logs",
)
async def test_secrets_never_appear_in_the_logs(debug_system: System) -> None:
    system = debug_system
    await full_scenario(system)
    logs = system.bot.log_text()
    lines = logs.splitlines()
    assert len(lines) > 50 and any('"level": "debug"' in line for line in lines), "the log must be a real one"
    assert any("warning" in line and "/tarball/" in line for line in lines), "GitHub errors are logged"
    issued = [t for t, info in system.sim.sim.state.tokens.items() if info.kind == "installation"]
    assert issued, "the bot must have been issued installation tokens"
    for name, secret in secrets_of(system).items():
        assert secret not in logs, f"{name} appears in the log"
    assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}", logs), "an App JWT appears in the log"
    assert not re.search(r"\bgh[spu]_[A-Za-z0-9]{20,}", logs), "a GitHub token appears in the log"
    for line in lines:
        json.loads(line)  # one JSON object per line: nothing printed around the logger


ALLOWED_WRITES = [
    ("POST", r"^/repos/acme/fabric/git/(trees|commits|blobs)$"),
    ("POST", r"^/repos/acme/fabric/git/refs$"),
    ("PATCH", r"^/repos/acme/fabric/git/refs/heads/(main|hnp-sync/lab/[0-9a-f]{8})$"),
    ("DELETE", r"^/repos/acme/fabric/git/refs/heads/hnp-sync/lab/[0-9a-f]{8}$"),
    ("POST", r"^/repos/acme/fabric/pulls$"),
    ("PATCH", r"^/repos/acme/fabric/pulls/\d+$"),
    ("POST", r"^/repos/acme/fabric/check-runs$"),
    ("PATCH", r"^/repos/acme/fabric/check-runs/\d+$"),
    ("POST", r"^/repos/acme/fabric/issues/\d+/comments$"),
    ("PATCH", r"^/repos/acme/fabric/issues/comments/\d+$"),
    ("POST", r"^/app/installations/\d+/access_tokens$"),
]


@pytest.mark.scenario(
    "security",
    "the same full scenario, then every write request the bot made to GitHub, every "
    "ref of the repository and every commit the bot authored",
    "the bot wrote only under `fabric/` and only to main and `hnp-sync/lab/*` branches; "
    ".github/workflows and README.md untouched",
)
async def test_the_bot_writes_only_inside_the_fabric_directory_on_the_fabric_branches(system: System) -> None:
    await full_scenario(system)
    writes = [r for r in await system.bot_requests() if r["method"] in ("POST", "PATCH", "PUT", "DELETE")]
    assert len(writes) > 20, writes
    for r in writes:
        assert any(r["method"] == m and re.search(p, r["path"]) for m, p in ALLOWED_WRITES), (r["method"], r["path"])
        if r["path"].endswith("/git/trees") and r["status"] in (200, 201):
            paths = [e["path"] for e in r["body"]["tree"]]
            assert paths and all(p.startswith(f"{DIRECTORY}/") and ".." not in p.split("/") for p in paths), paths
        if r["path"].endswith("/git/refs") and r["method"] == "POST":
            assert re.fullmatch(r"refs/heads/hnp-sync/lab/[0-9a-f]{8}", r["body"]["ref"]), r["body"]

    refs = await system.rest(f"/repos/{FULL}/git/matching-refs/")
    names = {r["ref"] for r in refs}
    assert "refs/heads/main" in names and all(
        n == "refs/heads/main" or re.fullmatch(r"refs/heads/hnp-sync/lab/[0-9a-f]{8}", n) for n in names
    ), names
    assert len(names) == 2, names  # main and the merged PR's branch; the closed one's is deleted
    clone = await system.clone()
    await git(clone, "fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*")
    log = await git(clone, "log", "--all", "--format=%H %an")
    bot_commits = [line.split()[0] for line in log.splitlines() if "[bot]" in line]
    assert len(bot_commits) >= 2, log
    for sha in bot_commits:
        changed = (await git(clone, "diff-tree", "--no-commit-id", "--name-only", "-r", "-m", sha)).splitlines()
        assert changed and all(p.startswith(f"{DIRECTORY}/") for p in changed), (sha, changed)
    for path in ("README.md", ".github/workflows/ci.yml"):
        assert (clone / path).read_text() == FILES[path], path
