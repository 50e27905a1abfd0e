"""The schema keeps the domain honest: bad rows are refused by the database itself."""

from datetime import UTC

import asyncpg
import pytest

SHA = "a" * 40


async def make_fabric(conn, name="fab-1", **fields):
    columns = {"name": name, "repository": "acme/fabric", "directory": "fabric", "branch": "main", **fields}
    keys = ", ".join(columns)
    params = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return await conn.fetchval(f"INSERT INTO fabric ({keys}) VALUES ({params}) RETURNING id", *columns.values())


async def make_resource(conn, fabric_id, **fields):
    columns = {
        "fabric_id": fabric_id,
        "kind": "VPC",
        "name": "vpc-1",
        "desired_spec": {"subnets": {}},
        "desired_sha": SHA,
        **fields,
    }
    keys = ", ".join(columns)
    params = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return await conn.fetchval(f"INSERT INTO resource ({keys}) VALUES ({params}) RETURNING id", *columns.values())


async def test_a_valid_fabric_and_resource_are_accepted(pool):
    async with pool.acquire() as conn:
        fabric_id = await make_fabric(conn)
        resource_id = await make_resource(conn, fabric_id)
        row = await conn.fetchrow("SELECT * FROM resource WHERE id = $1", resource_id)
        assert row["namespace"] == "default" and row["state"] == "in_sync"
        assert row["desired_spec"] == {"subnets": {}}  # JSONB comes back as Python data


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "Bad_Name"},
        {"repository": "not-a-repo"},
        {"directory": "../escape"},
        {"directory": "/abs"},
        {"directory": "a/../../b"},
        {"branch": "bad..branch"},
        {"branch": ""},
        {"last_ingested_sha": "xyz"},
        {"connection_status": "sleepy"},
    ],
)
async def test_bad_fabric_rows_are_refused(pool, fields):
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await make_fabric(conn, **fields)


async def test_fabric_names_are_unique(pool):
    async with pool.acquire() as conn:
        await make_fabric(conn)
        with pytest.raises(asyncpg.UniqueViolationError):
            await make_fabric(conn)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "Deployment"},
        {"name": "UPPER"},
        {"name": "../../.github/workflows/x"},
        {"state": "happy"},
        {"draft_delete": True, "draft_spec": {"a": 1}, "drafted_at": "2026-01-01T00:00:00Z"},
        {"draft_spec": {"a": 1}},  # a draft without its time
        {"state": "draft"},  # draft state without a draft
        {"state": "in_sync", "draft_spec": {"a": 1}, "drafted_at": "2026-01-01T00:00:00Z"},
        {"file_path": "a.yaml"},  # a file without a document index
        {"document_index": -1, "file_path": "a.yaml"},
        {"desired_sha": None},  # a desired spec must say which commit it came from
    ],
)
async def test_bad_resource_rows_are_refused(pool, fields):
    async with pool.acquire() as conn:
        fabric_id = await make_fabric(conn)
        for key in ("drafted_at",):
            if key in fields:
                from datetime import datetime

                fields[key] = datetime(2026, 1, 1, tzinfo=UTC)
        with pytest.raises(asyncpg.IntegrityConstraintViolationError):
            await make_resource(conn, fabric_id, **fields)


async def test_one_resource_per_fabric_kind_namespace_name(pool):
    async with pool.acquire() as conn:
        fabric_id = await make_fabric(conn)
        await make_resource(conn, fabric_id)
        await make_resource(conn, fabric_id, kind="VPCAttachment")  # same name, other kind: fine
        with pytest.raises(asyncpg.UniqueViolationError):
            await make_resource(conn, fabric_id)


async def test_operations_conflicts_deliveries_and_jobs_keep_their_rules(pool):
    async with pool.acquire() as conn:
        fabric_id = await make_fabric(conn)
        resource_id = await make_resource(conn, fabric_id)
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("INSERT INTO sync_operation (fabric_id, direction) VALUES ($1, 'sideways')", fabric_id)
        with pytest.raises(asyncpg.CheckViolationError):  # finished without a time
            await conn.execute(
                "INSERT INTO sync_operation (fabric_id, direction, status) VALUES ($1, 'gui_to_github', 'completed')",
                fabric_id,
            )
        with pytest.raises(asyncpg.CheckViolationError):  # failed without a reason
            await conn.execute(
                "INSERT INTO sync_operation (fabric_id, direction, status, completed_at) "
                "VALUES ($1, 'gui_to_github', 'failed', now())",
                fabric_id,
            )
        op = await conn.fetchval(
            "INSERT INTO sync_operation (fabric_id, direction) VALUES ($1, 'bidirectional') RETURNING id", fabric_id
        )
        assert op is not None

        insert_conflict = (
            "INSERT INTO conflict (fabric_id, resource_id, operation_id, type, severity, field_path, message)"
            " VALUES ($1, $2, $3, 'concurrent_modification', 'high', 'spec.vlan', 'both changed')"
        )
        await conn.execute(insert_conflict, fabric_id, resource_id, op)
        with pytest.raises(asyncpg.UniqueViolationError):  # the same open conflict once
            await conn.execute(insert_conflict, fabric_id, resource_id, op)
        with pytest.raises(asyncpg.CheckViolationError):  # resolved needs a resolution
            await conn.execute("UPDATE conflict SET status = 'resolved'")

        await conn.execute("INSERT INTO webhook_delivery (delivery_id, event, body) VALUES ('d-1', 'push', '\\x7b7d')")
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO webhook_delivery (delivery_id, event, body) VALUES ('d-1', 'push', '\\x7b7d')"
            )
        with pytest.raises(asyncpg.CheckViolationError):  # running needs a lease
            await conn.execute("INSERT INTO job (kind, ordering_key, status) VALUES ('webhook', 'k', 'running')")
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO job (kind, ordering_key, attempts, max_attempts) VALUES ('webhook', 'k', 9, 8)"
            )


async def test_one_open_pull_request_per_branch(pool):
    async with pool.acquire() as conn:
        fabric_id = await make_fabric(conn)
        await conn.execute(
            "INSERT INTO pull_request (fabric_id, number, branch) VALUES ($1, 1, 'hnp-sync/a')", fabric_id
        )
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO pull_request (fabric_id, number, branch) VALUES ($1, 2, 'hnp-sync/a')", fabric_id
            )
        await conn.execute("UPDATE pull_request SET state = 'merged', closed_at = now()")
        await conn.execute(
            "INSERT INTO pull_request (fabric_id, number, branch) VALUES ($1, 3, 'hnp-sync/a')", fabric_id
        )
