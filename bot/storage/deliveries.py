"""Webhook deliveries: stored as received, each with its job, before GitHub gets its 202."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import asyncpg

from bot.storage.jobs import CHANNEL

Executor = asyncpg.Connection | asyncpg.Pool


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
# deliveries, a 'webhook' job for each new one that something handles, and a NOTIFY that
# reaches listeners when it commits. A redelivery hits ON CONFLICT and gets no second job.
# Jobs are inserted in batch order, so their ids follow the order deliveries arrived in.
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
), queued AS (
    INSERT INTO job (kind, ordering_key, delivery_id)
    SELECT 'webhook', i.ordering_key, i.delivery_id
    FROM incoming i JOIN stored s USING (delivery_id)
    WHERE i.ordering_key IS NOT NULL
    ORDER BY i.n
    RETURNING id
)
SELECT delivery_id FROM stored
UNION ALL
SELECT NULL FROM (SELECT pg_notify($8, '') FROM queued LIMIT 1) AS woke
"""


async def insert_batch(db: Executor, deliveries: Sequence[NewDelivery]) -> set[str]:
    """Store deliveries (ids unique within the batch) and queue their jobs atomically.
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
    )
    return {r["delivery_id"] for r in rows if r["delivery_id"] is not None}


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
