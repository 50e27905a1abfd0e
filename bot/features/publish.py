"""gui_to_github: a fabric's drafts become ONE commit, on a sync branch with a pull request or
straight onto the fabric's branch.

Cost, whatever the number of drafts (the Git Data API, never a call per file):
    GET ref (1) -> GET tarball of that commit (1; the files to edit are read from it) ->
    POST tree on base_tree with inline contents and `sha: null` deletions (1) -> POST commit (1)
    -> POST/PATCH ref (1) -> POST/PATCH pull request (1). Six calls; a direct commit needs no
    pull request; a branch that moved under a direct commit costs one more round (bounded).

Where the commit goes
    create_pr and the fabric has an open bot pull request: a new commit on that pull request's
    branch (the PR is updated, never a second one opened). create_pr otherwise: a new branch
    `hnp-sync/<fabric>/<8 hex of the operation id>` from the fabric's branch and a pull request
    whose body lists every resource and change (`checks.pr_body`). Without create_pr: a
    fast-forward of the fabric's branch, re-planned on the new head when it moved (422).

Files are edited as a person would (bot.core.publish_plan, pure): a resource is found in the base
commit by identity and its document alone is rewritten or removed; a new resource is appended
to `filemap.new_resource_path`. A file whose bytes do not change is not written, and a plan
with no written file makes no commit.

Crashes and cancellation: each GitHub step is recorded in `sync_operation.publish_progress` as
soon as GitHub answers (see sql/004). A re-run of the same operation continues from there
(the branch name is derived from the operation id; an existing ref or pull request is looked
up before anything is made twice), and `undo` removes what the operation made.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg

from bot.core import checks, filemap
from bot.core.publish_plan import (
    CommitPlan,
    FileText,
    body_changes,
    commit_message,
    plan_commit,
    read_tarball,
    select,
    summary,
    tree_entries,
)
from bot.core.resource import Resource
from bot.core.syncresult import SyncDirection, SyncResult
from bot.features import conflicts, pulls
from bot.github.client import Client
from bot.github.errors import NotFound, PermissionDenied, UnprocessableEntity
from bot.github.repository import Repository
from bot.jobs import queue
from bot.jobs.kinds import JobKind
from bot.storage import drafts as draft_store
from bot.storage import operations as operation_store
from bot.storage import pulls as pull_store
from bot.storage import resources as resource_store
from bot.storage.fabrics import Fabric
from bot.storage.pulls import PullRequest

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_DIRECT_ATTEMPTS = 3  # a direct commit re-plans this often when the branch keeps moving


class Cancelled(Exception):
    """The operation was asked to stop; raised by the checkpoint between GitHub steps."""


Checkpoint = Callable[[], Awaitable[None]]


# --------------------------------------------------------------------------------------------
# GitHub (through the bot.github gateway; every call lands on the operation's counter)


class PublishError(Exception):
    """The publish cannot go on; the message says why (the operation's error)."""


class Publisher:
    """One operation's publishing: the GitHub steps and their progress records."""

    def __init__(
        self, pool: asyncpg.Pool, gh: Client, fabric: Fabric, operation_id: uuid.UUID, checkpoint: Checkpoint
    ) -> None:
        self.pool, self.gh, self.fabric, self.operation_id = pool, gh, fabric, operation_id
        self.repo = Repository(gh, fabric.owner, fabric.repo)
        self.checkpoint = checkpoint
        self.progress: dict[str, Any] = {}
        self.github_ms = 0.0
        self.published_ids: set[int] | None = None  # set once a plan is made

    async def _timed(self, call: Awaitable[T]) -> T:
        began = time.monotonic()
        try:
            return await call
        finally:
            self.github_ms += (time.monotonic() - began) * 1000

    async def record(self, **fields: Any) -> None:
        self.progress.update(fields)
        await pull_store.record_progress(self.pool, self.operation_id, fields)

    async def head(self, branch: str) -> tuple[str, str] | None:
        """(commit sha, tree sha) of a branch's head, in one call; None when it is missing."""
        return await self._timed(self.repo.commit_and_tree(branch))

    async def files_at(self, sha: str) -> dict[str, FileText]:
        data = await self._timed(self.repo.tarball(sha))
        return read_tarball(data, self.fabric.directory)

    async def make_commit(self, base_tree: str, parents: list[str], plan: CommitPlan, message: str) -> str:
        """A commit of the plan's files on `base_tree` (no new tree when the plan writes none)."""
        tree = base_tree
        if plan.files:
            tree = await self._timed(self.repo.create_tree(base_tree, tree_entries(plan)))
            await self.checkpoint()
        return await self._timed(self.repo.create_commit(message, tree, parents))

    async def create_branch(self, branch: str, sha: str) -> None:
        """A re-run after a crash finds the branch made: it is this operation's own (its name
        carries the id), and is moved to `sha`."""
        await self._timed(self.repo.create_branch(branch, sha))

    async def move_branch(self, branch: str, sha: str, *, force: bool = False) -> bool:
        """Fast-forward (or force) a branch; False when it moved and is not an ancestor."""
        return await self._timed(self.repo.move_branch(branch, sha, force=force))

    async def delete_branch(self, branch: str) -> None:
        await self._timed(self.repo.delete_branch(branch))

    async def pull_request_still_open(self, row: PullRequest) -> bool:
        """Ask GitHub before adding to an open bot PR (one call): its `closed` webhook may have
        been lost, and commits to a closed PR's branch would reach no one. A PR found closed
        is recorded as such here, as the webhook would have done."""
        if row.number is None:  # recorded before GitHub numbered it: not open on GitHub
            return False
        try:
            data = await self._timed(self.repo.pull_request(row.number))
        except NotFound:
            data = {"state": "closed", "merged": False}
        if data.get("state") == "open":
            return True
        await pulls.closed(self.pool, self.gh, self.fabric, row, merged=bool(data.get("merged")))
        return False

    async def landed(self, branch: str, sha: str) -> bool:
        """Is commit `sha` on `branch`? Asked only when a re-run finds a commit recorded but not
        the ref move: the process may have died after GitHub moved the ref, before it heard."""
        return await self._timed(self.repo.contains(branch, sha))

    async def open_pr(self, branch: str, title: str, body: str) -> tuple[dict[str, Any], bool]:
        """(the pull request, whether this call made it)."""
        try:
            return await self._timed(self.repo.open_pull_request(title, branch, self.fabric.branch, body)), True
        except UnprocessableEntity as error:
            if "already exists" not in str(error):
                raise
        # A re-run after a crash: the pull request was made; find it rather than make another.
        found = await self._timed(self.repo.open_pull_requests_from(branch))
        if not found:
            raise PublishError(f"GitHub says a pull request for {branch} exists but lists none")
        return found[0], False


# --------------------------------------------------------------------------------------------
# The flows


Report = Callable[[int, int], Awaitable[None]]


async def gui_to_github(
    pool: asyncpg.Pool,
    gh: Client,
    fabric: Fabric,
    operation_id: uuid.UUID,
    *,
    resource_ids: list[int] | None = None,
    create_pr: bool = True,
    checkpoint: Checkpoint,
    report: Report | None = None,
) -> SyncResult:
    """Publish drafts of the fabric as one commit (see the module docstring): those named by
    `resource_ids` (the sync's selection after its conflict check), else every draft not in
    conflict. Raises Cancelled from `checkpoint` (the caller then runs `undo`) and PublishError
    / GitHub errors when it cannot finish; `api_calls_made` is filled in by the caller, who
    owns the counter."""
    began = time.monotonic()
    result = SyncResult(operation_id=str(operation_id), direction=SyncDirection.GUI_TO_GITHUB, started_at=_now())
    gi = result.github_integration
    gi.repository, gi.branch = fabric.repository, fabric.branch
    publisher = Publisher(pool, gh, fabric, operation_id, checkpoint)
    publisher.progress = await pull_store.progress(pool, operation_id)
    db_began = time.monotonic()
    everything = await draft_store.with_drafts(pool, fabric.id)
    if resource_ids is None:
        chosen, _ = select(everything, None, force=False)
    else:
        wanted = set(resource_ids)
        chosen = [r for r in everything if r.id in wanted]
    result.performance.database_time_ms += (time.monotonic() - db_began) * 1000
    result.statistics.resources_processed = len(chosen)
    report = report or _no_report
    await report(0, len(chosen))
    if not chosen:
        result.warnings.append("no drafts to publish")
    else:
        await _write_or_record_refusal(publisher, chosen, result, report, create_pr)
    result.success = not result.errors
    result.completed_at = _now()
    result.performance.duration_ms = (time.monotonic() - began) * 1000
    result.performance.github_time_ms = publisher.github_ms
    return result


async def _write_or_record_refusal(
    p: Publisher, chosen: list[Resource], result: SyncResult, report: Report, create_pr: bool
) -> None:
    """Publish; when GitHub refuses the app the write (403: a protected branch, a permission
    taken away), the drafts get a `permission_denied` conflict and wait, and the sync fails
    saying so. A later write that goes through supersedes those conflicts."""
    ids = [r.id for r in chosen]
    try:
        if create_pr:
            await _via_pull_request(p, chosen, result, report)
        else:
            await _direct(p, chosen, result, report)
    except PermissionDenied as refusal:
        message = f"GitHub refused the app's write to {p.fabric.repository}: {refusal}"
        async with p.pool.acquire() as conn, conn.transaction():
            await conflicts.record_permission_denied(conn, p.fabric.id, ids, message, operation_id=p.operation_id)
        raise PublishError(message) from None
    async with p.pool.acquire() as conn, conn.transaction():
        await conflicts.clear_permission_denied(conn, p.fabric.id, ids)


async def _no_report(done: int, total: int) -> None:
    return None


def _now() -> datetime:
    return datetime.now(UTC)


async def _plan(publisher: Publisher, chosen: list[Resource], head: tuple[str, str], result: SyncResult) -> CommitPlan:
    files = await publisher.files_at(head[0])
    began = time.monotonic()
    plan = plan_commit(publisher.fabric.directory, chosen, files)
    publisher.published_ids = {r.id for r in plan.published}
    result.performance.parse_time_ms += (time.monotonic() - began) * 1000
    s = result.statistics
    s.resources_created = sum(1 for c in plan.changes if c.change == "created")
    s.resources_updated = sum(1 for c in plan.changes if c.change == "updated")
    s.resources_deleted = sum(1 for c in plan.changes if c.change == "deleted")
    s.resources_unchanged = len(plan.unchanged)
    s.files_processed = len(plan.files)
    s.files_created, s.files_updated, s.files_deleted = plan.created_files, plan.updated_files, plan.deleted_files
    result.github_integration.files_transferred = len(files) + len(plan.files)
    result.github_integration.base_sha = head[0]
    result.errors[:] = list(plan.errors)
    return plan


async def _direct(p: Publisher, chosen: list[Resource], result: SyncResult, report: Report) -> None:
    """A fast-forward of the fabric's branch; re-planned on the new head when it moved."""
    branch = p.fabric.branch
    made = p.progress.get("commit_sha")
    if made and not p.progress.get("ref_done") and await p.landed(branch, made):
        await p.record(ref_moved=True, ref_done=True)  # it landed; the dead run never heard
    if p.progress.get("ref_done"):  # a re-run after the commit landed
        assert made is not None  # recorded before ref_done
        result.github_integration.commit_sha = made
        result.warnings.append(f"resumed: commit {made[:7]} had already landed on {branch}")
        await report(len(chosen), len(chosen))
        return
    for attempt in range(1, MAX_DIRECT_ATTEMPTS + 1):
        head = await p.head(branch)
        if head is None:
            raise PublishError(f"the branch {branch!r} of fabric {p.fabric.name!r} does not exist")
        await p.checkpoint()
        plan = await _plan(p, chosen, head, result)
        await report(0, len(chosen))
        if not plan.files:
            result.warnings.append(f"nothing to change: {branch} already says what the drafts say; no commit made")
            await report(len(chosen), len(chosen))
            return
        await p.checkpoint()
        sha = await p.make_commit(head[1], [head[0]], plan, commit_message(p.fabric.name, p.operation_id, plan.changes))
        await p.record(target="branch", branch=branch, base_sha=head[0], commit_sha=sha)
        await p.checkpoint()
        # The last step: once the branch has the commit the sync is done (a cancel is too late).
        if await p.move_branch(branch, sha):
            await p.record(ref_moved=True, ref_done=True)
            result.github_integration.commit_sha = sha
            await report(len(chosen), len(chosen))
            return
        result.warnings.append(f"{branch} moved during the sync (attempt {attempt}); re-read and re-planned")
    raise PublishError(f"{branch} kept moving; gave up after {MAX_DIRECT_ATTEMPTS} attempts")


async def _via_pull_request(p: Publisher, chosen: list[Resource], result: SyncResult, report: Report) -> None:
    fabric, gi = p.fabric, result.github_integration
    existing = await pull_store.open_for_fabric(p.pool, fabric.id)
    if p.progress.get("branch"):  # a re-run: keep the choice the first run made
        updating = p.progress.get("target") == "pr_update"
        branch = p.progress["branch"]
    elif (
        existing is not None
        and existing.number is not None
        and existing.operation_id != p.operation_id
        and await p.pull_request_still_open(existing)
    ):
        updating, branch = True, existing.branch
    else:
        updating, branch = False, filemap.branch_name(fabric.name, p.operation_id)
    pr_row = existing if updating else await pull_store.by_branch(p.pool, fabric.id, branch)
    if updating and pr_row is None:  # a re-run of an update whose pull request closed meanwhile
        raise PublishError(f"the pull request of {branch!r} that this sync was updating is no longer open")
    gi.branch_name = branch

    made = p.progress.get("commit_sha")
    if made and not p.progress.get("ref_done") and await p.landed(branch, made):
        # The dead run's ref update (or creation) happened; it never heard. Carry on from there.
        await p.record(ref_done=True, **({"ref_moved": True} if updating else {"ref_created": True}))
    if not p.progress.get("ref_done"):
        for attempt in range(1, MAX_DIRECT_ATTEMPTS + 1):
            head = await p.head(branch if updating else fabric.branch)
            if head is None:
                which = f"the pull request branch {branch!r}" if updating else f"the branch {fabric.branch!r}"
                raise PublishError(f"{which} of fabric {fabric.name!r} does not exist")
            await p.checkpoint()
            plan = await _plan(p, chosen, head, result)
            if not plan.files:
                if not updating:
                    result.warnings.append(
                        f"nothing to change: {fabric.branch} already says what the drafts say; "
                        "no commit or pull request made"
                    )
                    return
                assert pr_row is not None  # updating: checked above
                result.warnings.append(f"nothing to change: pull request #{pr_row.number} already carries the drafts")
                break
            await p.checkpoint()
            sha = await p.make_commit(
                head[1], [head[0]], plan, commit_message(fabric.name, p.operation_id, plan.changes)
            )
            await p.record(
                target="pr_update" if updating else "pr_new", branch=branch, base_sha=head[0], commit_sha=sha
            )
            await p.checkpoint()
            if updating:
                await p.record(previous_head=head[0])
                if not await p.move_branch(branch, sha):
                    result.warnings.append(f"{branch} moved during the sync (attempt {attempt}); re-planned")
                    continue
                await p.record(ref_moved=True, ref_done=True)
            else:
                if pr_row is None:  # recorded before the branch exists, so a crash leaves a trace
                    pr_row = await pull_store.create(
                        p.pool, fabric_id=fabric.id, branch=branch, base_sha=head[0], operation_id=p.operation_id
                    )
                await p.create_branch(branch, sha)
                await p.record(ref_created=True, ref_done=True)
            break
        else:
            raise PublishError(f"{branch} kept moving; gave up after {MAX_DIRECT_ATTEMPTS} attempts")
    if pr_row is None:  # a re-run after the branch was made, whose row was removed meanwhile
        raise PublishError(f"no pull request is recorded for the branch {branch!r}")
    gi.commit_sha = p.progress.get("commit_sha")
    await report(len(chosen) // 2, len(chosen))
    await p.checkpoint()

    # The pull request lists every resource it carries: those already in it and these.
    published = {r.id for r in _published(p, chosen)}
    carried = [
        r
        for r in await draft_store.with_drafts(p.pool, fabric.id)
        if (pr_row is not None and r.pull_request_id == pr_row.id) or r.id in published
    ]
    changes = body_changes(fabric.directory, carried)
    title = f"HNP sync of fabric {fabric.name}: {summary(changes)}"
    body = checks.pr_body(fabric.name, changes, operation_id=str(p.operation_id))
    made_now = False
    if updating and pr_row.number is not None:
        pr = await p._timed(p.repo.update_pull_request(pr_row.number, title=title, body=body))
    else:
        pr, made_now = await p.open_pr(branch, title, body)
        await p.record(pr_number=pr["number"], pr_created=True)
    await pull_store.set_github(
        p.pool, pr_row.id, number=pr["number"], html_url=pr.get("html_url"), head_sha=gi.commit_sha
    )
    if not updating and not made_now:
        # The run that made it died before hearing GitHub's answer; the pull request's
        # `opened` webhook most likely reached no one, so its checks are asked for here.
        await _request_checks(p.pool, fabric, pr_row.id, pr["head"]["sha"], pr["number"])
    gi.pull_request_number, gi.pull_request_url = pr["number"], pr.get("html_url")
    # A cancel that arrived while the pull request was being made still undoes all of it.
    await p.checkpoint()
    async with p.pool.acquire() as conn, conn.transaction():
        await draft_store.attach_to_pull_request(conn, sorted(published), pr_row.id)
    await report(len(chosen), len(chosen))


async def _request_checks(pool: asyncpg.Pool, fabric: Fabric, pull_request_id: int, head_sha: str, number: int) -> None:
    """Queue what the `pull_request` opened webhook would have: the validate check (ingest)
    and the conflicts check (checkruns), on the fabric's queue."""
    await queue.enqueue(
        pool,
        JobKind.VALIDATE_PULL_REQUEST,
        {"fabric_id": fabric.id, "head_sha": head_sha, "pull_request": number},
        fabric_id=fabric.id,
        dedupe_key=f"validate:{fabric.id}:{head_sha}",
    )
    await conflicts.request_recheck(pool, fabric.id, pull_request_id, head_sha=head_sha)


def _published(p: Publisher, chosen: list[Resource]) -> list[Resource]:
    # Resources whose file could not be edited are not carried (a re-run has no plan: all are).
    return chosen if p.published_ids is None else [r for r in chosen if r.id in p.published_ids]


async def undo(pool: asyncpg.Pool, gh: Client, fabric: Fabric, operation_id: uuid.UUID) -> list[str]:
    """Remove what a cancelled operation made on GitHub (from its recorded progress): close
    the pull request it opened, delete the branch it created, put back the head of a pull
    request branch it moved. Returns what it did, for the result's warnings."""
    publisher = Publisher(pool, gh, fabric, operation_id, no_checkpoint)
    progress = await pull_store.progress(pool, operation_id)
    done: list[str] = []
    branch = progress.get("branch")
    target = progress.get("target")
    if target == "pr_new" and branch:
        row = await pull_store.by_branch(pool, fabric.id, branch)
        number = progress.get("pr_number") or (row.number if row else None)
        if number is None and progress.get("ref_created"):
            # The pull request may exist without our knowing its number (a crash mid-call).
            found = await publisher._timed(publisher.repo.open_pull_requests_from(branch))
            number = found[0]["number"] if found else None
        if number is not None:
            await publisher._timed(publisher.repo.close_pull_request(number))
            done.append(f"closed pull request #{number}")
        await publisher.delete_branch(branch)
        done.append(f"deleted branch {branch}")
        if row is not None and row.operation_id == operation_id:
            async with pool.acquire() as conn, conn.transaction():
                await draft_store.release_from_pull_request(conn, row.id)
                if row.number is None and number is None:
                    await pull_store.delete(conn, row.id)
                else:
                    if row.number is None:
                        await pull_store.set_github(conn, row.id, number=number)
                    await pull_store.close(conn, row.id, "closed")
    elif target == "pr_update" and branch and progress.get("ref_moved") and progress.get("previous_head"):
        await publisher.move_branch(branch, progress["previous_head"], force=True)
        done.append(f"put {branch} back to {progress['previous_head'][:7]}")
    await pull_store.record_progress(pool, operation_id, {"undone": done})
    return done


async def rebuild_pull_request_branch(
    pool: asyncpg.Pool,
    gh: Any,
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
    Recorded as a sync operation. Returns the new head, or None when the pull request is no
    longer open."""
    pull = await pull_store.get(pool, pull_request_id)
    if pull is None or pull.state != "open":
        return None
    chosen = [
        r
        for r in await draft_store.with_drafts(pool, fabric.id)
        if r.pull_request_id == pull.id and r.state != "conflict"
    ]
    operation = await operation_store.create(
        pool,
        fabric_id=fabric.id,
        direction="gui_to_github",
        trigger=trigger,
        requested_by=actor,
        request={"pull_request": pull.number, "rebuild": "merge" if merge else "rebase"},
    )
    await operation_store.set_status(pool, operation.id, "gui_to_github_sync")
    result = SyncResult(str(operation.id), SyncDirection.GUI_TO_GITHUB, operation.created_at)
    p = Publisher(pool, gh, fabric, operation.id, no_checkpoint)
    try:
        base, head = await p.head(fabric.branch), await p.head(pull.branch)
        if base is None or head is None:
            raise PublishError(f"the branch {fabric.branch if base is None else pull.branch!r} is gone")
        plan = plan_commit(fabric.directory, chosen, await p.files_at(base[0]))
        lines = [
            f"hnp-gitops: {title}",
            "",
            f"Pull request #{pull.number} of fabric {fabric.name} rebuilt on {fabric.branch} "
            f"{base[0][:7]}" + (f" at the request of {actor}" if actor else "") + ".",
            "",
        ]
        lines += [f"- {c.change} {c.kind} {c.name} ({c.path})" for c in plan.changes[:100]]
        parents = [head[0], base[0]] if merge else [base[0]]
        sha = await p.make_commit(base[1], parents, plan, "\n".join(lines) + "\n")
        await p.record(target="pr_update", branch=pull.branch, base_sha=base[0], commit_sha=sha, previous_head=head[0])
        # Recorded before the branch moves, so the push that comes back is known as the bot's own.
        await pull_store.set_github(pool, pull.id, head_sha=sha, base_sha=base[0])
        if not await p.move_branch(pull.branch, sha, force=not merge):
            raise PublishError(f"{pull.branch} moved meanwhile; try again")
        await p.record(ref_moved=True, ref_done=True)
    except Exception as failure:
        result.errors.append(f"{failure.__class__.__name__}: {failure}")
        await operation_store.finish(
            pool, operation.id, "failed", result.to_dict(), error=str(failure)[:2000] or "failed"
        )
        raise
    result.success = True
    result.statistics.resources_processed = len(chosen)
    gi = result.github_integration
    gi.repository, gi.branch, gi.base_sha, gi.commit_sha = fabric.repository, fabric.branch, base[0], sha
    gi.branch_name, gi.pull_request_number, gi.pull_request_url = pull.branch, pull.number, pull.html_url
    await operation_store.finish(pool, operation.id, "completed", result.to_dict())
    if not plan.files and not await resource_store.held_in_conflict(pool, pull.id):
        # The branch now says exactly what the fabric's branch says.
        why = f"After {title.removeprefix('resolve ')}, nothing differs from {fabric.branch}."
        await pulls.close_empty(pool, gh, fabric, pull, why)
    return sha


async def no_checkpoint() -> None:
    """For callers with nothing to cancel (webhook handlers, checkruns' rebuild)."""
    return None
