"""Sync operations: durable rows whose status moves initializing -> ... -> completed/failed/cancelled."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, overload

import asyncpg

from bot.storage import Executor, returned_row

FINISHED = ("completed", "failed", "cancelled")


@dataclass(frozen=True)
class Operation:
    id: uuid.UUID
    fabric_id: int
    direction: str
    status: str
    conflict_resolution: str
    trigger: str
    request: dict[str, Any]
    requested_by: str | None
    head_sha: str | None
    progress_done: int
    progress_total: int
    cancel_requested: bool
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def to_json(self, fabric_name: str | None = None) -> dict[str, Any]:
        """The contract's operation status (operation_id, status, request{direction, fabric,
        initiated_by}, progress, started_at, completed_at), then this bot's detail."""
        return {
            "operation_id": str(self.id),
            "status": self.status,
            "request": {
                **(self.request or {}),
                "direction": self.direction,
                "fabric": fabric_name,
                "initiated_by": self.requested_by,
            },
            "progress": {"done": self.progress_done, "total": self.progress_total},
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "fabric": fabric_name,
            "direction": self.direction,
            "conflict_resolution": self.conflict_resolution,
            "trigger": self.trigger,
            "requested_by": self.requested_by,
            "cancel_requested": self.cancel_requested,
            "error": self.error,
            "created_at": self.created_at.isoformat(),
            "result": self.result,
        }


_COLUMNS = (
    "id, fabric_id, direction, status, conflict_resolution, trigger, request, requested_by, "
    "head_sha, progress_done, progress_total, cancel_requested, result, error, created_at, "
    "started_at, completed_at"
)


@overload
def _operation(row: asyncpg.Record) -> Operation: ...
@overload
def _operation(row: None) -> None: ...
def _operation(row: asyncpg.Record | None) -> Operation | None:
    return Operation(**dict(row)) if row is not None else None


async def create(
    db: Executor,
    *,
    fabric_id: int,
    direction: str,
    conflict_resolution: str = "user_guided",
    trigger: str = "api",
    request: dict[str, Any] | None = None,
    requested_by: str | None = None,
    head_sha: str | None = None,
    operation_id: uuid.UUID | None = None,
) -> Operation:
    row = await db.fetchrow(
        f"INSERT INTO sync_operation (id, fabric_id, direction, conflict_resolution, trigger, request, "
        f"requested_by, head_sha) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_COLUMNS}",
        operation_id or uuid.uuid4(),
        fabric_id,
        direction,
        conflict_resolution,
        trigger,
        request or {},
        requested_by,
        head_sha,
    )
    return _operation(returned_row(row))


async def get(db: Executor, operation_id: uuid.UUID) -> Operation | None:
    return _operation(await db.fetchrow(f"SELECT {_COLUMNS} FROM sync_operation WHERE id = $1", operation_id))


async def for_fabric(db: Executor, fabric_id: int, *, active_only: bool = False, limit: int = 50) -> list[Operation]:
    where = "fabric_id = $1" + (" AND status NOT IN ('completed', 'failed', 'cancelled')" if active_only else "")
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM sync_operation WHERE {where} ORDER BY created_at DESC LIMIT $2", fabric_id, limit
    )
    return [_operation(r) for r in rows]


async def set_status(db: Executor, operation_id: uuid.UUID, status: str) -> None:
    """Move an unfinished operation to a working status (never reopens a finished one)."""
    await db.execute(
        "UPDATE sync_operation SET status = $2, started_at = coalesce(started_at, now()) "
        "WHERE id = $1 AND status NOT IN ('completed', 'failed', 'cancelled')",
        operation_id,
        status,
    )


async def set_progress(db: Executor, operation_id: uuid.UUID, done: int, total: int) -> None:
    await db.execute(
        "UPDATE sync_operation SET progress_done = $2, progress_total = $3 WHERE id = $1",
        operation_id,
        min(done, total) if total else done,
        total,
    )


async def finish(
    db: Executor, operation_id: uuid.UUID, status: str, result: dict[str, Any] | None, error: str | None = None
) -> bool:
    """Record the end of an operation once; False if it had already finished."""
    if status == "failed" and not error:
        error = "failed"
    done = await db.fetchval(
        "UPDATE sync_operation SET status = $2, result = $3, error = $4, completed_at = now(), "
        "started_at = coalesce(started_at, now()) "
        "WHERE id = $1 AND status NOT IN ('completed', 'failed', 'cancelled') RETURNING true",
        operation_id,
        status,
        result,
        error,
    )
    return bool(done)


async def request_cancel(db: Executor, operation_id: uuid.UUID) -> Operation | None:
    row = await db.fetchrow(
        f"UPDATE sync_operation SET cancel_requested = true WHERE id = $1 RETURNING {_COLUMNS}", operation_id
    )
    return _operation(row)


async def cancel_requested(db: Executor, operation_id: uuid.UUID) -> bool:
    return bool(await db.fetchval("SELECT cancel_requested FROM sync_operation WHERE id = $1", operation_id))
