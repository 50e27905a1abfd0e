"""Nothing under a fabric's directory is skipped in silence: symlinks (not followed),
submodules (not fetched) and YAML files whose names hold a newline or a tab (not plain paths)
are each listed on the `hnp-gitops/validate` check run and in the sync result's warnings."""

from __future__ import annotations

import os

import pytest

from tests.conftest import wait_for
from tests.reliability.system import DIRECTORY, FULL, System, git, vpc

# path -> what it is, as pushed (and how the bot shows the path: control characters escaped)
UNREAD = {
    f"{DIRECTORY}/link.yaml": "a symlink to a fabric file",
    f"{DIRECTORY}/outside": "a symlink out of the fabric's directory",
    f"{DIRECTORY}/vendor": "a submodule",
    f"{DIRECTORY}/tab\tname.yaml": "a YAML file with a tab in its name",
    f"{DIRECTORY}/new\nline.yaml": "a YAML file with a newline in its name",
}
SHOWN = {path: path.replace("\t", "\\t").replace("\n", "\\n") for path in UNREAD}


async def push_unreadable_entries(system: System) -> str:
    clone = await system.clone()
    os.symlink("vpcs.yaml", clone / DIRECTORY / "link.yaml")
    os.symlink("../.github", clone / DIRECTORY / "outside")
    (clone / DIRECTORY / "tab\tname.yaml").write_text(vpc("vpc-tab", 1031, 31))
    (clone / DIRECTORY / "new\nline.yaml").write_text(vpc("vpc-newline", 1032, 32))
    (clone / DIRECTORY / "vpc-3.yaml").write_text(vpc("vpc-3", 1003, 3))  # read, and valid
    await git(clone, "add", "-A")
    head = await git(clone, "rev-parse", "HEAD")  # any commit will do as the submodule's
    await git(clone, "update-index", "--add", "--cacheinfo", f"160000,{head},{DIRECTORY}/vendor")
    await git(clone, "commit", "-q", "-m", "entries the bot cannot read")
    await git(clone, "push", "-q", "origin", "HEAD:refs/heads/main")
    return await git(clone, "rev-parse", "HEAD")


async def validate_run(system: System, sha: str) -> dict:
    async def completed() -> dict | None:
        runs = (await system.rest(f"/repos/{FULL}/commits/{sha}/check-runs"))["check_runs"]
        found = [r for r in runs if r["name"] == "hnp-gitops/validate" and r["status"] == "completed"]
        return found[0] if found else None

    run = await wait_for(completed, timeout=60, interval=0.1, message="the validate check run to complete")
    assert isinstance(run, dict)
    return run


@pytest.mark.scenario(
    "bad input",
    "a push adding, under the fabric's directory, two symlinks (one to a fabric file, one out of "
    "the directory), a submodule and YAML files with a tab and a newline in their names",
    "the validate check run is neutral (not 'Valid') with a warning annotation and a summary row "
    "for each; the sync result lists the same entries as warnings; the readable file is ingested",
)
async def test_entries_the_bot_cannot_read_are_listed_not_skipped_in_silence(system: System) -> None:
    sha = await push_unreadable_entries(system)
    await system.ingested(sha)
    await system.idle()

    run = await validate_run(system, sha)
    assert run["conclusion"] == "neutral", run
    assert "5 entries not read" in run["output"]["title"], run["output"]
    summary = run["output"]["summary"]
    for shown in SHOWN.values():
        assert shown.replace("\\", "\\\\") in summary, (shown, summary)
    annotations = await system.rest(f"/repos/{FULL}/check-runs/{run['id']}/annotations")
    warnings = [a for a in annotations if a["annotation_level"] == "warning" and a["title"] == "Not read"]
    assert sorted(a["message"].split(": ", 1)[0] for a in warnings) == sorted(SHOWN.values()), warnings
    plain = {a["path"] for a in warnings}
    assert {f"{DIRECTORY}/link.yaml", f"{DIRECTORY}/outside", f"{DIRECTORY}/vendor"} <= plain
    assert all("\n" not in p and "\t" not in p for p in plain)  # a name GitHub cannot show: its folder

    result = await system.pool.fetchval(
        "SELECT result FROM sync_operation WHERE head_sha = $1 AND status = 'completed'", sha
    )
    assert result is not None
    listed = [w for w in result["warnings"] if ": not read, " in w]
    assert sorted(w.split(": not read, ", 1)[0] for w in listed) == sorted(SHOWN.values()), result["warnings"]
    desired = await system.desired()
    assert ("VPC", "vpc-3") in desired
    assert ("VPC", "vpc-tab") not in desired and ("VPC", "vpc-newline") not in desired


@pytest.mark.scenario(
    "bad input",
    "a later push that changes nothing under the fabric's directory while the unreadable entries are still there",
    "its commit gets the same neutral validate check run listing them (not 'Valid', not nothing)",
)
async def test_entries_still_there_are_listed_on_the_next_commit_too(system: System) -> None:
    first = await push_unreadable_entries(system)
    await system.ingested(first)
    second = await system.push({"README.md": "# Lab fabric, edited\n"}, "a README edit")
    await system.ingested(second)
    await system.idle()
    run = await validate_run(system, second)
    assert run["conclusion"] == "neutral", run
    assert "5 entries not read" in run["output"]["title"]
