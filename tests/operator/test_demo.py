"""`hnp-gitops demo` as someone who just cloned the project runs it: one command, no
credentials, no network; every step printed; exit 0; nothing left behind."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import pytest

STEPS = [
    r"\[1/6\] Starting PostgreSQL",
    r"ready in [\d.]+ s: bot http://127\.0\.0\.1:\d+",
    r"\[2/6\] alice pushes the fabric",
    r"ingested commit [0-9a-f]{7}: \d+ resources in the database",
    r"VPC 2, VPCAttachment 2",
    r"check hnp-gitops/validate on [0-9a-f]{7}: ",
    r"\[3/6\] In the GUI",
    r"draft saved: VPC/vpc-blue state draft",
    r"pull request #1 opened: http://127\.0\.0\.1:\d+/acme/fabric-config/pull/1",
    r"\[4/6\] Meanwhile bob pushes VLAN 1301",
    r"check hnp-gitops/conflicts on PR #1: action_required",
    r"the bot's comment on PR #1",
    r'\[5/6\] alice presses "GUI wins"',
    r"check hnp-gitops/conflicts on [0-9a-f]{7}: success",
    r"\[6/6\] alice merges pull request #1",
    r"VPC/vpc-blue: state in_sync, draft cleared, desired VLAN 1201",
    r"Demo complete in",
]


@pytest.fixture
def scratch():
    """A short TMPDIR of the test's own (PostgreSQL's socket path must stay under 107 bytes),
    to check afterwards that the demo left nothing in it."""
    path = Path(tempfile.mkdtemp(prefix="hnp-demo-test-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def demo_env(tmp_path: Path, scratch: Path) -> dict[str, str]:
    # Only what a fresh shell has: no GitHub App settings, no database, no token.
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TMPDIR": str(scratch),
        "LANG": "C.UTF-8",
    }


def leftovers(scratch: Path) -> list[Path]:
    """What the demo left in TMPDIR; platformdirs' shared, empty runtime-<uid> directory (made
    when XDG_RUNTIME_DIR is unset) is not the demo's."""
    return [p for p in scratch.iterdir() if not (p.name.startswith("runtime-") and not any(p.iterdir()))]


def assert_in_order(output: str, patterns: list[str]) -> None:
    position = 0
    for pattern in patterns:
        found = re.compile(pattern).search(output, position)
        assert found, f"missing (in order): {pattern!r}\n--- output ---\n{output}"
        position = found.end()


SHARED_WIRING = Path(__file__).resolve().parents[3] / "shared" / "hedgehog" / "samples" / "lab-ci_wiring.yaml"
# With the lab-ci sample, step 2's check is red, and the demo says which document and why.
WHY_RED = [
    r"why it is red: the sample holds one invalid document\. The bot reports each on the check run, at its line, "
    r"and keeps it out of the database; the other \d+ resources were ingested\.",
    r"Invalid ExternalAttachment/\S+ at fabrics/lab/wiring\.yaml:\d+: .*switch is required",
    r"\(the check run's page: http://127\.0\.0\.1:\d+/acme/fabric-config/runs/\d+\)",
]


async def test_the_demo_walks_through_every_step_and_cleans_up_within_a_minute(tmp_path, scratch):
    env = demo_env(tmp_path, scratch)
    began = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "demo", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with asyncio.timeout(90):
            out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    output = out.decode()
    took = time.monotonic() - began
    assert proc.returncode == 0, output
    assert_in_order(output, STEPS)
    if SHARED_WIRING.is_file():
        assert_in_order(output, WHY_RED)
    assert took < 60, f"the demo took {took:.0f} s"
    assert "Traceback" not in output
    assert "HNP API token" not in output  # without --keep no secret is shown
    assert leftovers(scratch) == []  # database, repositories and clones removed


async def test_demo_keep_leaves_a_working_bot_a_status_page_and_a_clonable_repository(tmp_path, scratch):
    env = demo_env(tmp_path, scratch)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "demo",
        "--keep",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    try:
        async with asyncio.timeout(90):
            while not any("Press Ctrl-C" in line for line in lines):
                line = await proc.stdout.readline()
                assert line, "the demo ended before it said it keeps running:\n" + "".join(lines)
                lines.append(line.decode())
            while not any(line.strip().startswith("bot log:") for line in lines):
                lines.append((await proc.stdout.readline()).decode())
        output = "".join(lines)
        # How to review and merge in the browser: the emulator's sign-in, a user token, an open PR's page.
        sign_in = re.search(
            r"sign in to the GitHub emulator at (http://\S+/login) as alice, with her token (\S+)", output
        )
        review = re.search(r"open (http://\S+/pull/2): a new GUI draft", output)
        assert sign_in and review, output
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.post(sign_in.group(1), data={"token": sign_in.group(2), "return_to": "/"}) as response:
                assert response.status == 200
            async with session.get(review.group(1)) as response:
                pull_page = await response.text()
        assert response.status == 200 and 'id="merge-button"' in pull_page and "hnp-gitops/conflicts" in pull_page
        status_url = re.search(r"status page:\s+(http://\S+)", output).group(1)
        token = re.search(r"HNP API token: (\S+)", output).group(1)
        clone_url = re.search(r"git clone (http://\S+)", output).group(1)

        # The status page shows the fabric and the merged work.
        async with aiohttp.ClientSession() as session:
            async with session.get(status_url, headers={"Authorization": f"Bearer {token}"}) as response:
                page = await response.text()
                assert response.status == 200
        assert "<b>lab</b>" in page and "acme/fabric-config" in page

        # The repository clones, and holds the GUI's VLAN after the merge.
        target = tmp_path / "clone"
        git = await asyncio.create_subprocess_exec(
            "git",
            "clone",
            "-q",
            clone_url,
            str(target),
            env={**env, "GIT_TERMINAL_PROMPT": "0"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(30):
            _, err = await git.communicate()
        assert git.returncode == 0, err.decode()
        assert "vlan: 1201" in (target / "fabrics" / "lab" / "vpcs.yaml").read_text()

        # The operator CLI works against it: a sync that reads the branch, waited for with a progress bar.
        cli = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "sync",
            "--direction",
            "github_to_gui",
            "--wait",
            "--timeout",
            "60",
            env={**env, "HNP_GITOPS_URL": status_url.rstrip("/"), "HNP_API_TOKEN": token, "HNP_GITOPS_FABRIC": "lab"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(90):
            cli_out, cli_err = await cli.communicate()
        assert cli.returncode == 0, cli_err.decode()
        assert ": completed (github_to_gui, fabric lab)" in cli_out.decode()
        assert "progress: -/-  completed" in cli_err.decode()  # the progress, one line per change (not a terminal)

        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            rest, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, "".join(lines) + rest.decode()
    assert_in_order("".join(lines), STEPS)
    assert leftovers(scratch) == []
