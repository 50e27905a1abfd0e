"""Migrations: applied in order, recorded, safe twice and safe concurrently."""

import asyncio

import asyncpg
import pytest

from bot.storage import migrations


async def test_applies_every_file_in_order_and_records_it(empty_database_url):
    conn = await asyncpg.connect(empty_database_url)
    try:
        names = await migrations.migrate(conn)
        expected = [m.name for m in migrations.discover()]
        assert names == expected and names[0].startswith("001_")
        rows = await conn.fetch("SELECT version, name FROM schema_migration ORDER BY version")
        assert [r["name"] for r in rows] == expected
        tables = {
            r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert {
            "fabric",
            "resource",
            "sync_operation",
            "conflict",
            "webhook_delivery",
            "job",
            "pull_request",
            "installation",
        } <= tables
        assert await migrations.migrate(conn) == []  # safe to run twice
        assert await migrations.pending(conn) == []
    finally:
        await conn.close()


async def test_two_processes_migrating_at_once_apply_each_file_once(empty_database_url):
    conns = [await asyncpg.connect(empty_database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrations.migrate(c) for c in conns))
        applied = [name for result in results for name in result]
        assert sorted(applied) == sorted(m.name for m in migrations.discover())
        count = await conns[0].fetchval("SELECT count(*) FROM schema_migration")
        assert count == len(migrations.discover())
    finally:
        for c in conns:
            await c.close()


async def test_a_failing_migration_leaves_nothing_half_applied(empty_database_url, tmp_path):
    (tmp_path / "001_good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "002_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    conn = await asyncpg.connect(empty_database_url)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await migrations.migrate(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('good') IS NOT NULL")
        assert not await conn.fetchval("SELECT to_regclass('half') IS NOT NULL")
        assert [m.name for m in await migrations.pending(conn, tmp_path)] == ["002_bad.sql"]
    finally:
        await conn.close()


async def test_an_applied_file_that_changed_is_refused(empty_database_url, tmp_path):
    (tmp_path / "001_one.sql").write_text("CREATE TABLE one (id int);")
    conn = await asyncpg.connect(empty_database_url)
    try:
        await migrations.migrate(conn, tmp_path)
        (tmp_path / "001_one.sql").write_text("CREATE TABLE one (id bigint);")
        with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
            await migrations.pending(conn, tmp_path)
    finally:
        await conn.close()


def test_file_names_are_checked(tmp_path):
    (tmp_path / "1_bad name.sql").write_text("")
    with pytest.raises(migrations.MigrationError):
        migrations.discover(tmp_path)
