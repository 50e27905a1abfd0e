"""Commands typed in comments on the bot's pull requests.

    /hnp resolve gui|git|merge [kind/name]   settle the pull request's conflicts (or one
                                             resource's) that way, as the commenter
    /hnp recheck                             check the pull request again
    /hnp rebase                              rebuild its branch on the fabric's current branch

Only people with write or admin permission on the repository may run them, as GitHub says
through the collaborator permission endpoint (asked for each command: permissions change).
Everyone else gets a polite reply and nothing changes. Each comment is acted on once (the
`pr_command` row, sql/005), however often it is delivered; the commands themselves are
idempotent too (resolving what is resolved does nothing, a recheck is a recheck). Success is
visible in the pull request's bot comment and check run, which every command refreshes;
replies are written only when nothing could be done.
"""

from __future__ import annotations

import logging

from gidgethub import routing, sansio

from bot.core import checks
from bot.features import checkruns, comments, conflicts
from bot.github.client import Client
from bot.github.errors import NotFound
from bot.jobs.queue import JobContext, enqueue, register_job_handler
from bot.storage import fabrics
from bot.storage.fabrics import Fabric

log = logging.getLogger(__name__)

router = routing.Router()

JOB_KIND = "pr_command"
PERMISSION = "/repos/{owner}/{repo}/collaborators/{username}/permission"
ALLOWED = ("admin", "write")


@router.register("issue_comment", action="created")
async def on_comment(event: sansio.Event, ctx: JobContext) -> None:
    data = event.data
    issue, comment = data.get("issue") or {}, data.get("comment") or {}
    if not issue.get("pull_request") or (comment.get("user") or {}).get("type") == "Bot":
        return
    if checks.parse_command(comment.get("body")) is None:
        return
    for fabric in await fabrics.for_repository(ctx.pool, data["repository"]["full_name"]):
        pull_request_id = await ctx.pool.fetchval(
            "SELECT id FROM pull_request WHERE fabric_id = $1 AND number = $2", fabric.id, issue["number"]
        )
        if pull_request_id is not None:
            await enqueue(
                ctx.pool,
                JOB_KIND,
                {
                    "fabric_id": fabric.id,
                    "pull_request_id": pull_request_id,
                    "number": issue["number"],
                    "comment_id": comment["id"],
                    "actor": comment["user"]["login"],
                    "body": comment.get("body") or "",
                },
                fabric_id=fabric.id,
                dedupe_key=f"pr-command:{comment['id']}",
            )
            return


async def permission_of(gh: Client, fabric: Fabric, login: str) -> str:
    """admin | write | read | none, as GitHub answers for this repository."""
    try:
        data = await gh.getitem(PERMISSION, {"owner": fabric.owner, "repo": fabric.repo, "username": login})
    except NotFound:  # not a collaborator (or no such user)
        return "none"
    return str(data.get("permission") or "none")


async def command_job(ctx: JobContext) -> None:
    p = ctx.job.payload
    fabric = await fabrics.get(ctx.pool, int(p["fabric_id"]))
    if fabric is None:
        return
    if await ctx.pool.fetchval("SELECT outcome IS NOT NULL FROM pr_command WHERE comment_id = $1", p["comment_id"]):
        return  # this comment was acted on already
    command = checks.parse_command(p["body"])
    if command is None:
        return
    gh = await checkruns.installation_client(ctx, fabric)
    actor = p["actor"]
    permission = await permission_of(gh, fabric, actor)
    allowed = permission in ALLOWED
    await ctx.pool.execute(
        "INSERT INTO pr_command (comment_id, pull_request_id, command, actor, permission, allowed) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (comment_id) DO UPDATE SET permission = $5, allowed = $6",
        p["comment_id"],
        p["pull_request_id"],
        command.line[:500],
        actor,
        permission,
        allowed,
    )
    if not allowed:
        outcome = f"refused: {actor} has {permission} permission"
        await comments.reply(
            gh,
            fabric,
            p["number"],
            (
                f"@{actor} thanks for the suggestion! `/hnp` commands change what this pull request publishes, "
                f"so only people with write access to {fabric.repository} can run them. Nothing was changed; "
                "someone with write access can run it for you."
            ),
        )
    else:
        outcome = await run(ctx, gh, fabric, int(p["pull_request_id"]), int(p["number"]), command, actor)
    await ctx.pool.execute("UPDATE pr_command SET outcome = $2 WHERE comment_id = $1", p["comment_id"], outcome)
    log.info("fabric %s PR #%s: %s by %s: %s", fabric.name, p["number"], command.line, actor, outcome)


register_job_handler(JOB_KIND, command_job)


async def run(
    ctx: JobContext, gh: Client, fabric: Fabric, pull_request_id: int, number: int, command: checks.Command, actor: str
) -> str:
    """Carry out an allowed command; returns what came of it."""
    if command.error:
        await comments.reply(gh, fabric, number, f"@{actor} {command.error}")
        return f"not understood: {command.error}"
    if command.name == "recheck":
        await conflicts.request_recheck(ctx.pool, fabric.id, pull_request_id)
        return "recheck queued"
    if command.name == "rebase":
        return await rebase(ctx, gh, fabric, pull_request_id, actor)
    resolution = command.resolution
    if command.name != "resolve" or resolution is None:  # parse_command sets `error` for these
        await comments.reply(gh, fabric, number, f"@{actor} {checks.USAGE}")
        return f"not understood: {command.line}"
    resource_ids = None
    if command.target:
        rid = await ctx.pool.fetchval(
            "SELECT id FROM resource WHERE fabric_id = $1 AND kind = $2 AND name = $3 AND pull_request_id = $4",
            fabric.id,
            command.kind,
            command.resource_name,
            pull_request_id,
        )
        if rid is None:
            await comments.reply(gh, fabric, number, f"@{actor} this pull request carries no {command.target}.")
            return f"no {command.target} in this pull request"
        resource_ids = [rid]
    outcome = await checkruns.resolve_on_pull_request(
        ctx, fabric, pull_request_id, resolution, actor, resource_ids=resource_ids, trigger="command"
    )
    if not outcome.resolved:
        why = (
            "there is no open conflict"
            if not (outcome.skipped or outcome.still_open)
            else f"`{command.side}` cannot settle the remaining conflicts (see the table)"
        )
        await comments.reply(gh, fabric, number, f"@{actor} nothing to resolve: {why}.")
    return (
        f"{command.resolution}: {len(outcome.resolved)} resolved, {len(outcome.skipped)} not offered, "
        f"{len(outcome.still_open)} left"
    )


async def rebase(ctx: JobContext, gh: Client, fabric: Fabric, pull_request_id: int, actor: str) -> str:
    """Rebuild the pull request's branch on the fabric's current branch head: one commit with
    its drafts, the branch forced there (its old commits were the bot's own). Drafts still in
    conflict are left out until they are resolved."""
    async with ctx.pool.acquire() as conn:
        await conflicts.detect_conflicts(conn, fabric.id)
    sha = await checkruns.rebuild_branch(
        ctx, gh, fabric, pull_request_id, actor, merge=False, trigger="command", title="rebase on the fabric's branch"
    )
    await conflicts.request_recheck(ctx.pool, fabric.id, pull_request_id)
    return f"rebased onto a new head {sha[:7]}" if sha else "the pull request is not open"
