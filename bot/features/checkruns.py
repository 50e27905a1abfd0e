"""The `hnp-gitops/conflicts` check run and the one comment on every open bot pull request.

When a check happens
    - the fabric's branch moved: the ingest of the new head queues the check in the
      transaction that commits it, so the check sees the new desired state;
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
(`publish.rebuild_pull_request_branch`), and a check follows
it -- green when nothing is left.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from gidgethub import routing, sansio

from bot.core import checks, documents, filemap
from bot.core.kinds import DEFAULT_NAMESPACE
from bot.core.threeway import ABSENT, FieldConflict
from bot.features import comments, conflicts, installations, publish, pulls
from bot.github.client import Client
from bot.github.errors import NotFound
from bot.github.repository import Repository
from bot.jobs.kinds import JobKind
from bot.jobs.queue import JobContext, JobHandlers, enqueue
from bot.storage import Executor, fabrics
from bot.storage import conflicts as conflict_store
from bot.storage import pulls as pull_store
from bot.storage.fabrics import Fabric

log = logging.getLogger(__name__)

router = routing.Router()

SYNC_BRANCH_PREFIX = "hnp-sync/"
MAX_FILES_READ = 20  # files fetched to place annotations; beyond that they point at line 1
EXTERNAL_ID = "hnp-gitops:pr:{id}"


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
            raw = await Repository(gh, fabric.owner, fabric.repo).file(path, sha)
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
            doc = (parsed.get(row_path) or {}).get((row.kind, row.namespace or DEFAULT_NAMESPACE, row.name))
        if doc is None:
            out.append(checks.Location(row_path, 1))
            continue
        line = documents.field_line(doc, row.field_path) if row.field_path else None
        out.append(checks.Location(row_path, line or doc.line))
    return out


async def publish_check(
    pool: asyncpg.Pool, gh: Client, fabric: Fabric, pull: pull_store.BotPull, head_sha: str | None = None
) -> dict[str, Any] | None:
    """Post the conflicts check run on the pull request's head and edit its bot comment.
    Returns the check run, or None when the pull request is no longer open."""
    repo = Repository(gh, fabric.owner, fabric.repo)
    data = await repo.pull_request(pull.number)
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
    run = await repo.create_check_run(requests[0])
    for more in requests[1:]:
        await repo.update_check_run(run["id"], more)
    await pull_store.set_conflicts_check(pool, pull.id, run["id"], head_sha)
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
    found = await pull_store.open_with_number(ctx.pool, fabric.id, pull_request_id)
    if not found:
        return 0
    gh = await installations.client(ctx.pool, ctx.github, fabric)
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
    await recheck_fabric(
        ctx, int(payload["fabric_id"]), payload.get("pull_request_id"), head_sha=payload.get("head_sha")
    )


# --------------------------------------------------------------------------------------------
# A person's decision on a pull request


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
    resolved drafts goes on the pull request's branch (`publish.rebuild_pull_request_branch`); a check follows.
    Idempotent: nothing open, nothing done (but the check is refreshed)."""
    async with ctx.pool.acquire() as conn:
        outcome = await conflicts.resolve(
            conn, fabric.id, resolution, pull_request_id=pull_request_id, resource_ids=resource_ids, resolved_by=actor
        )
    if outcome.resolved:
        label = {"gui_wins": "GUI wins", "github_wins": "Git wins", "merge": "merge"}.get(resolution, resolution)
        gh = await installations.client(ctx.pool, ctx.github, fabric)
        await publish.rebuild_pull_request_branch(
            ctx.pool,
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


async def request_rebuild(db: Executor, fabric_id: int, pull_request_id: int, actor: str | None) -> None:
    """Conflicts of a bot pull request were resolved elsewhere (the HNP API): put the resolved
    drafts on its branch, as pressing a button does. Queued on the fabric, after its work."""
    await enqueue(
        db,
        JobKind.CONFLICTS_REBUILD,
        {"fabric_id": fabric_id, "pull_request_id": pull_request_id, "actor": actor},
        fabric_id=fabric_id,
    )


async def rebuild_job(ctx: JobContext) -> None:
    payload = ctx.job.payload
    fabric = await fabrics.get(ctx.pool, int(payload["fabric_id"]))
    if fabric is None:
        return
    pull_request_id = int(payload["pull_request_id"])
    gh = await installations.client(ctx.pool, ctx.github, fabric)
    await publish.rebuild_pull_request_branch(
        ctx.pool,
        gh,
        fabric,
        pull_request_id,
        payload.get("actor"),
        merge=True,
        trigger="api",
        title="resolve conflict(s) through the HNP API",
    )
    await conflicts.request_recheck(ctx.pool, fabric.id, pull_request_id)


JOBS: JobHandlers = {
    JobKind.CONFLICTS_CHECK: check_job,
    JobKind.CONFLICTS_RESOLVE: resolve_job,
    JobKind.CONFLICTS_REBUILD: rebuild_job,
}


# --------------------------------------------------------------------------------------------
# Webhook events


async def _pull_for_run(pool: asyncpg.Pool, repository: str, run: dict) -> tuple[Fabric, int] | None:
    """The fabric and bot pull request a conflicts check run belongs to."""
    external = run.get("external_id") or ""
    numbers = [p.get("number") for p in run.get("pull_requests") or []]
    for fabric in await fabrics.for_repository(pool, repository):
        if external.startswith("hnp-gitops:pr:"):
            found = await pull_store.id_of(pool, fabric.id, int(external.rsplit(":", 1)[1]))
        else:
            found = await pull_store.for_check_run(
                pool, fabric.id, run.get("id"), [n for n in numbers if n], run.get("head_sha")
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
        JobKind.CONFLICTS_RESOLVE,
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
        found = await pull_store.open_id_by_branch(ctx.pool, fabric.id, branch)
        if found is not None:
            await conflicts.request_recheck(ctx.pool, fabric.id, found, head_sha=pr["head"]["sha"])
