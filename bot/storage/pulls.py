"""The bot's pull requests: one row per sync branch, open until merged or closed.

A row is written before the branch exists on GitHub (number still null), so a sync that dies
half-way leaves a record of the branch it may have made; the number, head and URL are filled
in as GitHub answers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import overload

import asyncpg

from bot.storage import Executor, returned_row


@dataclass(frozen=True)
class PullRequest:
    id: int
    fabric_id: int
    number: int | None
    branch: str
    head_sha: str | None
    base_sha: str | None
    operation_id: uuid.UUID | None
    state: str
    html_url: str | None
    created_at: datetime
    closed_at: datetime | None

    def to_json(self) -> dict:
        return {
            "number": self.number,
            "branch": self.branch,
            "state": self.state,
            "head_sha": self.head_sha,
            "url": self.html_url,
        }


_COLUMNS = "id, fabric_id, number, branch, head_sha, base_sha, operation_id, state, html_url, created_at, closed_at"


@overload
def _pr(row: asyncpg.Record) -> PullRequest: ...
@overload
def _pr(row: None) -> None: ...
def _pr(row: asyncpg.Record | None) -> PullRequest | None:
    return PullRequest(**dict(row)) if row is not None else None


async def open_for_fabric(db: Executor, fabric_id: int) -> PullRequest | None:
    """The fabric's open bot pull request (the newest, should there ever be two)."""
    return _pr(
        await db.fetchrow(
            f"SELECT {_COLUMNS} FROM pull_request WHERE fabric_id = $1 AND state = 'open' ORDER BY id DESC LIMIT 1",
            fabric_id,
        )
    )


async def by_branch(db: Executor, fabric_id: int, branch: str) -> PullRequest | None:
    return _pr(
        await db.fetchrow(
            f"SELECT {_COLUMNS} FROM pull_request WHERE fabric_id = $1 AND branch = $2 ORDER BY id DESC LIMIT 1",
            fabric_id,
            branch,
        )
    )


async def by_number(db: Executor, fabric_id: int, number: int) -> PullRequest | None:
    return _pr(
        await db.fetchrow(
            f"SELECT {_COLUMNS} FROM pull_request WHERE fabric_id = $1 AND number = $2", fabric_id, number
        )
    )


async def get(db: Executor, pull_request_id: int) -> PullRequest | None:
    return _pr(await db.fetchrow(f"SELECT {_COLUMNS} FROM pull_request WHERE id = $1", pull_request_id))


async def create(
    db: Executor, *, fabric_id: int, branch: str, base_sha: str | None, operation_id: uuid.UUID | None
) -> PullRequest:
    return _pr(
        returned_row(
            await db.fetchrow(
                f"INSERT INTO pull_request (fabric_id, branch, base_sha, operation_id) VALUES ($1, $2, $3, $4) "
                f"RETURNING {_COLUMNS}",
                fabric_id,
                branch,
                base_sha,
                operation_id,
            )
        )
    )


async def set_github(
    db: Executor,
    pull_request_id: int,
    *,
    number: int | None = None,
    html_url: str | None = None,
    head_sha: str | None = None,
) -> None:
    await db.execute(
        "UPDATE pull_request SET number = coalesce($2, number), html_url = coalesce($3, html_url), "
        "head_sha = coalesce($4, head_sha), updated_at = now() WHERE id = $1",
        pull_request_id,
        number,
        html_url,
        head_sha,
    )


async def close(db: Executor, pull_request_id: int, state: str) -> bool:
    """Mark it merged or closed; False when it was no longer open."""
    assert state in ("merged", "closed")
    return bool(
        await db.fetchval(
            "UPDATE pull_request SET state = $2, closed_at = now(), updated_at = now() "
            "WHERE id = $1 AND state = 'open' RETURNING true",
            pull_request_id,
            state,
        )
    )


async def delete(db: Executor, pull_request_id: int) -> None:
    """Forget a row whose pull request never came to exist on GitHub (a cancelled sync)."""
    await db.execute("DELETE FROM pull_request WHERE id = $1", pull_request_id)


# --------------------------------------------------------------------------------------------
# What a publishing operation has done on GitHub (sync_operation.publish_progress, sql/004)


async def progress(db: Executor, operation_id: uuid.UUID) -> dict:
    return await db.fetchval("SELECT publish_progress FROM sync_operation WHERE id = $1", operation_id) or {}


async def record_progress(db: Executor, operation_id: uuid.UUID, fields: dict) -> None:
    """Merge `fields` into the operation's publish progress (written as soon as GitHub answered)."""
    await db.execute(
        "UPDATE sync_operation SET publish_progress = publish_progress || $2::jsonb WHERE id = $1", operation_id, fields
    )


async def made_by_bot(db: Executor, fabric_id: int, sha: str) -> bool:
    """Is `sha` a commit a sync of this fabric made? (It is recorded before any ref points at
    it, so the push webhook of the bot's own commit is always recognised.)"""
    return bool(
        await db.fetchval(
            "SELECT EXISTS (SELECT 1 FROM sync_operation WHERE fabric_id = $1 AND publish_progress->>'commit_sha' = $2) "
            "OR EXISTS (SELECT 1 FROM pull_request WHERE fabric_id = $1 AND head_sha = $2)",
            fabric_id,
            sha,
        )
    )
