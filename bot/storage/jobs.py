"""The job queue table: plain SQL for enqueue, take, finish, retry, reclaim.

A job is taken only when it heads its ordering_key: no other job of the key is running and
no earlier one still waits. That makes the jobs of one key (one fabric, one repository) run
one at a time in id order, while different keys run side by side.

Which runnable job goes first: the lane that had the fewest jobs lately. A job's lane is its
installation (sql/020). Each lane has a place in line, `turn_at`, which moves on by
TURN_SECONDS for each job taken from it; a worker takes the oldest runnable job of the lane
whose turn comes first. So during a burst an installation that sends a few pushes goes ahead of
those sending many: its push waits for a free worker, not behind another's backlog, and lanes
with a backlog take turns. Jobs are counted, not timed: an ingest of a fabric pushed once costs
its lane what a delivery does, so a quiet installation is not held back for having had no push
to coalesce with. The past is forgotten: a place is never kept more than CREDIT seconds behind
now (an idle lane saves no credit) nor more than MAX_LEAD ahead. A lane is paused while its
installation's GitHub rate limit is spent (pause_lane).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from bot.storage import Connection, Executor

CHANNEL = "hnp_jobs"  # LISTEN/NOTIFY channel that wakes workers in every process
# Namespace of the per-key advisory locks that serialise takers of one ordering_key (the
# two-int advisory key space never meets the one-bigint space the migrations lock uses).
_KEY_LOCK_SPACE = 0x686E_6A6F  # "hnjo"
# A lane's place in line (see above): each job taken moves it on by TURN_SECONDS; it is kept
# between CREDIT behind and MAX_LEAD ahead of now (a burst of 120 jobs is forgotten in 2 minutes).
TURN_SECONDS = 1.0
CREDIT = 10.0
MAX_LEAD = 120.0


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    ordering_key: str
    fabric_id: int | None
    delivery_id: str | None
    operation_id: uuid.UUID | None
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    created_at: datetime
    installation_id: int | None = None  # the lane (None: no installation)


_JOB_COLUMNS = (
    "id, kind, ordering_key, fabric_id, delivery_id, operation_id, payload, attempts, max_attempts, created_at, "
    "installation_id"
)


def _job(row: asyncpg.Record) -> Job:
    return Job(**dict(row))


async def insert(
    db: Executor,
    *,
    kind: str,
    ordering_key: str,
    payload: dict[str, Any],
    fabric_id: int | None,
    delivery_id: str | None,
    operation_id: uuid.UUID | None,
    max_attempts: int,
    run_after_seconds: float,
    dedupe_key: str | None,
    installation_id: int | None = None,
) -> int | None:
    """Queue a job and notify workers; None when an unfinished job has the same dedupe_key.
    `installation_id` names the job's lane when neither its fabric nor its delivery says."""
    return await db.fetchval(
        """
        WITH j AS (
            INSERT INTO job (kind, ordering_key, payload, fabric_id, delivery_id, operation_id,
                             max_attempts, run_after, dedupe_key, installation_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8 * interval '1 second', $9, $11)
            ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running')
            DO NOTHING
            RETURNING id
        )
        SELECT id FROM j, pg_notify($10, '')
        """,
        kind,
        ordering_key,
        payload,
        fabric_id,
        delivery_id,
        operation_id,
        max_attempts,
        run_after_seconds,
        dedupe_key,
        CHANNEL,
        installation_id,
    )


async def insert_or_coalesce(
    db: Executor,
    *,
    kind: str,
    ordering_key: str,
    payload: dict[str, Any],
    fabric_id: int | None,
    max_attempts: int,
) -> int:
    """Queue a job, unless a job of the same kind and key is still queued (not yet running):
    that one then stands for both. It takes this payload, is due now (a retry's backoff is
    over: this is new work) and gets its attempts back; its place in the key's order stays."""
    return await db.fetchval(
        """
        WITH waiting AS (
            UPDATE job SET payload = $3, run_after = least(run_after, now()), attempts = 0
            WHERE id = (SELECT id FROM job WHERE kind = $1 AND ordering_key = $2 AND status = 'queued'
                        ORDER BY id LIMIT 1 FOR UPDATE)
            RETURNING id
        ), fresh AS (
            INSERT INTO job (kind, ordering_key, payload, fabric_id, max_attempts)
            SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM waiting)
            RETURNING id
        )
        SELECT id FROM (SELECT id FROM waiting UNION ALL SELECT id FROM fresh) AS j, pg_notify($6, '')
        """,
        kind,
        ordering_key,
        payload,
        fabric_id,
        max_attempts,
        CHANNEL,
    )


async def schedule_periodic(db: Executor, kind: str, every_seconds: float) -> int | None:
    """Queue a `kind` job unless one was queued in the last `every_seconds` (by any process)
    or one is still unfinished. Returns the new job's id, or None."""
    return await db.fetchval(
        """
        WITH j AS (
            INSERT INTO job (kind, ordering_key, dedupe_key)
            SELECT $1, $1, $1
            WHERE NOT EXISTS (SELECT 1 FROM job WHERE kind = $1
                              AND created_at > now() - $2 * interval '1 second')
            ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running')
            DO NOTHING
            RETURNING id
        )
        SELECT id FROM j, pg_notify($3, '')
        """,
        kind,
        every_seconds,
        CHANNEL,
    )


# Candidate: in each unpaused lane, the oldest job that is queued, due and heads its key; of
# those, the one of the lane whose turn comes first. SKIP LOCKED lets other takers pass over it.
# The walk of one lane uses job_queued_by_lane and stops at its first candidate.
_PICK = f"""
SELECT {", ".join("j." + c for c in _JOB_COLUMNS.split(", "))} FROM job_lane l
CROSS JOIN LATERAL (
    SELECT {_JOB_COLUMNS} FROM job j
    WHERE coalesce(j.installation_id, 0) = l.lane AND j.status = 'queued' AND j.run_after <= now()
      AND NOT EXISTS (
          SELECT 1 FROM job e
          WHERE e.ordering_key = j.ordering_key AND e.id <> j.id
            AND (e.status = 'running' OR (e.status = 'queued' AND e.id < j.id)))
    ORDER BY j.id
    LIMIT 1
    FOR UPDATE OF j SKIP LOCKED
) j
WHERE l.paused_until IS NULL OR l.paused_until <= now()
ORDER BY l.turn_at, j.id
LIMIT 1
"""

# Leasing the picked job, in the statement after the pick's advisory lock on its key (so with
# a snapshot taken after any other taker of the key committed): still the head of its key, it is
# leased, and its lane's turn is taken. No row when another job of the key got there first.
_LEASE = f"""
WITH leased AS (
    UPDATE job SET status = 'running', attempts = attempts + 1, leased_by = $2,
           lease_expires_at = now() + $3 * interval '1 second'
    WHERE id = $1 AND NOT EXISTS (
        SELECT 1 FROM job e
        WHERE e.ordering_key = $4 AND e.id <> $1
          AND (e.status = 'running' OR (e.status = 'queued' AND e.id < $1)))
    RETURNING {_JOB_COLUMNS}
), turn AS (
    UPDATE job_lane
    SET turn_at = least(greatest(turn_at, clock_timestamp() - $8 * interval '1 second') + $6 * interval '1 second',
                        clock_timestamp() + $7 * interval '1 second')
    WHERE lane = $5 AND EXISTS (SELECT 1 FROM leased)
)
SELECT * FROM leased
"""


async def take(conn: Connection, *, worker: str, lease_seconds: float) -> Job | None:
    """Lease the next runnable job to `worker`, or None when there is none."""
    for _ in range(5):
        async with conn.transaction():
            # The pick's snapshot may predate another taker's commit of a job with the same key
            # (e.g. a job that committed late with a lower id). Takers of one key are serialised
            # by an advisory lock taken with the pick, and the lease looks again afterwards, so
            # two jobs of one key never run at once.
            row = await conn.fetchrow(
                f"SELECT p.id, p.ordering_key, p.installation_id, pg_advisory_xact_lock($1, hashtext(p.ordering_key)) "
                f"FROM ({_PICK}) AS p",
                _KEY_LOCK_SPACE,
            )
            if row is None:
                return None
            leased = await conn.fetchrow(
                _LEASE,
                row["id"],
                worker,
                lease_seconds,
                row["ordering_key"],
                row["installation_id"] or 0,
                TURN_SECONDS,
                MAX_LEAD,
                CREDIT,
            )
            if leased is None:
                continue  # another job of the key got there first, or the row went away: pick again
            return _job(leased)
    return None


async def pause_lane(db: Executor, installation_id: int, seconds: float) -> None:
    """The installation's GitHub rate limit is spent: none of its jobs is taken for `seconds`
    (by any process); other installations' jobs are not held up."""
    await db.execute(
        """
        INSERT INTO job_lane (lane, paused_until) VALUES ($1, now() + $2 * interval '1 second')
        ON CONFLICT (lane) DO UPDATE SET paused_until = greatest(job_lane.paused_until, excluded.paused_until)
        """,
        installation_id,
        seconds,
    )


async def renew_lease(db: Executor, job_id: int, *, worker: str, lease_seconds: float) -> bool:
    """Extend the lease; False when the job is no longer ours (reclaimed after expiry)."""
    status = await db.execute(
        "UPDATE job SET lease_expires_at = now() + $3 * interval '1 second' "
        "WHERE id = $1 AND leased_by = $2 AND status = 'running'",
        job_id,
        worker,
        lease_seconds,
    )
    return status == "UPDATE 1"


async def finish(db: Executor, job: Job, *, worker: str) -> bool:
    """Mark the job done and its delivery processed, in one statement; jobs waiting behind it on
    its key may run now (NOTIFY)."""
    done = await db.fetchval(
        """
        WITH done AS (
            UPDATE job SET status = 'done', finished_at = now(), lease_expires_at = NULL, last_error = NULL
            WHERE id = $1 AND leased_by = $2 AND status = 'running'
            RETURNING id
        ), delivered AS (
            UPDATE webhook_delivery SET outcome = 'processed', processed_at = now(), detail = NULL
            WHERE delivery_id = $3 AND outcome = 'pending' AND EXISTS (SELECT 1 FROM done)
        )
        SELECT count(*) FROM (SELECT pg_notify($4, '') FROM done) AS woke
        """,
        job.id,
        worker,
        job.delivery_id,
        CHANNEL,
    )
    return done == 1


async def retry(
    db: Executor, job: Job, *, worker: str, delay_seconds: float, error: str, count_attempt: bool = True
) -> bool:
    """Put the job back in the queue to run after delay_seconds."""
    status = await db.execute(
        """
        UPDATE job SET status = 'queued', lease_expires_at = NULL, leased_by = NULL,
               run_after = now() + $3 * interval '1 second', last_error = $4,
               attempts = CASE WHEN $5 THEN attempts ELSE greatest(attempts - 1, 0) END
        WHERE id = $1 AND leased_by = $2 AND status = 'running'
        """,
        job.id,
        worker,
        delay_seconds,
        error,
        count_attempt,
    )
    if job.delivery_id is not None and count_attempt:
        await db.execute(
            "UPDATE webhook_delivery SET detail = $2 WHERE delivery_id = $1 AND outcome = 'pending'",
            job.delivery_id,
            f"attempt {job.attempts} failed: {error}",
        )
    return status == "UPDATE 1"


async def bury(conn: Connection, job: Job, *, worker: str, error: str) -> bool:
    """The job used up its attempts: mark it (and its delivery) dead."""
    async with conn.transaction():
        status = await conn.execute(
            "UPDATE job SET status = 'dead', finished_at = now(), lease_expires_at = NULL, "
            "last_error = $3 WHERE id = $1 AND leased_by = $2 AND status = 'running'",
            job.id,
            worker,
            error,
        )
        if status != "UPDATE 1":
            return False
        if job.delivery_id is not None:
            await conn.execute(
                "UPDATE webhook_delivery SET outcome = 'dead', processed_at = now(), detail = $2 "
                "WHERE delivery_id = $1 AND outcome = 'pending'",
                job.delivery_id,
                error,
            )
        await conn.execute("SELECT pg_notify($1, '')", CHANNEL)
    return True


async def reclaim_expired(conn: Connection) -> list[asyncpg.Record]:
    """Jobs whose worker vanished (lease expired): back to the queue, or dead when out of
    attempts. Returns (id, kind, delivery_id, status) of each reclaimed job."""
    async with conn.transaction():
        rows = await conn.fetch(
            """
            UPDATE job SET
                status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
                finished_at = CASE WHEN attempts >= max_attempts THEN now() END,
                lease_expires_at = NULL,
                last_error = 'the worker ' || coalesce(leased_by, '?') || ' stopped answering (lease expired)',
                run_after = now()
            WHERE id IN (SELECT id FROM job WHERE status = 'running' AND lease_expires_at < now()
                         FOR UPDATE SKIP LOCKED)
            RETURNING id, kind, delivery_id, status, last_error
            """
        )
        dead = [r["delivery_id"] for r in rows if r["status"] == "dead" and r["delivery_id"]]
        if dead:
            await conn.execute(
                "UPDATE webhook_delivery SET outcome = 'dead', processed_at = now(), "
                "detail = 'the job ran out of attempts (lease expired)' "
                "WHERE delivery_id = ANY($1::text[]) AND outcome = 'pending'",
                dead,
            )
        if rows:
            await conn.execute("SELECT pg_notify($1, '')", CHANNEL)
    return rows


async def release(db: Executor, job: Job, *, worker: str) -> bool:
    """Shutdown interrupted the job: give it back untouched (the attempt does not count)."""
    status = await db.execute(
        "UPDATE job SET status = 'queued', lease_expires_at = NULL, leased_by = NULL, run_after = now(), "
        "attempts = greatest(attempts - 1, 0) WHERE id = $1 AND leased_by = $2 AND status = 'running'",
        job.id,
        worker,
    )
    return status == "UPDATE 1"


async def finished_since(db: Executor, kind: str, seconds: float) -> bool:
    """Whether a `kind` job finished within the last `seconds`."""
    return await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM job WHERE kind = $1 AND status = 'done' "
        "AND finished_at > now() - $2 * interval '1 second')",
        kind,
        seconds,
    )


async def list_dead(db: Executor, *, limit: int = 100) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """
        SELECT id, kind, ordering_key, fabric_id, delivery_id, operation_id, attempts, last_error,
               created_at, finished_at
        FROM job WHERE status = 'dead' ORDER BY finished_at DESC, id DESC LIMIT $1
        """,
        limit,
    )
    return [dict(r) for r in rows]


async def retrying(db: Executor, operation_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """Why an operation's job is being retried: for each operation whose unfinished job has
    failed before, {"attempt" (the one running or due next), "max_attempts", "next_try_at"
    (None while it runs), "last_error"}."""
    rows = await db.fetch(
        """
        SELECT DISTINCT ON (operation_id) operation_id, status, attempts, max_attempts, run_after, last_error
        FROM job
        WHERE operation_id = ANY($1::uuid[]) AND status IN ('queued', 'running') AND last_error IS NOT NULL
        ORDER BY operation_id, id DESC
        """,
        operation_ids,
    )
    return {
        r["operation_id"]: {
            "attempt": r["attempts"] if r["status"] == "running" else r["attempts"] + 1,
            "max_attempts": r["max_attempts"],
            "next_try_at": r["run_after"].isoformat() if r["status"] == "queued" else None,
            "last_error": r["last_error"],
        }
        for r in rows
    }


async def counts(db: Executor) -> dict[str, int]:
    rows = await db.fetch("SELECT status, count(*) AS n FROM job GROUP BY status")
    return {r["status"]: r["n"] for r in rows}


async def outstanding(db: Executor) -> int:
    """Work not finished yet: jobs queued or running, and acknowledged deliveries still in the
    inbox (not yet jobs). Zero means the bot is idle."""
    return await db.fetchval(
        "SELECT (SELECT count(*) FROM job WHERE status IN ('queued', 'running')) "
        "+ (SELECT count(*) FROM delivery_inbox)"
    )
