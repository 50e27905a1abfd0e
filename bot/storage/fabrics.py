"""Fabrics: a directory of Hedgehog YAML on one branch of one repository."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import overload

import asyncpg

from bot.storage import Connection, Executor, returned_row


@dataclass(frozen=True)
class Fabric:
    id: int
    name: str
    repository: str  # "owner/repo"
    directory: str  # "" is the repository root
    branch: str
    installation_id: int | None
    last_ingested_sha: str | None
    last_ingested_at: datetime | None
    branch_etag: str | None
    connection_status: str
    status_detail: str | None
    created_at: datetime
    updated_at: datetime
    create_pr: bool = False  # a sync request that does not say publishes through a pull request

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def repo(self) -> str:
        return self.repository.split("/", 1)[1]

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "repository": self.repository,
            "directory": self.directory,
            "branch": self.branch,
            "create_pr": self.create_pr,
            "installation_id": self.installation_id,
            "last_ingested_sha": self.last_ingested_sha,
            "last_ingested_at": self.last_ingested_at.isoformat() if self.last_ingested_at else None,
            "connection_status": self.connection_status,
            "status_detail": self.status_detail,
            "created_at": self.created_at.isoformat(),
        }


@overload
def _fabric(row: asyncpg.Record) -> Fabric: ...
@overload
def _fabric(row: None) -> None: ...
def _fabric(row: asyncpg.Record | None) -> Fabric | None:
    return Fabric(**dict(row)) if row is not None else None


_COLUMNS = (
    "id, name, repository, directory, branch, installation_id, last_ingested_sha, "
    "last_ingested_at, branch_etag, connection_status, status_detail, created_at, updated_at, create_pr"
)


def normalize_directory(directory: str) -> str:
    """'./fabric/' -> 'fabric'; '' and '.' -> '' (the repository root)."""
    parts = [p for p in directory.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts)


async def create(
    db: Executor,
    *,
    name: str,
    repository: str,
    directory: str,
    branch: str,
    installation_id: int | None = None,
    create_pr: bool = False,
) -> Fabric:
    row = await db.fetchrow(
        f"INSERT INTO fabric (name, repository, directory, branch, installation_id, create_pr) "
        f"VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}",
        name,
        repository,
        normalize_directory(directory),
        branch,
        installation_id,
        create_pr,
    )
    return _fabric(returned_row(row))


async def get(db: Executor, fabric_id: int) -> Fabric | None:
    return _fabric(await db.fetchrow(f"SELECT {_COLUMNS} FROM fabric WHERE id = $1", fabric_id))


async def get_by_name(db: Executor, name: str) -> Fabric | None:
    return _fabric(await db.fetchrow(f"SELECT {_COLUMNS} FROM fabric WHERE name = $1", name))


async def list_all(db: Executor) -> list[Fabric]:
    return [_fabric(r) for r in await db.fetch(f"SELECT {_COLUMNS} FROM fabric ORDER BY name")]


async def for_installation(db: Executor, installation_id: int | None) -> list[Fabric]:
    """The fabrics reached through one installation (None: those whose installation is not known)."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM fabric WHERE installation_id IS NOT DISTINCT FROM $1 ORDER BY id", installation_id
    )
    return [_fabric(r) for r in rows]


async def installations_in_use(db: Executor) -> list[int | None]:
    """Every installation some fabric is reached through (None: a fabric whose is not known)."""
    return [r["installation_id"] for r in await db.fetch("SELECT DISTINCT installation_id FROM fabric")]


async def for_repository(db: Executor, repository: str) -> list[Fabric]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM fabric WHERE lower(repository) = lower($1) ORDER BY id", repository)
    return [_fabric(r) for r in rows]


async def lock(conn: Connection, fabric_id: int) -> Fabric | None:
    """Lock the fabric row for the rest of the transaction (one writer of a fabric's state)."""
    return _fabric(await conn.fetchrow(f"SELECT {_COLUMNS} FROM fabric WHERE id = $1 FOR UPDATE", fabric_id))


async def set_ingested(db: Executor, fabric_id: int, sha: str) -> None:
    await db.execute(
        "UPDATE fabric SET last_ingested_sha = $2, last_ingested_at = now(), updated_at = now(), "
        "connection_status = 'connected', status_detail = NULL WHERE id = $1",
        fabric_id,
        sha,
    )


async def set_validated(
    db: Executor, fabric_id: int, sha: str, conclusion: str | None, failures: int, url: str | None
) -> None:
    """The branch's latest validate check run: its commit, conclusion, failures and page."""
    await db.execute(
        "UPDATE fabric SET validate_sha = $2, validate_conclusion = $3, validate_failures = $4, validate_url = $5, "
        "validated_at = now() WHERE id = $1",
        fabric_id,
        sha,
        conclusion,
        failures,
        url,
    )


async def set_connection(db: Executor, fabric_id: int, status: str, detail: str | None = None) -> None:
    await db.execute(
        "UPDATE fabric SET connection_status = $2, status_detail = $3, updated_at = now() WHERE id = $1",
        fabric_id,
        status,
        detail,
    )


async def set_branch_etag(db: Executor, fabric_id: int, etag: str | None) -> None:
    await db.execute("UPDATE fabric SET branch_etag = $2 WHERE id = $1", fabric_id, etag)
