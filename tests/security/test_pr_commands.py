"""Commands in pull request comments are run only for people with write access: the bot asks
GitHub for the commenter's permission every time, answers others politely and changes nothing."""

from __future__ import annotations

import pytest

from tests.conftest import wait_for
from tests.reliability.system import DIRECTORY, FULL, OWNER, READER, REPO, WRITER, System, vpc, vpc_spec


async def command_row(system: System, comment_id: int) -> dict | None:
    row = await system.pool.fetchrow(
        "SELECT * FROM pr_command WHERE comment_id = $1 AND outcome IS NOT NULL", comment_id
    )
    return dict(row) if row else None


@pytest.mark.scenario(
    "security",
    "`/hnp rebase` and `/hnp resolve gui` commented on the bot's pull request by a "
    "reader and by a user without any access, then `/hnp rebase` by a writer",
    "the bot checks each commenter's permission with GitHub: the reader and the outsider get "
    "a polite reply and nothing changes; the writer's rebase moves the branch",
)
async def test_pr_commands_check_the_commenters_permission(system: System) -> None:
    await system.sim.create_user("eve", "none", [FULL])
    await system.draft("VPC", "vpc-1", vpc_spec(1500, 1))
    done = await system.sync(direction="gui_to_github", create_pr=True)
    assert done["status"] == "completed", done
    await system.idle()
    [pr] = await system.pulls("open")
    main = await system.push({f"{DIRECTORY}/vpc-7.yaml": vpc("vpc-7", 1007, 7)}, "add vpc-7")
    await system.ingested(main)
    await system.idle()
    head_before = (await system.pulls("open"))[0]["head"]["sha"]
    resources_before = await system.state_snapshot()

    for user in (READER, "eve"):
        for command in ("/hnp rebase", "/hnp resolve gui"):
            comment = await system.sim.comment_on_pull(OWNER, REPO, pr["number"], user, command)
            row = await wait_for(
                lambda: command_row(system, comment["id"]), timeout=30, message=f"the bot to answer {user}'s {command}"
            )
            assert row["allowed"] is False and row["actor"] == user, row
            assert row["permission"] in ("read", "none") and row["outcome"].startswith("refused"), row
    await system.idle()
    assert (await system.pulls("open"))[0]["head"]["sha"] == head_before  # nothing changed on GitHub
    after = await system.state_snapshot()
    assert after["resources"] == resources_before["resources"] and after["branches"] == resources_before["branches"]
    replies = [
        c
        for c in await system.rest(f"/repos/{FULL}/issues/{pr['number']}/comments")
        if c["user"]["login"].endswith("[bot]") and "write access" in c["body"]
    ]
    assert {r["body"].split()[0] for r in replies} == {f"@{READER}", "@eve"}, [r["body"] for r in replies]

    comment = await system.sim.comment_on_pull(OWNER, REPO, pr["number"], WRITER, "/hnp rebase")
    row = await wait_for(lambda: command_row(system, comment["id"]), timeout=30, message="the writer's rebase")
    assert row["allowed"] is True and row["permission"] in ("write", "admin"), row
    await system.idle()
    head_after = (await system.pulls("open"))[0]["head"]["sha"]
    assert head_after != head_before
    commit = await system.rest(f"/repos/{FULL}/git/commits/{head_after}")
    assert [p["sha"] for p in commit["parents"]] == [main]  # rebuilt on the fabric's current branch
    checked = [r for r in await system.bot_requests() if "/collaborators/" in r["path"]]
    assert {r["path"].split("/")[5] for r in checked} == {READER, "eve", WRITER}  # asked GitHub each time
    assert len(checked) == 5
