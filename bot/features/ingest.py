"""GitHub -> GUI: ingest the fabric's YAML at its branch head into Postgres.

What one ingest does (a push, a reconcile, or the HNP API's github_to_gui / bidirectional sync):
    1. GET the branch ref: its head commit. A missing branch flags the fabric (nothing is
       deleted); a head already ingested ends the ingest (old and duplicate deliveries).
    2. GET the head's recursive tree and compare each fabric YAML file's blob sha with the one
       ingested (`fabric_file`): exactly the changed files, whatever the push said. Nothing
       changed under the directory: the sha is noted, and that is all -- unless entries under
       it are not read (symlinks, submodules, YAML files whose names are not plain paths):
       those are never skipped in silence, so the check run below lists them on every commit
       (a warning annotation each, `neutral`) and the sync result carries them as warnings.
    3. POST the `hnp-gitops/validate` check run (in progress) on the head commit.
    4. GET one tarball of the head and read only the changed files from it (parsing and
       validation run in a thread, off the event loop).
    5. One transaction, under the fabric's row lock: the fabric validated as a whole
       (bot.core.fabric_rules: what breaks it keeps its previous desired state and is an
       annotation of the check run), desired state upserted in batches,
       disappeared resources orphaned, drafts that Git now fulfils cleared, file states and
       the fabric's last ingested sha written.
    6. PATCH the check run complete (failure annotations in batches of 50).
So an ingest costs 5 GitHub requests whatever the number of files (6 when more than 50
documents are invalid: one PATCH per further 50 annotations), and 2 when nothing changed.

The ingest always goes to the branch's *current* head, so it is idempotent and an old push
delivered late changes nothing. The bot's own commits come back as pushes and are ingested
like any other (never starting a publish); a merged bot pull request clears the drafts it
carried, because Git now says what they said.

Pull requests (opened / synchronize / reopened) into a fabric's branch get the same check
run on their head commit, computed the same way but written nowhere (4 requests).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
from gidgethub import routing, sansio

from bot.core import archive, checks, documents, filemap, snapshot
from bot.core.snapshot import FileState, Plan, Problem, ReadFile, Snapshot
from bot.core.syncresult import GitHubIntegration, SyncDirection, SyncResult
from bot.features import conflicts, installations
from bot.github.client import CallCounter, Client, GitHub
from bot.github.errors import NotFound, PermissionDenied, UnprocessableEntity
from bot.github.repository import Repository
from bot.jobs.kinds import JobKind
from bot.jobs.queue import JobContext, JobHandlers
from bot.storage import fabric_files, fabrics, operations, resources
from bot.storage.fabrics import Fabric
from bot.storage.operations import Operation

log = logging.getLogger(__name__)

router = routing.Router()

MAX_MESSAGES = 200  # validation messages copied into a SyncResult's errors / warnings
RACE_RETRIES = 3


class Context(Protocol):
    """What ingestion needs from its caller (a queue JobContext has both)."""

    pool: asyncpg.Pool
    github: GitHub | None


class BranchMissing(Exception):
    pass


class _Raced(Exception):
    """Another ingest of the fabric committed between our reads and our transaction."""


def _now() -> datetime:
    return datetime.now(UTC)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


# ---------------------------------------------------------------------------------------------
# Reading the branch from GitHub


def _repository_of(gh: Client, fabric: Fabric) -> Repository:
    return Repository(gh, fabric.owner, fabric.repo)


async def branch_head(gh: Client, fabric: Fabric) -> str:
    """The commit the fabric's branch points at (BranchMissing when there is no branch)."""
    try:
        return await _repository_of(gh, fabric).branch_head(fabric.branch)
    except NotFound:
        raise BranchMissing(f"branch {fabric.branch} does not exist in {fabric.repository}") from None


@dataclass
class Head:
    """A commit and the fabric's YAML files in it (path -> blob sha), and the entries under
    its directory that are not read (symlinks, submodules, names that are not plain paths).
    `tree` is None when GitHub truncated the listing: the files are then learnt from the
    tarball."""

    sha: str
    tree: dict[str, str] | None
    unread: list[filemap.UnreadEntry] = field(default_factory=list)


async def read_tree(gh: Client, fabric: Fabric, sha: str) -> Head:
    """GET the commit's recursive tree: every fabric YAML file and its blob sha, in one call."""
    listing = await _repository_of(gh, fabric).tree(sha)
    if listing.get("truncated"):
        log.warning(
            "tree of %s at %s is truncated; the fabric's files come from the tarball", fabric.repository, sha[:12]
        )
        return Head(sha, None)
    tree: dict[str, str] = {}
    unread: list[filemap.UnreadEntry] = []
    for e in listing.get("tree", ()):
        path, mode = e["path"], e.get("mode")
        if e.get("type") == "blob" and mode in filemap.REGULAR_FILE_MODES and _fabric_yaml(fabric.directory, path):
            tree[path] = e["sha"]
        elif e.get("type") != "tree" and (entry := filemap.unread_entry(fabric.directory, path, mode or "")):
            unread.append(entry)
    return Head(sha, tree, unread)


def _fabric_yaml(directory: str, path: str) -> bool:
    # A cheap prefix test first: a monorepo's tree may list 100,000 paths outside the fabric.
    return (not directory or path.startswith(directory + "/")) and filemap.is_fabric_yaml(directory, path)


@dataclass
class Timings:
    github: float = 0.0
    database: float = 0.0
    parse: float = 0.0
    validation: float = 0.0


@dataclass
class ArchiveRead:
    files: dict[str, ReadFile]
    tree: dict[str, str] | None = None  # every fabric YAML file, when asked to list them
    committed_at: datetime | None = None
    documents: int = 0
    unread: list[filemap.UnreadEntry] = field(default_factory=list)  # when listing: what is not read


def read_archive(
    data: bytes, directory: str, wanted: Mapping[str, str] | None, stored: Mapping[str, str], timings: Timings
) -> ArchiveRead:
    """Read files from a tarball: those in `wanted` (path -> blob sha), or, when `wanted` is
    None, every fabric YAML file whose blob differs from `stored` (and list them all)."""
    out = ArchiveRead({}, {} if wanted is None else None)
    for member in archive.fabric_files(data, directory, out.unread if wanted is None else None):
        path = member.path
        if out.committed_at is None and member.mtime:
            out.committed_at = datetime.fromtimestamp(member.mtime, UTC)  # git archive: commit time
        if wanted is not None and path not in wanted:
            continue
        if member.size > documents.MAX_FILE_BYTES:
            sha = wanted[path] if wanted is not None else None
            if sha is None:  # the size alone refuses it; its sha is still needed to skip it next time
                sha = snapshot.blob_sha(member.read())
            if out.tree is not None:
                out.tree[path] = sha
            if stored.get(path) != sha or wanted is not None:
                out.files[path] = snapshot.refused_file(path, sha, member.size)
            continue
        body = member.read()
        sha = snapshot.blob_sha(body)
        if out.tree is not None:
            out.tree[path] = sha
            if stored.get(path) == sha:
                continue
        began = time.perf_counter()
        parsed = documents.parse_file(path, body)
        parsed_at = time.perf_counter()
        out.files[path] = snapshot.file_from_parsed(parsed, sha)
        timings.parse += parsed_at - began
        timings.validation += time.perf_counter() - parsed_at
        out.documents += len(parsed.documents)
    if wanted is not None:
        for path in wanted.keys() - out.files.keys():  # listed by the tree, absent from the archive
            out.files[path] = snapshot.refused_file(path, wanted[path], None)
    return out


# ---------------------------------------------------------------------------------------------
# Desired state at a commit, from the stored file states and the tarball


@dataclass
class Reading:
    snapshot: Snapshot
    read: dict[str, ReadFile]  # files read from the tarball
    added: list[str]  # files new since the last ingest
    modified: list[str]  # files whose blob changed
    removed: list[str]  # files gone
    committed_at: datetime | None
    documents: int  # documents parsed
    unread: list[filemap.UnreadEntry]  # entries under the directory that are not read


async def _tarball(gh: Client, fabric: Fabric, sha: str, timings: Timings) -> bytes:
    began = time.perf_counter()
    try:
        return await _repository_of(gh, fabric).tarball(sha)
    finally:
        timings.github += time.perf_counter() - began


async def read_commit(
    gh: Client, fabric: Fabric, head: Head, stored: Mapping[str, FileState], timings: Timings
) -> Reading:
    """The fabric's snapshot at `head`: the stored state of unchanged files, and the changed
    files read from one tarball (none is downloaded when no file needs reading)."""
    stored_shas = {p: f.blob_sha for p, f in stored.items()}
    tree = head.tree
    unread = list(head.unread)
    changed = snapshot.changed_files(stored_shas, tree)[0] if tree is not None else []
    data: bytes | None = None
    read: dict[str, ReadFile] = {}
    committed_at = None
    count = 0
    if tree is None or changed:
        data = await _tarball(gh, fabric, head.sha, timings)
        wanted = None if tree is None else {p: tree[p] for p in changed}
        got = await asyncio.to_thread(read_archive, data, fabric.directory, wanted, stored_shas, timings)
        read, committed_at, count = got.files, got.committed_at, got.documents
        if tree is None:
            tree, unread = got.tree, got.unread
    assert tree is not None  # read_archive lists the whole tree when no files are wanted
    changed, removed = snapshot.changed_files(stored_shas, tree)
    snap = snapshot.assemble(tree, stored, read)
    while snap.rereads:  # an unchanged file's document stopped being a duplicate: read it again
        data = data or await _tarball(gh, fabric, head.sha, timings)
        more = await asyncio.to_thread(
            read_archive, data, fabric.directory, {p: tree[p] for p in snap.rereads}, stored_shas, timings
        )
        read.update(more.files)
        committed_at = committed_at or more.committed_at
        count += more.documents
        snap = snapshot.assemble(tree, stored, read)
    added = [p for p in changed if p not in stored]
    modified = [p for p in changed if p in stored]
    return Reading(snap, read, added, modified, removed, committed_at, count, unread)


# ---------------------------------------------------------------------------------------------
# The check run


def _problems(snap: Snapshot, level: str) -> dict[str, list[Problem]]:
    """The problems of one level by file, as the check-run builder reads them."""
    out: dict[str, list[Problem]] = {}
    for path, problems in snap.problems().items():
        chosen = [p for p in problems if p.level == level]
        if chosen:
            out[path] = chosen
    return out


def check_payload(
    snap: Snapshot,
    plan: Plan | None,
    head_sha: str,
    *,
    fabric: str,
    unread: list[filemap.UnreadEntry] | None = None,
) -> dict[str, Any]:
    """The completed `hnp-gitops/validate` check run of a commit, all annotations included."""
    shown = ("created", "updated", "moved", "orphaned", "deleted")
    counts = {kind: {k: v for k, v in c.items() if k in shown} for kind, c in (plan.counts if plan else {}).items()}
    payload = checks.validate_check_output(_problems(snap, "error"), counts, head_sha=head_sha)
    payload["external_id"] = fabric
    warnings = [
        {
            "path": path,
            "start_line": max(1, w.line),
            "end_line": max(1, w.line),
            "annotation_level": "warning",
            "title": "Skipped document",
            "message": w.message[: checks.MAX_ANNOTATION_MESSAGE],
        }
        for path, items in _problems(snap, "warning").items()
        for w in items
    ]
    if warnings:
        output = payload["output"]
        output["annotations"] = list(output.get("annotations") or []) + warnings
        output["summary"] = (
            output["summary"] + f"\n\n{len(warnings):,} document(s) of other kinds were skipped (see the warnings)."
        )[: checks.MAX_SUMMARY]
    return checks.with_unread_entries(payload, unread or [])


async def start_check(gh: Client, fabric: Fabric, head_sha: str) -> int | None:
    """Create the check run, in progress. None when GitHub refuses it (e.g. the app lacks the
    checks permission): the ingest itself must not depend on the check run."""
    try:
        answer = await _repository_of(gh, fabric).create_check_run(
            {
                "name": checks.VALIDATE_CHECK,
                "head_sha": head_sha,
                "status": "in_progress",
                "external_id": fabric.name,
                "started_at": _now().isoformat(timespec="seconds"),
                "output": {"title": "Validating", "summary": f"Reading fabric `{fabric.name}` at {head_sha[:12]}."},
            }
        )
    except (PermissionDenied, NotFound, UnprocessableEntity) as refused:
        log.warning("no %s check run on %s of %s: %s", checks.VALIDATE_CHECK, head_sha[:12], fabric.repository, refused)
        return None
    return int(answer["id"])


async def finish_check(
    gh: Client, fabric: Fabric, check_run_id: int | None, payload: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """Complete the check run: the first request carries the first 50 annotations, each
    further request 50 more (GitHub's limit per request). Returns the completed run."""
    if check_run_id is None:
        return None
    requests = checks.check_run_requests(payload)
    requests[0] = {**requests[0], "completed_at": _now().isoformat(timespec="seconds")}
    answer: Mapping[str, Any] | None = None
    for body in requests:
        answer = await _repository_of(gh, fabric).update_check_run(check_run_id, body)
    return answer


async def _abandon_check(gh: Client, fabric: Fabric, check_run_id: int | None, reason: str) -> None:
    """Best effort: never leave a check run spinning when the ingest did not finish."""
    if check_run_id is None:
        return
    try:
        await _repository_of(gh, fabric).update_check_run(
            check_run_id,
            {
                "status": "completed",
                "conclusion": "neutral",
                "output": {"title": "Not validated", "summary": reason[:1000]},
            },
        )
    except Exception as failure:
        log.warning("could not close check run %d: %s", check_run_id, failure)


# ---------------------------------------------------------------------------------------------
# Ingest


async def _apply(
    pool: asyncpg.Pool, fabric: Fabric, head_sha: str, reading: Reading, timings: Timings, *, recheck: bool
) -> tuple[Plan, Snapshot]:
    """Move the database to the commit's state in one transaction, under the fabric's lock.
    The fabric is validated as a whole first: what breaks it keeps its previous desired state
    (snapshot.check_fabric). Returns the plan and the snapshot applied. `recheck`: queue the
    conflicts check of the fabric's drafts and pull requests with the commit."""
    began = time.perf_counter()
    touched = set(reading.read) | set(reading.removed)
    async with pool.acquire() as conn, conn.transaction():
        locked = await fabrics.lock(conn, fabric.id)
        if locked is None:
            raise LookupError(f"fabric {fabric.name} was deleted during the ingest")
        if locked.last_ingested_sha != fabric.last_ingested_sha:
            raise _Raced()
        # Drafts before this commit: even those it fulfils (and clears) leave a pull request to check.
        drafted = recheck and await resources.has_drafts(conn, fabric.id)
        snap = snapshot.check_fabric(reading.snapshot, await resources.applied(conn, fabric.id)).snapshot
        rows = await resources.rows_for_ingest(conn, fabric.id, snap.desired.keys(), touched)
        plan = snapshot.plan(snap, rows, touched)
        await resources.apply_plan(conn, fabric.id, plan, sha=head_sha, committed_at=reading.committed_at)
        await fabric_files.save(conn, fabric.id, [snap.files[p] for p in sorted(snap.dirty)], reading.removed, head_sha)
        await fabrics.set_ingested(conn, fabric.id, head_sha)
        if drafted:
            # Queued with the commit, so the check runs after it and sees the new desired state.
            await conflicts.request_recheck(conn, fabric.id)
    timings.database += time.perf_counter() - began
    return plan, snap


async def _note_head(pool: asyncpg.Pool, fabric: Fabric, head_sha: str) -> None:
    """Nothing under the directory changed: the head is ingested as it is."""
    async with pool.acquire() as conn, conn.transaction():
        locked = await fabrics.lock(conn, fabric.id)
        if locked is None or locked.last_ingested_sha != fabric.last_ingested_sha:
            raise _Raced()
        await fabrics.set_ingested(conn, fabric.id, head_sha)


def _record(result: SyncResult, reading: Reading, plan: Plan) -> None:
    stats = result.statistics
    stats.resources_processed = reading.documents
    stats.resources_created = plan.total("created")
    stats.resources_updated = plan.total("updated") + plan.total("moved")
    stats.resources_orphaned = plan.total("orphaned")
    stats.resources_deleted = plan.total("deleted")
    stats.resources_unchanged = plan.total("unchanged")
    stats.files_processed = len(reading.read)
    stats.files_created = len(reading.added)
    stats.files_updated = len(reading.modified)
    stats.files_deleted = len(reading.removed)
    stats.validation_errors = reading.snapshot.error_count
    result.github_integration.files_transferred = len(reading.read)
    for path, problems in reading.snapshot.problems().items():
        for p in problems:
            target = result.errors if p.level == "error" else result.warnings
            if len(target) < MAX_MESSAGES:
                target.append(f"{path}:{p.line}: {p.message}")
    if plan.total("moved"):
        result.warnings.append(f"{plan.total('moved')} resource(s) moved to another file; their identity is kept")
    for entry in reading.unread:  # all of them: a skipped entry is never left out in silence
        result.warnings.append(f"{entry.shown_path}: not read, {entry.reason}")


def _close(result: SyncResult, counter: CallCounter, began: float, timings: Timings) -> SyncResult:
    result.completed_at = _now()
    result.github_integration.api_calls_made = counter.calls
    perf = result.performance
    perf.duration_ms = _ms(time.perf_counter() - began)
    perf.github_time_ms = _ms(timings.github)
    perf.database_time_ms = _ms(timings.database)
    perf.parse_time_ms = _ms(timings.parse)
    perf.validation_time_ms = _ms(timings.validation)
    return result


@dataclass
class _Run:
    """One ingest: its operation (made on demand when `own`), result and clocks."""

    ctx: Context
    fabric: Fabric
    counter: CallCounter
    trigger: str
    operation: Operation | None
    own: bool
    recheck: bool = False  # queue the conflicts check with the commit
    began: float = field(default_factory=time.perf_counter)
    started: datetime = field(default_factory=_now)
    timings: Timings = field(default_factory=Timings)

    def result(self) -> SyncResult:
        op_id = self.operation.id if self.operation else uuid.UUID(int=0)
        return SyncResult(
            str(op_id),
            SyncDirection.GITHUB_TO_GUI,
            self.started,
            github_integration=GitHubIntegration(
                repository=self.fabric.repository, branch=self.fabric.branch, base_sha=self.fabric.last_ingested_sha
            ),
        )

    def close(self, result: SyncResult) -> SyncResult:
        return _close(result, self.counter, self.began, self.timings)


async def _ingest(run: _Run) -> SyncResult | None:
    """Ingest the branch head. Returns the result, or None when nothing was to be done and no
    operation was given (a push that changed nothing here makes no operation)."""
    pool = run.ctx.pool
    gh = await installations.client(run.ctx.pool, run.ctx.github, run.fabric, run.counter)
    for _ in range(RACE_RETRIES):
        fabric = run.fabric = await fabrics.get(pool, run.fabric.id) or run.fabric
        began = time.perf_counter()
        try:
            sha = await branch_head(gh, fabric)
            head = Head(sha, None) if sha == fabric.last_ingested_sha else await read_tree(gh, fabric, sha)
        except BranchMissing as missing:
            await fabrics.set_connection(pool, fabric.id, "branch_missing", str(missing))
            log.warning("fabric %s: %s; nothing deleted", fabric.name, missing)
            if run.own:
                return None
            result = run.result()
            result.errors.append(str(missing))
            return run.close(result)
        finally:
            run.timings.github += time.perf_counter() - began
        idle = head.sha == fabric.last_ingested_sha
        if not idle and head.tree is not None:
            changed, removed = snapshot.changed_files(await fabric_files.blob_shas(pool, fabric.id), head.tree)
            if not changed and not removed and not head.unread:  # entries not read are reported
                try:
                    await _note_head(pool, fabric, head.sha)
                except _Raced:
                    continue
                idle = True
        if idle:
            if fabric.connection_status != "connected" and head.sha == fabric.last_ingested_sha:
                await fabrics.set_connection(pool, fabric.id, "connected")
            if run.own:
                return None
            result = run.result()
            result.success = True
            result.github_integration.commit_sha = head.sha
            return run.close(result)
        if run.operation is None:
            run.operation = await operations.create(
                pool, fabric_id=fabric.id, direction="github_to_gui", trigger=run.trigger, head_sha=head.sha
            )
        try:
            return await _ingest_commit(run, gh, head, await fabric_files.load(pool, fabric.id))
        except _Raced:
            continue
    raise RuntimeError(f"fabric {run.fabric.name} kept changing during the ingest; giving up for now")


async def _ingest_commit(run: _Run, gh: Client, head: Head, stored: Mapping[str, FileState]) -> SyncResult:
    pool, fabric, op = run.ctx.pool, run.fabric, run.operation
    assert op is not None
    await operations.set_status(pool, op.id, "github_to_gui_sync")
    began = time.perf_counter()
    check_run_id = await start_check(gh, fabric, head.sha)
    run.timings.github += time.perf_counter() - began
    try:
        reading = await read_commit(gh, fabric, head, stored, run.timings)
        total = len(reading.read) + 1  # the files, then the database
        await operations.set_progress(pool, op.id, len(reading.read), total)
        plan, applied = await _apply(pool, fabric, head.sha, reading, run.timings, recheck=run.recheck)
        reading = replace(reading, snapshot=applied)
        await operations.set_progress(pool, op.id, total, total)
    except _Raced:
        await _abandon_check(gh, fabric, check_run_id, "Another ingest of this fabric finished first.")
        raise
    except BaseException as failure:
        await asyncio.shield(_abandon_check(gh, fabric, check_run_id, f"The ingest failed: {failure}"))
        raise
    began = time.perf_counter()
    payload = check_payload(reading.snapshot, plan, head.sha, fabric=fabric.name, unread=reading.unread)
    completed = await finish_check(gh, fabric, check_run_id, payload)
    run.timings.github += time.perf_counter() - began
    if completed is not None:
        failures = sum(len(items) for items in _problems(reading.snapshot, "error").values())
        await fabrics.set_validated(
            pool, fabric.id, head.sha, completed.get("conclusion"), failures, completed.get("html_url")
        )
    result = run.result()
    result.success = True
    result.github_integration.commit_sha = head.sha
    _record(result, reading, plan)
    log.info(
        "fabric %s ingested at %s: %d file(s) read, %d created, %d updated, %d orphaned, %d invalid "
        "document(s), %d GitHub call(s)",
        fabric.name,
        head.sha[:12],
        len(reading.read),
        plan.total("created"),
        plan.total("updated"),
        plan.total("orphaned"),
        result.statistics.validation_errors,
        run.counter.calls,
    )
    return run.close(result)


async def ingest_head(ctx: Context, fabric: Fabric, operation: Operation, counter: CallCounter) -> SyncResult:
    """Ingest the fabric's branch head now, for the HNP API (github_to_gui, and the first part
    of bidirectional). Progress and status go on `operation`; finishing it is the caller's.

    The result says success=False (with the reason in errors) when the branch is missing;
    other failures raise (GitHub errors, RetryLater for rate limits)."""
    run = _Run(ctx, fabric, counter, operation.trigger, operation, own=False)
    result = await _ingest(run)
    assert result is not None
    return result


async def ingest_job(ctx: JobContext) -> None:
    """The 'ingest' job {fabric_id, head_sha?, trigger, recheck_conflicts?}: push, reconcile. Makes its own sync
    operation when there is something to ingest, and finishes it."""
    payload = ctx.job.payload
    fabric = await fabrics.get(ctx.pool, int(payload["fabric_id"]))
    if fabric is None:
        return
    trigger = payload.get("trigger") or "push"
    ingested = fabric.last_ingested_sha
    if fabric.connection_status == "connected" and ingested is not None and payload.get("head_sha") == ingested:
        # An ingest that ran while this job waited already read this push's commit (or a later
        # push's, which would have come in here). Nothing to ask GitHub.
        return
    run = _Run(ctx, fabric, CallCounter(), trigger, None, own=True, recheck=bool(payload.get("recheck_conflicts")))
    try:
        result = await _ingest(run)
    except BaseException as failure:
        if run.operation is not None:
            # The job is retried (or handed back at shutdown) with an operation of its own;
            # this one ends saying why.
            why = f"{failure.__class__.__name__}: {failure}"[:2000]
            result = run.close(run.result())
            result.errors.append(why)
            status = "cancelled" if isinstance(failure, asyncio.CancelledError) else "failed"
            await asyncio.shield(operations.finish(ctx.pool, run.operation.id, status, result.to_dict(), error=why))
        if isinstance(failure, installations.NotInstalled):
            log.warning("fabric %s: %s", fabric.name, failure)
            return  # nothing to retry until the app is installed (installation events reconnect)
        raise
    if result is not None and run.operation is not None:
        await operations.finish(ctx.pool, run.operation.id, "completed", result.to_dict())


# ---------------------------------------------------------------------------------------------
# Pull requests: validate only


async def validate_commit(ctx: Context, fabric: Fabric, head_sha: str, counter: CallCounter) -> dict[str, Any] | None:
    """Run the validate check on a commit that is not (yet) the branch head, writing nothing
    but the check run. None when the commit changes nothing under the fabric's directory."""
    gh = await installations.client(ctx.pool, ctx.github, fabric, counter)
    timings = Timings()
    head = await read_tree(gh, fabric, head_sha)
    if head.tree is not None:
        changed, removed = snapshot.changed_files(await fabric_files.blob_shas(ctx.pool, fabric.id), head.tree)
        if not changed and not removed and not head.unread:
            return None
    stored = await fabric_files.load(ctx.pool, fabric.id)
    check_run_id = await start_check(gh, fabric, head_sha)
    try:
        reading = await read_commit(gh, fabric, head, stored, timings)
        touched = set(reading.read) | set(reading.removed)
        async with ctx.pool.acquire() as conn:
            snap = snapshot.check_fabric(reading.snapshot, await resources.applied(conn, fabric.id)).snapshot
            rows = await resources.rows_for_ingest(conn, fabric.id, snap.desired.keys(), touched, lock=False)
        plan = snapshot.plan(snap, rows, touched)  # what merging would do, for the summary
        reading = replace(reading, snapshot=snap)
    except BaseException as failure:
        await asyncio.shield(_abandon_check(gh, fabric, check_run_id, f"Validation failed to run: {failure}"))
        raise
    payload = check_payload(reading.snapshot, plan, head_sha, fabric=fabric.name, unread=reading.unread)
    await finish_check(gh, fabric, check_run_id, payload)
    return payload


async def validate_job(ctx: JobContext) -> None:
    """The 'validate_pull_request' job {fabric_id, head_sha, pull_request}."""
    payload = ctx.job.payload
    fabric = await fabrics.get(ctx.pool, int(payload["fabric_id"]))
    if fabric is None:
        return
    try:
        await validate_commit(ctx, fabric, payload["head_sha"], CallCounter())
    except installations.NotInstalled as failure:
        log.warning("fabric %s: %s", fabric.name, failure)


# ---------------------------------------------------------------------------------------------
# Webhooks


def _repository(event: sansio.Event) -> str | None:
    return ((event.data.get("repository") or {}).get("full_name")) or None


@router.register("push")
async def on_push(event: sansio.Event, ctx: JobContext) -> None:
    """A push to a fabric's branch queues an ingest of that fabric (other branches: nothing)."""
    ref = event.data.get("ref") or ""
    repository = _repository(event)
    if not ref.startswith("refs/heads/") or repository is None:
        return
    branch = ref.removeprefix("refs/heads/")
    after = event.data.get("after") or ""
    for fabric in await fabrics.for_repository(ctx.pool, repository):
        if fabric.branch != branch:
            continue
        # A deleted branch is found (and flagged) by the ingest's own read of the ref, in the
        # fabric's order with every other ingest of it. The ingest reads the branch head, so
        # one still queued (or waiting to retry) serves this push too.
        await ctx.enqueue(
            JobKind.INGEST,
            {
                "fabric_id": fabric.id,
                "head_sha": after,
                "trigger": "push",
                "deleted": bool(event.data.get("deleted")),
                "recheck_conflicts": True,  # the branch moved under the drafts: check them again
            },
            fabric_id=fabric.id,
            coalesce=True,
        )


@router.register("pull_request", action="opened")
@router.register("pull_request", action="synchronize")
@router.register("pull_request", action="reopened")
async def on_pull_request(event: sansio.Event, ctx: JobContext) -> None:
    """Validate the head of an open pull request into a fabric's branch."""
    pull = event.data.get("pull_request") or {}
    repository = _repository(event)
    if pull.get("state") != "open" or repository is None:
        return
    base = (pull.get("base") or {}).get("ref")
    head_sha = (pull.get("head") or {}).get("sha")
    if not base or not head_sha:
        return
    for fabric in await fabrics.for_repository(ctx.pool, repository):
        if fabric.branch == base:
            await ctx.enqueue(
                JobKind.VALIDATE_PULL_REQUEST,
                {"fabric_id": fabric.id, "head_sha": head_sha, "pull_request": pull.get("number")},
                fabric_id=fabric.id,
                dedupe_key=f"validate:{fabric.id}:{head_sha}",
            )


JOBS: JobHandlers = {JobKind.INGEST: ingest_job, JobKind.VALIDATE_PULL_REQUEST: validate_job}
