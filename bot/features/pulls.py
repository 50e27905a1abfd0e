"""The bot's pull requests on GitHub: what happens when one is merged or closed, and when a
person pushes to its branch.

- merged: the pull request row is marked merged and its resources leave pending_pr. The
  merge commit arrives as a push to the fabric's branch; its ingest makes desired equal to the
  drafts and clears them (issue 5's rule), whichever of the two events comes first.
- closed unmerged: its resources go back to state draft (pull_request_id cleared) and its
  branch is deleted.
- empty: its branch no longer differs from its base (every change resolved in Git's favour,
  or already on the base): the bot closes it with a short comment and deletes its branch, and
  its resources' drafts, each equal to desired now, are cleared (`close_empty`). Every path that
  ends a pull request releases its resources, so no resource is pending_pr without an open one.
- a push to an open bot branch by someone else (the head is not the commit the bot made):
  the resources whose documents that push changed become the new drafts, still carried by the
  pull request (their author is the pusher); a document the push removed becomes a deletion.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from gidgethub import routing, sansio

from bot.core import documents, render
from bot.core.kinds import KINDS
from bot.core.publish_plan import FileState, read_tarball
from bot.core.validation import validate_body
from bot.github.client import CallCounter, Client
from bot.github.repository import Repository
from bot.jobs.queue import JobContext
from bot.storage import drafts as draft_store
from bot.storage import fabrics
from bot.storage import pulls as pull_store
from bot.storage.fabrics import Fabric
from bot.storage.pulls import PullRequest

log = logging.getLogger(__name__)

router = routing.Router()
SYNC_BRANCH_PREFIX = "hnp-sync/"


def _installation_client(
    ctx: JobContext, event_data: dict[str, Any], counter: CallCounter | None = None
) -> Client | None:
    installation = (event_data.get("installation") or {}).get("id")
    if ctx.github is None or installation is None:
        return None
    return ctx.github.installation(int(installation), counter)


@router.register("pull_request", action="closed")
async def pull_request_closed(event: sansio.Event, ctx: JobContext) -> None:
    pr = event.data["pull_request"]
    repository = event.data["repository"]["full_name"]
    for fabric in await fabrics.for_repository(ctx.pool, repository):
        row = await pull_store.by_number(ctx.pool, fabric.id, pr["number"])
        if row is None:
            row = await pull_store.by_branch(ctx.pool, fabric.id, pr["head"]["ref"])
        if row is None or row.state != "open":
            continue
        await closed(ctx.pool, _installation_client(ctx, event.data), fabric, row, merged=bool(pr.get("merged")))


async def closed(pool: asyncpg.Pool, gh: Client | None, fabric: Fabric, row: PullRequest, *, merged: bool) -> None:
    """Record a bot pull request's end; unmerged, its branch is deleted."""
    async with pool.acquire() as conn, conn.transaction():
        if not await pull_store.close(conn, row.id, "merged" if merged else "closed"):
            return  # handled already (a redelivery)
        released = await draft_store.release_from_pull_request(conn, row.id)
    log.info(
        "pull request #%s of fabric %s %s; %d resources released",
        row.number,
        fabric.name,
        "merged" if merged else "closed",
        released,
    )
    if not merged and gh is not None:
        await Repository(gh, fabric.owner, fabric.repo).delete_branch(row.branch)


async def close_empty(pool: asyncpg.Pool, gh: Client | None, fabric: Fabric, row: PullRequest, why: str) -> int:
    """Close a bot pull request that no longer changes anything: a comment saying `why`, the
    pull request closed and its branch deleted on GitHub; its resources' drafts that desired
    now fulfils cleared and the others released. Returns the drafts cleared. Idempotent: its
    `closed` webhook, arriving later, finds it closed already."""
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM resource WHERE pull_request_id = $1", row.id)]
    repository = Repository(gh, fabric.owner, fabric.repo) if gh is not None else None
    if repository is not None and row.number is not None:
        body = f"{why}\n\nThis pull request no longer changes anything in `{fabric.branch}`, so hnp-gitops closes it."
        await repository.comment(row.number, body)
        await repository.close_pull_request(row.number)
    async with pool.acquire() as conn, conn.transaction():
        await pull_store.close(conn, row.id, "closed")
        cleared = await draft_store.clear_fulfilled(conn, ids)
        await draft_store.release_from_pull_request(conn, row.id)
    if repository is not None:
        await repository.delete_branch(row.branch)
    log.info(
        "pull request #%s of fabric %s closed: empty (%s); %d drafts cleared", row.number, fabric.name, why, cleared
    )
    return cleared


async def has_changes(pool: asyncpg.Pool, pull_request_id: int) -> bool:
    """Does any resource of the pull request still carry a draft?"""
    return bool(
        await pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM resource WHERE pull_request_id = $1 "
            "AND (draft_spec IS NOT NULL OR draft_delete))",
            pull_request_id,
        )
    )


@router.register("push")
async def push_to_sync_branch(event: sansio.Event, ctx: JobContext) -> None:
    data = event.data
    ref = data.get("ref", "")
    if not ref.startswith("refs/heads/" + SYNC_BRANCH_PREFIX) or data.get("deleted"):
        return
    branch = ref[len("refs/heads/") :]
    for fabric in await fabrics.for_repository(ctx.pool, data["repository"]["full_name"]):
        row = await pull_store.by_branch(ctx.pool, fabric.id, branch)
        if row is None or row.state != "open":
            continue  # not a branch of ours, or its pull request has ended
        if await pull_store.made_by_bot(ctx.pool, fabric.id, data.get("after") or ""):
            continue  # the bot's own commit coming back
        gh = _installation_client(ctx, data)
        if gh is None:
            continue
        user = (data.get("pusher") or {}).get("name") or (data.get("sender") or {}).get("login")
        await ingest_branch_push(ctx.pool, gh, fabric, row, data["before"], data["after"], user)


def _bodies(files: dict[str, FileState], paths: set[str]) -> dict[tuple[str, str, str], dict]:
    """identity -> body of the Hedgehog documents in these files (read with the ingest's
    safe reader; broken documents are skipped, as ingest would not apply them either)."""
    found: dict[tuple[str, str, str], dict] = {}
    for path in sorted(paths):
        state = files.get(path)
        if state is None or state.text is None:
            continue
        for doc in documents.parse_text(state.text):
            ident = documents.identity(doc)
            if doc.body is not None and ident is not None and ident[0] in KINDS:
                found.setdefault(ident, doc.body)
    return found


async def ingest_branch_push(
    pool: asyncpg.Pool, gh: Client, fabric: Fabric, row: PullRequest, before: str, after: str, user: str | None
) -> int:
    """A person's commits on the bot's branch become the drafts of the resources they touched.
    Returns the number of drafts written."""
    after_files = read_tarball(await gh.tarball(fabric.owner, fabric.repo, after), fabric.directory)
    before_files = {}
    if before and set(before) != {"0"}:
        before_files = read_tarball(await gh.tarball(fabric.owner, fabric.repo, before), fabric.directory)
    changed = {
        p
        for p in set(after_files) | set(before_files)
        if (after_files.get(p) or FileState(None)).text != (before_files.get(p) or FileState(None)).text
    }
    old = _bodies(before_files, changed)
    new = _bodies(after_files, changed)
    everywhere_after = _bodies(after_files, set(after_files))
    written = 0
    async with pool.acquire() as conn, conn.transaction():
        ids = []
        for ident, body in new.items():
            if old.get(ident) is not None and render.strict_equal(old[ident], body):
                continue
            if validate_body(body):
                log.warning("%s/%s on %s is not valid; not taken as a draft", ident[0], ident[2], row.branch)
                continue
            meta = body.get("metadata") or {}
            metadata = {k: meta[k] for k in ("labels", "annotations") if meta.get(k) is not None} or None
            stored = await draft_store.put_draft(
                conn,
                fabric.id,
                ident[0],
                ident[2],
                spec=body.get("spec"),
                metadata=metadata,
                user=user,
                namespace=ident[1],
            )
            if stored is not None:
                ids.append(stored.id)
            written += 1
        for ident in old:
            if ident in everywhere_after:
                continue
            stored = await draft_store.put_draft(
                conn, fabric.id, ident[0], ident[2], delete=True, user=user, namespace=ident[1]
            )
            if stored is not None:
                ids.append(stored.id)
            written += 1
        await draft_store.attach_to_pull_request(conn, ids, row.id)
        await pull_store.set_github(conn, row.id, head_sha=after)
    log.info("push to %s by %s: %d drafts of fabric %s", row.branch, user, written, fabric.name)
    return written
