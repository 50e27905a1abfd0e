"""Field-level three-way comparison of a resource: base (the desired spec a draft started
from), GUI (the draft) and Git (the current desired spec); strategies; conflict types; and
the dependency check.

What is compared
    A resource is a dict with `spec` and optionally `metadata.labels` / `metadata.annotations`
    (other metadata -- name, namespace, bookkeeping -- is not compared). `None` stands for a
    resource that does not exist (deleted, or not created yet).

Field paths (`bot.core.fieldpath`)
    `spec.subnets.default.vlan`, `metadata.annotations["type.hhfab.githedgehog.com"]`. A list
    whose items are all mappings with a distinct string `name` is matched item by item by that
    name, `spec.links[name=a].port`; the order of such items is not significant. Every other
    list is one value, compared whole (a reference inside one is named by position,
    `spec.groups[0]`). The path of the whole resource is '' (shown as "(resource)").

Diff (`diff`)
    The smallest changed subtrees: a changed leaf is reported at the leaf; an added or removed
    key / named item, or a value whose type changed (a mapping replaced by a scalar, a named
    list replaced by a plain one), is reported once at its own path with the whole old and new
    values. A missing value is `ABSENT` (JSON null, shown as "<absent>").

Overlap rule (`three_way`)
    A GUI change at path P and a Git change at path Q touch the same field when P == Q or one
    is a prefix (ancestor) of the other. Within one side changes never overlap, so each group
    of touching changes has one shortest path, its root. The group is *agreed* (no conflict)
    when the GUI and Git values at the root are equal, otherwise it is one conflict at the
    root, with the base, GUI and Git values of that whole subtree. A GUI deletion of a subnet
    while Git edits its vlan is therefore one conflict at `spec.subnets.s2`, and a Git
    deletion of the whole resource while the GUI edits it is one `missing_resource` conflict
    at ''. Changes that touch nothing on the other side merge automatically.

Strategies (`resolve`)
    gui_wins / github_wins: each conflict takes that side's value; timestamp_wins: per
    resource, the later of the draft time and the Git commit time wins (a tie goes to Git, the
    repository being the record); merge / merge_strategy: conflicts between two plain lists
    are merged as sets of items (Git's list, plus the items the GUI added, minus the items the
    GUI removed); other conflicts remain; user_guided / manual: nothing is overwritten --
    only the paths the caller decided (`choices` / `values`) are applied, the rest remain.
    One-sided changes are applied by every strategy. Remaining conflicts keep Git's value.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.fieldpath import Named, Path, format_path, parse_path
from bot.core.render import strict_equal
from bot.core.states import ConflictType

# --------------------------------------------------------------------------------------------
# Values and paths


class _Absent:
    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<absent>"

    def __bool__(self) -> bool:
        return False

    def __deepcopy__(self, memo: dict[int, Any]) -> _Absent:
        return self

    def __copy__(self) -> _Absent:
        return self

    def __reduce__(self) -> tuple[type[_Absent], tuple[()]]:
        return (_Absent, ())


ABSENT = _Absent()
"""A value that is not there (a removed key, a deleted resource). JSON: null."""


def to_json(value: Any) -> Any:
    """A JSON-ready copy: ABSENT becomes None."""
    if value is ABSENT:
        return None
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def _named_list(value: Any) -> dict[str, dict[str, Any]] | None:
    """{name: item} when `value` is a non-empty list of mappings with distinct string names."""
    if not isinstance(value, list) or not value:
        return None
    out: dict[str, dict[str, Any]] = {}
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return None
        if item["name"] in out:
            return None
        out[item["name"]] = item
    return out


def resource_view(resource: Mapping[str, Any] | _Absent | None) -> dict[str, Any] | _Absent:
    """The compared part of a resource: spec and metadata labels / annotations."""
    if resource is None or isinstance(resource, _Absent):
        return ABSENT
    view: dict[str, Any] = {}
    if "spec" in resource:
        view["spec"] = resource["spec"]
    metadata = resource.get("metadata") or {}
    kept = {k: metadata[k] for k in ("labels", "annotations") if metadata.get(k)}
    if kept:
        view["metadata"] = kept
    return view


def make_resource(spec: Any, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A resource dict from a spec and optional metadata (as the database keeps them)."""
    out: dict[str, Any] = {"spec": spec}
    if metadata:
        out["metadata"] = dict(metadata)
    return out


def value_at(value: Any, path: Path) -> Any:
    for segment in path:
        if isinstance(segment, Named):
            items = _named_list(value)
            if items is None or segment.name not in items:
                return ABSENT
            value = items[segment.name]
        elif isinstance(segment, int):
            if not isinstance(value, list) or segment >= len(value):
                return ABSENT
            value = value[segment]
        else:
            if not isinstance(value, dict) or segment not in value:
                return ABSENT
            value = value[segment]
    return value


def flatten(resource: Any) -> dict[str, Any]:
    """Every leaf of a resource by field path (leaves: scalars, plain lists, empty {} / [])."""
    out: dict[str, Any] = {}

    def walk(path: Path, value: Any) -> None:
        items = _named_list(value)
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(path + (k,), v)
        elif items is not None:
            for name, item in items.items():
                walk(path + (Named(name),), item)
        else:
            out[format_path(path)] = value

    view = resource_view(resource) if isinstance(resource, Mapping) or resource is None else resource
    if view is not ABSENT:
        walk((), view)
    return out


def _diff(path: Path, a: Any, b: Any, out: dict[Path, tuple[Any, Any]]) -> None:
    if strict_equal(a, b):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            _diff(path + (k,), a.get(k, ABSENT), b.get(k, ABSENT), out)
        return
    na, nb = _named_list(a), _named_list(b)
    if na is not None and nb is not None:
        for name in list(na) + [n for n in nb if n not in na]:
            _diff(path + (Named(name),), na.get(name, ABSENT), nb.get(name, ABSENT), out)
        return
    out[path] = (a, b)


def diff_paths(base: Any, other: Any) -> dict[Path, tuple[Any, Any]]:
    """`diff` keyed by path tuples. Arguments are resources (or None)."""
    out: dict[Path, tuple[Any, Any]] = {}
    _diff((), resource_view(base), resource_view(other), out)
    return out


def diff(base: Any, other: Any) -> dict[str, tuple[Any, Any]]:
    """{field path: (old, new)} for the smallest changed subtrees (see the module docstring)."""
    return {format_path(p): v for p, v in diff_paths(base, other).items()}


# --------------------------------------------------------------------------------------------
# Conflict types


@dataclass(frozen=True)
class ConflictPolicy:
    """How a type of conflict is shown and what may settle it."""

    severity: str  # low | medium | high | critical (the conflict table's values)
    options: tuple[str, ...]  # resolutions offered, in the conflict table's vocabulary
    meaning: str


CONFLICT_POLICIES: dict[ConflictType, ConflictPolicy] = {
    # Both sides changed one field: either side can win, lists can merge, or a person picks.
    ConflictType.CONCURRENT_MODIFICATION: ConflictPolicy(
        "medium",
        ("gui_wins", "github_wins", "merge", "manual"),
        "the GUI and Git changed the same field to different values",
    ),
    # The draft edits a resource Git deleted: recreate it (GUI wins) or accept the deletion.
    ConflictType.MISSING_RESOURCE: ConflictPolicy(
        "high", ("gui_wins", "github_wins", "manual"), "the draft edits a resource that was deleted in Git"
    ),
    # The merged result fails the CRD: take one side whole, or fix by hand.
    ConflictType.SCHEMA_MISMATCH: ConflictPolicy(
        "high", ("gui_wins", "github_wins", "manual"), "the merged result does not validate against the kind's CRD"
    ),
    # The file no longer parses: only a person can say what was meant; the GUI's version
    # can be written over the broken document.
    ConflictType.FILE_CORRUPTION: ConflictPolicy(
        "critical", ("gui_wins", "manual"), "the resource's file no longer parses"
    ),
    # A reference to nothing: add the missing resource, or drop the draft.
    ConflictType.DEPENDENCY_VIOLATION: ConflictPolicy(
        "high", ("github_wins", "manual"), "a reference to a resource that exists neither in Git nor in drafts"
    ),
    # Nothing the bot can choose fixes a missing permission.
    ConflictType.PERMISSION_DENIED: ConflictPolicy("critical", ("manual",), "the app cannot write the branch"),
}


def policy(conflict_type: str) -> ConflictPolicy:
    """The policy of a conflict type (its enum member or value); ValueError for an unknown one."""
    return CONFLICT_POLICIES[ConflictType(conflict_type)]


def auto_resolvable(conflict_type: str) -> bool:
    """A sync's strategy (gui_wins, github_wins, timestamp_wins) can settle it without a person:
    it offers a side to take. (The contract's `resolution.auto_resolvable`.)"""
    return bool({"gui_wins", "github_wins"} & set(policy(conflict_type).options))


@dataclass(frozen=True)
class FieldConflict:
    """One conflict. `path` is a field path ('' for the whole resource)."""

    path: str
    base: Any
    gui: Any
    git: Any
    type: str = "concurrent_modification"
    kind: str | None = None
    name: str | None = None
    message: str = ""
    segments: Path = field(default=(), compare=False, repr=False)

    @property
    def severity(self) -> str:
        return policy(self.type).severity

    @property
    def resolution_options(self) -> list[str]:
        return list(policy(self.type).options)

    @property
    def resource(self) -> str:
        return f"{self.kind}/{self.name}" if self.kind and self.name else (self.name or "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "severity": self.severity,
            "kind": self.kind,
            "name": self.name,
            "field_path": self.path,
            "base_value": to_json(self.base),
            "gui_value": to_json(self.gui),
            "git_value": to_json(self.git),
            "message": self.message,
            "resolution_options": self.resolution_options,
        }


def make_conflict(
    conflict_type: str,
    message: str,
    *,
    kind: str | None = None,
    name: str | None = None,
    path: str = "",
    base: Any = ABSENT,
    gui: Any = ABSENT,
    git: Any = ABSENT,
) -> FieldConflict:
    """A conflict of any type (schema_mismatch, file_corruption, permission_denied, ...)."""
    if conflict_type not in CONFLICT_POLICIES:
        raise ValueError(f"unknown conflict type {conflict_type!r}")
    segments = parse_path(path) if path else ()
    return FieldConflict(path, base, gui, git, conflict_type, kind, name, message, segments)


# --------------------------------------------------------------------------------------------
# Three-way


@dataclass
class ThreeWayResult:
    base: Any  # the three resource views (ABSENT for a resource that does not exist)
    gui: Any
    git: Any
    merged: Any  # Git's view with every GUI-only change applied (conflicts keep Git's value)
    conflicts: list[FieldConflict]
    gui_only: list[str]
    git_only: list[str]
    agreed: list[str]  # changed on both sides to the same value
    kind: str | None = None
    name: str | None = None

    @property
    def clean(self) -> bool:
        return not self.conflicts

    @property
    def merged_spec(self) -> Any:
        return None if self.merged is ABSENT else self.merged.get("spec")


def set_at(root: Any, path: Path, value: Any) -> Any:
    """`root` with the value at `path` set (ABSENT: removed; a Named segment that is not
    there appends an item). The containers on the way are copied, `root` is not modified;
    returns the new root (ABSENT when the whole value was removed)."""
    if not path:
        return value
    root = copy.copy(root) if isinstance(root, (dict, list)) else {}
    head, rest = path[0], path[1:]
    if isinstance(head, Named):
        items = root if isinstance(root, list) else []
        for i, item in enumerate(items):
            if isinstance(item, dict) and item.get("name") == head.name:
                new_item = set_at(item, rest, value)
                if new_item is ABSENT:
                    del items[i]
                else:
                    items[i] = new_item
                return items
        if not rest and value is not ABSENT:
            items.append(value)
        elif rest:
            new_item = set_at({"name": head.name}, rest, value)
            items.append(new_item)
        return items
    if isinstance(head, int):
        items = root if isinstance(root, list) else []
        if head < len(items):
            new_item = set_at(items[head], rest, value)
            if new_item is ABSENT:
                del items[head]
            else:
                items[head] = new_item
        elif value is not ABSENT:
            items.append(set_at(ABSENT, rest, value))
        return items
    child = root.get(head, ABSENT) if isinstance(root, dict) else ABSENT
    new_child = set_at(child, rest, value) if rest else value
    if new_child is ABSENT:
        root.pop(head, None)
    else:
        root[head] = new_child
    return root


def _skeleton(a: Any, b: Any) -> dict[str, Any]:
    """Empty mappings wherever both `a` and `b` have a mapping (a base for two creations)."""
    return {k: _skeleton(a[k], b[k]) for k in a if k in b and isinstance(a[k], dict) and isinstance(b[k], dict)}


def three_way(base: Any, gui: Any, git: Any, *, kind: str | None = None, name: str | None = None) -> ThreeWayResult:
    """Compare a draft (gui) and the current desired state (git) against their base.

    Arguments are resources (dicts with `spec`, optionally `metadata`) or None. A base of None
    with a resource on both sides (created twice) compares them field by field.
    """
    vb, vu, vt = resource_view(base), resource_view(gui), resource_view(git)
    if vb is ABSENT and vu is not ABSENT and vt is not ABSENT:
        vb = _skeleton(vu, vt)  # created on both sides: compare field by field
    gui_changes: dict[Path, tuple[Any, Any]] = {}
    _diff((), vb, vu, gui_changes)
    git_changes: dict[Path, tuple[Any, Any]] = {}
    _diff((), vb, vt, git_changes)

    # Index every prefix of Git's changed paths, to find Git changes below a GUI path.
    git_below: dict[Path, list[Path]] = {}
    for q in git_changes:
        for n in range(len(q) + 1):
            git_below.setdefault(q[:n], []).append(q)

    groups: dict[Path, tuple[set[Path], set[Path]]] = {}  # root -> (gui paths, git paths)
    for p in gui_changes:
        ancestors = [p[:n] for n in range(len(p) + 1) if p[:n] in git_changes]
        if ancestors:
            root = ancestors[0]
            groups.setdefault(root, (set(), set()))
            groups[root][0].add(p)
            groups[root][1].add(root)
        elif p in git_below:
            groups.setdefault(p, (set(), set()))
            groups[p][0].add(p)
            groups[p][1].update(git_below[p])

    touched_gui = {p for g, _ in groups.values() for p in g}
    touched_git = {q for _, t in groups.values() for q in t}
    conflicts: list[FieldConflict] = []
    agreed: list[str] = []
    for root in sorted(groups, key=lambda r: format_path(r)):
        gv, tv = value_at(vu, root), value_at(vt, root)
        if (gv is ABSENT and tv is ABSENT) or (gv is not ABSENT and tv is not ABSENT and strict_equal(gv, tv)):
            agreed.append(format_path(root))
            continue
        path_text = format_path(root)
        bv = value_at(vb, root)
        if root == () and vt is ABSENT and vu is not ABSENT:
            conflict_type = "missing_resource"
            message = "the draft edits a resource that was deleted in Git"
        else:
            conflict_type = "concurrent_modification"
            if root == () and vu is ABSENT:
                message = "the GUI deletes a resource that was changed in Git"
            else:
                message = f"{path_text or 'the resource'} was changed both in the GUI and in Git"
        conflicts.append(FieldConflict(path_text, bv, gv, tv, conflict_type, kind, name, message, root))

    merged = copy.deepcopy(vt)
    gui_only = [p for p in gui_changes if p not in touched_gui]
    for p in gui_only:
        merged = set_at(merged, p, copy.deepcopy(gui_changes[p][1]))
    return ThreeWayResult(
        base=vb,
        gui=vu,
        git=vt,
        merged=merged,
        conflicts=conflicts,
        gui_only=[format_path(p) for p in gui_only],
        git_only=[format_path(q) for q in git_changes if q not in touched_git],
        agreed=agreed,
        kind=kind,
        name=name,
    )


# --------------------------------------------------------------------------------------------
# Strategies

STRATEGIES = ("gui_wins", "github_wins", "timestamp_wins", "merge_strategy", "user_guided")
_ALIASES = {"merge": "merge_strategy", "manual": "user_guided", "git_wins": "github_wins"}


@dataclass
class Resolution:
    resource: Any  # the resulting resource view, or None when the result is "deleted"
    conflicts: list[FieldConflict]  # what remains unresolved
    decisions: dict[str, str]  # field path -> "gui" | "git" | "merged" | "value"
    strategy: str

    @property
    def spec(self) -> Any:
        return None if self.resource is None else self.resource.get("spec")

    @property
    def metadata(self) -> dict[str, Any]:
        return {} if self.resource is None else dict(self.resource.get("metadata") or {})

    @property
    def resolved(self) -> bool:
        return not self.conflicts


def merge_lists(base: Any, gui: Any, git: Any) -> list[Any] | None:
    """A set-like three-way merge of two plain lists, or None when they are not both lists:
    Git's items, then the items the GUI added, without the items the GUI removed."""
    if not isinstance(gui, list) or not isinstance(git, list):
        return None
    base_items = base if isinstance(base, list) else []

    def has(items: list[Any], x: Any) -> bool:
        return any(strict_equal(x, y) for y in items)

    removed = [x for x in base_items if not has(gui, x)]
    out = [x for x in git if not has(removed, x)]
    for x in gui:
        if not has(base_items, x) and not has(out, x):
            out.append(x)
    return copy.deepcopy(out)


def resolve(
    result: ThreeWayResult,
    strategy: str,
    *,
    draft_time: Any = None,
    git_time: Any = None,
    choices: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Resolution:
    """Apply a strategy to a three-way result (see the module docstring).

    `choices` maps field paths to "gui" / "git" (or "gui_wins" / "github_wins" / "merge");
    `values` maps field paths to a value a person typed (JSON null removes the field); both
    are honoured by every strategy before it decides the rest. `timestamp_wins` needs
    `draft_time` and `git_time` (any two comparable values, e.g. datetimes).
    """
    name = _ALIASES.get(strategy, strategy)
    if name not in STRATEGIES:
        raise ValueError(f"unknown conflict strategy {strategy!r}")
    side: str | None
    if name == "timestamp_wins":
        if draft_time is None or git_time is None:
            raise ValueError("timestamp_wins needs draft_time and git_time")
        side = "gui" if draft_time > git_time else "git"
    else:
        side = {"gui_wins": "gui", "github_wins": "git"}.get(name)

    choices = dict(choices or {})
    values = dict(values or {})
    resource = copy.deepcopy(result.merged)  # a resolution never shares objects with the result
    remaining: list[FieldConflict] = []
    decisions: dict[str, str] = {}
    for conflict in result.conflicts:
        choice = choices.get(conflict.path)
        if choice is not None:
            choice = {"gui_wins": "gui", "github_wins": "git", "merge": "merged"}.get(choice, choice)
        if conflict.path in values:
            value = values[conflict.path]
            value = ABSENT if value is None else copy.deepcopy(value)
            decision = "value"
        elif choice in ("gui", "git"):
            decision, value = choice, (conflict.gui if choice == "gui" else conflict.git)
        elif choice == "merged" or (choice is None and name == "merge_strategy"):
            merged = merge_lists(conflict.base, conflict.gui, conflict.git)
            if merged is None:
                remaining.append(conflict)
                continue
            decision, value = "merged", merged
        elif choice is None and side is not None:
            decision, value = side, (conflict.gui if side == "gui" else conflict.git)
        else:
            remaining.append(conflict)
            continue
        resource = set_at(resource, conflict.segments, copy.deepcopy(value))
        decisions[conflict.path] = decision
    return Resolution(
        resource=None if resource is ABSENT else resource,
        conflicts=remaining,
        decisions=decisions,
        strategy=name,
    )


# --------------------------------------------------------------------------------------------
# Dependencies


@dataclass(frozen=True)
class DependencyViolation:
    kind: str
    name: str
    path: str  # the referring field, e.g. spec.subnet
    target_kind: str
    target_name: str
    message: str

    def to_conflict(self) -> FieldConflict:
        return make_conflict(
            "dependency_violation", self.message, kind=self.kind, name=self.name, path="", gui=self.target_name
        )


# The Connection CRD's port roles: every `<role>: {port: "<device>/<port>"}` names a device.
PORT_ROLES = {
    "server": "Server",
    "switch": "Switch",
    "switch1": "Switch",
    "switch2": "Switch",
    "spine": "Switch",
    "leaf": "Switch",
    "leaf1": "Switch",
    "leaf2": "Switch",
    # "gateway" names a Gateway, which this bot does not manage.
}


def _port_references(value: Any, path: Path) -> Iterable[tuple[str, str, str]]:
    """(field path, target kind, device name) for every port in a Connection spec."""
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = (*path, key)
            if key in PORT_ROLES and isinstance(child, dict) and isinstance(child.get("port"), str):
                device = child["port"].split("/", 1)[0]
                yield format_path((*child_path, "port")), PORT_ROLES[key], device
            else:
                yield from _port_references(child, child_path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _port_references(item, (*path, i))


def _references(kind: str, spec: Any) -> Iterable[tuple[str, str, str]]:
    """(field path, target kind, target name) for each reference a resource makes."""
    if not isinstance(spec, dict):
        return
    if kind == "VPCAttachment":
        subnet = spec.get("subnet")
        if isinstance(subnet, str) and subnet:
            yield "spec.subnet", "VPC", subnet.split("/", 1)[0]
        if isinstance(spec.get("connection"), str) and spec["connection"]:
            yield "spec.connection", "Connection", spec["connection"]
    elif kind == "VPCPeering":
        for i, entry in enumerate(spec.get("permit") or []):
            if isinstance(entry, dict):
                for vpc in entry:
                    yield format_path(("spec", "permit", i)), "VPC", str(vpc)
        if isinstance(spec.get("remote"), str) and spec["remote"]:
            yield "spec.remote", "SwitchGroup", spec["remote"]
    elif kind == "ExternalAttachment":
        if isinstance(spec.get("external"), str) and spec["external"]:
            yield "spec.external", "External", spec["external"]
        if isinstance(spec.get("connection"), str) and spec["connection"]:
            yield "spec.connection", "Connection", spec["connection"]
    elif kind == "ExternalPeering":
        permit = spec.get("permit") or {}
        if isinstance(permit, dict):
            vpc = (permit.get("vpc") or {}).get("name") if isinstance(permit.get("vpc"), dict) else None
            if isinstance(vpc, str) and vpc:
                yield "spec.permit.vpc.name", "VPC", vpc
            ext = permit.get("external")
            ext_name = ext.get("name") if isinstance(ext, dict) else None
            if isinstance(ext_name, str) and ext_name:
                yield "spec.permit.external.name", "External", ext_name
    elif kind == "Connection":
        yield from _port_references(spec, ("spec",))
        static = spec.get("staticExternal")
        if isinstance(static, dict) and isinstance(static.get("withinVPC"), str) and static["withinVPC"]:
            yield "spec.staticExternal.withinVPC", "VPC", static["withinVPC"]
    elif kind == "Switch":
        for i, group in enumerate(spec.get("groups") or []):
            if isinstance(group, str):
                yield format_path(("spec", "groups", i)), "SwitchGroup", group
        redundancy = spec.get("redundancy")
        if isinstance(redundancy, dict) and isinstance(redundancy.get("group"), str) and redundancy["group"]:
            yield "spec.redundancy.group", "SwitchGroup", redundancy["group"]


def find_dependency_violations(resources: Iterable[tuple[str, str, Any]]) -> list[DependencyViolation]:
    """References to resources that are not among `resources` ((kind, name, spec) of
    everything known in desired or drafts; drafts to delete should be left out).

    Checked: VPCAttachment -> VPC (and the subnet inside it), Connection; VPCPeering -> VPCs
    (permit keys), SwitchGroup (remote); ExternalAttachment -> External, Connection;
    ExternalPeering -> VPC, External; Connection -> Switch / Server for every port
    ("<device>/<port>") in any of its shapes, VPC (staticExternal.withinVPC); Switch ->
    SwitchGroup (groups, redundancy.group). IPv4 / VLAN namespaces are not checked (the
    fabric creates its "default" ones itself).
    """
    items = list(resources)
    known: dict[str, dict[str, Any]] = {}
    for kind, name, spec in items:
        known.setdefault(kind, {})[name] = spec
    out: list[DependencyViolation] = []
    for kind, name, spec in items:
        seen: set[tuple[str, str, str]] = set()
        for path, target_kind, target in _references(kind, spec):
            if (path, target_kind, target) in seen:
                continue
            seen.add((path, target_kind, target))
            if target not in known.get(target_kind, {}):
                out.append(
                    DependencyViolation(
                        kind,
                        name,
                        path,
                        target_kind,
                        target,
                        f"{kind} {name} refers to {target_kind} {target}, which does not exist",
                    )
                )
                continue
            if kind == "VPCAttachment" and target_kind == "VPC" and "/" in spec.get("subnet", ""):
                subnet = spec["subnet"].split("/", 1)[1]
                vpc_spec = known["VPC"][target]
                subnets = vpc_spec.get("subnets") if isinstance(vpc_spec, dict) else None
                if isinstance(subnets, dict) and subnet not in subnets:
                    out.append(
                        DependencyViolation(
                            kind,
                            name,
                            path,
                            "VPC",
                            f"{target}/{subnet}",
                            f"{kind} {name} refers to subnet {subnet} of VPC {target}, which does not exist",
                        )
                    )
    return out
