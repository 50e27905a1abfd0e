"""`/hnp` commands people wrote on bot pull requests (`pr_command`): each acted on once."""

from __future__ import annotations

from bot.storage import Executor


async def acted_on(db: Executor, comment_id: int) -> bool:
    """Whether this comment's command has an outcome already (a redelivery does nothing)."""
    return bool(await db.fetchval("SELECT outcome IS NOT NULL FROM pr_command WHERE comment_id = $1", comment_id))


async def record(
    db: Executor, comment_id: int, pull_request_id: int, command: str, actor: str, permission: str, allowed: bool
) -> None:
    await db.execute(
        "INSERT INTO pr_command (comment_id, pull_request_id, command, actor, permission, allowed) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (comment_id) DO UPDATE SET permission = $5, allowed = $6",
        comment_id,
        pull_request_id,
        command,
        actor,
        permission,
        allowed,
    )


async def set_outcome(db: Executor, comment_id: int, outcome: str) -> None:
    await db.execute("UPDATE pr_command SET outcome = $2 WHERE comment_id = $1", comment_id, outcome)
