"""Sync operations: start one (a durable row and a queued 'sync' job), run it, cancel it.

An operation's status moves
    pending -> initializing -> detecting_conflicts -> github_to_gui_sync and/or
    gui_to_github_sync -> completed | failed | cancelled
with progress (resources done of total) on the row. `bidirectional` ingests the branch head
first, then publishes, as one operation whose SyncResult carries both results in `parts`.

One active API sync per fabric: `start_sync` refuses a second while one is pending or running
(SyncAlreadyActive -> 409), under the fabric's row lock so two requests cannot both pass.

Cancellation: `cancel` marks the row; a pending operation is cancelled at once, a running one
at its next checkpoint (between GitHub steps), where `publish.undo` removes whatever it made
on GitHub. A direct commit that already moved the fabric's branch is done: cancelling it then
is too late and the operation completes.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import asyncpg

from bot.core.syncresult import GitHubIntegration, SyncDirection, SyncResult, SyncStatistics
from bot.features import conflicts, ingest, installations, publish
from bot.github.client import CallCounter, Client, GitHub
from bot.github.errors import GitHubError, GitHubUnavailable
from bot.jobs import queue
from bot.jobs.kinds import JobKind
from bot.retry import RetryLater
from bot.storage import Connection, database, fabrics
from bot.storage import drafts as draft_store
from bot.storage import operations as operation_store
from bot.storage.fabrics import Fabric
from bot.storage.operations import Operation

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # a sync whose worker died, or that GitHub failed transiently, is run again
# Failures a later attempt may not meet: the job is retried (the sync resumes from its progress).
TRANSIENT: tuple[type[BaseException], ...] = (GitHubUnavailable, *database.UNAVAILABLE)


class SyncAlreadyActive(Exception):
    def __init__(self, operation_id: uuid.UUID) -> None:
        super().__init__(f"sync {operation_id} is still active")
        self.operation_id = operation_id


async def start_sync(
    pool: asyncpg.Pool,
    fabric: Fabric,
    request: dict[str, Any],
    *,
    requested_by: str | None = None,
    trigger: str = "api",
) -> Operation:
    """Create the operation row and queue its job in one transaction; 202 material."""
    async with pool.acquire() as conn, conn.transaction():
        await fabrics.lock(conn, fabric.id)
        if trigger == "api":
            await _end_orphans(conn, fabric.id)
            active = await operation_store.active_api_sync(conn, fabric.id)
            if active is not None:
                raise SyncAlreadyActive(active)
        operation = await operation_store.create(
            conn,
            fabric_id=fabric.id,
            direction=request["direction"],
            conflict_resolution=request.get("conflict_resolution") or "user_guided",
            trigger=trigger,
            request=request,
            requested_by=requested_by,
        )
        await queue.enqueue(
            conn,
            JobKind.SYNC,
            {"operation_id": str(operation.id)},
            fabric_id=fabric.id,
            operation_id=operation.id,
            max_attempts=MAX_ATTEMPTS,
        )
    return operation


def result_of(operation: Operation) -> dict[str, Any]:
    """A finished operation's SyncResult.to_dict(): the one it recorded, or (for one that ended
    without recording any, e.g. its job died) one saying why it failed."""
    if operation.result is not None and "success" in operation.result:
        return operation.result
    result = SyncResult(
        operation_id=str(operation.id),
        direction=SyncDirection(operation.direction),
        started_at=operation.started_at or operation.created_at,
        completed_at=operation.completed_at,
    )
    result.errors.append(operation.error or operation.status)
    result.performance.duration_ms = _elapsed_ms(result)
    return result.to_dict()


async def _end_orphans(conn: Connection, fabric_id: int) -> None:
    """An API sync whose job is gone (dead after its last attempt, e.g. its worker killed
    mid-run) would hold the fabric forever: it is failed, saying so."""
    for orphan in await operation_store.api_syncs_without_a_job(conn, fabric_id):
        await operation_store.finish(
            conn,
            orphan,
            "failed",
            None,
            error="its job ended without finishing it (the worker died on its last attempt)",
        )


async def cancel(pool: asyncpg.Pool, operation_id: uuid.UUID) -> Operation | None:
    """Ask an operation to stop. One that has not started is cancelled now; a running one
    stops at its next checkpoint and undoes what it made on GitHub."""
    operation = await operation_store.request_cancel(pool, operation_id)
    if operation is not None and operation.status == "pending":
        # If a worker takes it meanwhile, its first checkpoint sees cancel_requested and stops.
        result = _cancelled_result(operation, [])
        await operation_store.finish(pool, operation_id, "cancelled", result.to_dict())
    return await operation_store.get(pool, operation_id)


# --------------------------------------------------------------------------------------------
# Running


async def run_sync_job(ctx: queue.JobContext) -> None:
    """The 'sync' job: run the operation it names (again, after a crash: it resumes)."""
    operation_id = ctx.job.operation_id or uuid.UUID(ctx.job.payload["operation_id"])
    final = ctx.job.attempts >= ctx.job.max_attempts
    await run(ctx.pool, ctx.github, operation_id, final_attempt=final)


def _now() -> datetime:
    return datetime.now(UTC)


def _cancelled_result(operation: Operation, undone: list[str]) -> SyncResult:
    result = SyncResult(
        operation_id=str(operation.id),
        direction=SyncDirection(operation.direction),
        started_at=operation.started_at or operation.created_at,
        completed_at=_now(),
    )
    result.errors.append("cancelled")
    result.warnings.extend(undone)
    result.performance.duration_ms = _elapsed_ms(result)
    return result


def _elapsed_ms(result: SyncResult) -> float:
    """Start to end of a result that ended without running to completion."""
    end = result.completed_at or _now()
    return max(0.0, (end - result.started_at).total_seconds() * 1000)


async def run(
    pool: asyncpg.Pool, github: GitHub | None, operation_id: uuid.UUID, *, final_attempt: bool = True
) -> Operation | None:
    """Run one operation to its end and record the outcome on its row."""
    operation = await operation_store.get(pool, operation_id)
    if operation is None or operation.finished:
        return operation
    fabric = await fabrics.get(pool, operation.fabric_id)
    if fabric is None:  # deleted meanwhile, and its operations with it
        return None
    counter = CallCounter()
    began = time.monotonic()
    gh: Client | None = None

    async def checkpoint() -> None:
        if await operation_store.cancel_requested(pool, operation_id):
            raise publish.Cancelled()

    try:
        await operation_store.set_status(pool, operation_id, "initializing")
        await checkpoint()
        if github is None:
            raise publish.PublishError("GitHub is not configured in this process")
        gh = await installations.client(pool, github, fabric, counter)
        result = await _run_directions(pool, github, gh, fabric, operation, counter, checkpoint)
    except publish.Cancelled:
        undone = await publish.undo(pool, gh, fabric, operation_id) if gh is not None else []
        result = _cancelled_result(await operation_store.get(pool, operation_id) or operation, undone)
        result.github_integration.api_calls_made = counter.calls
        await operation_store.finish(pool, operation_id, "cancelled", result.to_dict())
        log.info("sync %s cancelled: %s", operation_id, "; ".join(undone) or "nothing to undo")
        return await operation_store.get(pool, operation_id)
    except RetryLater:
        raise  # GitHub's rate limit: the queue runs the job again later; the row stays as it is
    except TRANSIENT:
        if not final_attempt:
            raise  # transient: the queue retries the job, which resumes from its progress
        log.exception("sync %s failed", operation_id)
        undone = await _undo_quietly(pool, gh, fabric, operation_id)
        await _fail(pool, operation, counter, "GitHub or the database was unavailable; gave up after retries", undone)
        return await operation_store.get(pool, operation_id)
    except Exception as error:  # the operation fails and says why; the job itself is done
        log.exception("sync %s failed", operation_id)
        undone = await _undo_quietly(pool, gh, fabric, operation_id)
        await _fail(pool, operation, counter, _reason(error), undone)
        return await operation_store.get(pool, operation_id)
    result.github_integration.api_calls_made = counter.calls
    result.performance.duration_ms = (time.monotonic() - began) * 1000
    await operation_store.finish(pool, operation_id, "completed", result.to_dict())
    return await operation_store.get(pool, operation_id)


def _reason(error: Exception) -> str:
    """Why, in words safe to show: the bot's own errors and GitHub's messages (which never
    carry a credential); anything else only by its class (its text may hold data)."""
    if isinstance(error, GitHubError) or type(error).__module__.startswith("bot."):
        return str(error) or error.__class__.__name__
    return f"internal error ({error.__class__.__name__})"


async def _undo_quietly(pool: asyncpg.Pool, gh: Client | None, fabric: Fabric, operation_id: uuid.UUID) -> list[str]:
    """A failed sync leaves no half-made result either: undo what it made, as far as GitHub lets."""
    if gh is None:
        return []
    try:
        return await publish.undo(pool, gh, fabric, operation_id)
    except Exception:  # the failure being reported matters more than this one
        log.exception("undoing the failed sync %s", operation_id)
        return ["could not remove what the sync made on GitHub; see the log"]


async def _fail(
    pool: asyncpg.Pool, operation: Operation, counter: CallCounter, reason: str, undone: list[str] | None = None
) -> None:
    result = SyncResult(
        operation_id=str(operation.id),
        direction=SyncDirection(operation.direction),
        started_at=operation.started_at or operation.created_at,
        completed_at=_now(),
    )
    result.errors.append(reason)
    result.warnings.extend(undone or [])
    result.github_integration.api_calls_made = counter.calls
    result.performance.duration_ms = _elapsed_ms(result)
    await operation_store.finish(pool, operation.id, "failed", result.to_dict(), error=reason)


async def _run_directions(
    pool: asyncpg.Pool,
    github: GitHub,
    gh: Client,
    fabric: Fabric,
    operation: Operation,
    counter: CallCounter,
    checkpoint: publish.Checkpoint,
) -> SyncResult:
    request = operation.request or {}
    direction = SyncDirection(operation.direction)
    parts: dict[str, SyncResult] = {}

    async def report(done: int, total: int) -> None:
        await operation_store.set_progress(pool, operation.id, done, total)

    if direction in (SyncDirection.GITHUB_TO_GUI, SyncDirection.BIDIRECTIONAL):
        await operation_store.set_status(pool, operation.id, "github_to_gui_sync")
        before = counter.calls
        parts["github_to_gui"] = await _ingest(pool, github, fabric, operation, counter)
        parts["github_to_gui"].github_integration.api_calls_made = counter.calls - before
        await checkpoint()
        fabric = await fabrics.get(pool, fabric.id) or fabric
    if direction in (SyncDirection.GUI_TO_GITHUB, SyncDirection.BIDIRECTIONAL):
        await operation_store.set_status(pool, operation.id, "detecting_conflicts")
        selected, waiting, report_json, breaking = await _detect(pool, fabric, operation, request)
        await checkpoint()
        await operation_store.set_status(pool, operation.id, "gui_to_github_sync")
        before = counter.calls
        published = await publish.gui_to_github(
            pool,
            gh,
            fabric,
            operation.id,
            resource_ids=selected,
            create_pr=bool(request.get("create_pr", False)),
            checkpoint=checkpoint,
            report=report,
        )
        published.github_integration.api_calls_made = counter.calls - before
        # Detected: every conflict found before the strategy ran (those it settled included).
        published.statistics.conflicts_detected = report_json.get("open", 0) + report_json.get("resolved", 0)
        published.statistics.conflicts_resolved = report_json.get("resolved", 0)
        if waiting:
            published.warnings.append(
                f"{len(waiting)} draft(s) wait on open conflicts and were not published "
                "(resolve them, or sync with force_sync)"
            )
        if breaking:
            done = (
                "were published although they break" if request.get("force_sync") else "were refused: they would break"
            )
            shown = "; ".join(breaking[:5]) + (f"; and {len(breaking) - 5} more" if len(breaking) > 5 else "")
            published.warnings.append(
                f"{len(breaking)} fabric rule violation(s): drafts {done} the fabric as a whole: {shown}"
            )
        parts["gui_to_github"] = published
    if direction is not SyncDirection.BIDIRECTIONAL:
        return next(iter(parts.values()))
    return _combine(operation, parts)


async def _detect(
    pool: asyncpg.Pool, fabric: Fabric, operation: Operation, request: dict[str, Any]
) -> tuple[list[int], list[int], dict[str, Any], list[str]]:
    """The drafts this sync publishes: those the filters select, less those an open conflict
    holds back (force_sync publishes them too, as drafted); and the whole-fabric violations
    (dependency_violation) of the drafts selected, as "Kind/name field: message"."""
    candidates, _ = publish.select(
        await draft_store.with_drafts(pool, fabric.id), request.get("resource_filters"), force=True
    )
    ids = [r.id for r in candidates]
    if not ids:
        return [], [], {}, []
    async with pool.acquire() as conn, conn.transaction():
        await fabrics.lock(conn, fabric.id)
        found = await conflicts.apply_strategy(
            conn,
            fabric.id,
            operation.conflict_resolution,
            resource_ids=ids,
            operation_id=operation.id,
            resolved_by=operation.requested_by,
        )
    breaking = [
        f"{c.kind}/{c.name}{' ' + c.path if c.path else ''}: {c.message}"
        for rid, c in found.conflicts
        if c.type == "dependency_violation" and rid in ids
    ]
    if request.get("force_sync"):
        return ids, [], found.to_json(), breaking
    return list(found.ready), list(found.waiting), found.to_json(), breaking


async def _ingest(
    pool: asyncpg.Pool, github: GitHub, fabric: Fabric, operation: Operation, counter: CallCounter
) -> SyncResult:
    """github_to_gui: ingest the fabric's branch head now."""

    return await ingest.ingest_head(SimpleNamespace(pool=pool, github=github), fabric, operation, counter)


def _combine(operation: Operation, parts: dict[str, SyncResult]) -> SyncResult:
    """One bidirectional result: totals of both parts, the publish's GitHub details, and the
    parts themselves."""
    first = parts.get("github_to_gui")
    result = SyncResult(
        operation_id=str(operation.id),
        direction=SyncDirection.BIDIRECTIONAL,
        started_at=(first.started_at if first else _now()),
        completed_at=_now(),
    )
    stats = SyncStatistics()
    for part in parts.values():
        stats.add(part.statistics)
        result.errors.extend(part.errors)
        result.warnings.extend(part.warnings)
        result.performance.github_time_ms += part.performance.github_time_ms
        result.performance.database_time_ms += part.performance.database_time_ms
        result.performance.parse_time_ms += part.performance.parse_time_ms
        result.performance.validation_time_ms += part.performance.validation_time_ms
    result.statistics = stats
    publish_part = parts.get("gui_to_github")
    gi = GitHubIntegration(**vars(publish_part.github_integration)) if publish_part else GitHubIntegration()
    gi.files_transferred = sum(p.github_integration.files_transferred for p in parts.values())
    result.github_integration = gi
    result.parts = {name: part.to_dict() for name, part in parts.items()}
    result.success = all(p.success for p in parts.values())
    return result


JOBS: queue.JobHandlers = {JobKind.SYNC: run_sync_job}
