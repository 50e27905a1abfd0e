"""Conflicts between the GUI's drafts and Git: detection, strategies, resolution.

One check is one pass over data already in the database: every resource of the fabric is read
once (`storage.conflicts.load_for_check`), each draft is compared three ways in memory
(base = the desired spec the draft started from, GUI = the draft, Git = the current desired
spec; bot.core.threeway), references are checked across the whole fabric, and the outcome is
written back in a handful of set-based statements. No GitHub call is made; 10,000 drafts take
well under a second (bench/conflicts.py).

What a check does to each draft
    - Git did not move under it: nothing (fast path, no three-way work).
    - Git moved, and the two sides touched different fields: the draft is *rebased* -- it
      becomes Git's spec plus the GUI's changes, its base the current desired spec -- so that
      publishing it keeps Git's changes ("merged automatically").
    - The same field changed on both sides to different values: a `concurrent_modification`
      conflict (`missing_resource` when Git deleted the resource the draft edits). The
      strategy decides (below); what it does not decide stays open and the draft waits.
    - The merged result fails the kind's CRD: `schema_mismatch`.
    - The resource's file is no longer YAML (the ingest's per-file errors): `file_corruption`;
      its document parses but fails its schema or the fabric's rules: `schema_mismatch`.
    - A reference to a resource that exists neither in desired nor in drafts (or that a draft
      deletes): `dependency_violation`, on the draft that makes or breaks the reference.
    - `permission_denied` is not found by looking at data: publishing reports it
      (`record_permission_denied`), and a successful publish clears it.
    Every finding is a `conflict` row; the state of every touched resource is recomputed with
    the one rule (bot.core.states), so a draft with an open conflict is in state `conflict`.

Strategies (the sync request's `conflict_resolution`, the seed's values)
    user_guided (default)  nothing is overwritten; conflicted drafts wait, the others go ahead
    gui_wins / github_wins each conflict takes that side (schema_mismatch: that side whole;
                           dependency_violation: github_wins drops the offending draft)
    timestamp_wins         per resource, the later of the draft time (drafted_at) and the time
                           of the Git commit that changed it (desired_at) wins; unknown -> waits
    merge_strategy         non-overlapping fields merged (always), overlapping plain lists
                           merged as sets, other overlaps left as conflicts
    Settled conflicts are rows with status `resolved`, their resolution and who resolved them.

Who calls what
    - The sync operation, in its `detecting_conflicts` phase, inside its transaction:
          report = await conflicts.apply_strategy(conn, fabric_id, strategy,
                                                  resource_ids=selected, operation_id=op.id,
                                                  resolved_by=op.requested_by)
      then publishes `report.ready` (drafts without an open conflict) and leaves
      `report.waiting`. `detect_conflicts(conn, fabric_id)` is the same with `user_guided`.
    - Publishing, on a 403 / protected branch: `record_permission_denied(conn, fabric_id,
      resource_ids, message)`; after a successful write: `clear_permission_denied(conn, fabric_id)`.
    - People: `resolve(conn, fabric_id, resolution, conflict_ids=... | resource_ids=... |
      pull_request_id=..., values=..., resolved_by=...)` (API, PR buttons, PR commands).
    - After ingest moves the fabric's branch, and after people's decisions: `request_recheck`
      queues a check whose job (bot.features.checkruns) checks, then updates every open bot
      PR's check run and comment.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bot.core import fabric_rules, threeway
from bot.core.fieldpath import parse_path
from bot.core.render import strict_equal
from bot.core.states import ConflictType
from bot.core.syncresult import ConflictResolutionStrategy
from bot.core.threeway import ABSENT, FieldConflict, make_resource
from bot.core.validation import validate_spec
from bot.jobs.kinds import JobKind
from bot.jobs.queue import enqueue
from bot.storage import Connection, Executor, fabrics
from bot.storage import conflicts as store

log = logging.getLogger(__name__)

STRATEGIES = tuple(s.value for s in ConflictResolutionStrategy)
RESOLUTIONS = ("gui_wins", "github_wins", "merge", "manual")
# The types a check finds by itself (permission_denied comes from publishing).
CHECKED_TYPES = tuple(t for t in ConflictType if t is not ConflictType.PERMISSION_DENIED)
FIELD_TYPES = (ConflictType.CONCURRENT_MODIFICATION, ConflictType.MISSING_RESOURCE)

# What a strategy writes in conflict.resolution.
_STRATEGY_RESOLUTION = {
    "gui_wins": "gui_wins",
    "github_wins": "github_wins",
    "timestamp_wins": "timestamp_wins",
    "merge_strategy": "merge",
}
_DECISION_RESOLUTION = {"gui": "gui_wins", "git": "github_wins", "merged": "merge", "value": "manual"}
_CHOICE_SIDE = {"gui_wins": "gui", "github_wins": "git", "merge": "merged", "manual": None}

Validator = Callable[[str, Any], list]  # (kind, spec) -> errors with .path and .message
Choices = Mapping[tuple[str, str], str]  # (conflict type, field path) -> resolution


# --------------------------------------------------------------------------------------------
# One resource, as the check sees it


@dataclass
class Row:
    id: int
    kind: str
    namespace: str
    name: str
    desired_spec: Any
    desired_sha: str | None
    desired_at: Any
    draft_spec: Any
    draft_delete: bool
    drafted_at: Any
    draft_base_spec: Any
    draft_base_sha: str | None
    file_path: str | None
    pull_request_id: int | None
    state: str
    base_same: bool
    has_draft: bool

    @classmethod
    def from_record(cls, record: asyncpg.Record | Mapping[str, Any]) -> Row:
        return cls(**dict(record))

    @property
    def git_gone(self) -> bool:
        """Git no longer has it: no desired spec, or its document vanished (orphaned)."""
        return self.desired_spec is None or self.file_path is None or self.state == "orphaned"

    @property
    def gui(self) -> dict | None:
        # What the cluster fills in (a draft made from its view) is no change: compared without it.
        if self.draft_delete:
            return None
        return make_resource(fabric_rules.without_defaults(self.kind, self.draft_spec, self.desired_spec))

    @property
    def git(self) -> dict | None:
        return None if self.git_gone else make_resource(self.desired_spec)

    @property
    def base(self) -> dict | None:
        return None if self.draft_base_spec is None else make_resource(self.draft_base_spec)


@dataclass
class Decision:
    """What the check decided for one draft."""

    row: Row
    open: list[FieldConflict] = field(default_factory=list)
    resolved: list[tuple[FieldConflict, str]] = field(default_factory=list)  # (conflict, resolution)
    op: str = "keep"  # keep | set | clear
    draft: Any = None  # the new draft view (None: delete) when op == "set"
    base: Any = None  # the new base view
    base_sha: str | None = None
    merged: bool = False  # Git's changes were merged into the draft

    @property
    def result(self) -> Any:
        """The draft view after this decision (None: a deletion)."""
        return self.draft if self.op == "set" else (self.row.git if self.op == "clear" else self.row.gui)


def _same(a: Any, b: Any) -> bool:
    if a is None or a is ABSENT or b is None or b is ABSENT:
        return (a is None or a is ABSENT) and (b is None or b is ABSENT)
    return strict_equal(a, b)


def _view(value: Any) -> dict | None:
    return None if value is None or value is ABSENT else value


def _side(strategy: str, row: Row) -> str | None:
    """Which side a strategy gives every conflict of this resource (None: it does not)."""
    if strategy == "gui_wins":
        return "gui"
    if strategy == "github_wins":
        return "git"
    if strategy == "timestamp_wins" and row.drafted_at is not None and row.desired_at is not None:
        # A tie goes to Git, the repository being the record.
        return "gui" if row.drafted_at > row.desired_at else "git"
    return None


def _conflict(
    row: Row,
    conflict_type: str,
    message: str,
    *,
    path: str = "",
    base: Any = ABSENT,
    gui: Any = ABSENT,
    git: Any = ABSENT,
) -> FieldConflict:
    return FieldConflict(path, base, gui, git, conflict_type, row.kind, row.name, message)


def _spec_of(view: Any) -> Any:
    view = _view(view)
    return None if view is None else view.get("spec")


def _finish(decision: Decision, draft: Any, base: Any, base_sha: str | None) -> None:
    """Set the decision's write from the new draft and base views."""
    row = decision.row
    draft, base = _view(draft), _view(base)
    if _same(draft, row.gui) and _same(base, row.base) and base_sha == row.draft_base_sha:
        decision.op = "keep"
    elif not decision.open and _same(draft, row.git) and row.pull_request_id is None:
        # The draft says nothing Git does not: no draft at all. (In an open pull request it
        # stays, so that the branch is brought back to Git's version.)
        decision.op = "clear"
    else:
        decision.op, decision.draft, decision.base, decision.base_sha = "set", draft, base, base_sha


def take_side_whole(decision: Decision, side: str, resolution: str) -> None:
    """Settle every conflict of the resource by taking one side as a whole."""
    row = decision.row
    decision.resolved.extend((c, resolution) for c in decision.open)
    decision.open = []
    if side == "gui":
        _finish(decision, row.gui, row.git, None if row.git_gone else row.desired_sha)
    else:
        _finish(decision, row.git, row.git, None if row.git_gone else row.desired_sha)


def evaluate(
    row: Row,
    strategy: str = "user_guided",
    *,
    choices: Choices | None = None,
    values: Mapping[str, Any] | None = None,
    validate: Validator | None = None,
    file_error: FileProblem | None = None,
) -> Decision:
    """Decide one draft (pure). `choices` are a person's decisions for this resource's
    conflicts, keyed by (type, field path); `values` field values a person typed (the
    `manual` resolution: set on the draft, JSON null removes the field)."""
    choices = dict(choices or {})
    values = dict(values or {})
    decision = Decision(row)
    gui, git, base = row.gui, row.git, row.base
    base_sha = row.draft_base_sha
    field_paths: set[str] = set()

    if row.base_same and (git is None) == (base is None) and not values:
        result = gui  # Git did not move under the draft: nothing to compare
    else:
        tw = threeway.three_way(base, gui, git, kind=row.kind, name=row.name)
        field_paths = {c.path for c in tw.conflicts}
        field_choices = {
            path: choice
            for (ctype, path), choice in choices.items()
            if ctype in FIELD_TYPES and path in field_paths and choice != "manual"
        }
        field_values = {p: v for p, v in values.items() if p in field_paths}
        side = _side(strategy, row)
        name = {"gui": "gui_wins", "git": "github_wins"}.get(side or "", strategy)
        if name == "timestamp_wins":  # times unknown: nothing is decided
            name = "user_guided"
        res = threeway.resolve(tw, name, choices=field_choices, values=field_values)
        by_path = {c.path: c for c in tw.conflicts}
        for path, how in res.decisions.items():
            if how == "value":
                resolution = "manual"
            elif path in field_choices:
                resolution = field_choices[path]
            else:  # the strategy decided
                resolution = _STRATEGY_RESOLUTION.get(strategy, _DECISION_RESOLUTION[how])
            decision.resolved.append((by_path[path], resolution))
        decision.open = list(res.conflicts)
        result = res.resource
        decision.merged = bool(tw.git_only) and result is not None
        if decision.open:
            # Keep the GUI's value where nothing was decided, and move the base to Git's value
            # where something was, so the next check finds exactly the undecided fields again.
            for c in decision.open:
                result = threeway.set_at(result, c.segments, c.gui)
            new_base = base
            for path in res.decisions:
                c = by_path[path]
                new_base = threeway.set_at(new_base if new_base is not None else {}, c.segments, c.git)
            if not res.decisions:
                result, new_base = gui, base  # nothing decided: the draft is left as it is
        else:
            new_base, base_sha = git, (None if row.git_gone else row.desired_sha)
        base = _view(new_base)
    # A person's values for fields that were not in conflict are edits of the draft.
    for path, value in values.items():
        if path not in field_paths and _view(result) is not None:
            result = threeway.set_at(result, parse_path(path), ABSENT if value is None else value)
    _finish(decision, result, base, base_sha)

    # The merged result must still be a valid resource of its kind.
    if (
        validate is not None
        and not decision.open
        and decision.op == "set"
        and decision.draft is not None
        and not _same(decision.draft, gui)
    ):
        errors = validate(row.kind, _spec_of(decision.draft))
        if errors:
            detail = "; ".join(f"{e.path}: {e.message}" if e.path else e.message for e in errors[:5])
            mismatch = _conflict(
                row,
                "schema_mismatch",
                f"the merged draft fails the {row.kind} CRD: {detail}",
                base=row.draft_base_spec,
                gui=_spec_of(gui),
                git=_spec_of(git),
            )
            side = {"gui_wins": "gui", "github_wins": "git"}.get(choices.get(("schema_mismatch", ""), ""))
            side = side or _side(strategy, row)
            # The field decisions cannot be kept without a valid result: they stay open too.
            decision.open = [c for c, _ in decision.resolved] + [mismatch]
            decision.resolved = []
            if side is not None:
                take_side_whole(
                    decision, side, choices.get(("schema_mismatch", "")) or _STRATEGY_RESOLUTION.get(strategy, "manual")
                )
            else:
                decision.op = "keep"

    if file_error is not None:
        if file_error.type == "file_corruption":
            message = f"{row.file_path} is no longer valid YAML: {file_error.detail}"
        else:
            message = (
                f"{row.file_path}: the {row.kind} document parses but fails its schema or the fabric's rules: "
                f"{file_error.detail}"
            )
        corrupt = _conflict(row, file_error.type, message, gui=_spec_of(gui), git=file_error.detail)
        choice = choices.get((file_error.type, ""))
        if choice in ("gui_wins", "manual") or (choice is None and _side(strategy, row) == "gui"):
            # The GUI's version will be written over the broken document.
            decision.resolved.append((corrupt, choice or _STRATEGY_RESOLUTION[strategy]))
        else:
            decision.open.append(corrupt)
    return decision


# --------------------------------------------------------------------------------------------
# Dependencies, across the fabric


def check_dependencies(
    rows: Sequence[Row],
    decisions: Mapping[int, Decision],
    strategy_of: Callable[[Row], str],
    choices_of: Callable[[Row], Choices],
) -> None:
    """Add a dependency_violation to each draft that would break the fabric as a whole
    (bot.core.fabric_rules, on the desired state with every draft applied): a reference to
    nothing, a deletion of what something still refers to, a VLAN or a switch port taken
    twice, ... The draft a rule blames gets it; when the rule blames a resource nobody drafted,
    the draft on the other side (the one deleted, or clashed with) does. Violations Git already
    had, with no draft involved, are left to the validation check of the repository."""
    desired: list[fabric_rules.FabricResource] = []
    drafted: dict[tuple[str, str], fabric_rules.FabricResource | None] = {}
    for row in rows:
        if row.git is not None:
            desired.append(fabric_rules.FabricResource(row.kind, row.name, row.desired_spec or {}, None, row.file_path))
        decision = decisions.get(row.id)
        if decision is not None:
            spec = _spec_of(decision.result)
            drafted[(row.kind, row.name)] = (
                None if decision.result is None else fabric_rules.FabricResource(row.kind, row.name, spec or {})
            )
    violations = fabric_rules.validate_with_drafts(desired, drafted)
    if not violations:
        return
    # What Git already breaks without any draft is the repository's check's, not a draft's.
    had = {(v.rule, v.kind, v.name, v.field, v.other) for v in fabric_rules.validate_fabric(desired)}
    violations = [v for v in violations if (v.rule, v.kind, v.name, v.field, v.other) not in had]
    by_name = {(row.kind, row.name): row for row in rows}
    for violation in violations:
        owner = by_name.get((violation.kind, violation.name))
        path, message = violation.field, violation.message
        if owner is None or owner.id not in decisions:
            # Nobody drafted the resource the rule blames: blame the draft on the other side.
            owner = by_name.get(violation.other) if violation.other else None
            if owner is None or owner.id not in decisions:
                continue
            path, message = "", f"{violation.kind} {violation.name}: {message}"
        other = "/".join(violation.other) if violation.other else None
        decision = decisions[owner.id]
        conflict = _conflict(
            owner, "dependency_violation", f"{message} [{violation.rule}]", path=path, gui=other, git=None
        )
        choice = choices_of(owner).get(("dependency_violation", path))
        if choice == "github_wins" or (choice is None and _side(strategy_of(owner), owner) == "git"):
            decision.open.append(conflict)
            take_side_whole(decision, "git", choice or _STRATEGY_RESOLUTION[strategy_of(owner)])
        elif choice == "manual":
            decision.resolved.append((conflict, "manual"))  # acknowledged
        else:
            decision.open.append(conflict)


# --------------------------------------------------------------------------------------------
# The check, against the database


@dataclass
class CheckReport:
    """What one check found and did."""

    fabric_id: int
    resources: int = 0  # resources of the fabric read (references are checked across all of them)
    checked: int = 0  # drafts examined
    conflicts: list[tuple[int, FieldConflict]] = field(default_factory=list)  # open: (resource id, conflict)
    resolved: int = 0  # conflicts settled now (by the strategy or a person)
    opened: int = 0  # conflict rows newly open
    superseded: int = 0  # open rows no longer found
    merged: list[int] = field(default_factory=list)  # drafts rebased onto Git's changes
    ready: list[int] = field(default_factory=list)  # drafts (in scope) without an open conflict
    waiting: list[int] = field(default_factory=list)  # drafts (in scope) blocked by one
    duration_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "open": len(self.conflicts),
            "resolved": self.resolved,
            "opened": self.opened,
            "superseded": self.superseded,
            "merged": len(self.merged),
            "ready": len(self.ready),
            "waiting": len(self.waiting),
            "duration_ms": round(self.duration_ms, 1),
        }


def _validator() -> Validator:
    return lambda kind, spec: validate_spec(kind, spec, all_errors=False)


@dataclass(frozen=True)
class FileProblem:
    """Why a resource's document in Git cannot be taken: `file_corruption` when the text is not
    YAML (or could not be read), `schema_mismatch` when it parses but fails its schema or the
    fabric's rules. `detail` is the ingest's message with its line."""

    type: str
    detail: str


def file_problem(problem: Mapping[str, Any]) -> FileProblem:
    """One problem the ingest recorded (bot.core.snapshot.Problem's JSON) as a finding. A
    problem on no document is the whole file's (it was not read or did not parse)."""
    unreadable = problem.get("unreadable") or problem.get("document") is None
    return FileProblem(
        "file_corruption" if unreadable else "schema_mismatch", f"line {problem.get('line')}: {problem.get('message')}"
    )


async def file_errors(conn: Connection, fabric_id: int) -> dict[Any, FileProblem]:
    """What the last ingest found broken (fabric_file, sql/003), keyed by file path (a
    document of the file cannot be read at all, so any of its resources may be the broken one)
    and by (path, kind, namespace, name) (that resource's own document fails)."""
    out: dict[Any, FileProblem] = {}
    for row in await store.broken_files(conn, fabric_id):
        errors = [p for p in row["problems"] if p.get("level", "error") == "error"]
        if row["unidentified"] and errors:
            unnamed = [p for p in errors if not p.get("name")] or errors
            out[row["path"]] = file_problem(unnamed[0])
        for ref in row["documents"]:
            index, _, kind, namespace, name, valid = ref
            if not valid:
                own = [p for p in errors if p.get("document") == index] or errors
                out[(row["path"], kind, namespace, name)] = file_problem(own[0])
    return out


def _broken(broken: Mapping[Any, FileProblem], row: Row) -> FileProblem | None:
    if not row.file_path:
        return None
    return broken.get(row.file_path) or broken.get((row.file_path, row.kind, row.namespace, row.name))


def _finding(
    resource_id: int, pull_request_id: int | None, conflict: FieldConflict, resolution: str | None = None
) -> dict[str, Any]:
    return {
        "resource_id": resource_id,
        "pull_request_id": pull_request_id,
        "type": conflict.type,
        "severity": conflict.severity,
        "field_path": conflict.path,
        "base_value": threeway.to_json(conflict.base),
        "gui_value": threeway.to_json(conflict.gui),
        "git_value": threeway.to_json(conflict.git),
        "message": conflict.message,
        "resolution_options": conflict.resolution_options,
        "resolution": resolution,
    }


async def check_fabric(
    conn: Connection,
    fabric_id: int,
    strategy: str = "user_guided",
    *,
    resource_ids: Iterable[int] | None = None,
    choices: Mapping[int, Choices] | None = None,
    values: Mapping[int, Mapping[str, Any]] | None = None,
    resolved_by: str | None = None,
    operation_id: uuid.UUID | None = None,
    corrupt_files: Mapping[Any, FileProblem] | None = None,
) -> CheckReport:
    """Check every draft of the fabric in one pass and write the outcome (see the module
    docstring). The strategy applies to the drafts in `resource_ids` (all when None); the
    others are checked with user_guided. `choices` / `values` are a person's decisions, per
    resource id. Runs in a transaction of its own (a savepoint inside the caller's) and
    holds the fabric's row lock, so it never interleaves with an ingest of the fabric."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown conflict strategy {strategy!r}")
    started = time.perf_counter()
    scope = set(resource_ids) if resource_ids is not None else None
    choices = choices or {}
    values = values or {}
    report = CheckReport(fabric_id)
    async with conn.transaction():
        await fabrics.lock(conn, fabric_id)
        rows = [Row.from_record(r) for r in await store.load_for_check(conn, fabric_id)]
        broken = dict(corrupt_files) if corrupt_files is not None else await file_errors(conn, fabric_id)
        validate = _validator()

        def strategy_of(row: Row) -> str:
            return strategy if scope is None or row.id in scope else "user_guided"

        def choices_of(row: Row) -> Choices:
            return choices.get(row.id, {})

        decisions: dict[int, Decision] = {}
        for row in rows:
            if row.has_draft:
                decisions[row.id] = evaluate(
                    row,
                    strategy_of(row),
                    choices=choices_of(row),
                    values=values.get(row.id),
                    validate=validate,
                    file_error=_broken(broken, row),
                )
        check_dependencies(rows, decisions, strategy_of, choices_of)

        open_found: list[dict[str, Any]] = []
        resolved_found: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        for decision in decisions.values():
            row = decision.row
            open_found.extend(_finding(row.id, row.pull_request_id, c) for c in decision.open)
            resolved_found.extend(_finding(row.id, row.pull_request_id, c, how) for c, how in decision.resolved)
            report.conflicts.extend((row.id, c) for c in decision.open)
            if decision.op == "set":
                changes.append(
                    {
                        "id": row.id,
                        "op": "set",
                        "draft_spec": _spec_of(decision.draft),
                        "draft_delete": decision.draft is None,
                        "base_spec": _spec_of(decision.base),
                        "base_sha": decision.base_sha,
                    }
                )
                if decision.merged:
                    report.merged.append(row.id)
            elif decision.op == "clear":
                changes.append({"id": row.id, "op": "clear"})
            elif row.state == "conflict" or decision.open or decision.resolved:
                changes.append({"id": row.id, "op": "state"})
        report.resolved = await store.record_resolved(
            conn, fabric_id, resolved_found, resolved_by=resolved_by, operation_id=operation_id
        )
        opened, still_open = await store.record_open(conn, fabric_id, open_found, operation_id=operation_id)
        report.opened = opened
        # Findings a person acknowledged before are not open again: report what the rows say.
        report.conflicts = [(rid, c) for rid, c in report.conflicts if (rid, c.type, c.path) in still_open]
        report.superseded = await store.supersede(conn, fabric_id, open_found, types=CHECKED_TYPES)
        await store.write_resources(conn, fabric_id, changes)
        blocked = await store.blocked_resources(conn, fabric_id)
    report.checked = len(decisions)
    report.resources = len(rows)
    for rid, decision in decisions.items():
        if scope is not None and rid not in scope:
            continue
        if rid in blocked:
            report.waiting.append(rid)
        elif decision.op != "clear":
            report.ready.append(rid)
    report.duration_ms = (time.perf_counter() - started) * 1000
    return report


async def detect_conflicts(
    conn: Connection,
    fabric_id: int,
    *,
    resource_ids: Iterable[int] | None = None,
    operation_id: uuid.UUID | None = None,
) -> CheckReport:
    """Check without deciding anything (user_guided): conflicts are opened, drafts whose
    changes do not overlap Git's are merged, nothing is overwritten."""
    return await check_fabric(conn, fabric_id, "user_guided", resource_ids=resource_ids, operation_id=operation_id)


async def apply_strategy(
    conn: Connection,
    fabric_id: int,
    strategy: str,
    *,
    resource_ids: Iterable[int] | None = None,
    operation_id: uuid.UUID | None = None,
    resolved_by: str | None = None,
) -> CheckReport:
    """Check and settle with a sync request's `conflict_resolution` strategy. Publish
    `report.ready`; `report.waiting` keep their drafts until a person decides."""
    return await check_fabric(
        conn,
        fabric_id,
        strategy,
        resource_ids=resource_ids,
        operation_id=operation_id,
        resolved_by=resolved_by or "hnp-gitops",
    )


# --------------------------------------------------------------------------------------------
# People deciding


class ResolutionRefused(Exception):
    """The resolution cannot be applied (not offered for that conflict, a value is missing, the
    values cannot be merged or the result is invalid). Nothing was changed."""

    def __init__(self, message: str, conflict_ids: Sequence[int] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.conflict_ids = list(conflict_ids)


@dataclass
class ResolveOutcome:
    resolved: list[int]  # conflict ids now resolved
    skipped: list[int]  # selected conflicts that do not offer this resolution
    still_open: list[int]  # selected conflicts the resolution could not settle (e.g. no merge)
    report: CheckReport | None


async def resolve(
    conn: Connection,
    fabric_id: int,
    resolution: str,
    *,
    conflict_ids: Sequence[int] | None = None,
    resource_ids: Sequence[int] | None = None,
    pull_request_id: int | None = None,
    values: Mapping[str, Any] | None = None,
    resolved_by: str | None = None,
    strict: bool = False,
) -> ResolveOutcome:
    """Apply a person's resolution (gui_wins | github_wins | merge | manual) to the open
    conflicts selected by id, by resource, or by the pull request their resources sit in
    (none of these: all of the fabric's). Conflicts that do not offer it are skipped
    (`strict`: refused). `values` ({field path: value}) go with `manual`. Idempotent: a
    second call finds nothing open and changes nothing."""
    if resolution not in RESOLUTIONS:
        raise ResolutionRefused(f"unknown resolution {resolution!r}: use one of {', '.join(RESOLUTIONS)}")
    async with conn.transaction():
        await fabrics.lock(conn, fabric_id)
        selected = await store.list_for_fabric(
            conn, fabric_id, status="open", resource_ids=resource_ids, pull_request_id=pull_request_id
        )
        if conflict_ids is not None:
            wanted = set(conflict_ids)
            selected = [c for c in selected if c.id in wanted]
        applicable = [c for c in selected if resolution in (c.resolution_options or [])]
        skipped = [c.id for c in selected if resolution not in (c.resolution_options or [])]
        if strict and skipped:
            raise ResolutionRefused(f"{resolution} is not offered for this conflict", skipped)
        if resolution == "manual":
            for c in applicable:
                # A field conflict needs the value a person chose; an invalid merge needs edits.
                if (c.type in FIELD_TYPES and (c.field_path or "") not in (values or {})) or (
                    c.type == "schema_mismatch" and not values
                ):
                    raise ResolutionRefused(
                        f"manual resolution of {c.resource} {c.field_path or '(resource)'} needs values "
                        f"(e.g. {{{(c.field_path or 'spec')!r}: ...}})",
                        [c.id],
                    )
        if not applicable:
            return ResolveOutcome([], skipped, [], None)

        # permission_denied is no finding of the check: a person saying it is fixed closes it.
        direct = [c.id for c in applicable if c.type == "permission_denied"]
        done = await store.mark_resolved(conn, direct, resolution, resolved_by) if direct else []
        per_resource: dict[int, dict[tuple[str, str], str]] = {}
        per_values: dict[int, Mapping[str, Any]] = {}
        for c in applicable:
            if c.type != "permission_denied" and c.resource_id is not None:
                per_resource.setdefault(c.resource_id, {})[(c.type, c.field_path or "")] = resolution
                if values:
                    per_values[c.resource_id] = values
        report = None
        if per_resource:
            report = await check_fabric(
                conn, fabric_id, "user_guided", choices=per_resource, values=per_values, resolved_by=resolved_by
            )
        ids = [c.id for c in applicable]
        # A decision that made the finding go away (a manual fix of a reference, a valid
        # value) closes it as resolved by that person, not as superseded.
        await store.resolve_superseded(conn, ids, resolution, resolved_by)
        rows = await store.statuses(conn, ids)
        still_open = [r["id"] for r in rows if r["status"] == "open" or r["reopened"]]
        if strict and still_open:
            raise ResolutionRefused(_why_not(resolution, applicable, still_open), still_open)
        resolved = sorted(set(done) | {r["id"] for r in rows if r["status"] == "resolved" and not r["reopened"]})
        return ResolveOutcome(resolved, skipped, still_open, report)


def _why_not(resolution: str, selected: Sequence[store.Conflict], ids: Sequence[int]) -> str:
    if resolution == "merge":
        return "these values cannot be merged (only two lists merge); choose gui_wins, github_wins or manual"
    return "the resolution leaves an invalid or still conflicting draft; nothing was changed"


# --------------------------------------------------------------------------------------------
# Permission denied, reported by publishing


async def record_permission_denied(
    conn: Connection,
    fabric_id: int,
    resource_ids: Sequence[int],
    message: str,
    *,
    operation_id: uuid.UUID | None = None,
) -> int:
    """The app could not write the branch (403 on a ref update, branch protection): every
    draft it tried to publish gets an open permission_denied conflict and waits."""
    rows = await store.resources_named(conn, fabric_id, resource_ids)
    found = [
        _finding(
            r["id"],
            r["pull_request_id"],
            threeway.make_conflict("permission_denied", message, kind=r["kind"], name=r["name"]),
        )
        for r in rows
    ]
    opened, _ = await store.record_open(conn, fabric_id, found, operation_id=operation_id)
    await store.refresh_states(conn, fabric_id, [r["id"] for r in rows])
    return opened


async def clear_permission_denied(conn: Connection, fabric_id: int, resource_ids: Sequence[int] | None = None) -> int:
    """A write went through: open permission_denied conflicts (of these resources) are
    superseded."""
    ids = await store.supersede_permission_denied(conn, fabric_id, resource_ids)
    await store.refresh_states(conn, fabric_id, [i for i in ids if i is not None])
    return len(ids)


async def request_recheck(
    db: Executor,
    fabric_id: int,
    pull_request_id: int | None = None,
    *,
    head_sha: str | None = None,
) -> int | None:
    """Queue a check of the fabric's open bot pull requests (one, or all), after whatever the
    fabric's queue already holds. Pass a connection to queue it inside your transaction."""
    payload = {"fabric_id": fabric_id, "pull_request_id": pull_request_id, "head_sha": head_sha}
    return await enqueue(db, JobKind.CONFLICTS_CHECK, payload, fabric_id=fabric_id)
