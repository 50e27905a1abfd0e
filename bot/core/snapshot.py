"""A fabric's desired state at one commit, and the change from what the database holds.

Pure: bytes and rows in, plans out. Ingestion reads only the files whose blob changed since
the last ingested commit, so a snapshot is assembled from two sources:

* `FileState`s remembered from earlier ingests (the `fabric_file` table) for unchanged files:
  the identities of their documents and their problems, but not their bodies;
* `ReadFile`s for the files read at this commit: the same, plus the desired resources their
  valid documents define.

Rules:
* A resource is identified by (kind, namespace, name); its file and document index are kept.
* A document that fails to parse or validate is not applied: the resource keeps its previous
  desired state. Documents of other API groups are skipped with a warning.
* The same identity in two documents (in one file or two) is an error on both, and neither
  is applied. Duplicates are recomputed over the whole tree at every ingest, so a duplicate in
  an unchanged file appears (and disappears) when its twin is added (or removed) elsewhere; an
  unchanged file whose document stops being a duplicate must be read again (`Snapshot.rereads`).
* A resource is orphaned when no document at the commit carries its identity, unless its file
  is still there and holds a document that could not be identified (a broken document might
  be it: its previous desired state stays).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.core import documents, fabric_rules, validation
from bot.core.kinds import DEFAULT_NAMESPACE, KINDS
from bot.core.render import strict_equal
from bot.core.states import resource_state

Identity = tuple[str, str, str]  # (kind, namespace, name)


def label(identity: Identity) -> str:
    kind, namespace, name = identity
    return f"{kind}/{name}" if namespace == DEFAULT_NAMESPACE else f"{kind}/{namespace}/{name}"


def blob_sha(data: bytes) -> str:
    """Git's object id of a file's bytes (what the trees API lists for it)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# ---------------------------------------------------------------------------------------------
# What is known of one file


@dataclass(frozen=True)
class Problem:
    """An error or warning on a file, shown as a check-run annotation at `line`."""

    line: int
    message: str
    level: str = "error"  # error | warning
    document: int | None = None  # index of the document (documents.py numbering), if one
    kind: str | None = None
    name: str | None = None
    field: str | None = None  # e.g. spec.subnets.default.vlan
    duplicate: bool = False  # found across files; recomputed at every ingest
    unreadable: bool = False  # the text is not YAML (or not read at all), as opposed to a schema error
    rule: str | None = None  # a whole-fabric rule (bot.core.fabric_rules); recomputed at every ingest

    @property
    def across_files(self) -> bool:
        """Found by looking at the whole fabric, not at this file alone."""
        return self.duplicate or self.rule is not None

    def to_json(self) -> dict[str, Any]:
        data = {"line": self.line, "message": self.message, "level": self.level}
        for key in ("document", "kind", "name", "field", "rule"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.duplicate:
            data["duplicate"] = True
        if self.unreadable:
            data["unreadable"] = True
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Problem:
        return cls(
            line=data["line"],
            message=data["message"],
            level=data.get("level", "error"),
            document=data.get("document"),
            kind=data.get("kind"),
            name=data.get("name"),
            field=data.get("field"),
            duplicate=bool(data.get("duplicate", False)),
            unreadable=bool(data.get("unreadable", False)),
            rule=data.get("rule"),
        )


@dataclass(frozen=True)
class DocRef:
    """A Hedgehog document that names a resource, valid or not."""

    index: int
    line: int  # of its metadata.name (where a duplicate is reported)
    kind: str
    namespace: str
    name: str
    valid: bool

    @property
    def identity(self) -> Identity:
        return (self.kind, self.namespace, self.name)

    def to_json(self) -> list[Any]:
        return [self.index, self.line, self.kind, self.namespace, self.name, self.valid]

    @classmethod
    def from_json(cls, data: list[Any]) -> DocRef:
        return cls(*data)


@dataclass(frozen=True)
class FileState:
    """One YAML file of the fabric at a commit: what is remembered of it between ingests."""

    path: str
    blob_sha: str
    documents: tuple[DocRef, ...] = ()
    problems: tuple[Problem, ...] = ()  # its own problems, then duplicates
    unidentified: bool = False  # holds a broken document whose resource is unknown
    document_count: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    def own_problems(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if not p.across_files)

    @property
    def held(self) -> bool:
        """A document of this file broke a whole-fabric rule and was held back: the file must be
        read again at the next ingest, its own text being the only record of what it says."""
        return any(p.rule is not None for p in self.problems)


@dataclass(frozen=True)
class DesiredResource:
    kind: str
    namespace: str
    name: str
    spec: Any
    metadata: dict[str, Any] | None  # labels and annotations, as found
    path: str
    index: int
    line: int
    blob_sha: str
    document: documents.Document | None = field(default=None, compare=False, repr=False)  # for field lines

    @property
    def identity(self) -> Identity:
        return (self.kind, self.namespace, self.name)


@dataclass(frozen=True)
class ReadFile:
    """A file read at this commit: its state and the resources of its valid documents."""

    state: FileState
    resources: Mapping[int, DesiredResource]  # by document index
    warnings: int = 0


def _metadata(body: dict[str, Any]) -> dict[str, Any] | None:
    meta = body.get("metadata") or {}
    kept = {key: meta[key] for key in ("labels", "annotations") if meta.get(key) is not None}
    return kept or None


def read_file(path: str, data: bytes, sha: str | None = None) -> ReadFile:
    """Parse and validate one file's bytes. Never raises for bad input."""
    return file_from_parsed(documents.parse_file(path, data), sha or blob_sha(data))


def refused_file(path: str, sha: str, size: int | None) -> ReadFile:
    """A file that is not read at all: over the size limit, or missing from the archive."""
    if size is None:
        message = "file could not be read from the repository archive"
    else:
        message = f"file is {size:,} bytes, over the limit of {documents.MAX_FILE_BYTES:,} bytes (5 MiB)"
    return ReadFile(FileState(path, sha, (), (Problem(1, message, unreadable=True),), True), {})


def file_from_parsed(parsed: documents.ParsedFile, sha: str) -> ReadFile:
    """Validate a parsed file's documents: its state, and the resources of the valid ones."""
    path = parsed.path
    if parsed.error is not None:
        problem = Problem(parsed.error_line or 1, parsed.error, unreadable=True)
        return ReadFile(FileState(path, sha, (), (problem,), True), {})
    refs: list[DocRef] = []
    problems: list[Problem] = []
    resources: dict[int, DesiredResource] = {}
    unidentified = False
    warnings = 0
    for doc in parsed.documents:
        verdict = validation.classify(doc)
        if not verdict.hedgehog:
            warnings += 1
            problems.append(
                Problem(
                    doc.line,
                    verdict.warning or "not a Hedgehog kind; skipped",
                    "warning",
                    doc.index,
                    doc.kind,
                    doc.name,
                )
            )
            continue
        errors = validation.validate_document(doc)
        body = doc.body
        ident = documents.identity(doc) if body is not None else None
        unreadable = doc.error is not None or body is None
        for error in errors:
            problems.append(
                Problem(
                    error.line or doc.error_line or doc.line,
                    error.message,
                    "error",
                    doc.index,
                    doc.kind,
                    doc.name,
                    error.path or None,
                    unreadable=unreadable,
                )
            )
        if ident is None or body is None or ident[0] not in KINDS:
            unidentified = True  # a broken document that might be any resource of this file
            continue
        refs.append(DocRef(doc.index, doc.name_line or doc.line, *ident, valid=not errors))
        if not errors:
            spec = body.get("spec")
            resources[doc.index] = DesiredResource(
                *ident,
                spec={} if spec is None else spec,
                metadata=_metadata(body),
                path=path,
                index=doc.index,
                line=doc.line,
                blob_sha=sha,
                document=doc,
            )
    state = FileState(path, sha, tuple(refs), tuple(problems), unidentified, len(parsed.documents))
    return ReadFile(state, resources, warnings)


# ---------------------------------------------------------------------------------------------
# The tree at a commit


def changed_files(stored: Mapping[str, str], tree: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(paths to read, paths gone): files whose blob differs from the one ingested (or that are
    new), and files ingested before that are no longer there. Both path -> blob sha maps."""
    changed = sorted(p for p, sha in tree.items() if stored.get(p) != sha)
    removed = sorted(p for p in stored if p not in tree)
    return changed, removed


@dataclass
class Snapshot:
    files: dict[str, FileState]  # every fabric file at the commit, duplicates included
    desired: dict[Identity, DesiredResource]  # valid, unique documents of the files read
    present: set[Identity]  # identities named by any document at the commit
    rereads: set[str]  # unchanged files that must be read again (a duplicate went away)
    dirty: set[str]  # files whose state differs from the stored one (to write back)

    def problems(self) -> dict[str, list[Problem]]:
        return {p: list(f.problems) for p, f in sorted(self.files.items()) if f.problems}

    @property
    def error_count(self) -> int:
        return sum(len(f.errors) for f in self.files.values())


def assemble(tree: Mapping[str, str], stored: Mapping[str, FileState], read: Mapping[str, ReadFile]) -> Snapshot:
    """The fabric at a commit: `tree` maps each fabric YAML path to its blob sha, `stored` holds
    the remembered state of files ingested before, `read` the files read now (at least every
    path whose blob differs from the stored one)."""
    base: dict[str, FileState] = {}
    for path in sorted(tree):
        if path in read:
            base[path] = read[path].state
        else:
            base[path] = stored[path]  # KeyError: a changed file was not read (a caller bug)

    where: dict[Identity, list[tuple[str, DocRef]]] = {}
    for path, state in base.items():
        for ref in state.documents:
            where.setdefault(ref.identity, []).append((path, ref))
    twins = {ident: places for ident, places in where.items() if len(places) > 1}

    files: dict[str, FileState] = {}
    dirty: set[str] = set()
    rereads: set[str] = set()
    for path, state in base.items():
        dups = []
        for ref in state.documents:
            places = twins.get(ref.identity)
            if places is None:
                continue
            others = ", ".join(f"{p} line {r.line}" for p, r in places if (p, r.index) != (path, ref.index))
            dups.append(
                Problem(
                    ref.line,
                    f"{label(ref.identity)} is defined more than once (also {others}); neither definition is applied",
                    "error",
                    ref.index,
                    ref.kind,
                    ref.name,
                    "metadata.name",
                    duplicate=True,
                )
            )
        if dups or any(p.across_files for p in state.problems):
            state = FileState(
                path,
                state.blob_sha,
                state.documents,
                state.own_problems() + tuple(dups),
                state.unidentified,
                state.document_count,
            )
        files[path] = state
        if path in read or stored.get(path) != state:
            dirty.add(path)
        if path not in read:
            # A valid document that was a duplicate and no longer is must now be applied, but
            # its body was never kept: read the file again.
            was_dup = {p.document for p in base[path].problems if p.duplicate}
            if any(ref.valid and ref.index in was_dup and ref.identity not in twins for ref in state.documents):
                rereads.add(path)
            if base[path].held:
                rereads.add(path)

    desired: dict[Identity, DesiredResource] = {}
    for path, rf in read.items():
        if path not in files:
            continue
        for resource in rf.resources.values():
            if resource.identity not in twins:
                desired[resource.identity] = resource
    return Snapshot(files, desired, set(where), rereads, dirty)


# ---------------------------------------------------------------------------------------------
# From the database's rows to the snapshot


class ResourceFacts:
    """What follows from a resource row's columns, the same for the diff's `Current` and the
    storage layer's full `Resource` (both dataclasses with these columns)."""

    __slots__ = ()

    # The columns the facts are read from (the subclasses' fields).
    kind: str
    namespace: str
    name: str
    desired_spec: Any
    draft_spec: Any
    draft_delete: bool
    file_path: str | None
    state: str

    @property
    def identity(self) -> Identity:
        return (self.kind, self.namespace, self.name)

    @property
    def has_draft(self) -> bool:
        return self.draft_spec is not None or self.draft_delete

    @property
    def orphaned(self) -> bool:
        # The document disappeared: desired is remembered, the location is not (or the state
        # says so, for a draft-less orphan that never had a desired spec).
        return self.state == "orphaned" or (self.desired_spec is not None and self.file_path is None)


@dataclass(frozen=True)
class Current(ResourceFacts):
    """What the database holds of one resource (the columns the diff needs)."""

    id: int
    kind: str
    namespace: str
    name: str
    desired_spec: Any
    desired_metadata: dict[str, Any] | None
    file_path: str | None
    document_index: int | None
    blob_sha: str | None
    draft_spec: Any
    draft_metadata: dict[str, Any] | None
    draft_delete: bool
    actual_spec: Any
    base_moved: bool
    pull_request_id: int | None
    open_conflict: bool
    state: str


@dataclass(frozen=True)
class RowUpdate:
    """New values for an existing row. `desired_changed` bumps desired_sha/desired_at."""

    id: int
    desired_spec: Any
    desired_metadata: dict[str, Any] | None
    desired_changed: bool
    file_path: str | None
    document_index: int | None
    blob_sha: str | None
    base_moved: bool
    clear_draft: bool
    state: str


@dataclass
class Plan:
    """The writes that move the database to the snapshot, and what they mean."""

    inserts: list[DesiredResource] = field(default_factory=list)
    updates: list[RowUpdate] = field(default_factory=list)
    deletes: list[int] = field(default_factory=list)  # fulfilled deletions nothing else defines
    # per kind: created / updated / moved / orphaned / deleted / unchanged / fulfilled
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, kind: str, what: str, n: int = 1) -> None:
        self.counts.setdefault(kind, {}).setdefault(what, 0)
        self.counts[kind][what] += n

    def total(self, what: str) -> int:
        return sum(c.get(what, 0) for c in self.counts.values())


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values (1, 1.0 and true differ); `==` first, as it is ten times faster and
    settles every difference but those of type."""
    return a == b and strict_equal(a, b)


def _metadata_agrees(draft: dict[str, Any] | None, desired: dict[str, Any] | None) -> bool:
    """The labels/annotations a draft sets equal desired's (a draft that sets none agrees)."""
    desired = desired or {}
    return all(_same(value or {}, desired.get(key) or {}) for key, value in (draft or {}).items())


def _fulfilled(row: Current, resource: DesiredResource | None) -> bool:
    """Does Git now say what the draft asked for (the bot's pull request was merged)?"""
    if row.draft_delete:
        return resource is None
    if row.draft_spec is None or resource is None:
        return False
    return _same(row.draft_spec, resource.spec) and _metadata_agrees(row.draft_metadata, resource.metadata)


def _state(row: Current, *, desired_spec: Any, clear_draft: bool, orphaned: bool) -> str:
    return resource_state(
        desired_spec=desired_spec,
        draft_spec=None if clear_draft else row.draft_spec,
        draft_delete=False if clear_draft else row.draft_delete,
        actual_spec=row.actual_spec,
        orphaned=orphaned,
        in_open_pr=row.pull_request_id is not None and not clear_draft,
        has_open_conflict=row.open_conflict and not clear_draft,
    )


def plan(snapshot: Snapshot, rows: Iterable[Current], touched: set[str]) -> Plan:
    """The writes from `rows` (at least every row of an identity in `snapshot.desired` and every
    row located in a `touched` file: read or removed) to the snapshot."""
    result = Plan()
    by_identity = {row.identity: row for row in rows}
    keep = {p for p, f in snapshot.files.items() if f.unidentified}

    for ident, res in sorted(snapshot.desired.items()):
        row = by_identity.get(ident)
        if row is None:
            result.inserts.append(res)
            result.count(res.kind, "created")
            continue
        content_changed = row.desired_spec is None or not (
            _same(row.desired_spec, res.spec) and _same(row.desired_metadata, res.metadata)
        )
        if row.desired_spec is None:
            what = "created"
        elif content_changed or row.orphaned:
            what = "updated"
        elif row.file_path != res.path:
            what = "moved"
        else:
            what = "unchanged"
        located = (row.file_path, row.document_index, row.blob_sha) == (res.path, res.index, res.blob_sha)
        fulfilled = row.has_draft and _fulfilled(row, res)
        if what == "unchanged" and located and not fulfilled:
            result.count(res.kind, what)
            continue
        base_moved = row.base_moved or (row.has_draft and content_changed)  # desired changed under the draft
        if fulfilled:
            result.count(res.kind, "fulfilled")
        result.updates.append(
            RowUpdate(
                row.id,
                res.spec,
                res.metadata,
                content_changed or row.orphaned,
                res.path,
                res.index,
                res.blob_sha,
                False if fulfilled else base_moved,
                fulfilled,
                _state(row, desired_spec=res.spec, clear_draft=fulfilled, orphaned=False),
            )
        )
        result.count(res.kind, what)

    for row in by_identity.values():
        if row.file_path is None or (row.file_path not in touched and row.file_path in snapshot.files):
            continue  # not placed, or in a file that was not read (its documents are as they were)
        if row.identity in snapshot.present or row.file_path in keep:
            continue  # still named somewhere (maybe by an invalid document), or maybe in a broken one
        if row.draft_delete:
            # The GUI asked for the deletion and Git now agrees: nothing is left to sync.
            result.count(row.kind, "deleted")
            if row.actual_spec is None:
                result.deletes.append(row.id)
                continue
            result.updates.append(
                RowUpdate(
                    row.id,
                    None,
                    None,
                    True,
                    None,
                    None,
                    None,
                    False,
                    True,
                    _state(row, desired_spec=None, clear_draft=True, orphaned=False),
                )
            )
            continue
        result.count(row.kind, "orphaned")
        result.updates.append(
            RowUpdate(
                row.id,
                row.desired_spec,
                row.desired_metadata,
                False,
                None,
                None,
                None,
                row.base_moved or row.has_draft,
                False,
                _state(row, desired_spec=row.desired_spec, clear_draft=False, orphaned=True),
            )
        )
    return result


# ---------------------------------------------------------------------------------------------
# Whole-fabric rules over the commit


@dataclass(frozen=True)
class Applied:
    """A resource as the database holds it: its desired state and the file it was read from
    (None once orphaned)."""

    kind: str
    namespace: str
    name: str
    spec: Any
    metadata: dict[str, Any] | None
    path: str | None

    @property
    def identity(self) -> Identity:
        return (self.kind, self.namespace, self.name)


@dataclass
class FabricCheck:
    snapshot: Snapshot  # the commit's snapshot, held resources taken out, their violations on their files
    violations: list[fabric_rules.Violation]  # the commit's, as written
    held: set[Identity]  # resources that keep their previous desired state (or are not created)


MAX_HOLD_ROUNDS = 8  # a chain of references is at most SwitchGroup -> Switch -> Connection -> attachment


def check_fabric(snap: Snapshot, applied: Iterable[Applied]) -> FabricCheck:
    """Validate the fabric the commit describes as a whole (bot.core.fabric_rules), and hold
    back what breaks it.

    The commit's fabric: the valid documents read now, and for every other document still in
    the tree (unchanged files, documents that fail alone) the desired state the database holds.
    Resources the commit leaves as they were come first, so a clash is blamed on what the
    commit changed. A changed resource a violation blames keeps its previous desired state (a
    new one is not created); a resource the commit deletes or changes that an unchanged one
    still needs is held the same way. Holding can uncover another violation (an attachment of a
    VPC that is not created), so this repeats until nothing more is held. Every violation of
    the commit as written is reported, and so is each one that held something more back, on
    the line of the offending document, whose file is read again at the next ingest."""
    before = {a.identity: a for a in applied}
    located: dict[Identity, tuple[str, DocRef]] = {}
    for path, state in snap.files.items():
        for ref in state.documents:
            located.setdefault(ref.identity, (path, ref))

    def from_git(res: DesiredResource) -> fabric_rules.FabricResource:
        doc = res.document
        line = doc.name_line if doc is not None and doc.name_line else res.line
        return fabric_rules.FabricResource(res.kind, res.name, res.spec, res.metadata, res.path, line, doc)

    def from_database(old: Applied, path: str | None, line: int | None) -> fabric_rules.FabricResource:
        return fabric_rules.FabricResource(old.kind, old.name, old.spec or {}, old.metadata, path, line)

    stable: dict[Identity, fabric_rules.FabricResource] = {}
    changed: dict[Identity, fabric_rules.FabricResource] = {}
    for ident, (path, ref) in located.items():
        new = snap.desired.get(ident)
        old = before.get(ident)
        if new is not None:
            same = old is not None and _same(old.spec, new.spec) and _same(old.metadata, new.metadata)
            (stable if same else changed)[ident] = from_git(new)
        elif old is not None and old.spec is not None:
            stable[ident] = from_database(old, path, ref.line)
    for ident, old in before.items():
        # a file that holds a document no one can identify keeps its resources (see plan)
        holder = snap.files.get(old.path) if old.path is not None else None
        if ident not in located and holder is not None and holder.unidentified and old.spec is not None:
            stable[ident] = from_database(old, old.path, None)
    gone = {
        i: a
        for i, a in before.items()
        if a.path is not None and a.spec is not None and i not in located and i not in stable
    }
    managed = {i[0] for i in located} | {a.kind for a in before.values() if a.path is not None}

    def run(fabric: Mapping[Identity, fabric_rules.FabricResource]) -> list[fabric_rules.Violation]:
        order = [r for i, r in fabric.items() if i not in changed] + [r for i, r in fabric.items() if i in changed]
        return fabric_rules.validate_fabric(order, managed_kinds=managed)

    current = {**stable, **changed}
    violations = run(current)
    reported = list(violations)
    held: set[Identity] = set()
    for round_no in range(MAX_HOLD_ROUNDS):
        more: dict[Identity, fabric_rules.Violation] = {}
        for v in violations:
            subject = (v.kind, DEFAULT_NAMESPACE, v.name)
            other = None if v.other is None else (v.other[0], DEFAULT_NAMESPACE, v.other[1])
            if subject in changed:
                more.setdefault(subject, v)
            elif other is not None and (other in changed or other in gone):
                more.setdefault(other, v)
        for ident in held:
            more.pop(ident, None)
        if not more:
            break
        if round_no:
            # Not wrong as written, but it needs something held back: say so where it is.
            reported.extend(
                replace(
                    v, message=f"{v.message} (it is held back by a fabric rule), so {v.kind} {v.name} is held back too"
                )
                for ident, v in more.items()
                if ident == (v.kind, DEFAULT_NAMESPACE, v.name)
            )
        held |= set(more)
        for ident in more:
            old = before.get(ident)
            if old is None or old.spec is None:
                current.pop(ident, None)  # a new resource: not created
            else:
                place = located.get(ident)
                current[ident] = (
                    from_database(old, place[0], place[1].line) if place else from_database(old, old.path, None)
                )
        violations = run(current)

    return FabricCheck(_with_violations(snap, reported, held, located), reported, held)


def _with_violations(
    snap: Snapshot, violations: list[fabric_rules.Violation], held: set[Identity], located: Mapping[Identity, Any]
) -> Snapshot:
    if not violations and not held:
        return snap
    added: dict[str, list[Problem]] = {}
    for v in violations:
        if v.path is None or v.path not in snap.files:
            continue
        ident = (v.kind, DEFAULT_NAMESPACE, v.name)
        ref = located[ident][1] if ident in located else None
        added.setdefault(v.path, []).append(
            Problem(
                v.line or (ref.line if ref else 1),
                f"{v.message} [{v.rule}]",
                "error",
                ref.index if ref else None,
                v.kind,
                v.name,
                v.field,
                rule=v.rule,
            )
        )
    files = dict(snap.files)
    dirty = set(snap.dirty)
    for path, problems in added.items():
        state = files[path]
        files[path] = FileState(
            path,
            state.blob_sha,
            state.documents,
            state.problems + tuple(problems),
            state.unidentified,
            state.document_count,
        )
        dirty.add(path)
    desired = {i: r for i, r in snap.desired.items() if i not in held}
    return Snapshot(files, desired, snap.present | held, snap.rereads, dirty)
