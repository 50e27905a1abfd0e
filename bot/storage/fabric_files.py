"""Fabric files: each YAML file of a fabric at its last ingested commit (sql/003).

What ingestion remembers between pushes: the blob sha of every file (so only changed files
are read), the resources each file names and the problems found in it (so that a check run
reports every bad document of the commit, and duplicates across files are found without
reading unchanged files again).
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from bot.core.snapshot import DocRef, FileState, Problem
from bot.storage import Connection, Executor


def _state(row: asyncpg.Record) -> FileState:
    return FileState(
        path=row["path"],
        blob_sha=row["blob_sha"],
        documents=tuple(DocRef.from_json(d) for d in row["documents"]),
        problems=tuple(Problem.from_json(p) for p in row["problems"]),
        unidentified=row["unidentified"],
        document_count=row["document_count"],
    )


async def load(db: Executor, fabric_id: int) -> dict[str, FileState]:
    """Every file of the fabric as last ingested, by path."""
    rows = await db.fetch(
        "SELECT path, blob_sha, documents, problems, unidentified, document_count FROM fabric_file "
        "WHERE fabric_id = $1",
        fabric_id,
    )
    return {row["path"]: _state(row) for row in rows}


async def blob_shas(db: Executor, fabric_id: int) -> dict[str, str]:
    """path -> blob sha of every file as last ingested (enough to tell what changed)."""
    rows = await db.fetch("SELECT path, blob_sha FROM fabric_file WHERE fabric_id = $1", fabric_id)
    return {row["path"]: row["blob_sha"] for row in rows}


async def problems(db: Executor, fabric_id: int) -> dict[str, list[Problem]]:
    """The problems of the fabric's files at its last ingested commit (errors and warnings), by path."""
    rows = await db.fetch(
        "SELECT path, problems FROM fabric_file WHERE fabric_id = $1 AND problems <> '[]'::jsonb ORDER BY path",
        fabric_id,
    )
    return {row["path"]: [Problem.from_json(p) for p in row["problems"]] for row in rows}


async def error_count(db: Executor, fabric_id: int) -> int:
    return await db.fetchval("SELECT coalesce(sum(error_count), 0) FROM fabric_file WHERE fabric_id = $1", fabric_id)


async def save(
    conn: Connection, fabric_id: int, files: Iterable[FileState], removed: Iterable[str], read_sha: str
) -> None:
    """Write the given files' states and forget the removed paths, in the caller's transaction."""
    removed = list(removed)
    if removed:
        await conn.execute(
            "DELETE FROM fabric_file WHERE fabric_id = $1 AND path = ANY($2::text[])", fabric_id, removed
        )
    rows = [
        {
            "path": f.path,
            "blob_sha": f.blob_sha,
            "documents": [d.to_json() for d in f.documents],
            "problems": [p.to_json() for p in f.problems],
            "errors": len(f.errors),
            "unidentified": f.unidentified,
            "count": f.document_count,
        }
        for f in files
    ]
    if not rows:
        return
    await conn.execute(
        """INSERT INTO fabric_file (fabric_id, path, blob_sha, documents, document_count, problems,
                                    error_count, unidentified, read_sha)
           SELECT $1, f.path, f.blob_sha, f.documents, f.count, f.problems, f.errors, f.unidentified, $3
           FROM jsonb_to_recordset($2::jsonb) AS f(path text, blob_sha text, documents jsonb, count int,
                                                   problems jsonb, errors int, unidentified boolean)
           ON CONFLICT (fabric_id, path) DO UPDATE SET
               blob_sha = EXCLUDED.blob_sha, documents = EXCLUDED.documents,
               document_count = EXCLUDED.document_count, problems = EXCLUDED.problems,
               error_count = EXCLUDED.error_count, unidentified = EXCLUDED.unidentified,
               read_sha = CASE WHEN fabric_file.blob_sha = EXCLUDED.blob_sha THEN fabric_file.read_sha
                               ELSE EXCLUDED.read_sha END,
               updated_at = now()""",
        fabric_id,
        rows,
        read_sha,
    )


async def document_line(db: Executor, fabric_id: int, path: str, document_index: int | None) -> int | None:
    """The line of a document's metadata.name in a file, as the last ingest saw it."""
    if document_index is None:
        return None
    return await db.fetchval(
        "SELECT (d ->> 1)::int FROM fabric_file, jsonb_array_elements(documents) AS d "
        "WHERE fabric_id = $1 AND path = $2 AND (d ->> 0)::int = $3 LIMIT 1",
        fabric_id,
        path,
        document_index,
    )
