"""The `hnp-gitops/conflicts` check run and the one comment on every open bot pull request.

When a check happens
    - the fabric's branch moved (a `push` to it: queued after that push's ingest, so the check
      sees the new desired state); ingest and others may also call `conflicts.request_recheck`;
    - a bot pull request was opened, reopened or got a new head (`pull_request` events);
    - a person asked for it: "Re-run" on the check (`check_run.rerequested`) or `/hnp recheck`;
    - after a person resolved conflicts (buttons, commands), once the new commit is made.
Each check is a 'conflicts_check' job on the fabric's queue ('fabric:<id>'), so it never runs
beside an ingest or a sync of the same fabric. It re-runs the conflict check over the database
(bot.features.conflicts.detect_conflicts: one pass, no GitHub call per resource), then, per open bot
pull request: GET the pull request (its head), GET the files that hold a conflicting field (to
put each annotation on its line), POST a new check run on the head (success, or
action_required with the table, annotations in batches of 50 and the buttons "GUI wins", "Git
wins", "Merge"), and edit the one bot comment (bot.features.comments).

Pressing a button (`check_run.requested_action`) queues a 'conflicts_resolve' job: the
pull request's open conflicts are resolved that way (by the person who pressed), a new commit
merging the fabric's branch and the resolved drafts goes on the pull request's branch
(`rebuild_branch`, with bot.features.publish's planning and Git Data API steps), and a check follows
it -- green when nothing is left.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from gidgethub import routing, sansio

from bot.core import checks, documents, filemap, threeway
from bot.core.publish_plan import plan_commit, tree_entries
from bot.core.syncresult import SyncDirection, SyncResult
from bot.core.threeway import ABSENT, FieldConflict, Named
from bot.features import comments, conflicts, publish, pulls
from bot.features.installations import ensure_installation
from bot.github.client import Client
from bot.github.errors import NotFound
from bot.jobs.queue import JobContext, enqueue, register_job_handler
from bot.storage import Executor, fabrics
from bot.storage import conflicts as conflict_store
from bot.storage import drafts as draft_store
from bot.storage import operations as operation_store
from bot.storage import pulls as pull_store
from bot.storage.fabrics import Fabric

log = logging.getLogger(__name__)

router = routing.Router()

RESOLVE_JOB = "conflicts_resolve"
SYNC_BRANCH_PREFIX = "hnp-sync/"
MAX_FILES_READ = 20  # files fetched to place annotations; beyond that they point at line 1
EXTERNAL_ID = "hnp-gitops:pr:{id}"
INGEST_WAIT_SECONDS = 60.0  # how long a check after a push waits for that push's ingest

CHECK_RUNS = "/repos/{owner}/{repo}/check-runs"
PULL = "/repos/{owner}/{repo}/pulls/{number}"
CONTENTS = "/repos/{owner}/{repo}/contents/{+path}{?ref}"


@dataclass(frozen=True)
class BotPull:
    id: int
    fabric_id: int
    number: int
    branch: str
    head_sha: str | None


async def open_pulls(db: Executor, fabric_id: int, pull_request_id: int | None = None) -> list[BotPull]:
    rows = await db.fetch(
        "SELECT id, fabric_id, number, branch, head_sha FROM pull_request WHERE fabric_id = $1 AND state = 'open' "
        "AND number IS NOT NULL AND ($2::bigint IS NULL OR id = $2) ORDER BY id",
        fabric_id,
        pull_request_id,
    )
    return [BotPull(**dict(r)) for r in rows]


async def _ingest_pending(ctx: JobContext, payload: dict[str, Any]) -> bool:
    """True (and the check queued again, behind the ingest) while the push this check follows
    is not ingested yet. The check must compare against the new desired state; waiting in
    place would hold the fabric's queue, and with it the very ingest it waits for."""
    after, not_after = payload.get("after"), payload.get("not_after")
    if not after or not_after is None or time.time() > not_after:
        return False
    ingested = await ctx.pool.fetchval("SELECT last_ingested_sha FROM fabric WHERE id = $1", payload["fabric_id"])
    if ingested == after:
        return False
    # A push's ingest is queued before this check (bot.features.ingest's handler runs first): with none
    # left to run, waiting would change nothing (a newer head was ingested, or none will be).
    if not await ctx.pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM job WHERE fabric_id = $1 AND kind = 'ingest' "
        "AND status IN ('queued', 'running'))",
        payload["fabric_id"],
    ):
        return False
    await conflicts.request_recheck(
        ctx.pool,
        payload["fabric_id"],
        payload.get("pull_request_id"),
        head_sha=payload.get("head_sha"),
        after=after,
        not_after=not_after,
        delay=0.25,
    )
    return True


# --------------------------------------------------------------------------------------------
# Rendering the check


def field_conflict(row: conflict_store.Conflict) -> FieldConflict:
    """A stored conflict as the renderer takes it (JSON null shown as absent)."""

    def value(v: Any) -> Any:
        return ABSENT if v is None else v

    return FieldConflict(
        row.field_path or "",
        value(row.base_value),
        value(row.gui_value),
        value(row.git_value),
        row.type,
        row.kind,
        row.name,
        row.message,
    )


def document_path(body: Any, path: str) -> list[str | int]:
    """A conflict's field path as documents.field_line walks it: named list items become the
    index of the item with that name in this document."""
    try:
        segments = threeway.parse_path(path) if path else ()
    except ValueError:  # e.g. spec.permit[0] from the dependency check
        return documents.split_path(path)
    out: list[str | int] = []
    node = body
    for segment in segments:
        if isinstance(segment, Named):
            items = node if isinstance(node, list) else []
            index = next(
                (i for i, item in enumerate(items) if isinstance(item, dict) and item.get("name") == segment.name), None
            )
            if index is None:
                break
            out.append(index)
            node = items[index]
        else:
            out.append(segment)
            node = node.get(segment) if isinstance(node, dict) else None
    return out


def resource_file(fabric: Fabric, row: conflict_store.Conflict) -> str | None:
    if row.file_path:
        return row.file_path
    if row.kind and row.name:
        try:
            return filemap.new_resource_path(fabric.directory, row.kind, row.name)
        except ValueError:
            return None
    return None


async def locations(
    gh: Client, fabric: Fabric, sha: str, found: Sequence[conflict_store.Conflict]
) -> list[checks.Location | None]:
    """Where each conflict stands in the pull request's files at `sha`: the line of its field
    in its resource's document (the document's first line for a whole-resource conflict)."""
    paths = [resource_file(fabric, c) for c in found]
    wanted = list(dict.fromkeys(p for p in paths if p))[:MAX_FILES_READ]
    parsed: dict[str, dict[tuple[str, str, str], documents.Document] | None] = {}
    for path in wanted:
        try:
            raw = await gh.getraw(CONTENTS, {"owner": fabric.owner, "repo": fabric.repo, "path": path, "ref": sha})
        except NotFound:  # the resource is deleted on this branch: nothing to point at
            parsed[path] = None
            continue
        docs = documents.parse_file(path, raw).documents
        parsed[path] = {ident: d for d in docs if (ident := documents.identity(d)) is not None}
    out: list[checks.Location | None] = []
    for row, row_path in zip(found, paths):
        if row_path is None or (row_path in parsed and parsed[row_path] is None):
            out.append(None)
            continue
        doc = None
        if row.kind is not None and row.name is not None:
            doc = (parsed.get(row_path) or {}).get((row.kind, row.namespace or "default", row.name))
        if doc is None:
            out.append(checks.Location(row_path, 1))
            continue
        line = documents.field_line(doc, document_path(doc.body, row.field_path or "")) if row.field_path else None
        out.append(checks.Location(row_path, line or doc.line))
    return out


async def publish_check(
    pool: asyncpg.Pool, gh: Client, fabric: Fabric, pull: BotPull, head_sha: str | None = None
) -> dict[str, Any] | None:
    """Post the conflicts check run on the pull request's head and edit its bot comment.
    Returns the check run, or None when the pull request is no longer open."""
    vars_ = {"owner": fabric.owner, "repo": fabric.repo}
    data = await gh.getitem(PULL, {**vars_, "number": pull.number})
    if data.get("state") != "open":
        return None
    head_sha = data["head"]["sha"] if head_sha is None or head_sha != data["head"]["sha"] else head_sha
    found = await conflict_store.list_for_fabric(pool, fabric.id, status="open", pull_request_id=pull.id)
    items = [field_conflict(c) for c in found]
    payload = checks.conflict_check_output(
        items,
        await locations(gh, fabric, head_sha, found),
        head_sha=head_sha,
        external_id=EXTERNAL_ID.format(id=pull.id),
    )
    requests = checks.check_run_requests(payload)
    # A new run each time: updating one would add its annotations to the old ones.
    run = await gh.post(CHECK_RUNS, vars_, data=requests[0])
    for more in requests[1:]:
        await gh.patch(CHECK_RUNS + "/{check_run_id}", {**vars_, "check_run_id": run["id"]}, data=more)
    await pool.execute(
        "UPDATE pull_request SET conflicts_check_run_id = $2, conflicts_check_sha = $3, head_sha = $3, "
        "updated_at = now() WHERE id = $1",
        pull.id,
        run["id"],
        head_sha,
    )
    body = checks.pr_comment(items, fabric=fabric.name, check_url=run.get("html_url"))
    await comments.upsert(pool, gh, fabric, pull.id, pull.number, body)
    log.info(
        "fabric %s PR #%s: conflicts check %s (%d open) on %s",
        fabric.name,
        pull.number,
        payload["conclusion"],
        len(items),
        head_sha[:12],
    )
    return run


async def installation_client(ctx: JobContext, fabric: Fabric) -> Client:
    if ctx.github is None:
        raise RuntimeError("conflict checks on GitHub need the GitHub App settings")
    installation_id = await ensure_installation(ctx.pool, ctx.github, fabric)
    if installation_id is None:
        raise RuntimeError(f"the GitHub App is not installed on {fabric.repository}")
    return ctx.github.installation(installation_id)


async def recheck_fabric(
    ctx: JobContext, fabric_id: int, pull_request_id: int | None = None, *, head_sha: str | None = None
) -> int:
    """Check the fabric's drafts again and refresh the check run and comment of its open bot
    pull requests (one, or all). `ctx` has `pool` and `github`. Returns how many pull
    requests were updated. Call it from a 'fabric:<id>' job (or queue `conflicts.request_recheck`)."""
    fabric = await fabrics.get(ctx.pool, fabric_id)
    if fabric is None:
        return 0
    async with ctx.pool.acquire() as conn:
        await conflicts.detect_conflicts(conn, fabric.id)
    found = await open_pulls(ctx.pool, fabric.id, pull_request_id)
    if not found:
        return 0
    gh = await installation_client(ctx, fabric)
    done = 0
    for pull in found:
        if not await pulls.has_changes(ctx.pool, pull.id):
            # Git already says everything its drafts said: nothing is left to review.
            row = await pull_store.get(ctx.pool, pull.id)
            if row is not None:
                await pulls.close_empty(
                    ctx.pool, gh, fabric, row, f"Every change it carried is on {fabric.branch} now."
                )
            continue
        if await publish_check(ctx.pool, gh, fabric, pull, head_sha if pull.id == pull_request_id else None):
            done += 1
    return done


async def check_job(ctx: JobContext) -> None:
    payload = ctx.job.payload
    if await _ingest_pending(ctx, payload):
        return
    await recheck_fabric(
        ctx, int(payload["fabric_id"]), payload.get("pull_request_id"), head_sha=payload.get("head_sha")
    )


register_job_handler(conflicts.CHECK_JOB, check_job)


# --------------------------------------------------------------------------------------------
# A person's decision on a pull request


async def rebuild_branch(
    ctx: JobContext,
    gh: Client,
    fabric: Fabric,
    pull_request_id: int,
    actor: str | None,
    *,
    merge: bool,
    trigger: str,
    title: str,
) -> str | None:
    """Put the pull request's drafts (those not in conflict) on the fabric's current branch
    head in one new commit, and move the pull request's branch to it:
      merge=True   the commit has two parents, the branch's head and the fabric's: what a
                   person does with "Resolve conflicts" on GitHub (history kept, a fast-forward
                   of the branch, and the pull request merges cleanly again);
      merge=False  one parent, the fabric's head, and the branch is forced there (/hnp rebase).
    Same Git Data API steps as publishing (bot.features.publish), recorded as a sync operation.
    Returns the new head, or None when the pull request is no longer open."""
    pull = await pull_store.get(ctx.pool, pull_request_id)
    if pull is None or pull.state != "open":
        return None
    chosen = [
        r
        for r in await draft_store.with_drafts(ctx.pool, fabric.id)
        if r.pull_request_id == pull.id and r.state != "conflict"
    ]
    operation = await operation_store.create(
        ctx.pool,
        fabric_id=fabric.id,
        direction="gui_to_github",
        trigger=trigger,
        requested_by=actor,
        request={"pull_request": pull.number, "rebuild": "merge" if merge else "rebase"},
    )
    await operation_store.set_status(ctx.pool, operation.id, "gui_to_github_sync")
    result = SyncResult(str(operation.id), SyncDirection.GUI_TO_GITHUB, operation.created_at)
    p = publish.Publisher(ctx.pool, gh, fabric, operation.id, publish.no_checkpoint)
    try:
        base, head = await p.head(fabric.branch), await p.head(pull.branch)
        if base is None or head is None:
            raise publish.PublishError(f"the branch {fabric.branch if base is None else pull.branch!r} is gone")
        plan = plan_commit(fabric.directory, chosen, await p.files_at(base[0]))
        tree = base[1]
        if plan.files:
            tree = (
                await p._call(
                    "post",
                    "/repos/{owner}/{repo}/git/trees",
                    data={"base_tree": base[1], "tree": tree_entries(plan)},
                )
            )["sha"]
        lines = [
            f"hnp-gitops: {title}",
            "",
            f"Pull request #{pull.number} of fabric {fabric.name} rebuilt on {fabric.branch} "
            f"{base[0][:7]}" + (f" at the request of {actor}" if actor else "") + ".",
            "",
        ]
        lines += [f"- {c.change} {c.kind} {c.name} ({c.path})" for c in plan.changes[:100]]
        parents = [head[0], base[0]] if merge else [base[0]]
        commit = await p._call(
            "post",
            "/repos/{owner}/{repo}/git/commits",
            data={"message": "\n".join(lines) + "\n", "tree": tree, "parents": parents},
        )
        sha = commit["sha"]
        await p.record(target="pr_update", branch=pull.branch, base_sha=base[0], commit_sha=sha, previous_head=head[0])
        # Recorded before the branch moves, so the push that comes back is known as the bot's own.
        await pull_store.set_github(ctx.pool, pull.id, head_sha=sha)
        await ctx.pool.execute("UPDATE pull_request SET base_sha = $2 WHERE id = $1", pull.id, base[0])
        if not await p.move_branch(pull.branch, sha, force=not merge):
            raise publish.PublishError(f"{pull.branch} moved meanwhile; try again")
        await p.record(ref_moved=True, ref_done=True)
    except Exception as failure:
        result.errors.append(f"{failure.__class__.__name__}: {failure}")
        await operation_store.finish(
            ctx.pool, operation.id, "failed", result.to_dict(), error=str(failure)[:2000] or "failed"
        )
        raise
    result.success = True
    result.statistics.resources_processed = len(chosen)
    gi = result.github_integration
    gi.repository, gi.branch, gi.base_sha, gi.commit_sha = fabric.repository, fabric.branch, base[0], sha
    gi.branch_name, gi.pull_request_number, gi.pull_request_url = pull.branch, pull.number, pull.html_url
    await operation_store.finish(ctx.pool, operation.id, "completed", result.to_dict())
    held = await ctx.pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM resource WHERE pull_request_id = $1 AND state = 'conflict')", pull.id
    )
    if tree == base[1] and not held:  # the branch now says exactly what the fabric's branch says
        await pulls.close_empty(
            ctx.pool, gh, fabric, pull, f"After {title.removeprefix('resolve ')}, nothing differs from {fabric.branch}."
        )
    return sha


async def resolve_on_pull_request(
    ctx: JobContext,
    fabric: Fabric,
    pull_request_id: int,
    resolution: str,
    actor: str,
    *,
    resource_ids: Sequence[int] | None = None,
    trigger: str = "check_run",
) -> conflicts.ResolveOutcome:
    """Resolve the pull request's open conflicts (of `resource_ids`, or all) as `actor`
    decided; when anything was resolved, a new commit merging the fabric's branch with the
    resolved drafts goes on the pull request's branch (`rebuild_branch`); a check follows.
    Idempotent: nothing open, nothing done (but the check is refreshed)."""
    async with ctx.pool.acquire() as conn:
        outcome = await conflicts.resolve(
            conn, fabric.id, resolution, pull_request_id=pull_request_id, resource_ids=resource_ids, resolved_by=actor
        )
    if outcome.resolved:
        label = {"gui_wins": "GUI wins", "github_wins": "Git wins", "merge": "merge"}.get(resolution, resolution)
        gh = await installation_client(ctx, fabric)
        await rebuild_branch(
            ctx,
            gh,
            fabric,
            pull_request_id,
            actor,
            merge=True,
            trigger=trigger,
            title=f"resolve {len(outcome.resolved)} conflict(s): {label}",
        )
    await conflicts.request_recheck(ctx.pool, fabric.id, pull_request_id)
    return outcome


async def resolve_job(ctx: JobContext) -> None:
    payload = ctx.job.payload
    fabric = await fabrics.get(ctx.pool, int(payload["fabric_id"]))
    if fabric is None:
        return
    outcome = await resolve_on_pull_request(
        ctx,
        fabric,
        int(payload["pull_request_id"]),
        payload["resolution"],
        payload.get("actor") or "unknown",
        trigger="check_run",
    )
    log.info(
        "fabric %s: %s pressed %s: %d conflict(s) resolved, %d not offered, %d left",
        fabric.name,
        payload.get("actor"),
        payload["resolution"],
        len(outcome.resolved),
        len(outcome.skipped),
        len(outcome.still_open),
    )


register_job_handler(RESOLVE_JOB, resolve_job)

REBUILD_JOB = "conflicts_rebuild"


async def request_rebuild(db: Executor, fabric_id: int, pull_request_id: int, actor: str | None) -> None:
    """Conflicts of a bot pull request were resolved elsewhere (the HNP API): put the resolved
    drafts on its branch, as pressing a button does. Queued on the fabric, after its work."""
    await enqueue(
        db,
        REBUILD_JOB,
        {"fabric_id": fabric_id, "pull_request_id": pull_request_id, "actor": actor},
        fabric_id=fabric_id,
    )


async def rebuild_job(ctx: JobContext) -> None:
    payload = ctx.job.payload
    fabric = await fabrics.get(ctx.pool, int(payload["fabric_id"]))
    if fabric is None:
        return
    pull_request_id = int(payload["pull_request_id"])
    gh = await installation_client(ctx, fabric)
    await rebuild_branch(
        ctx,
        gh,
        fabric,
        pull_request_id,
        payload.get("actor"),
        merge=True,
        trigger="api",
        title="resolve conflict(s) through the HNP API",
    )
    await conflicts.request_recheck(ctx.pool, fabric.id, pull_request_id)


register_job_handler(REBUILD_JOB, rebuild_job)


# --------------------------------------------------------------------------------------------
# Webhook events


async def _pull_for_run(pool: asyncpg.Pool, repository: str, run: dict) -> tuple[Fabric, int] | None:
    """The fabric and bot pull request a conflicts check run belongs to."""
    external = run.get("external_id") or ""
    numbers = [p.get("number") for p in run.get("pull_requests") or []]
    for fabric in await fabrics.for_repository(pool, repository):
        if external.startswith("hnp-gitops:pr:"):
            found = await pool.fetchval(
                "SELECT id FROM pull_request WHERE id = $1 AND fabric_id = $2",
                int(external.rsplit(":", 1)[1]),
                fabric.id,
            )
        else:
            found = await pool.fetchval(
                "SELECT id FROM pull_request WHERE fabric_id = $1 AND (conflicts_check_run_id = $2 "
                "OR number = ANY($3::int[]) OR conflicts_check_sha = $4) ORDER BY id DESC LIMIT 1",
                fabric.id,
                run.get("id"),
                [n for n in numbers if n],
                run.get("head_sha"),
            )
        if found is not None:
            return fabric, found
    return None


@router.register("check_run", action="requested_action")
async def on_requested_action(event: sansio.Event, ctx: JobContext) -> None:
    run = event.data["check_run"]
    if run.get("name") != checks.CONFLICTS_CHECK:
        return
    identifier = (event.data.get("requested_action") or {}).get("identifier")
    if identifier not in {a["identifier"] for a in checks.CONFLICT_ACTIONS}:
        return
    target = await _pull_for_run(ctx.pool, event.data["repository"]["full_name"], run)
    if target is None:
        return
    fabric, pull_request_id = target
    actor = (event.data.get("sender") or {}).get("login")
    await enqueue(
        ctx.pool,
        RESOLVE_JOB,
        {"fabric_id": fabric.id, "pull_request_id": pull_request_id, "resolution": identifier, "actor": actor},
        fabric_id=fabric.id,
    )


@router.register("check_run", action="rerequested")
async def on_rerequested(event: sansio.Event, ctx: JobContext) -> None:
    run = event.data["check_run"]
    if run.get("name") != checks.CONFLICTS_CHECK:
        return
    target = await _pull_for_run(ctx.pool, event.data["repository"]["full_name"], run)
    if target is not None:
        await conflicts.request_recheck(ctx.pool, target[0].id, target[1])


@router.register("pull_request", action="opened")
@router.register("pull_request", action="reopened")
@router.register("pull_request", action="synchronize")
async def on_pull_request(event: sansio.Event, ctx: JobContext) -> None:
    pr = event.data["pull_request"]
    branch = pr["head"]["ref"]
    if not branch.startswith(SYNC_BRANCH_PREFIX):
        return
    for fabric in await fabrics.for_repository(ctx.pool, event.data["repository"]["full_name"]):
        found = await ctx.pool.fetchval(
            "SELECT id FROM pull_request WHERE fabric_id = $1 AND branch = $2 AND state = 'open' "
            "ORDER BY id DESC LIMIT 1",
            fabric.id,
            branch,
        )
        if found is not None:
            await conflicts.request_recheck(ctx.pool, fabric.id, found, head_sha=pr["head"]["sha"])


@router.register("push")
async def on_push(event: sansio.Event, ctx: JobContext) -> None:
    """The fabric's branch moved: re-check every open bot pull request of the fabric. Queued
    on the fabric's queue after the ingest this same push queued (bot.features.ingest's handler runs
    first: bot.web.routing.OrderedRouter runs an event's handlers in the concerns' order), so the
    check sees the new desired state."""
    data = event.data
    if data.get("deleted"):
        return
    for fabric in await fabrics.for_repository(ctx.pool, data["repository"]["full_name"]):
        if data.get("ref") != f"refs/heads/{fabric.branch}":
            continue
        # Only drafts can conflict; a fabric without any has nothing to re-check.
        if await ctx.pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM resource WHERE fabric_id = $1 AND (draft_spec IS NOT NULL OR draft_delete))",
            fabric.id,
        ):
            await conflicts.request_recheck(
                ctx.pool, fabric.id, after=data.get("after"), not_after=time.time() + INGEST_WAIT_SECONDS
            )
