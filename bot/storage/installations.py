"""Installations of the GitHub App and the repositories each one can reach, and the
connection status of the fabrics on those repositories."""

from __future__ import annotations

from collections.abc import Iterable

from bot.storage import Executor


async def upsert(db: Executor, installation_id: int, account: str, *, suspended: bool = False) -> None:
    await db.execute(
        """
        INSERT INTO installation (id, account, suspended) VALUES ($1, $2, $3)
        ON CONFLICT (id) DO UPDATE SET account = excluded.account, suspended = excluded.suspended,
                                       updated_at = now()
        """,
        installation_id,
        account,
        suspended,
    )


async def delete(db: Executor, installation_id: int) -> None:
    await db.execute("DELETE FROM installation WHERE id = $1", installation_id)


async def set_suspended(db: Executor, installation_id: int, suspended: bool) -> None:
    await db.execute(
        "UPDATE installation SET suspended = $2, updated_at = now() WHERE id = $1", installation_id, suspended
    )


async def replace_repositories(db: Executor, installation_id: int, repositories: Iterable[str]) -> None:
    names = sorted(set(repositories))
    await db.execute(
        "DELETE FROM installation_repository WHERE installation_id = $1 AND NOT repository = ANY($2::text[])",
        installation_id,
        names,
    )
    await add_repositories(db, installation_id, names)


async def add_repositories(db: Executor, installation_id: int, repositories: Iterable[str]) -> None:
    await db.execute(
        "INSERT INTO installation_repository (installation_id, repository) "
        "SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
        installation_id,
        sorted(set(repositories)),
    )


async def remove_repositories(db: Executor, installation_id: int, repositories: Iterable[str]) -> None:
    await db.execute(
        "DELETE FROM installation_repository WHERE installation_id = $1 "
        "AND lower(repository) = ANY(SELECT lower(unnest($2::text[])))",
        installation_id,
        list(repositories),
    )


async def for_repository(db: Executor, repository: str) -> int | None:
    """The (unsuspended) installation that reaches owner/repo, if we know one."""
    return await db.fetchval(
        """
        SELECT r.installation_id FROM installation_repository r JOIN installation i ON i.id = r.installation_id
        WHERE lower(r.repository) = lower($1) AND NOT i.suspended
        ORDER BY r.installation_id LIMIT 1
        """,
        repository,
    )


async def repositories(db: Executor, installation_id: int) -> list[str]:
    rows = await db.fetch(
        "SELECT repository FROM installation_repository WHERE installation_id = $1 ORDER BY repository", installation_id
    )
    return [r["repository"] for r in rows]


async def connect_fabrics(db: Executor, installation_id: int, repositories: Iterable[str]) -> list[int]:
    """Fabrics on these repositories are reachable through this installation again."""
    rows = await db.fetch(
        """
        UPDATE fabric SET installation_id = $1, updated_at = now(),
               connection_status = CASE WHEN connection_status IN ('unknown', 'disconnected')
                                        THEN 'connected' ELSE connection_status END,
               status_detail = CASE WHEN connection_status IN ('unknown', 'disconnected')
                                    THEN NULL ELSE status_detail END
        WHERE lower(repository) = ANY(SELECT lower(unnest($2::text[])))
        RETURNING id
        """,
        installation_id,
        list(repositories),
    )
    return [r["id"] for r in rows]


async def disconnect_fabrics(
    db: Executor,
    installation_id: int,
    *,
    detail: str,
    repositories: Iterable[str] = (),
    whole_installation: bool = False,
    forget_installation: bool = True,
) -> list[int]:
    """Mark fabrics unreachable: those on `repositories` (that use this installation or none
    yet), and with `whole_installation` every fabric using it. The reconciler's ETag is
    dropped so the first check after reconnecting reads the branch afresh."""
    rows = await db.fetch(
        """
        UPDATE fabric SET connection_status = 'disconnected', status_detail = $3, updated_at = now(),
               installation_id = CASE WHEN $5 THEN NULL ELSE installation_id END,
               branch_etag = NULL
        WHERE ($4 AND installation_id = $1)
           OR (lower(repository) = ANY(SELECT lower(unnest($2::text[])))
               AND (installation_id = $1 OR installation_id IS NULL))
        RETURNING id
        """,
        installation_id,
        list(repositories),
        detail,
        whole_installation,
        forget_installation,
    )
    return [r["id"] for r in rows]
