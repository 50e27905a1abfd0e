"""Seeding a fabric's resources straight into the database, as ingest and the draft API would
leave them, so that the conflict check can be tested on its own."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bot.storage import fabrics

SHA_BASE = "b" * 40
SHA_GIT = "c" * 40
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def vpc(vlan: int = 1001, *, subnets: dict | None = None, **extra: Any) -> dict:
    spec = {
        "subnets": subnets
        if subnets is not None
        else {"default": {"subnet": "10.0.1.0/24", "gateway": "10.0.1.1", "vlan": vlan}}
    }
    spec.update(extra)
    return spec


def with_(spec: dict, **changes: Any) -> dict:
    """A copy of a VPC spec with its default subnet's fields changed."""
    out = copy.deepcopy(spec)
    out["subnets"]["default"].update(changes)
    return out


async def make_fabric(pool: asyncpg.Pool, name: str = "lab") -> int:
    fabric = await fabrics.create(pool, name=name, repository="acme/fabric", directory="fabric", branch="main")
    return fabric.id


async def put(
    pool: asyncpg.Pool | asyncpg.Connection,
    fabric_id: int,
    kind: str,
    name: str,
    *,
    desired: Any = None,
    draft: Any = None,
    base: Any = "same",
    delete: bool = False,
    file_path: str | None = "auto",
    desired_at: datetime | None = T0,
    drafted_at: datetime | None = None,
    state: str | None = None,
    pull_request_id: int | None = None,
    actual: Any = None,
) -> int:
    """One resource row. `base="same"` makes the draft's base the desired spec (Git did not
    move); pass the spec the draft started from otherwise (None: a new resource)."""
    has_draft = draft is not None or delete
    if base == "same":
        base = desired if has_draft else None
    if file_path == "auto":
        file_path = f"fabric/{kind.lower()}s.yaml" if desired is not None else None
    if state is None:
        state = ("pending_pr" if pull_request_id else "draft") if has_draft else "in_sync"
    return await pool.fetchval(
        """INSERT INTO resource (fabric_id, kind, name, desired_spec, desired_sha, desired_at, draft_spec,
               draft_delete, drafted_at, drafted_by, draft_base_spec, draft_base_sha, base_moved, file_path,
               document_index, state, pull_request_id, actual_spec, actual_reported_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
           RETURNING id""",
        fabric_id,
        kind,
        name,
        desired,
        SHA_GIT if desired is not None else None,
        desired_at if desired is not None else None,
        draft,
        delete,
        (drafted_at or T0 + timedelta(hours=1)) if has_draft else None,
        "alice" if has_draft else None,
        base if has_draft else None,
        (SHA_BASE if base is not None else None) if has_draft else None,
        has_draft and base != desired,
        file_path,
        0 if file_path else None,
        state,
        pull_request_id,
        actual,
        T0 if actual is not None else None,
    )


async def row(pool: asyncpg.Pool, resource_id: int) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM resource WHERE id = $1", resource_id)


async def conflicts(pool: asyncpg.Pool, fabric_id: int, status: str | None = None) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM conflict WHERE fabric_id = $1 AND ($2::text IS NULL OR status = $2) ORDER BY id",
        fabric_id,
        status,
    )
