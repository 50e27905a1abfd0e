"""Storage: plain SQL through asyncpg, one module per table family. No ORM."""

from __future__ import annotations

import asyncpg

# What a storage function runs its SQL on: the pool, or one connection (for a transaction).
Executor = asyncpg.Connection | asyncpg.Pool


def returned_row(row: asyncpg.Record | None) -> asyncpg.Record:
    """The row of a statement that always returns one (`INSERT ... RETURNING`, an aggregate)."""
    if row is None:
        raise LookupError("the statement returned no row")
    return row
