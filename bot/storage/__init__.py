"""Storage: plain SQL through asyncpg, one module per table family. No ORM."""

from __future__ import annotations

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# One connection: made directly, or acquired from the pool (the pool's proxy passes for a
# Connection at run time but is a class of its own to the type checker).
Connection = asyncpg.Connection | PoolConnectionProxy
# What a storage function runs its SQL on: the pool, or one connection (for a transaction).
Executor = Connection | asyncpg.Pool


def returned_row(row: asyncpg.Record | None) -> asyncpg.Record:
    """The row of a statement that always returns one (`INSERT ... RETURNING`, an aggregate)."""
    if row is None:
        raise LookupError("the statement returned no row")
    return row
