"""The three-way merge, behaviour by behaviour: each test names one rule of bot/core/threeway.py
that a reviewer can read as the specification, and fails when that rule breaks."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from bot.core.fieldpath import Named
from bot.core.render import load_documents
from bot.core.threeway import (
    ABSENT,
    diff,
    find_dependency_violations,
    flatten,
    make_conflict,
    make_resource,
    merge_lists,
    resolve,
    set_at,
    three_way,
    value_at,
)
from tests.conftest import shared_path


def links(*items: dict) -> dict:
    """A resource whose spec holds a list of items addressed by name."""
    return make_resource({"links": [dict(item) for item in items]})


LINKS_BASE = links({"name": "a", "vlan": 1, "mtu": 9000}, {"name": "b", "vlan": 2})


def edited(resource: dict, change) -> dict:
    out = copy.deepcopy(resource)
    change(out["spec"])
    return out


def item(spec: dict, name: str) -> dict:
    return next(i for i in spec["links"] if i["name"] == name)


# --------------------------------------------------------------------------------------------
# Named list items


def test_a_conflict_inside_a_named_list_item_is_reported_not_merged():
    gui = edited(LINKS_BASE, lambda s: item(s, "a").__setitem__("vlan", 10))
    git = edited(LINKS_BASE, lambda s: item(s, "a").__setitem__("vlan", 20))
    result = three_way(LINKS_BASE, gui, git, kind="Connection", name="c")
    [conflict] = result.conflicts
    assert conflict.path == "spec.links[name=a].vlan"
    assert (conflict.base, conflict.gui, conflict.git) == (1, 10, 20)
    assert conflict.message == "spec.links[name=a].vlan was changed both in the GUI and in Git"
    assert item(result.merged_spec, "a")["vlan"] == 20  # Git's value until someone decides


def test_a_named_item_the_gui_deletes_while_git_edits_it_is_one_conflict_at_the_item():
    gui = edited(LINKS_BASE, lambda s: s["links"].remove(item(s, "b")))
    git = edited(LINKS_BASE, lambda s: item(s, "b").__setitem__("vlan", 22))
    [conflict] = three_way(LINKS_BASE, gui, git).conflicts
    assert conflict.path == "spec.links[name=b]"
    assert conflict.segments == ("spec", "links", Named("b"))
    assert (conflict.base, conflict.gui, conflict.git) == ({"name": "b", "vlan": 2}, ABSENT, {"name": "b", "vlan": 22})


def test_edits_of_different_fields_of_one_named_item_both_apply():
    gui = edited(LINKS_BASE, lambda s: item(s, "a").__setitem__("vlan", 10))
    git = edited(LINKS_BASE, lambda s: item(s, "a").__setitem__("mtu", 1500))
    result = three_way(LINKS_BASE, gui, git)
    assert result.clean
    assert item(result.merged_spec, "a") == {"name": "a", "vlan": 10, "mtu": 1500}


def test_value_at_follows_names_keys_and_stops_at_anything_else():
    resource = {"spec": {"links": [{"name": "a", "vlan": 1}], "plain": [1, 2], "mtu": 9000}}
    assert value_at(resource, ("spec", "links", Named("a"), "vlan")) == 1
    assert value_at(resource, ("spec", "links", Named("a"))) == {"name": "a", "vlan": 1}
    assert value_at(resource, ("spec", "links", Named("z"))) is ABSENT  # no such item
    assert value_at(resource, ("spec", "plain", Named("a"))) is ABSENT  # not a named list
    assert value_at(resource, ("spec", "mtu", Named("a"))) is ABSENT  # a scalar
    assert value_at(resource, ("spec", "nothing")) is ABSENT
    assert value_at(resource, ("spec", "mtu", "deeper")) is ABSENT
    assert value_at(resource, ()) is resource


@pytest.mark.parametrize(
    ("other_links", "reported"),
    [
        ([], []),
        (ABSENT, ABSENT),
        ("none", "none"),
        ([{"name": "a"}, {"name": "a"}], [{"name": "a"}, {"name": "a"}]),  # names not distinct
        ([{"name": "a"}, "b"], [{"name": "a"}, "b"]),  # not all mappings
    ],
    ids=["emptied", "deleted", "scalar", "duplicate-names", "mixed-items"],
)
def test_a_named_list_compared_with_anything_but_a_named_list_is_one_change_at_the_list(other_links, reported):
    other = {"spec": {}} if other_links is ABSENT else make_resource({"links": other_links})
    assert diff(LINKS_BASE, other) == {"spec.links": (LINKS_BASE["spec"]["links"], reported)}
    assert diff(other, LINKS_BASE) == {"spec.links": (reported, LINKS_BASE["spec"]["links"])}


def test_named_list_item_order_is_not_a_change():
    reordered = links({"name": "b", "vlan": 2}, {"name": "a", "vlan": 1, "mtu": 9000})
    assert diff(LINKS_BASE, reordered) == {}
    assert three_way(LINKS_BASE, reordered, LINKS_BASE).clean


def test_an_item_named_with_a_non_string_makes_the_list_plain():
    base = make_resource({"links": [{"name": 1, "vlan": 1}]})
    other = make_resource({"links": [{"name": 1, "vlan": 2}]})
    assert diff(base, other) == {"spec.links": ([{"name": 1, "vlan": 1}], [{"name": 1, "vlan": 2}])}


def test_flatten_walks_into_named_items_and_keeps_plain_lists_whole():
    assert flatten(make_resource({"links": [{"name": "a", "vlan": 1}], "plain": [1]})) == {
        "spec.links[name=a].name": "a",
        "spec.links[name=a].vlan": 1,
        "spec.plain": [1],
    }
    assert flatten(None) == {}


# --------------------------------------------------------------------------------------------
# Agreement and creation


def test_both_sides_deleting_the_same_field_agree():
    gui = edited(LINKS_BASE, lambda s: item(s, "a").pop("mtu"))
    git = edited(LINKS_BASE, lambda s: item(s, "a").pop("mtu"))
    result = three_way(LINKS_BASE, gui, git)
    assert result.clean and result.agreed == ["spec.links[name=a].mtu"]
    assert "mtu" not in item(result.merged_spec, "a")


def test_a_field_one_side_deleted_and_the_other_changed_conflicts():
    gui = edited(LINKS_BASE, lambda s: item(s, "a").pop("mtu"))
    git = edited(LINKS_BASE, lambda s: item(s, "a").__setitem__("mtu", 1500))
    [conflict] = three_way(LINKS_BASE, gui, git).conflicts
    assert (conflict.path, conflict.gui, conflict.git) == ("spec.links[name=a].mtu", ABSENT, 1500)
    [conflict] = three_way(LINKS_BASE, git, gui).conflicts
    assert (conflict.path, conflict.gui, conflict.git) == ("spec.links[name=a].mtu", 1500, ABSENT)


def test_a_resource_deleted_on_both_sides_is_agreed_and_stays_deleted():
    result = three_way(LINKS_BASE, None, None)
    assert result.clean and result.agreed == [""] and result.merged is ABSENT


def test_a_gui_deletion_of_a_resource_git_changed_says_so():
    git = edited(LINKS_BASE, lambda s: item(s, "a").__setitem__("vlan", 5))
    [conflict] = three_way(LINKS_BASE, None, git, kind="Connection", name="c").conflicts
    assert conflict.message == "the GUI deletes a resource that was changed in Git"
    assert (conflict.type, conflict.base, conflict.gui) == ("concurrent_modification", LINKS_BASE, ABSENT)


def test_a_draft_of_a_resource_git_deleted_names_the_deletion():
    gui = edited(LINKS_BASE, lambda s: item(s, "a").__setitem__("vlan", 5))
    result = three_way(LINKS_BASE, gui, None, kind="Connection", name="c")
    [conflict] = result.conflicts
    assert conflict.message == "the draft edits a resource that was deleted in Git"
    assert (conflict.kind, conflict.name, conflict.resource) == ("Connection", "c", "Connection/c")
    assert (result.kind, result.name) == ("Connection", "c")


def test_a_conflict_at_the_resource_root_of_two_creations_is_named_the_resource():
    result = three_way(None, make_resource(1), make_resource(2))
    [conflict] = result.conflicts
    assert conflict.path == "spec"
    result = three_way(make_resource({"a": 1}), {"spec": {"a": 2}, "x": 1}, {"spec": 3})
    assert [c.message for c in result.conflicts] == ["spec was changed both in the GUI and in Git"]


def test_a_resource_created_on_both_sides_merges_what_only_one_side_wrote():
    gui = make_resource({"subnets": {"default": {"vlan": 1}}, "ipv4Namespace": "default"})
    git = make_resource({"subnets": {"default": {"vlan": 1, "subnet": "10.0.0.0/24"}}})
    result = three_way(None, gui, git)
    assert result.clean
    assert result.merged_spec == {
        "subnets": {"default": {"vlan": 1, "subnet": "10.0.0.0/24"}},
        "ipv4Namespace": "default",
    }
    assert sorted(result.agreed) == ["spec.subnets.default.vlan"]


def test_conflicts_come_sorted_by_field_path():
    base = make_resource({"z": 1, "a": 1, "m": {"x": 1}})
    gui = make_resource({"z": 2, "a": 2, "m": {"x": 2}})
    git = make_resource({"z": 3, "a": 3, "m": {"x": 3}})
    assert [c.path for c in three_way(base, gui, git).conflicts] == ["spec.a", "spec.m.x", "spec.z"]


def test_a_git_change_below_a_gui_change_joins_the_gui_change():
    base = make_resource({"m": {"x": 1, "y": 1}, "n": 1})
    gui = make_resource({"m": "flat", "n": 1})
    git = make_resource({"m": {"x": 2, "y": 3}, "n": 4})
    result = three_way(base, gui, git)
    [conflict] = result.conflicts
    assert (conflict.path, conflict.base, conflict.gui, conflict.git) == (
        "spec.m",
        {"x": 1, "y": 1},
        "flat",
        {"x": 2, "y": 3},
    )
    assert result.git_only == ["spec.n"] and result.gui_only == []


# --------------------------------------------------------------------------------------------
# The merged result owns its values


def test_the_merged_result_shares_no_objects_with_the_inputs():
    base = links({"name": "a", "vlan": 1})
    gui = links({"name": "a", "vlan": 1, "tags": ["x"]}, {"name": "b", "tags": ["y"]})
    git = links({"name": "a", "vlan": 2})
    snapshots = [copy.deepcopy(r) for r in (base, gui, git)]
    result = three_way(base, gui, git)
    item(result.merged_spec, "a")["tags"].append("changed")
    item(result.merged_spec, "b")["tags"].append("changed")
    item(result.merged_spec, "a")["vlan"] = 99
    assert [base, gui, git] == snapshots


def test_a_resolution_shares_no_objects_with_the_three_way_result():
    base = make_resource({"groups": ["g1"], "bgp": {"asn": 1}})
    gui = make_resource({"groups": ["g1", "g2"], "bgp": {"asn": 2}})
    git = make_resource({"groups": ["g0", "g1"], "bgp": {"asn": 3}})
    result = three_way(base, gui, git)
    snapshot = copy.deepcopy(result.conflicts)
    merged_before = copy.deepcopy(result.merged)
    for strategy in ("gui_wins", "github_wins", "merge_strategy"):
        resolution = resolve(result, strategy)
        resolution.spec["groups"].append("changed")
        if isinstance(resolution.spec["bgp"], dict):
            resolution.spec["bgp"]["asn"] = 0
    typed = resolve(result, "user_guided", values={"spec.groups": ["v"]})
    typed.spec["groups"].append("changed")
    assert result.conflicts == snapshot
    assert result.merged == merged_before


def test_a_typed_value_is_copied_into_the_resolution():
    result = three_way(make_resource({"g": [1]}), make_resource({"g": [2]}), make_resource({"g": [3]}))
    typed = [4]
    resolution = resolve(result, "user_guided", values={"spec.g": typed})
    resolution.spec["g"].append(5)
    assert typed == [4]


def test_merge_lists_returns_a_list_of_its_own():
    gui_item, git_item = {"x": 1}, {"y": 1}
    merged = merge_lists([], [gui_item], [git_item])
    assert merged == [{"y": 1}, {"x": 1}]
    merged[0]["y"] = 2
    merged[1]["x"] = 2
    assert (gui_item, git_item) == ({"x": 1}, {"y": 1})


# --------------------------------------------------------------------------------------------
# Strategies


def conflicted() -> tuple[dict, dict, dict]:
    """A scalar conflict (spec.asn) that sorts before a list conflict (spec.groups)."""
    base = make_resource({"asn": 1, "groups": ["g1"], "vlan": 1})
    gui = make_resource({"asn": 2, "groups": ["g1", "g2"], "vlan": 2})
    git = make_resource({"asn": 3, "groups": ["g0", "g1"], "vlan": 3})
    return base, gui, git


def test_merge_strategy_merges_every_list_conflict_even_after_one_it_cannot_merge():
    resolution = resolve(three_way(*conflicted()), "merge_strategy")
    assert resolution.spec["groups"] == ["g0", "g1", "g2"]
    assert resolution.decisions == {"spec.groups": "merged"}
    assert [c.path for c in resolution.conflicts] == ["spec.asn", "spec.vlan"]


def test_user_guided_keeps_later_conflicts_after_an_undecided_one():
    result = three_way(*conflicted())
    resolution = resolve(result, "user_guided", choices={"spec.vlan": "gui"})
    assert [c.path for c in resolution.conflicts] == ["spec.asn", "spec.groups"]
    assert resolution.spec["vlan"] == 2 and resolution.decisions == {"spec.vlan": "gui"}


@pytest.mark.parametrize(
    ("choice", "decision", "groups"),
    [
        ("gui", "gui", ["g1", "g2"]),
        ("gui_wins", "gui", ["g1", "g2"]),
        ("git", "git", ["g0", "g1"]),
        ("github_wins", "git", ["g0", "g1"]),
        ("merge", "merged", ["g0", "g1", "g2"]),
        ("merged", "merged", ["g0", "g1", "g2"]),
    ],
)
def test_a_per_field_choice_decides_that_field_under_every_strategy(choice, decision, groups):
    result = three_way(*conflicted())
    for strategy in ("user_guided", "gui_wins", "github_wins", "merge_strategy"):
        resolution = resolve(result, strategy, choices={"spec.groups": choice})
        assert resolution.spec["groups"] == groups, strategy
        assert resolution.decisions["spec.groups"] == decision, strategy


def test_a_per_field_choice_of_git_for_a_scalar_under_gui_wins_keeps_git():
    resolution = resolve(three_way(*conflicted()), "gui_wins", choices={"spec.asn": "git"})
    assert resolution.spec == {"asn": 3, "groups": ["g1", "g2"], "vlan": 2}
    assert resolution.decisions == {"spec.asn": "git", "spec.groups": "gui", "spec.vlan": "gui"}


def test_a_choice_to_merge_something_that_is_not_a_list_leaves_it_open():
    resolution = resolve(three_way(*conflicted()), "gui_wins", choices={"spec.asn": "merge"})
    assert [c.path for c in resolution.conflicts] == ["spec.asn"]
    assert resolution.spec["asn"] == 3


def test_an_unknown_per_field_choice_leaves_the_field_open_under_user_guided():
    resolution = resolve(three_way(*conflicted()), "user_guided", choices={"spec.asn": "coin"})
    assert "spec.asn" in [c.path for c in resolution.conflicts]


def test_a_typed_value_beats_a_choice_for_the_same_field():
    resolution = resolve(three_way(*conflicted()), "gui_wins", choices={"spec.asn": "git"}, values={"spec.asn": 65000})
    assert resolution.spec["asn"] == 65000 and resolution.decisions["spec.asn"] == "value"


@pytest.mark.parametrize(
    ("alias", "name"), [("merge", "merge_strategy"), ("manual", "user_guided"), ("git_wins", "github_wins")]
)
def test_strategy_aliases_behave_as_the_strategy_they_name(alias, name):
    result = three_way(*conflicted())
    by_alias, by_name = resolve(result, alias), resolve(result, name)
    assert by_alias.strategy == name
    assert (by_alias.resource, by_alias.decisions, by_alias.conflicts) == (
        by_name.resource,
        by_name.decisions,
        by_name.conflicts,
    )


@pytest.mark.parametrize(
    ("draft_time", "git_time"),
    [(datetime(2025, 1, 1, tzinfo=UTC), None), (None, datetime(2025, 1, 1, tzinfo=UTC))],
    ids=["no-git-time", "no-draft-time"],
)
def test_timestamp_wins_refuses_to_guess_when_a_time_is_missing(draft_time, git_time):
    with pytest.raises(ValueError, match="needs draft_time and git_time"):
        resolve(three_way(*conflicted()), "timestamp_wins", draft_time=draft_time, git_time=git_time)


def test_timestamp_wins_with_the_later_draft_takes_every_gui_value():
    early, late = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)
    resolution = resolve(three_way(*conflicted()), "timestamp_wins", draft_time=late, git_time=early)
    assert resolution.spec == {"asn": 2, "groups": ["g1", "g2"], "vlan": 2}
    assert set(resolution.decisions.values()) == {"gui"} and resolution.resolved


def test_gui_wins_on_a_resource_the_gui_deleted_deletes_it():
    base, _, git = conflicted()
    result = three_way(base, None, git)
    assert resolve(result, "gui_wins").resource is None
    assert resolve(result, "gui_wins").spec is None and resolve(result, "gui_wins").metadata == {}
    assert resolve(result, "github_wins").spec == git["spec"]


def test_a_resolution_reports_its_metadata_as_a_copy():
    base = {"spec": {}, "metadata": {"labels": {"a": "1"}}}
    gui = {"spec": {}, "metadata": {"labels": {"a": "2"}}}
    git = {"spec": {}, "metadata": {"labels": {"a": "3"}}}
    resolution = resolve(three_way(base, gui, git), "gui_wins")
    assert resolution.metadata == {"labels": {"a": "2"}}
    resolution.metadata["labels"] = {}
    assert resolution.metadata == {"labels": {"a": "2"}}
    assert resolve(three_way(make_resource({}), make_resource({}), make_resource({})), "gui_wins").metadata == {}


def test_merge_lists_keeps_an_item_git_removed_and_the_gui_kept_removed():
    assert merge_lists(["a", "b"], ["a", "b", "c"], ["a"]) == ["a", "c"]


def test_merge_lists_adds_an_item_both_sides_added_once():
    assert merge_lists(["a"], ["a", "n"], ["a", "n"]) == ["a", "n"]
    assert merge_lists(["a"], ["a", "n"], ["n", "a"]) == ["n", "a"]


def test_merge_lists_removes_what_the_gui_removed_even_when_git_kept_it():
    assert merge_lists(["a", "b"], ["b"], ["a", "b", "c"]) == ["b", "c"]


def test_merge_lists_tells_true_from_one():
    assert merge_lists([1], [1, True], [1]) == [1, True]
    assert merge_lists([True], [], [True, 1]) == [1]


def test_merge_lists_needs_two_lists():
    assert merge_lists([1], [1], "x") is None
    assert merge_lists([1], None, [1]) is None


# --------------------------------------------------------------------------------------------
# set_at


def test_set_at_adds_a_field_inside_a_named_item_that_is_not_there():
    out = set_at({"spec": {"links": [{"name": "a"}]}}, ("spec", "links", Named("b"), "vlan"), 5)
    assert out == {"spec": {"links": [{"name": "a"}, {"name": "b", "vlan": 5}]}}


def test_set_at_removing_a_named_item_drops_it_from_the_list():
    out = set_at({"spec": {"links": [{"name": "a"}, {"name": "b"}]}}, ("spec", "links", Named("a")), ABSENT)
    assert out == {"spec": {"links": [{"name": "b"}]}}
    # removing an item that is not there changes nothing
    assert set_at({"spec": {"links": [{"name": "b"}]}}, ("spec", "links", Named("a")), ABSENT) == {
        "spec": {"links": [{"name": "b"}]}
    }


def test_set_at_replaces_a_named_item_whole():
    out = set_at({"l": [{"name": "a", "x": 1}, "other"]}, ("l", Named("a")), {"name": "a", "y": 2})
    assert out == {"l": [{"name": "a", "y": 2}, "other"]}


def test_set_at_builds_the_mappings_on_the_way():
    assert set_at(ABSENT, ("spec", "a", "b"), 1) == {"spec": {"a": {"b": 1}}}
    assert set_at({"spec": 5}, ("spec", "a"), 1) == {"spec": {"a": 1}}


def test_set_at_changes_one_field_of_a_list_item_by_position_and_keeps_the_others():
    base = {"spec": {"groups": [{"a": 1, "b": 2}, {"a": 3}]}}
    assert set_at(base, ("spec", "groups", 0, "a"), 5) == {"spec": {"groups": [{"a": 5, "b": 2}, {"a": 3}]}}
    assert base == {"spec": {"groups": [{"a": 1, "b": 2}, {"a": 3}]}}


def test_set_at_a_position_of_a_list_that_is_not_there_starts_the_list():
    assert set_at({"spec": {}}, ("spec", "groups", 0), "x") == {"spec": {"groups": ["x"]}}


def test_set_at_a_field_past_the_end_of_a_list_appends_an_item_holding_it():
    assert set_at({"spec": {"groups": ["x"]}}, ("spec", "groups", 3, "a"), 5) == {"spec": {"groups": ["x", {"a": 5}]}}


# --------------------------------------------------------------------------------------------
# Paths and conflicts


def test_a_conflict_made_for_a_path_knows_its_segments():
    conflict = make_conflict("schema_mismatch", "bad", kind="VPC", name="v", path="spec.links[name=a].vlan", gui=1)
    assert conflict.segments == ("spec", "links", Named("a"), "vlan")
    assert conflict.to_dict() == {
        "type": "schema_mismatch",
        "severity": "high",
        "kind": "VPC",
        "name": "v",
        "field_path": "spec.links[name=a].vlan",
        "base_value": None,
        "gui_value": 1,
        "git_value": None,
        "message": "bad",
        "resolution_options": ["gui_wins", "github_wins", "manual"],
    }
    assert make_conflict("permission_denied", "no").segments == ()
    assert make_conflict("file_corruption", "x", name="f").resource == "f"
    assert make_conflict("file_corruption", "x").resource == ""


# --------------------------------------------------------------------------------------------
# Dependencies


def violations(*resources: tuple[str, str, object]) -> set[tuple[str, str, str, str]]:
    return {(v.kind, v.path, v.target_kind, v.target_name) for v in find_dependency_violations(resources)}


def test_a_switch_names_its_groups_and_its_redundancy_group():
    switch = ("Switch", "leaf-1", {"groups": ["g1", "g2"], "redundancy": {"group": "mclag-1", "type": "mclag"}})
    assert violations(switch) == {
        ("Switch", "spec.groups[0]", "SwitchGroup", "g1"),
        ("Switch", "spec.groups[1]", "SwitchGroup", "g2"),
        ("Switch", "spec.redundancy.group", "SwitchGroup", "mclag-1"),
    }
    groups = [("SwitchGroup", g, {}) for g in ("g1", "g2", "mclag-1")]
    assert violations(switch, *groups) == set()
    # a switch group is not a VPC: a VPC of that name does not satisfy the reference
    assert violations(switch, ("VPC", "g1", {}), *groups[1:]) == {("Switch", "spec.groups[0]", "SwitchGroup", "g1")}


def test_a_switch_without_groups_or_with_an_empty_redundancy_group_names_nothing():
    assert violations(("Switch", "s", {"redundancy": {"group": "", "type": "mclag"}})) == set()
    assert violations(("Switch", "s", {"redundancy": "x", "groups": None})) == set()
    assert violations(("Switch", "s", None)) == set()


def test_the_real_switches_name_their_real_switch_groups():
    path = shared_path("hedgehog", "samples", "gitops-test-1_prepop.yaml")
    bodies = load_documents(path.read_text())
    resources = [(b["kind"], b["metadata"]["name"], b.get("spec") or {}) for b in bodies]
    grouped = [r for r in resources if r[0] == "Switch" and (r[2].get("groups") or r[2].get("redundancy"))]
    assert grouped, "the sample has switches in groups"
    without_groups = [r for r in resources if r[0] != "SwitchGroup"]
    found = {(v.kind, v.target_kind) for v in find_dependency_violations(without_groups)}
    assert found == {("Switch", "SwitchGroup")}


def test_a_static_external_connection_names_the_vpc_it_lives_in():
    spec = {"staticExternal": {"link": {"switch": {"port": "sw/E1/1"}}, "withinVPC": "vpc-1"}}
    assert violations(("Connection", "c", spec), ("Switch", "sw", {})) == {
        ("Connection", "spec.staticExternal.withinVPC", "VPC", "vpc-1")
    }
    assert violations(("Connection", "c", spec), ("Switch", "sw", {}), ("VPC", "vpc-1", {})) == set()
    empty = {"staticExternal": {"link": {"switch": {"port": "sw/E1/1"}}, "withinVPC": ""}}
    assert violations(("Connection", "c", empty), ("Switch", "sw", {})) == set()


def test_an_external_attachment_names_its_external_and_its_connection():
    attachment = ("ExternalAttachment", "ea", {"external": "ext-1", "connection": "c-1"})
    assert violations(attachment) == {
        ("ExternalAttachment", "spec.external", "External", "ext-1"),
        ("ExternalAttachment", "spec.connection", "Connection", "c-1"),
    }
    assert violations(attachment, ("External", "ext-1", {}), ("Connection", "c-1", {})) == set()
    assert violations(("ExternalAttachment", "ea", {"external": "", "connection": None})) == set()


def test_an_external_peering_names_its_vpc_and_its_external():
    peering = ("ExternalPeering", "ep", {"permit": {"vpc": {"name": "v"}, "external": {"name": "e"}}})
    assert violations(peering) == {
        ("ExternalPeering", "spec.permit.vpc.name", "VPC", "v"),
        ("ExternalPeering", "spec.permit.external.name", "External", "e"),
    }
    assert violations(peering, ("VPC", "v", {}), ("External", "e", {})) == set()
    assert violations(("ExternalPeering", "ep", {"permit": {"vpc": "v", "external": "e"}})) == set()
    assert violations(("ExternalPeering", "ep", {"permit": {"vpc": {"name": ""}, "external": {}}})) == set()
    assert violations(("ExternalPeering", "ep", {"permit": ["x"]})) == set()


def test_the_real_external_attachments_name_their_real_externals_and_connections():
    path = shared_path("hedgehog", "samples", "lab-ci_wiring.yaml")
    resources = [(b["kind"], b["metadata"]["name"], b.get("spec") or {}) for b in load_documents(path.read_text())]
    assert find_dependency_violations(resources) == []
    without_externals = [r for r in resources if r[0] != "External"]
    found = find_dependency_violations(without_externals)
    attachments = {r[1] for r in resources if r[0] == "ExternalAttachment"}
    assert {v.name for v in found} == attachments
    assert {(v.path, v.target_kind) for v in found} == {("spec.external", "External")}


def test_a_peering_names_every_vpc_of_its_permits_and_its_remote_group():
    peering = ("VPCPeering", "p", {"permit": [{"v1": {}, "v2": {}}, {"v1": {}, "v3": {}}], "remote": "border"})
    assert violations(peering) == {
        ("VPCPeering", "spec.permit[0]", "VPC", "v1"),
        ("VPCPeering", "spec.permit[0]", "VPC", "v2"),
        ("VPCPeering", "spec.permit[1]", "VPC", "v1"),
        ("VPCPeering", "spec.permit[1]", "VPC", "v3"),
        ("VPCPeering", "spec.remote", "SwitchGroup", "border"),
    }


def test_an_attachment_to_a_vpc_without_subnet_part_checks_only_the_vpc():
    vpc = ("VPC", "v", {"subnets": {"default": {}}})
    assert violations(vpc, ("VPCAttachment", "a", {"subnet": "v", "connection": ""})) == set()
    assert violations(("VPCAttachment", "a", {"subnet": "", "connection": "c"})) == {
        ("VPCAttachment", "spec.connection", "Connection", "c")
    }


def test_one_reference_made_twice_is_reported_once():
    spec = {"mclag": {"links": [{"switch": {"port": "sw/E1/1"}}, {"switch": {"port": "sw/E1/1"}}]}}
    found = find_dependency_violations([("Connection", "c", spec)])
    assert [(v.path, v.target_name) for v in found] == [
        ("spec.mclag.links[0].switch.port", "sw"),
        ("spec.mclag.links[1].switch.port", "sw"),
    ]
    same_path = {"unbundled": {"link": {"switch": {"port": "sw/E1/1"}}}}
    assert len(find_dependency_violations([("Connection", "c", same_path)])) == 1
    switch = ("Switch", "s", {"groups": ["g", "g"]})
    assert len(find_dependency_violations([switch])) == 2  # two fields, two reports


def test_a_violation_message_names_both_ends():
    [violation] = find_dependency_violations([("VPCAttachment", "a", {"subnet": "v/s"})])
    assert violation.message == "VPCAttachment a refers to VPC v, which does not exist"
    [violation] = find_dependency_violations([("VPCAttachment", "a", {"subnet": "v/s"}), ("VPC", "v", {"subnets": {}})])
    assert violation.message == "VPCAttachment a refers to subnet s of VPC v, which does not exist"
    assert (violation.path, violation.target_kind, violation.target_name) == ("spec.subnet", "VPC", "v/s")
    conflict = violation.to_conflict()
    assert (conflict.path, conflict.gui, conflict.message) == ("", "v/s", violation.message)


def test_a_gateway_port_names_nothing_this_bot_manages():
    spec = {"gateway": {"links": [{"switch": {"port": "sw/E1/1"}, "gateway": {"port": "gw/e1"}}]}}
    assert violations(("Connection", "c", spec)) == {
        ("Connection", "spec.gateway.links[0].switch.port", "Switch", "sw")
    }


# --------------------------------------------------------------------------------------------
# Details a reader of the results relies on


def test_a_named_item_removed_on_one_side_is_reported_as_absent_not_null():
    other = links({"name": "a", "vlan": 1, "mtu": 9000})
    assert diff(LINKS_BASE, other) == {"spec.links[name=b]": ({"name": "b", "vlan": 2}, ABSENT)}
    assert diff(other, LINKS_BASE) == {"spec.links[name=b]": (ABSENT, {"name": "b", "vlan": 2})}


def test_a_three_way_result_keeps_the_three_views_it_compared():
    gui = edited(LINKS_BASE, lambda s: item(s, "a").__setitem__("vlan", 10))
    git = edited(LINKS_BASE, lambda s: item(s, "b").__setitem__("vlan", 20))
    result = three_way(LINKS_BASE, gui, git)
    assert (result.base, result.gui, result.git) == (LINKS_BASE, gui, git)
    assert three_way(None, gui, None).base is ABSENT and three_way(LINKS_BASE, None, git).gui is ABSENT


def test_a_git_change_that_swallows_a_gui_change_is_not_also_a_git_only_change():
    base = make_resource({"dhcp": {"enable": True, "range": {"start": "10.0.0.10"}}, "vlan": 1})
    gui = make_resource({"dhcp": {"enable": False, "range": {"start": "10.0.0.10"}}, "vlan": 1})
    git = make_resource({"dhcp": "off", "vlan": 2})
    result = three_way(base, gui, git)
    assert [c.path for c in result.conflicts] == ["spec.dhcp"]
    assert result.git_only == ["spec.vlan"] and result.gui_only == []
    agreed = three_way(
        base, make_resource({"dhcp": {"enable": True}, "vlan": 1}), make_resource({"dhcp": {"enable": True}, "vlan": 1})
    )
    assert agreed.agreed == ["spec.dhcp.range"] and agreed.git_only == [] and agreed.gui_only == []


def test_conflicts_are_ordered_by_their_written_path_not_by_their_segments():
    base = make_resource({"a": {"b": 1}, "a-b": 1})
    gui = make_resource({"a": {"b": 2}, "a-b": 2})
    git = make_resource({"a": {"b": 3}, "a-b": 3})
    assert [c.path for c in three_way(base, gui, git).conflicts] == ["spec.a-b", "spec.a.b"]


def test_the_merged_result_shares_nothing_with_git_even_where_the_gui_changed_nothing():
    base = make_resource({"groups": ["g1"], "bgp": {"peers": ["p1"]}, "vlan": 1})
    gui = make_resource({"groups": ["g1"], "bgp": {"peers": ["p1"]}, "vlan": 2})
    git = copy.deepcopy(base)
    result = three_way(base, gui, git)
    result.merged_spec["bgp"]["peers"].append("p2")
    result.merged_spec["groups"].append("g2")
    assert git == base


def test_a_chosen_value_with_nested_lists_is_copied_into_the_resolution():
    base = make_resource({"items": [{"x": [0]}]})
    gui = make_resource({"items": [{"x": [1]}]})
    git = make_resource({"items": [{"x": [2]}]})
    result = three_way(base, gui, git)
    for strategy in ("gui_wins", "github_wins"):
        resolve(result, strategy).spec["items"][0]["x"].append(9)
    assert gui["spec"]["items"] == [{"x": [1]}] and git["spec"]["items"] == [{"x": [2]}]
    typed = [[4]]
    resolve(result, "user_guided", values={"spec.items": typed}).spec["items"][0].append(5)
    assert typed == [[4]]


def test_merge_strategy_drops_what_the_gui_removed_from_the_base():
    base = make_resource({"groups": ["a", "b"]})
    gui = make_resource({"groups": ["a", "c"]})
    git = make_resource({"groups": ["a", "b", "d"]})
    resolution = resolve(three_way(base, gui, git), "merge_strategy")
    assert resolution.spec == {"groups": ["a", "d", "c"]} and resolution.resolved


def test_github_wins_decides_every_conflict_for_git():
    resolution = resolve(three_way(*conflicted()), "github_wins")
    assert resolution.resolved
    assert resolution.decisions == {"spec.asn": "git", "spec.groups": "git", "spec.vlan": "git"}
    early, late = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)
    timed = resolve(three_way(*conflicted()), "timestamp_wins", draft_time=early, git_time=late)
    assert timed.decisions == {"spec.asn": "git", "spec.groups": "git", "spec.vlan": "git"}


def test_an_unknown_strategy_is_named_in_the_refusal():
    with pytest.raises(ValueError, match=r"^unknown conflict strategy 'coin_flip'$"):
        resolve(three_way(*conflicted()), "coin_flip")
    with pytest.raises(ValueError, match=r"^timestamp_wins needs draft_time and git_time$"):
        resolve(three_way(*conflicted()), "timestamp_wins", draft_time=datetime(2025, 1, 1, tzinfo=UTC))


def test_a_conflict_made_by_hand_has_absent_values_unless_given():
    conflict = make_conflict("file_corruption", "broken")
    assert conflict.base is ABSENT and conflict.gui is ABSENT and conflict.git is ABSENT
    with pytest.raises(ValueError, match=r"^unknown conflict type 'bad_luck'$"):
        make_conflict("bad_luck", "why")


def test_a_conflict_as_json_carries_all_three_values():
    gui = edited(LINKS_BASE, lambda s: item(s, "a").__setitem__("vlan", 10))
    git = edited(LINKS_BASE, lambda s: item(s, "a").pop("vlan"))
    [conflict] = three_way(LINKS_BASE, gui, git, kind="Connection", name="c").conflicts
    as_json = conflict.to_dict()
    assert (as_json["base_value"], as_json["gui_value"], as_json["git_value"]) == (1, 10, None)
    assert as_json["severity"] == "medium" and as_json["kind"] == "Connection" and as_json["name"] == "c"
    [conflict] = three_way(LINKS_BASE, git, gui).conflicts
    assert (conflict.to_dict()["gui_value"], conflict.to_dict()["git_value"]) == (None, 10)


def test_the_policy_of_a_conflict_type_can_be_looked_up_by_its_name():
    from bot.core.threeway import policy

    assert policy("file_corruption").severity == "critical"
    assert policy("dependency_violation").options == ("github_wins", "manual")
    with pytest.raises(ValueError):
        policy("bad_luck")


def test_the_options_a_conflict_offers_are_a_copy_of_its_policy():
    conflict = make_conflict("permission_denied", "no write access", kind="VPC", name="v")
    options = conflict.resolution_options
    options.append("gui_wins")
    assert conflict.resolution_options == ["manual"] and conflict.severity == "critical"


def test_make_resource_keeps_a_copy_of_the_metadata_it_is_given():
    metadata = {"labels": {"a": "1"}}
    resource = make_resource({"x": 1}, metadata)
    assert resource == {"spec": {"x": 1}, "metadata": {"labels": {"a": "1"}}}
    resource["metadata"]["annotations"] = {}
    assert metadata == {"labels": {"a": "1"}}
    assert make_resource({"x": 1}, {}) == {"spec": {"x": 1}}


def test_set_at_removing_a_key_that_is_not_there_changes_nothing():
    assert set_at({"a": 1}, ("b",), ABSENT) == {"a": 1}
    assert set_at({"a": 1}, ("b", "c"), ABSENT) == {"a": 1, "b": {}}


def test_set_at_creates_a_named_list_where_there_was_nothing():
    assert set_at({}, ("links", Named("a")), {"name": "a"}) == {"links": [{"name": "a"}]}
    assert set_at({}, ("links", Named("a"), "vlan"), 1) == {"links": [{"name": "a", "vlan": 1}]}


def test_flatten_of_a_plain_value_lists_it_at_the_empty_path():
    assert flatten(["x"]) == {"": ["x"]}
    assert flatten(ABSENT) == {}


def test_an_attachment_subnet_with_more_slashes_names_the_vpc_before_the_first():
    vpc = ("VPC", "v", {"subnets": {"default": {}}})
    [violation] = find_dependency_violations([vpc, ("VPCAttachment", "a", {"subnet": "v/a/b"})])
    assert (violation.kind, violation.name, violation.path) == ("VPCAttachment", "a", "spec.subnet")
    assert (violation.target_kind, violation.target_name) == ("VPC", "v/a/b")


def test_an_attachment_to_a_vpc_without_a_readable_spec_checks_no_subnet():
    assert violations(("VPC", "v", None), ("VPCAttachment", "a", {"subnet": "v/x"})) == set()
    assert violations(("VPC", "v", {"subnets": None}), ("VPCAttachment", "a", {"subnet": "v/x"})) == set()


def test_references_that_are_not_names_are_not_references():
    assert violations(("ExternalAttachment", "ea", {"external": 5, "connection": 7})) == set()
    assert violations(("ExternalAttachment", "ea", {"external": "e"})) == {
        ("ExternalAttachment", "spec.external", "External", "e")
    }
    assert violations(("ExternalPeering", "ep", {"permit": {"vpc": {"name": 5}, "external": {"name": 7}}})) == set()
    assert violations(("VPCAttachment", "a", {"subnet": 5, "connection": 7})) == set()
    assert violations(("VPCAttachment", "a", {"subnet": "v"})) == {("VPCAttachment", "spec.subnet", "VPC", "v")}


def test_a_reference_that_repeats_within_one_field_is_reported_once_and_the_rest_still_checked():
    # keys that read the same once written ({1: ..., "1": ...} from a client's JSON-like data)
    peering = ("VPCPeering", "p", {"permit": [{1: {}, "1": {}, "v2": {}}]})
    assert sorted(v.target_name for v in find_dependency_violations([peering])) == ["1", "v2"]


@pytest.mark.parametrize(
    ("conflict_type", "settled_by_a_strategy"),
    [
        ("concurrent_modification", True),
        ("missing_resource", True),
        ("schema_mismatch", True),
        ("file_corruption", True),  # the GUI's version can be written over the broken document
        ("dependency_violation", True),  # Git's state can be kept
        ("permission_denied", False),
    ],
)
def test_a_conflict_a_strategy_can_settle_offers_a_side_to_take(conflict_type, settled_by_a_strategy):
    from bot.core.threeway import auto_resolvable

    assert auto_resolvable(conflict_type) is settled_by_a_strategy
