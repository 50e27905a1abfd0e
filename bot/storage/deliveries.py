"""Webhook deliveries: stored as received, each with its inbox row, before GitHub gets its 202;
the inbox becomes jobs afterwards (dispatch_inbox)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from bot.storage import Connection, Executor, returned_row
from bot.storage.jobs import CHANNEL


@dataclass(frozen=True)
class NewDelivery:
    delivery_id: str
    event: str
    action: str | None
    installation_id: int | None
    repository: str | None
    body: bytes
    ordering_key: str | None  # None: nothing handles this event; stored as 'ignored', no job


# One statement (so one implicit transaction and one round trip) for a whole batch: the
# deliveries, an inbox row for each new one that something handles, and a NOTIFY that reaches
# listeners when it commits. A redelivery hits ON CONFLICT and gets no second inbox row.
# Inbox rows are inserted in batch order, so their seq follows the order deliveries arrived in.
_INSERT_BATCH = """
WITH incoming AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bytea[],
                         $7::text[]) WITH ORDINALITY
             AS t(delivery_id, event, action, installation_id, repository, body, ordering_key, n)
), stored AS (
    INSERT INTO webhook_delivery (delivery_id, event, action, installation_id, repository, body,
                                  outcome, processed_at, detail)
    SELECT delivery_id, event, action, installation_id, repository, body,
           CASE WHEN ordering_key IS NULL THEN 'ignored' ELSE 'pending' END,
           CASE WHEN ordering_key IS NULL THEN now() END,
           CASE WHEN ordering_key IS NULL THEN 'no handler for this event' END
    FROM incoming ORDER BY n
    ON CONFLICT (delivery_id) DO NOTHING
    RETURNING delivery_id
), inboxed AS (
    INSERT INTO delivery_inbox (delivery_id, ordering_key)
    SELECT i.delivery_id, i.ordering_key
    FROM incoming i JOIN stored s USING (delivery_id)
    WHERE i.ordering_key IS NOT NULL
    ORDER BY i.n
    RETURNING seq
)
SELECT delivery_id FROM stored
UNION ALL
SELECT NULL FROM (SELECT pg_notify($8, $9) FROM inboxed LIMIT 1) AS woke
"""
INBOX_NOTICE = "inbox"  # the NOTIFY payload that says deliveries wait in the inbox


async def insert_batch(db: Executor, deliveries: Sequence[NewDelivery]) -> set[str]:
    """Store deliveries (ids unique within the batch) and their inbox rows atomically.
    Returns the ids that were new; the others were already stored (redeliveries)."""
    rows = await db.fetch(
        _INSERT_BATCH,
        [d.delivery_id for d in deliveries],
        [d.event for d in deliveries],
        [d.action for d in deliveries],
        [d.installation_id for d in deliveries],
        [d.repository for d in deliveries],
        [d.body for d in deliveries],
        [d.ordering_key for d in deliveries],
        CHANNEL,
        INBOX_NOTICE,
    )
    return {r["delivery_id"] for r in rows if r["delivery_id"] is not None}


# Inbox rows become 'webhook' jobs in seq order: the oldest `limit` rows are deleted and their
# jobs inserted by one statement (so atomically). Dispatchers in several processes take turns
# under a transaction-scoped advisory lock, and the statement runs after the lock is granted,
# so each one sees what the previous one committed and job ids keep the arrival order.
# A delivery deleted meanwhile (retention) gets no job.
_DISPATCH_LOCK = 0x686E_6962  # "hnib"; the one-bigint advisory key space, distinct from migrations'
_DISPATCH = """
WITH taken AS (
    DELETE FROM delivery_inbox
    WHERE seq IN (SELECT seq FROM delivery_inbox ORDER BY seq LIMIT $1)
    RETURNING seq, delivery_id, ordering_key
), queued AS (
    INSERT INTO job (kind, ordering_key, delivery_id)
    SELECT 'webhook', t.ordering_key, t.delivery_id
    FROM taken t
    WHERE EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.delivery_id = t.delivery_id)
    ORDER BY t.seq
    RETURNING id
)
SELECT (SELECT count(*) FROM taken) AS taken,
       (SELECT count(*) FROM (SELECT pg_notify($2, '') FROM queued LIMIT 1) AS woke) AS notified
"""


async def dispatch_inbox(conn: Connection, *, limit: int = 2000) -> int:
    """Turn up to `limit` inbox rows into 'webhook' jobs; how many rows were taken. A NOTIFY
    wakes the workers of every process when jobs were queued."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _DISPATCH_LOCK)
        row = returned_row(await conn.fetchrow(_DISPATCH, limit, CHANNEL))
    taken: int = row["taken"]
    return taken


async def inbox_depth(db: Executor) -> int:
    """Acknowledged deliveries whose job is not created yet."""
    return await db.fetchval("SELECT count(*) FROM delivery_inbox")


async def get(db: Executor, delivery_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT delivery_id, event, action, installation_id, repository, body, received_at, "
        "processed_at, outcome, detail FROM webhook_delivery WHERE delivery_id = $1",
        delivery_id,
    )


async def recent(db: Executor, *, limit: int = 50) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT delivery_id, event, action, repository, received_at, processed_at, outcome, detail "
        "FROM webhook_delivery ORDER BY received_at DESC LIMIT $1",
        limit,
    )
    return [dict(r) for r in rows]
