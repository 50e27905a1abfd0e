"""Properties of the three-way merge over random base / GUI / Git triples built from the real
sample specs: whatever the edits, one-sided changes win, a field both sides changed to
different values is a conflict, and swapping the GUI and Git swaps their roles and nothing else.

Seeds are fixed in CI (tests/core/conftest.py's "ci" profile)."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from bot.core.fieldpath import Named, Path, parse_path
from bot.core.render import load_documents, strict_equal
from bot.core.threeway import (
    ABSENT,
    diff,
    flatten,
    resolve,
    resource_view,
    set_at,
    three_way,
    value_at,
)
from tests.conftest import SHARED

SAMPLES = SHARED / "hedgehog" / "samples"
SAMPLE_FILES = ("lab-ci_wiring.yaml", "gitops-test-1_prepop.yaml", "demo-gitops_demo.yaml", "demo-gitops_pre-demo.yaml")

# A list of items addressed by name (the samples have none; the merge treats them specially).
NAMED_LINKS = [
    {"name": "uplink-1", "port": "E1/1", "vlan": 1001},
    {"name": "uplink-2", "port": "E1/2", "vlan": 1002, "tags": ["a"]},
]

# Compact fallbacks so the properties still run (on made-up specs) without ../shared.
FALLBACK_SPECS = [
    {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001, "dhcp": {"enable": True}}}},
    {"unbundled": {"link": {"server": {"port": "s/enp2s1"}, "switch": {"port": "w/E1/1"}}}},
]


@cache
def real_resources() -> tuple[dict, ...]:
    """Every document of the samples as a resource (spec, labels, annotations), plus each of the
    first few with a named list added."""
    bodies: list[dict] = []
    for name in SAMPLE_FILES:
        path = SAMPLES / name
        if path.exists():
            bodies.extend(load_documents(path.read_text()))
    if not bodies:
        bodies = [{"metadata": {"name": f"r{i}"}, "spec": spec} for i, spec in enumerate(FALLBACK_SPECS)]
    out = []
    for body in bodies:
        metadata = {k: v for k, v in (body.get("metadata") or {}).items() if k in ("labels", "annotations")}
        resource: dict[str, Any] = {"spec": body.get("spec") or {}}
        if metadata:
            resource["metadata"] = metadata
        out.append(resource)
    for resource in out[:8]:
        with_links = copy.deepcopy(resource)
        with_links["spec"]["links"] = copy.deepcopy(NAMED_LINKS)
        out.append(with_links)
    return tuple(out)


VALUES = st.one_of(
    st.integers(-1, 4096),
    st.booleans(),
    st.none(),
    st.sampled_from(["", "default", "10.0.9.0/24", "E1/9", "x"]),
    st.lists(st.sampled_from(["a", "b", 1]), max_size=3),
    st.dictionaries(st.sampled_from(["k", "vlan", "name"]), st.integers(0, 3), max_size=2),
)
LEAF_VALUES = VALUES.filter(lambda v: not isinstance(v, dict))


def paths_of(resource: Any) -> list[Path]:
    """Every field path of a resource: its leaves and every mapping / named item above them."""
    out: set[Path] = set()
    for text in flatten(resource):
        path = parse_path(text)
        out.update(path[:n] for n in range(1, len(path) + 1))
    return sorted(out, key=lambda p: (len(p), repr(p)))


def overlaps(p: Path, q: Path) -> bool:
    shorter = min(len(p), len(q))
    return p[:shorter] == q[:shorter]


def renames_an_item(q: Path) -> bool:
    """An edit that can change which items a named list has (their identity is the name)."""
    return bool(q) and (isinstance(q[-1], Named) or (len(q) >= 2 and isinstance(q[-2], Named) and q[-1] == "name"))


@st.composite
def edited(draw: st.DrawFn, base: dict, avoid: Path | None = None) -> dict:
    """`base` after 0-4 random edits: a field set to a new value, removed, or a key added;
    with `avoid`, no edit touches that field, its ancestors, or the names on its way."""
    out: Any = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 4))):
        paths = paths_of(out)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["set", "remove", "add"]))
        if action == "add" and isinstance(value_at(out, path), dict):
            path = (*path, draw(st.sampled_from(["added", "vlan", "mtu"])))
        if action == "remove":
            value: Any = ABSENT
        elif path[0] == "metadata":  # labels and annotations: mappings of strings
            value = draw(st.sampled_from(["", "x", "hw"])) if len(path) >= 3 else {"set": "by-test"}
        else:
            value = draw(VALUES)
        if path == ("spec",) and not isinstance(value, dict):
            continue  # the database keeps a spec as a mapping
        if avoid is not None and (overlaps(path, avoid) or renames_an_item(path)):
            continue
        out = set_at(out, path, value)
    return out


@st.composite
def triples(draw: st.DrawFn) -> tuple[dict, dict, dict]:
    base = draw(st.sampled_from(real_resources()))
    return base, draw(edited(base)), draw(edited(base))


def same(a: Any, b: Any) -> bool:
    """Equal resources as the merge sees them (named item order and key order aside)."""
    return diff(a, b) == {}


def conflict_rows(result, *, swapped: bool = False) -> list[tuple]:
    return [(c.path, c.base, c.git, c.gui) if swapped else (c.path, c.base, c.gui, c.git) for c in result.conflicts]


@given(triples())
def test_a_change_only_the_gui_made_always_wins(triple):
    base, gui, _ = triple
    result = three_way(base, gui, base)
    assert result.clean
    assert same(result.merged, gui)
    assert result.git_only == [] and result.agreed == []


@given(triples())
def test_a_change_only_git_made_always_wins(triple):
    base, _, git = triple
    result = three_way(base, base, git)
    assert result.clean
    assert same(result.merged, git)
    assert result.gui_only == [] and result.agreed == []


@given(triples())
def test_every_one_sided_change_is_in_the_merge_and_in_every_resolution(triple):
    base, gui, git = triple
    result = three_way(base, gui, git)
    outcomes = [result.merged, resolve(result, "gui_wins").resource, resolve(result, "github_wins").resource]
    for outcome in outcomes:
        outcome = ABSENT if outcome is None else outcome
        for path in result.gui_only:
            assert strict_equal(value_at(outcome, parse_path(path)), value_at(resource_view(gui), parse_path(path)))
        for path in result.git_only:
            assert strict_equal(value_at(outcome, parse_path(path)), value_at(resource_view(git), parse_path(path)))


@given(triples())
def test_swapping_the_gui_and_git_swaps_their_roles_and_nothing_else(triple):
    base, gui, git = triple
    forward, backward = three_way(base, gui, git), three_way(base, git, gui)
    assert strict_equal(conflict_rows(forward), conflict_rows(backward, swapped=True))
    assert forward.agreed == backward.agreed
    assert sorted(forward.gui_only) == sorted(backward.git_only)
    assert sorted(forward.git_only) == sorted(backward.gui_only)
    if forward.clean:
        assert same(forward.merged, backward.merged)
    gui_wins = resolve(forward, "gui_wins").resource
    assert same(gui_wins, resolve(backward, "github_wins").resource)
    assert same(resolve(forward, "github_wins").resource, resolve(backward, "gui_wins").resource)


@given(triples())
def test_gui_wins_and_github_wins_resolve_every_conflict_with_that_sides_value(triple):
    base, gui, git = triple
    result = three_way(base, gui, git)
    for strategy, side in (("gui_wins", "gui"), ("github_wins", "git")):
        resolution = resolve(result, strategy)
        assert resolution.resolved
        outcome = ABSENT if resolution.resource is None else resolution.resource
        for conflict in result.conflicts:
            assert strict_equal(value_at(outcome, conflict.segments), getattr(conflict, side))


@given(triples())
def test_the_same_edits_on_both_sides_never_conflict(triple):
    base, gui, _ = triple
    result = three_way(base, gui, copy.deepcopy(gui))
    assert result.clean and result.gui_only == [] and result.git_only == []
    assert same(result.merged, gui)


@given(st.data())
def test_a_field_changed_on_both_sides_to_different_values_is_always_a_conflict(data):
    base = data.draw(st.sampled_from(real_resources()))
    leaves = [p for p in paths_of(base) if not isinstance(value_at(base, p), dict) and not renames_an_item(p)]
    assume(leaves)
    field = data.draw(st.sampled_from(leaves))
    gui_value, git_value = data.draw(LEAF_VALUES), data.draw(LEAF_VALUES)
    old = value_at(base, field)
    assume(not strict_equal(gui_value, git_value))
    assume(not strict_equal(gui_value, old) and not strict_equal(git_value, old))
    gui = set_at(data.draw(edited(base, avoid=field)), field, gui_value)
    git = set_at(data.draw(edited(base, avoid=field)), field, git_value)
    result = three_way(base, gui, git)
    conflicts = {c.segments: c for c in result.conflicts}
    assert field in conflicts, (field, [c.path for c in result.conflicts])
    conflict = conflicts[field]
    assert strict_equal((conflict.base, conflict.gui, conflict.git), (old, gui_value, git_value))
    assert strict_equal(value_at(result.merged, field), git_value)  # Git's value until decided
