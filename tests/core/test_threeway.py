"""Conflicts are found field by field, resolved by strategy, and dangling references caught."""

from __future__ import annotations

import copy
import random
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.fieldpath import Named, parse_path
from bot.core.render import load_documents
from bot.core.threeway import (
    ABSENT,
    CONFLICT_POLICIES,
    diff,
    find_dependency_violations,
    flatten,
    make_conflict,
    make_resource,
    merge_lists,
    resolve,
    three_way,
    to_json,
    value_at,
)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SAMPLES = SHARED / "hedgehog" / "samples"
SQL = Path(__file__).resolve().parents[2] / "sql" / "001_domain.sql"


def vpc(**subnets) -> dict:
    return make_resource(
        {
            "subnets": subnets
            or {
                "default": {"subnet": "10.0.1.0/24", "vlan": 1001, "dhcp": {"enable": True}},
                "s2": {"subnet": "10.0.2.0/24", "vlan": 1002},
            }
        }
    )


def edited(resource: dict, fn) -> dict:
    out = copy.deepcopy(resource)
    fn(out)
    return out


# --------------------------------------------------------------------------------------------
# Paths


def test_flatten_names_fields_readably():
    resource = {
        "spec": {
            "subnets": {"default": {"vlan": 1001}},
            "portBreakouts": {"E1/1": "4x10G"},
            "links": [{"name": "a", "port": "s1/E1/1"}, {"name": "b.c", "port": "s1/E1/2"}],
            "prefixes": ["10.0.0.0/8"],
            "empty": {},
        },
        "metadata": {"name": "ignored", "annotations": {"type.hhfab.githedgehog.com": "hw"}},
    }
    assert flatten(resource) == {
        "spec.subnets.default.vlan": 1001,
        "spec.portBreakouts.E1/1": "4x10G",
        "spec.links[name=a].name": "a",
        "spec.links[name=a].port": "s1/E1/1",
        'spec.links[name="b.c"].name': "b.c",
        'spec.links[name="b.c"].port': "s1/E1/2",
        "spec.prefixes": ["10.0.0.0/8"],
        "spec.empty": {},
        'metadata.annotations["type.hhfab.githedgehog.com"]': "hw",
    }


# --------------------------------------------------------------------------------------------
# Diff


def test_diff_reports_the_smallest_changed_subtrees():
    base = vpc()
    other = edited(
        base,
        lambda r: (
            r["spec"]["subnets"]["default"].__setitem__("vlan", 1100),
            r["spec"]["subnets"].pop("s2"),
            r["spec"]["subnets"].__setitem__("s3", {"vlan": 3}),
            r["spec"]["subnets"]["default"].__setitem__("dhcp", False),
        ),
    )
    assert diff(base, other) == {
        "spec.subnets.default.vlan": (1001, 1100),
        "spec.subnets.default.dhcp": ({"enable": True}, False),
        "spec.subnets.s2": ({"subnet": "10.0.2.0/24", "vlan": 1002}, ABSENT),
        "spec.subnets.s3": (ABSENT, {"vlan": 3}),
    }


def test_diff_tells_types_apart():
    assert diff(make_resource({"a": 1}), make_resource({"a": True})) == {"spec.a": (1, True)}
    assert diff(make_resource({"a": 1}), make_resource({"a": 1.0})) == {"spec.a": (1, 1.0)}
    assert diff(make_resource({"a": 1}), make_resource({"a": 1})) == {}


def test_named_lists_match_by_name_and_ignore_order():
    base = make_resource({"links": [{"name": "a", "vlan": 1}, {"name": "b", "vlan": 2}]})
    other = make_resource({"links": [{"name": "b", "vlan": 2}, {"name": "a", "vlan": 5}, {"name": "c"}]})
    assert diff(base, other) == {
        "spec.links[name=a].vlan": (1, 5),
        "spec.links[name=c]": (ABSENT, {"name": "c"}),
    }


def test_other_lists_compare_whole():
    base = make_resource({"permit": [["a", "b"]], "items": [{"x": 1}]})
    other = make_resource({"permit": [["a", "c"]], "items": [{"x": 2}]})
    assert diff(base, other) == {"spec.permit": ([["a", "b"]], [["a", "c"]]), "spec.items": ([{"x": 1}], [{"x": 2}])}


def test_labels_and_annotations_are_compared_other_metadata_is_not():
    base = {"spec": {}, "metadata": {"name": "a", "generation": 1, "labels": {"t": "1"}}}
    other = {
        "spec": {},
        "metadata": {"name": "a", "generation": 9, "labels": {"t": "2"}, "annotations": {"x.io/y": "z"}},
    }
    assert diff(base, other) == {"metadata.labels.t": ("1", "2"), "metadata.annotations": (ABSENT, {"x.io/y": "z"})}


# --------------------------------------------------------------------------------------------
# Three-way


def test_one_sided_changes_merge_without_conflict():
    base = vpc()
    gui = edited(base, lambda r: r["spec"]["subnets"]["default"].__setitem__("vlan", 1100))
    git = edited(base, lambda r: r["spec"]["subnets"]["s2"].__setitem__("subnet", "10.0.22.0/24"))
    result = three_way(base, gui, git)
    assert result.clean
    assert result.gui_only == ["spec.subnets.default.vlan"]
    assert result.git_only == ["spec.subnets.s2.subnet"]
    assert result.merged_spec["subnets"]["default"]["vlan"] == 1100
    assert result.merged_spec["subnets"]["s2"]["subnet"] == "10.0.22.0/24"


def test_the_same_field_changed_differently_is_a_concurrent_modification():
    base = vpc()
    gui = edited(base, lambda r: r["spec"]["subnets"]["default"].__setitem__("vlan", 1100))
    git = edited(base, lambda r: r["spec"]["subnets"]["default"].__setitem__("vlan", 1200))
    result = three_way(base, gui, git, kind="VPC", name="vpc-1")
    [conflict] = result.conflicts
    assert (conflict.path, conflict.base, conflict.gui, conflict.git) == ("spec.subnets.default.vlan", 1001, 1100, 1200)
    assert conflict.type == "concurrent_modification"
    assert conflict.severity == "medium"
    assert conflict.resource == "VPC/vpc-1"
    assert result.merged_spec["subnets"]["default"]["vlan"] == 1200  # Git's value until resolved
    assert conflict.to_dict()["field_path"] == "spec.subnets.default.vlan"


def test_the_same_change_on_both_sides_is_no_conflict():
    base = vpc()
    both = edited(base, lambda r: r["spec"]["subnets"]["default"].__setitem__("vlan", 1100))
    result = three_way(base, both, copy.deepcopy(both))
    assert result.clean and result.agreed == ["spec.subnets.default.vlan"]
    assert result.merged == {"spec": both["spec"]}


def test_a_gui_deletion_of_a_subnet_git_edited_is_one_conflict_at_the_subnet():
    base = vpc()
    gui = edited(base, lambda r: r["spec"]["subnets"].pop("s2"))
    git = edited(base, lambda r: r["spec"]["subnets"]["s2"].__setitem__("vlan", 1200))
    [conflict] = three_way(base, gui, git).conflicts
    assert conflict.path == "spec.subnets.s2"
    assert conflict.gui is ABSENT
    assert conflict.git == {"subnet": "10.0.2.0/24", "vlan": 1200}


def test_a_mapping_replaced_by_a_scalar_conflicts_with_edits_below_it():
    base = vpc()
    gui = edited(base, lambda r: r["spec"]["subnets"]["default"]["dhcp"].__setitem__("enable", False))
    git = edited(base, lambda r: r["spec"]["subnets"]["default"].__setitem__("dhcp", "off"))
    [conflict] = three_way(base, gui, git).conflicts
    assert conflict.path == "spec.subnets.default.dhcp"
    assert (conflict.base, conflict.gui, conflict.git) == ({"enable": True}, {"enable": False}, "off")
    # ...and the other way round
    [conflict] = three_way(base, git, gui).conflicts
    assert conflict.path == "spec.subnets.default.dhcp"


def test_parent_and_child_changes_that_agree_are_no_conflict():
    base = vpc()
    gui = edited(base, lambda r: r["spec"]["subnets"]["default"].__setitem__("dhcp", {"enable": False}))
    git = edited(base, lambda r: r["spec"]["subnets"]["default"]["dhcp"].__setitem__("enable", False))
    result = three_way(base, gui, git)
    assert result.clean


def test_one_conflict_per_overlapping_group_and_the_rest_still_merges():
    base = vpc()
    gui = edited(
        base, lambda r: (r["spec"]["subnets"].pop("s2"), r["spec"]["subnets"]["default"].__setitem__("vlan", 7))
    )
    git = edited(
        base,
        lambda r: (
            r["spec"]["subnets"]["s2"].__setitem__("vlan", 1),
            r["spec"]["subnets"]["s2"].__setitem__("subnet", "x"),
            r["spec"].__setitem__("ipv4Namespace", "default"),
        ),
    )
    result = three_way(base, gui, git)
    assert [c.path for c in result.conflicts] == ["spec.subnets.s2"]
    assert result.gui_only == ["spec.subnets.default.vlan"]
    assert result.git_only == ["spec.ipv4Namespace"]
    assert result.merged_spec["subnets"]["default"]["vlan"] == 7
    assert result.merged_spec["ipv4Namespace"] == "default"


def test_named_list_items_merge_item_by_item():
    base = make_resource({"links": [{"name": "a", "vlan": 1}]})
    gui = make_resource({"links": [{"name": "a", "vlan": 1}, {"name": "b", "vlan": 2}]})
    git = make_resource({"links": [{"name": "a", "vlan": 9}, {"name": "c", "vlan": 3}]})
    result = three_way(base, gui, git)
    assert result.clean
    assert result.merged_spec == {
        "links": [{"name": "a", "vlan": 9}, {"name": "c", "vlan": 3}, {"name": "b", "vlan": 2}]
    }


def test_annotation_keys_with_dots_are_fields_too():
    base = {"spec": {}, "metadata": {"annotations": {"type.hhfab.githedgehog.com": "hw"}}}
    gui = {"spec": {}, "metadata": {"annotations": {"type.hhfab.githedgehog.com": "vlab"}}}
    git = {"spec": {}, "metadata": {"annotations": {"type.hhfab.githedgehog.com": "virtual"}}}
    [conflict] = three_way(base, gui, git).conflicts
    assert conflict.path == 'metadata.annotations["type.hhfab.githedgehog.com"]'
    resolution = resolve(three_way(base, gui, git), "gui_wins")
    assert resolution.metadata == {"annotations": {"type.hhfab.githedgehog.com": "vlab"}}


def test_a_draft_of_a_resource_deleted_in_git_is_a_missing_resource():
    base = vpc()
    gui = edited(base, lambda r: r["spec"]["subnets"]["default"].__setitem__("vlan", 1100))
    result = three_way(base, gui, None, kind="VPC", name="v")
    [conflict] = result.conflicts
    assert (conflict.type, conflict.path, conflict.git) == ("missing_resource", "", ABSENT)
    assert conflict.severity == "high"
    assert resolve(result, "gui_wins").spec == gui["spec"]
    assert resolve(result, "github_wins").resource is None


def test_a_deleted_resource_with_no_draft_changes_stays_deleted():
    base = vpc()
    result = three_way(base, copy.deepcopy(base), None)
    assert result.clean and result.merged is ABSENT and result.merged_spec is None


def test_a_gui_deletion_of_a_resource_git_changed_conflicts():
    base = vpc()
    git = edited(base, lambda r: r["spec"]["subnets"]["default"].__setitem__("vlan", 5))
    [conflict] = three_way(base, None, git).conflicts
    assert conflict.path == "" and conflict.gui is ABSENT and conflict.type == "concurrent_modification"
    assert three_way(base, None, copy.deepcopy(base)).merged is ABSENT


def test_a_resource_created_on_both_sides_compares_field_by_field():
    gui = make_resource({"a": 1, "b": 2})
    git = make_resource({"a": 1, "b": 3})
    result = three_way(None, gui, git)
    assert [c.path for c in result.conflicts] == ["spec.b"]
    assert three_way(None, gui, None).merged == gui


def test_three_way_identities_hold_for_random_edits():
    text = SAMPLES / "lab-ci_wiring.yaml"
    if not text.exists():
        pytest.skip("shared samples are not present (the ../shared checkout is missing)")
    bodies = load_documents(text.read_text())
    rng = random.Random(3)

    def mutate(resource):
        out = copy.deepcopy(resource)
        for _ in range(rng.randint(1, 3)):
            paths = list(flatten(out))
            if not paths:
                out.setdefault("spec", {})["x"] = 1
                continue
            path = parse_path(rng.choice(paths))
            target = out
            for seg in path[:-1]:
                target = (
                    target[seg] if not isinstance(seg, Named) else next(i for i in target if i.get("name") == seg.name)
                )
            last = path[-1]
            if isinstance(target, dict) and not isinstance(last, Named):
                target[last] = rng.choice([None, 0, "v", [1], {"k": 1}])
        return out

    for body in bodies:
        base = {"spec": body.get("spec", {}), "metadata": body["metadata"]}
        for _ in range(5):
            a, b = mutate(base), mutate(base)
            assert three_way(base, a, base).clean and three_way(base, a, base).merged == three_way(base, a, a).merged
            assert three_way(base, base, b).merged == three_way(base, b, b).merged
            result = three_way(base, a, b)
            gui_wins = resolve(result, "gui_wins")
            git_wins = resolve(result, "github_wins")
            assert gui_wins.resolved and git_wins.resolved
            # every field either side changed alone is in both outcomes
            for path in result.gui_only:
                for outcome in (gui_wins, git_wins):
                    assert value_at(outcome.resource, parse_path(path)) == value_at(a, parse_path(path))
            for path in result.git_only:
                for outcome in (gui_wins, git_wins):
                    assert value_at(outcome.resource, parse_path(path)) == value_at(b, parse_path(path))
            for conflict in result.conflicts:
                assert value_at(gui_wins.resource, conflict.segments) == conflict.gui
                assert value_at(git_wins.resource, conflict.segments) == conflict.git
            if result.clean:
                assert gui_wins.resource == git_wins.resource == result.merged


# --------------------------------------------------------------------------------------------
# Strategies


def conflicted():
    base = make_resource({"vlan": 1, "groups": ["g1"], "mtu": 9000, "desc": "x"})
    gui = make_resource({"vlan": 2, "groups": ["g1", "g2"], "mtu": 9000, "desc": "gui"})
    git = make_resource({"vlan": 3, "groups": ["g0", "g1"], "mtu": 1500, "desc": "x"})
    return three_way(base, gui, git)


def test_gui_wins_and_github_wins():
    result = conflicted()
    assert {c.path for c in result.conflicts} == {"spec.vlan", "spec.groups"}
    assert resolve(result, "gui_wins").spec == {"vlan": 2, "groups": ["g1", "g2"], "mtu": 1500, "desc": "gui"}
    assert resolve(result, "github_wins").spec == {"vlan": 3, "groups": ["g0", "g1"], "mtu": 1500, "desc": "gui"}


def test_merge_strategy_merges_lists_and_leaves_the_rest():
    resolution = resolve(conflicted(), "merge_strategy")
    assert resolution.spec["groups"] == ["g0", "g1", "g2"]
    assert [c.path for c in resolution.conflicts] == ["spec.vlan"]
    assert resolution.spec["vlan"] == 3  # nothing overwritten while it waits
    assert resolve(conflicted(), "merge").strategy == "merge_strategy"


def test_merge_lists():
    assert merge_lists(["a", "b"], ["a", "c"], ["a", "b", "d"]) == ["a", "d", "c"]
    assert merge_lists(None, [1], [2]) == [2, 1]
    assert merge_lists([1], 1, [1]) is None


def test_timestamp_wins_takes_the_later_side_and_git_on_a_tie():
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    t1 = datetime(2025, 1, 2, tzinfo=UTC)
    assert resolve(conflicted(), "timestamp_wins", draft_time=t1, git_time=t0).spec["vlan"] == 2
    assert resolve(conflicted(), "timestamp_wins", draft_time=t0, git_time=t1).spec["vlan"] == 3
    assert resolve(conflicted(), "timestamp_wins", draft_time=t0, git_time=t0).spec["vlan"] == 3
    with pytest.raises(ValueError):
        resolve(conflicted(), "timestamp_wins")


def test_user_guided_overwrites_nothing_it_was_not_told():
    result = conflicted()
    resolution = resolve(result, "user_guided")
    assert len(resolution.conflicts) == 2 and not resolution.resolved
    assert resolution.spec == result.merged_spec
    told = resolve(result, "user_guided", choices={"spec.vlan": "gui"}, values={"spec.groups": ["z"]})
    assert told.resolved
    assert told.spec["vlan"] == 2 and told.spec["groups"] == ["z"]
    assert told.decisions == {"spec.vlan": "gui", "spec.groups": "value"}
    removed = resolve(result, "manual", values={"spec.vlan": None})
    assert "vlan" not in removed.spec and [c.path for c in removed.conflicts] == ["spec.groups"]


def test_unknown_strategy():
    with pytest.raises(ValueError):
        resolve(conflicted(), "coin_flip")


# --------------------------------------------------------------------------------------------
# Conflict types


def test_every_conflict_type_of_the_schema_has_a_severity_and_options():
    if not SQL.exists():
        pytest.skip("sql/001_domain.sql is not present")
    sql = SQL.read_text()
    table = sql[sql.index("CREATE TABLE conflict") :]
    types = set(re.findall(r"'(\w+)'", table[table.index("type ") : table.index("severity")]))
    severities = set(re.findall(r"'(\w+)'", table[table.index("severity ") : table.index("field_path")]))
    resolutions = set(re.findall(r"'(\w+)'", table[table.index("resolution  ") : table.index("resolved_by")]))
    assert set(CONFLICT_POLICIES) == types
    for policy in CONFLICT_POLICIES.values():
        assert policy.severity in severities
        assert policy.options and set(policy.options) <= resolutions


def test_make_conflict_for_the_other_types():
    for name in CONFLICT_POLICIES:
        conflict = make_conflict(name, "why", kind="VPC", name="v", path="spec.a")
        assert conflict.to_dict()["severity"] == CONFLICT_POLICIES[name].severity
        assert conflict.to_dict()["gui_value"] is None
    with pytest.raises(ValueError):
        make_conflict("bad_luck", "why")


def test_to_json_turns_absent_into_null():
    assert to_json({"a": ABSENT, "b": [ABSENT, 1]}) == {"a": None, "b": [None, 1]}
    assert copy.deepcopy(ABSENT) is ABSENT and not ABSENT and repr(ABSENT) == "<absent>"


# --------------------------------------------------------------------------------------------
# Dependencies


def sample_resources(*names):
    out = []
    for name in names:
        path = SAMPLES / name
        if not path.exists():
            pytest.skip(f"shared sample {path} is not present (the ../shared checkout is missing)")
        for body in load_documents(path.read_text()):
            out.append((body["kind"], body["metadata"]["name"], body.get("spec") or {}))
    return out


def test_the_lab_ci_wiring_is_consistent():
    assert find_dependency_violations(sample_resources("lab-ci_wiring.yaml")) == []


def test_the_prepop_wiring_is_consistent():
    assert find_dependency_violations(sample_resources("gitops-test-1_prepop.yaml")) == []


def test_the_demo_files_only_miss_the_connections_of_their_own_lab():
    resources = sample_resources("lab-ci_wiring.yaml", "demo-gitops_demo.yaml", "demo-gitops_pre-demo.yaml")
    violations = find_dependency_violations(resources)
    assert {(v.kind, v.path, v.target_kind, v.target_name) for v in violations} == {
        ("VPCAttachment", "spec.connection", "Connection", "server-3--bundled--s5248-01"),
        ("VPCAttachment", "spec.connection", "Connection", "server-1--mclag--s5248-01--s5248-02"),
        ("VPCAttachment", "spec.connection", "Connection", "server-4--unbundled--s5248-02"),
    }
    # demo.yaml alone also misses the VPCs that pre-demo.yaml defines
    alone = find_dependency_violations(sample_resources("demo-gitops_demo.yaml"))
    assert ("VPCPeering", "VPC", "demo-vpc-1") in {(v.kind, v.target_kind, v.target_name) for v in alone}


def test_removing_a_switch_breaks_every_connection_that_names_it():
    resources = [r for r in sample_resources("lab-ci_wiring.yaml") if r[1] != "ds3000-03"]
    violations = find_dependency_violations(resources)
    assert {v.kind for v in violations} == {"Connection"}
    assert {(v.target_kind, v.target_name) for v in violations} == {("Switch", "ds3000-03")}
    names = {v.name for v in violations}
    assert "ds4000-01--fabric--ds3000-03" in names  # fabric leaf port
    assert "ds3000-03--vpc-loopback" in names  # vpcLoopback switch1/switch2
    assert "ds3000-03--external--ds2000-02" in names  # external link switch
    assert "server-7--unbundled--ds3000-03" in names  # unbundled switch
    assert "server-5--eslag--ds3000-03--sse-c4632-01" in names  # eslag switch


def test_every_connection_shape_names_its_devices():
    shapes = {
        "unbundled": {"unbundled": {"link": {"server": {"port": "srv/e1"}, "switch": {"port": "sw/E1/1"}}}},
        "bundled": {"bundled": {"links": [{"server": {"port": "srv/e1"}, "switch": {"port": "sw/E1/1"}}]}},
        "mclag": {"mclag": {"links": [{"server": {"port": "srv/e1"}, "switch": {"port": "sw/E1/1"}}]}},
        "eslag": {"eslag": {"links": [{"server": {"port": "srv/e1"}, "switch": {"port": "sw/E1/1"}}]}},
        "fabric": {"fabric": {"links": [{"spine": {"port": "sw/E1/1"}, "leaf": {"port": "sw2/E1/1"}}]}},
        "mesh": {"mesh": {"links": [{"leaf1": {"port": "sw/E1/1"}, "leaf2": {"port": "sw2/E1/1"}}]}},
        "mclagDomain": {
            "mclagDomain": {
                "peerLinks": [{"switch1": {"port": "sw/E1/1"}, "switch2": {"port": "sw2/E1/1"}}],
                "sessionLinks": [{"switch1": {"port": "sw/E1/2"}, "switch2": {"port": "sw2/E1/2"}}],
            }
        },
        "vpcLoopback": {"vpcLoopback": {"links": [{"switch1": {"port": "sw/E1/1"}, "switch2": {"port": "sw/E1/2"}}]}},
        "external": {"external": {"link": {"switch": {"port": "sw/E1/1"}}}},
        "staticExternal": {
            "staticExternal": {"link": {"switch": {"port": "sw/E1/1", "ip": "1.1.1.1/24"}}, "withinVPC": "v1"}
        },
    }
    for shape, spec in shapes.items():
        violations = find_dependency_violations([("Connection", shape, spec)])
        targets = {(v.target_kind, v.target_name) for v in violations}
        assert ("Switch", "sw") in targets, shape
        if "server" in str(spec):
            assert ("Server", "srv") in targets, shape
        everything = [
            ("Connection", shape, spec),
            ("Switch", "sw", {}),
            ("Switch", "sw2", {}),
            ("Server", "srv", {}),
            ("VPC", "v1", {}),
        ]
        assert find_dependency_violations(everything) == [], shape


def test_vpc_references():
    vpc1 = ("VPC", "v1", {"subnets": {"default": {"vlan": 1}}})
    conn = ("Connection", "c1", {"unbundled": {"link": {"server": {"port": "s/e"}, "switch": {"port": "w/E1"}}}})
    devices = [("Server", "s", {}), ("Switch", "w", {})]
    attach = ("VPCAttachment", "a1", {"subnet": "v1/default", "connection": "c1"})
    assert find_dependency_violations([vpc1, conn, attach, *devices]) == []
    [missing_vpc, missing_conn] = find_dependency_violations([attach])
    assert (missing_vpc.target_kind, missing_vpc.target_name, missing_vpc.path) == ("VPC", "v1", "spec.subnet")
    assert (missing_conn.target_kind, missing_conn.target_name) == ("Connection", "c1")
    [bad_subnet] = find_dependency_violations(
        [vpc1, conn, *devices, ("VPCAttachment", "a2", {"subnet": "v1/other", "connection": "c1"})]
    )
    assert bad_subnet.target_name == "v1/other"
    peering = ("VPCPeering", "p", {"permit": [{"v1": {"subnets": ["default"]}, "v2": {}}]})
    assert [(v.target_kind, v.target_name) for v in find_dependency_violations([vpc1, peering])] == [("VPC", "v2")]
    ext_peering = ("ExternalPeering", "ep", {"permit": {"vpc": {"name": "v1"}, "external": {"name": "e1"}}})
    assert [(v.target_kind, v.target_name) for v in find_dependency_violations([vpc1, ext_peering])] == [
        ("External", "e1")
    ]
    ext_attach = ("ExternalAttachment", "ea", {"external": "e1", "connection": "c9"})
    assert {(v.target_kind, v.target_name) for v in find_dependency_violations([ext_attach])} == {
        ("External", "e1"),
        ("Connection", "c9"),
    }
    conflict = find_dependency_violations([ext_attach])[0].to_conflict()
    assert conflict.type == "dependency_violation" and conflict.resource == "ExternalAttachment/ea"


def test_set_at_copies_and_does_not_modify():
    from bot.core.threeway import set_at

    base = {"spec": {"links": [{"name": "a", "vlan": 1}], "x": {"y": 1}}}
    snapshot = copy.deepcopy(base)
    out = set_at(base, ("spec", "links", Named("a"), "vlan"), 2)
    out = set_at(out, ("spec", "links", Named("b")), {"name": "b"})
    out = set_at(out, ("spec", "x", "y"), ABSENT)
    assert base == snapshot
    assert out == {"spec": {"links": [{"name": "a", "vlan": 2}, {"name": "b"}], "x": {}}}
    assert set_at(out, (), ABSENT) is ABSENT
