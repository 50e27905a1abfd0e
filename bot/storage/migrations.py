"""Applies the numbered SQL files in `sql/` in order, each in its own transaction.

Safe to run twice (applied files are recorded with a checksum) and safe when two processes run
it at once (a session advisory lock serialises them; the second finds nothing left to do).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from bot.storage import Connection

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
_LOCK_KEY = 0x686E_7067_6974  # "hnpgit": one advisory lock for migrations
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(sql_dir: Path = SQL_DIR) -> list[Migration]:
    found = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_words.sql")
        found.append(Migration(int(match.group(1)), path.name, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a number")
    return found


_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migration (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""


async def applied(conn: Connection) -> dict[int, str]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migration') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT version, checksum FROM schema_migration")
    return {r["version"]: r["checksum"] for r in rows}


async def pending(conn: Connection, sql_dir: Path = SQL_DIR) -> list[Migration]:
    """Migrations not yet applied; raises MigrationError if an applied file was changed."""
    done = await applied(conn)
    todo = []
    for migration in discover(sql_dir):
        checksum = done.get(migration.version)
        if checksum is None:
            todo.append(migration)
        elif checksum != migration.checksum:
            raise MigrationError(f"{migration.name} was changed after it was applied")
    return todo


async def migrate(conn: Connection, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply what is pending; return the names applied (empty when up to date)."""
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_CREATE_LEDGER)
        names = []
        for migration in await pending(conn, sql_dir):
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migration (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            names.append(migration.name)
        return names
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
