"""Whole-fabric validation on the real sample fabrics: each rule fails when one value of a real
fabric is changed to break it, and nothing fires on the fabrics as they are."""

from __future__ import annotations

import copy

import pytest

from bot.core.documents import parse_file
from bot.core.fabric_rules import (
    RULES,
    FabricResource,
    default_spec,
    resources_from_documents,
    summary_by_rule,
    validate_fabric,
    without_default_metadata,
    without_defaults,
)
from bot.core.validation import classify, validate_document
from tests.fabric_samples import LAB, PRE_DEMO, PREPOP, edit, env1, lab, lab_with_vpcs, sample


def resources(files: dict[str, str]) -> list[FabricResource]:
    """The fabric of some files, as ingestion applies it: documents that fail alone are left out."""
    out: list[FabricResource] = []
    for path, text in files.items():
        parsed = parse_file(path, text.encode())
        valid = [d for d in parsed.documents if classify(d).hedgehog and not validate_document(d, all_errors=False)]
        out.extend(resources_from_documents(path, valid))
    return out


def check(files: dict[str, str]) -> list:
    return validate_fabric(resources(files))


def broken(files: dict[str, str], path: str, old: str, new: str) -> list:
    changed = dict(files)
    changed[path] = edit(files[path], old, new)
    return check(changed)


def one(violations: list, rule: str):
    assert [v.rule for v in violations] == [rule], [(v.rule, v.message) for v in violations]
    return violations[0]


# --- no false alarms -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "files",
    [lab, lambda: {"prepop.yaml": sample(PREPOP)}, env1, lambda: {"pre-demo.yaml": sample(PRE_DEMO)}, lab_with_vpcs],
    ids=["lab-ci", "gitops-test-1", "demo-gitops env-1", "demo-gitops pre-demo", "lab-ci with env-1's VPCs"],
)
def test_the_real_fabrics_pass(files):
    assert check(files()) == []


def test_the_lab_keeps_exactly_its_one_invalid_document():
    # The static ExternalAttachment fails its CRD alone; left out, the rest of the lab is consistent.
    parsed = parse_file("wiring.yaml", sample(LAB).encode())
    invalid = [d.name for d in parsed.documents if validate_document(d)]
    assert invalid == ["ds3000-03--static-ext"]
    assert check(lab()) == []


def test_all_samples_in_one_fabric_show_what_does_not_fit_together():
    files = {**lab(), "prepop.yaml": sample(PREPOP), **env1()}
    found = {(v.rule, v.name) for v in check(files)}
    # env-1's VPCs are not in the lab's IPv4Namespace, and its lab's connections are not here
    assert found == {
        ("vpc-subnet-in-ipv4namespace", "demo-vpc-1"),
        ("vpc-subnet-in-ipv4namespace", "demo-vpc-2"),
        ("vpc-subnet-in-ipv4namespace", "demo-vpc-3"),
        ("vpcattachment-connection-exists", "demo-vpc-1--server-1--mclag--s5248-01--s5248-02"),
        ("vpcattachment-connection-exists", "demo-vpc-2--server-4--unbundled--s5248-02"),
        ("vpcattachment-connection-exists", "demo-vpc-3--server-3--bundled--s5248-01"),
    }


# --- VPC ---------------------------------------------------------------------------------------

DEMO_VPC3_SUBNET2 = "      subnet: 10.20.132.0/24\n      vlan: 1132\n"


def test_a_vlan_used_by_two_vpcs_names_the_first_and_where_it_is():
    files = lab_with_vpcs()
    v = one(broken(files, "env-1/demo.yaml", "vlan: 1132", "vlan: 1101"), "vpc-vlan-unique")
    vlan_line = files["env-1/pre-demo.yaml"].splitlines().index("      vlan: 1101") + 1
    assert v.name == "demo-vpc-3" and v.field == "spec.subnets.subnet-2.vlan"
    assert v.message == (
        f"VLAN 1101 of demo-vpc-3/subnet-2 is already used by demo-vpc-1/default "
        f"(env-1/pre-demo.yaml:{vlan_line}) in VLANNamespace default"
    )
    assert v.path == "env-1/demo.yaml" and v.line == files["env-1/demo.yaml"].splitlines().index("      vlan: 1132") + 1
    assert v.other == ("VPC", "demo-vpc-1")


def test_overlapping_subnets_of_two_vpcs_are_caught_without_any_namespace():
    v = one(
        broken(env1(), "env-1/demo.yaml", "subnet: 10.10.132.0/24", "subnet: 10.10.101.128/25"), "vpc-subnet-overlap"
    )
    assert v.name == "demo-vpc-3" and "demo-vpc-1/default" in v.message and "env-1/pre-demo.yaml:" in v.message
    assert (
        one(
            broken(lab_with_vpcs(), "env-1/demo.yaml", "subnet: 10.20.132.0/24", "subnet: 10.20.102.0/23"),
            "vpc-subnet-overlap",
        ).field
        == "spec.subnets.subnet-2.subnet"
    )


def test_a_vpc_namespace_that_does_not_exist():
    files = lab_with_vpcs()
    v = one(
        broken(
            files,
            "env-1/demo.yaml",
            "spec:\n  subnets:\n    subnet-1:",
            "spec:\n  ipv4Namespace: nope\n  subnets:\n    subnet-1:",
        ),
        "vpc-ipv4namespace-exists",
    )
    assert v.field == "spec.ipv4Namespace" and "IPv4Namespace nope does not exist" in v.message
    v = one(
        broken(
            files,
            "env-1/demo.yaml",
            "spec:\n  subnets:\n    subnet-1:",
            "spec:\n  vlanNamespace: nope\n  subnets:\n    subnet-1:",
        ),
        "vpc-vlannamespace-exists",
    )
    assert v.field == "spec.vlanNamespace"


def test_a_vpc_subnet_outside_its_ipv4_namespace():
    v = one(
        broken(lab_with_vpcs(), "env-1/demo.yaml", "subnet: 10.20.132.0/24", "subnet: 10.30.132.0/24"),
        "vpc-subnet-in-ipv4namespace",
    )
    assert "10.20.0.0/16" in v.message and "lab/wiring.yaml:" in v.message


def test_a_vpc_vlan_outside_its_vlan_namespace():
    v = one(broken(lab_with_vpcs(), "env-1/demo.yaml", "vlan: 1132", "vlan: 3132"), "vpc-vlan-in-vlannamespace")
    assert "1000-2999" in v.message and v.field == "spec.subnets.subnet-2.vlan"


def test_a_dhcp_relay_vpc_that_does_not_exist():
    files = lab_with_vpcs()
    relay = "      dhcp:\n        relay: 10.20.200.0/24\n        relayVPC: demo-vpc-1\n  permit:"
    files["env-1/demo.yaml"] = edit(files["env-1/demo.yaml"], "      dhcp:\n        enable: true\n  permit:", relay)
    assert check(files) == []
    v = one(
        broken(files, "env-1/demo.yaml", "relayVPC: demo-vpc-1", "relayVPC: demo-vpc-9"), "vpc-dhcp-relay-vpc-exists"
    )
    assert v.field == "spec.subnets.subnet-2.dhcp.relayVPC"


# --- VPCAttachment ---------------------------------------------------------------------------


def test_an_attachment_to_a_vpc_or_subnet_that_does_not_exist():
    files = lab_with_vpcs()
    one(
        broken(files, "env-1/demo.yaml", "subnet: demo-vpc-3/subnet-1", "subnet: demo-vpc-9/subnet-1"),
        "vpcattachment-vpc-exists",
    )
    v = one(
        broken(files, "env-1/demo.yaml", "subnet: demo-vpc-3/subnet-1", "subnet: demo-vpc-3/subnet-9"),
        "vpcattachment-subnet-exists",
    )
    assert "env-1/demo.yaml:" in v.message and v.other == ("VPC", "demo-vpc-3")


def test_an_attachment_to_a_connection_that_does_not_exist_only_where_connections_are_managed():
    old, new = "connection: server-3--bundled--ds3000-01", "connection: server-3--bundled--ds3000-09"
    v = one(broken(lab_with_vpcs(), "env-1/demo.yaml", old, new), "vpcattachment-connection-exists")
    assert v.field == "spec.connection"
    # env-1 alone holds no connection at all: its wiring is not in this repository
    assert broken(env1(), "env-1/demo.yaml", "connection: server-3--bundled--s5248-01", "connection: nope") == []


def test_an_attachment_to_a_connection_of_the_wrong_type():
    old = "connection: server-3--bundled--ds3000-01"
    v = one(
        broken(lab_with_vpcs(), "env-1/demo.yaml", old, "connection: ds3000-01--vpc-loopback"),
        "vpcattachment-connection-type",
    )
    assert "vpcLoopback" in v.message


def test_an_eslag_attachment_needs_an_l2vni_vpc():
    old = "  name: demo-vpc-1\n  namespace: default\nspec:\n"
    v = one(broken(lab_with_vpcs(), "env-1/pre-demo.yaml", old, old + "  mode: l3vni\n"), "vpcattachment-eslag-mode")
    assert v.name == "demo-vpc-1--server-1--eslag--ds3000-01--ds3000-02"


def test_a_host_bgp_subnet_needs_an_unbundled_connection():
    files = lab_with_vpcs()
    old = "      gateway: 10.20.131.1\n      vlan: 1131\n      dhcp:\n        enable: true\n        range:\n          start: 10.20.131.10\n          end: 10.20.131.99\n"
    one(broken(files, "env-1/demo.yaml", old, "      hostBGP: true\n"), "vpcattachment-hostbgp")


def test_the_switches_of_an_attachment_need_the_vpcs_vlan_namespace():
    files = lab_with_vpcs()
    old = "  name: ds3000-01\nspec:\n"
    found = broken(files, "lab/wiring.yaml", old, old + "  vlanNamespaces: [other]\n")
    # the switch names a namespace that does not exist, and lacks the one its two attachments need
    assert {(v.rule, v.name) for v in found} == {
        ("switch-vlannamespace-exists", "ds3000-01"),
        ("vpcattachment-switch-vlannamespace", "demo-vpc-1--server-1--eslag--ds3000-01--ds3000-02"),
        ("vpcattachment-switch-vlannamespace", "demo-vpc-3--server-3--bundled--ds3000-01"),
    }


def test_a_subnet_attached_twice_to_one_connection():
    files = lab_with_vpcs()
    text = files["env-1/demo.yaml"]
    start = text.index("---\napiVersion: vpc.githedgehog.com/v1beta1\nkind: VPCAttachment")
    end = text.index("\n#", start)
    twin = edit(text[start:end], "name: demo-vpc-3--server-3--bundled--ds3000-01", "name: twin")
    files["env-1/demo.yaml"] = text + "\n" + twin + "\n"
    v = one(check(files), "vpcattachment-unique")
    assert v.name == "twin" and v.other == ("VPCAttachment", "demo-vpc-3--server-3--bundled--ds3000-01")


def test_one_native_vlan_per_connection():
    files = lab_with_vpcs()
    pre = files["env-1/pre-demo.yaml"]
    pre = edit(
        pre,
        "  connection: server-1--eslag--ds3000-01--ds3000-02\n",
        "  connection: server-1--eslag--ds3000-01--ds3000-02\n  nativeVLAN: true\n",
    )
    pre += "---\napiVersion: vpc.githedgehog.com/v1beta1\nkind: VPCAttachment\nmetadata:\n  name: second\nspec:\n  connection: server-1--eslag--ds3000-01--ds3000-02\n  subnet: demo-vpc-2/default\n"
    files["env-1/pre-demo.yaml"] = pre
    assert check(files) == []
    second = "  name: second\nspec:\n"
    v = one(broken(files, "env-1/pre-demo.yaml", second, second + "  nativeVLAN: true\n"), "vpcattachment-native-vlan")
    assert v.name == "second"


# --- VPCPeering, External*, ExternalPeering --------------------------------------------------------


def test_a_peering_of_a_vpc_that_does_not_exist():
    one(broken(env1(), "env-1/demo.yaml", "    - demo-vpc-1:", "    - demo-vpc-9:"), "vpcpeering-vpc-exists")


def test_peered_vpcs_share_their_namespaces():
    old = "  name: demo-vpc-2\n  namespace: default\nspec:\n"
    v = one(broken(env1(), "env-1/pre-demo.yaml", old, old + "  ipv4Namespace: other\n"), "vpcpeering-same-namespaces")
    assert "IPv4" in v.message and "env-1/pre-demo.yaml:" in v.message


def test_a_peering_of_a_subnet_that_does_not_exist():
    old = "      demo-vpc-2:\n        subnets: [default]"
    v = one(
        broken(env1(), "env-1/demo.yaml", old, "      demo-vpc-2:\n        subnets: [nope]"), "vpcpeering-subnet-exists"
    )
    assert v.field == "spec.permit[0].demo-vpc-2.subnets[0]"


def test_an_external_in_a_namespace_that_does_not_exist():
    old = "  name: other\n  annotations:\n    type.hhfab.githedgehog.com: hw\nspec:\n  ipv4Namespace: default"
    one(
        broken(lab(), "lab/wiring.yaml", old, old.replace("ipv4Namespace: default", "ipv4Namespace: nope")),
        "external-ipv4namespace-exists",
    )


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        (
            "  external: other\n  connection: ds3000-03--external",
            "  external: nope\n  connection: ds3000-03--external",
            "externalattachment-external-exists",
        ),
        (
            "  external: other\n  connection: ds3000-03--external",
            "  external: static-ext\n  connection: ds3000-03--external",
            "externalattachment-static-matches",
        ),
        (
            "  external: other\n  connection: ds3000-03--external--ds2000-02",
            "  external: other\n  connection: nope",
            "externalattachment-connection-exists",
        ),
        (
            "  external: other\n  connection: ds3000-03--external--ds2000-02",
            "  external: other\n  connection: ds3000-03--vpc-loopback",
            "externalattachment-connection-external",
        ),
        (
            "    vlan: 200\n    ip: 100.6.200.2/24",
            "    vlan: 100\n    ip: 100.6.200.2/24",
            "externalattachment-vlan-unique",
        ),
    ],
)
def test_external_attachments(old, new, rule):
    v = one(broken(lab(), "lab/wiring.yaml", old, new), rule)
    assert v.name == "ds3000-03--other"


def test_an_external_peering_of_a_vpc_or_external_that_does_not_exist():
    one(
        broken(env1(), "env-1/demo.yaml", "      name: demo-vpc-1\n", "      name: demo-vpc-9\n"),
        "externalpeering-vpc-exists",
    )
    one(
        broken(lab_with_vpcs(), "env-1/demo.yaml", "      name: default\n", "      name: nope\n"),
        "externalpeering-external-exists",
    )
    # env-1 alone has no External: the one it names is managed elsewhere
    assert broken(env1(), "env-1/demo.yaml", "      name: default\n", "      name: nope\n") == []


def test_an_external_peering_across_ipv4_namespaces():
    # env-1 with the lab's Externals (and no namespaces: those are the installer's)
    files = env1()
    externals = [r for r in resources(lab()) if r.kind == "External"]
    base = resources(files) + externals
    assert validate_fabric(base) == []
    moved = [
        FabricResource(r.kind, r.name, {**r.spec, "ipv4Namespace": "other"}, r.metadata, r.path, r.line)
        if r.name == "default"
        else r
        for r in base
    ]
    one(validate_fabric(moved), "externalpeering-same-ipv4namespace")


def test_an_external_peering_of_a_subnet_the_vpc_lacks():
    v = one(
        broken(env1(), "env-1/demo.yaml", "      subnets:\n        - default", "      subnets:\n        - nope"),
        "externalpeering-subnet-exists",
    )
    assert v.field == "spec.permit.vpc.subnets[0]"


# --- Switch ------------------------------------------------------------------------------------


def test_a_switch_in_a_vlan_namespace_or_group_that_does_not_exist():
    old = "  name: ds3000-01\nspec:\n"
    v = one(broken(lab(), "lab/wiring.yaml", old, old + "  vlanNamespaces: [nope]\n"), "switch-vlannamespace-exists")
    assert v.field == "spec.vlanNamespaces[0]"
    text = sample(LAB)
    at = text.index("    - border\n", text.index("  name: ds3000-03\n"))
    changed = {"lab/wiring.yaml": text[:at] + "    - nope\n" + text[at + len("    - border\n") :]}
    v = one(check(changed), "switch-group-exists")
    assert v.name == "ds3000-03" and v.field == "spec.groups[0]" and "switch group nope" in v.message
    found = broken(
        lab(),
        "lab/wiring.yaml",
        "kind: SwitchGroup\nmetadata:\n  name: eslag-2\n",
        "kind: SwitchGroup\nmetadata:\n  name: eslag-9\n",
    )
    # both switches of the group name it (redundancy.group, which Default() adds to groups)
    assert {(x.rule, x.name, x.field) for x in found} == {
        ("switch-group-exists", "ds3000-01", "spec.redundancy.group"),
        ("switch-group-exists", "ds3000-02", "spec.redundancy.group"),
    }


def test_the_vlan_namespaces_of_a_switch_do_not_overlap():
    files = lab()
    extra = "---\napiVersion: wiring.githedgehog.com/v1beta1\nkind: VLANNamespace\nmetadata:\n  name: extra\nspec:\n  ranges:\n    - from: 3000\n      to: 3099\n"
    old = "  name: ds3000-01\nspec:\n"
    files["lab/wiring.yaml"] = edit(files["lab/wiring.yaml"], old, old + "  vlanNamespaces: [default, extra]\n") + extra
    assert check(files) == []
    v = one(broken(files, "lab/wiring.yaml", "    - from: 3000", "    - from: 2000"), "switch-vlannamespaces-overlap")
    assert v.name == "ds3000-01" and "1000-2999" in v.message


def hydrated(resources_: list[FabricResource]) -> list[FabricResource]:
    """The lab as hhfab hydrates it: every switch with a management IP, protocol IP, ASN and,
    for leaves, a VTEP IP."""
    out = []
    n = 0
    for r in resources_:
        if r.kind == "Switch":
            n += 1
            spec = {**r.spec, "ip": f"172.30.0.{n}/21", "protocolIP": f"172.30.8.{n}/32", "asn": 65100 + n}
            if r.spec["role"] != "spine":
                spec["vtepIP"] = f"172.30.12.{n}/32"
            else:
                spec["asn"] = 65100
            r = FabricResource(r.kind, r.name, spec, r.metadata, r.path, r.line)
        out.append(r)
    return out


@pytest.mark.parametrize(
    ("field", "rule"),
    [
        ("ip", "switch-ip-unique"),
        ("protocolIP", "switch-protocol-ip-unique"),
        ("vtepIP", "switch-vtep-ip-unique"),
        ("asn", "switch-leaf-asn-unique"),
    ],
)
def test_hydrated_switch_values_are_unique(field, rule):
    base = hydrated(resources(lab()))
    assert validate_fabric(base) == []
    first = next(r for r in base if r.name == "ds3000-01")
    changed = [
        FabricResource(r.kind, r.name, {**r.spec, field: first.spec[field]}, r.metadata, r.path, r.line)
        if r.name == "ds3000-03"
        else r
        for r in base
    ]
    v = one(validate_fabric(changed), rule)
    assert v.name == "ds3000-03" and v.other == ("Switch", "ds3000-01") and v.field == f"spec.{field}"


def test_mclag_peers_share_their_asn_and_vtep_ip():
    base = resources({"prepop.yaml": sample(PREPOP)})
    peers = {"leaf-01", "leaf-02"}
    shared = [
        FabricResource(r.kind, r.name, {**r.spec, "asn": 65101, "vtepIP": "172.30.12.1/32"}, r.metadata, r.path, r.line)
        if r.name in peers
        else r
        for r in base
    ]
    assert validate_fabric(shared) == []


# --- Connection --------------------------------------------------------------------------------


def test_a_connection_to_a_switch_or_server_that_does_not_exist():
    v = one(
        broken(lab(), "lab/wiring.yaml", "port: ds3000-03/E1/1/2", "port: ds3000-09/E1/1/2"), "connection-switch-exists"
    )
    assert v.name == "server-8--unbundled--ds3000-03" and v.field == "spec.unbundled.link.switch.port"
    one(broken(lab(), "lab/wiring.yaml", "port: server-8/enp2s1", "port: server-88/enp2s1"), "connection-server-exists")
    one(
        broken({"prepop.yaml": sample(PREPOP)}, "prepop.yaml", "port: server-10/enp2s1", "port: server-99/enp2s1"),
        "connection-server-exists",
    )


def test_a_switch_port_belongs_to_one_connection():
    files = lab()
    v = one(
        broken(files, "lab/wiring.yaml", "port: ds3000-03/E1/1/2", "port: ds3000-03/E1/1/1"), "connection-port-unique"
    )
    line = files["lab/wiring.yaml"].splitlines().index("        port: ds3000-03/E1/1/1") + 1
    assert (
        v.message
        == f"port ds3000-03/E1/1/1 is already used by connection server-7--unbundled--ds3000-03 (lab/wiring.yaml:{line})"
    )
    # `E1/1` of a broken-out port is its first lane, E1/1/1
    one(broken(files, "lab/wiring.yaml", "port: ds3000-03/E1/1/2", "port: ds3000-03/E1/1"), "connection-port-unique")


def test_the_switches_of_an_eslag_connection_share_an_eslag_group():
    text = sample(LAB)
    start = text.index("  name: ds3000-02\n")
    at = text.index("    type: eslag\n", start)
    changed = {"lab/wiring.yaml": text[:at] + "    type: mclag\n" + text[at + len("    type: eslag\n") :]}
    # one violation on each ESLAG connection of the switch
    assert {(v.rule, v.name) for v in check(changed)} == {
        ("connection-eslag-redundancy", "server-1--eslag--ds3000-01--ds3000-02"),
        ("connection-eslag-redundancy", "server-2--eslag--ds3000-01--ds3000-02"),
    }


def with_link_ips(base: list[FabricResource]) -> list[FabricResource]:
    """The lab's fabric links as hhfab hydrates them: a /31 of its own for each."""
    out, n = [], 0
    for r in base:
        if r.kind == "Connection" and "fabric" in r.spec:
            spec = copy.deepcopy(r.spec)
            for link in spec["fabric"]["links"]:
                link["spine"]["ip"], link["leaf"]["ip"] = f"172.30.128.{n}/31", f"172.30.128.{n + 1}/31"
                n += 2
            r = FabricResource(r.kind, r.name, spec, r.metadata, r.path, r.line)
        out.append(r)
    return out


def test_fabric_link_ips_are_31s_used_once():
    base = with_link_ips(resources(lab()))
    assert validate_fabric(base) == []
    victim = next(r for r in base if r.name == "ds4000-02--fabric--sse-c4632-01")
    spec = copy.deepcopy(victim.spec)
    spec["fabric"]["links"][0]["spine"]["ip"] = "172.30.128.0/31"  # the first link's
    spec["fabric"]["links"][0]["leaf"]["ip"] = "172.30.128.1/31"
    changed = [FabricResource(r.kind, r.name, spec, r.metadata, r.path, r.line) if r is victim else r for r in base]
    v = one(validate_fabric(changed), "connection-link-ip")
    assert "already in use by connection ds4000-01--fabric--ds3000-01" in v.message
    spec["fabric"]["links"][0]["leaf"]["ip"] = "172.30.200.1/31"
    spec["fabric"]["links"][0]["spine"]["ip"] = "172.30.200.2/31"
    v = one(validate_fabric(changed), "connection-link-ip")
    assert "not in the same subnet" in v.message


# --- every rule is exercised; results are summarised by rule ------------------------------------------


def test_every_rule_names_its_upstream_source():
    for rule, source in RULES.items():
        assert "(" in source and "_types.go" in source or "hydrate.go" in source, rule


def test_summary_groups_violations_by_rule():
    files = lab()
    files["lab/wiring.yaml"] = edit(files["lab/wiring.yaml"], "port: ds3000-03/E1/1/2", "port: ds3000-03/E1/1/1")
    files["lab/wiring.yaml"] = edit(files["lab/wiring.yaml"], "port: server-9/enp2s1", "port: server-99/enp2s1")
    assert summary_by_rule(check(files)) == {"connection-server-exists": 1, "connection-port-unique": 1}


def test_deleting_what_others_refer_to_is_caught_when_its_kind_was_managed():
    # the last VPC goes: its attachment and peerings now refer to nothing
    remaining = [r for r in resources(lab_with_vpcs()) if r.kind != "VPC"]
    assert validate_fabric(remaining) == []  # VPCs look managed elsewhere...
    found = validate_fabric(remaining, managed_kinds={"VPC"})  # ...unless the caller knows better
    assert {v.rule for v in found} == {
        "vpcattachment-vpc-exists",
        "vpcpeering-vpc-exists",
        "externalpeering-vpc-exists",
    }


# --- defaults ----------------------------------------------------------------------------------


def test_defaults_fill_what_the_fabric_fills():
    spec = {"subnets": {"default": {"subnet": "10.10.101.0/24", "vlan": 1101, "dhcp": {"enable": True}}}}
    filled = default_spec("VPC", spec)
    assert filled["ipv4Namespace"] == filled["vlanNamespace"] == "default"
    subnet = filled["subnets"]["default"]
    assert subnet["gateway"] == "10.10.101.1"
    assert subnet["dhcp"]["range"] == {"start": "10.10.101.2", "end": "10.10.101.255"}
    assert spec == {"subnets": {"default": {"subnet": "10.10.101.0/24", "vlan": 1101, "dhcp": {"enable": True}}}}
    switch = default_spec("Switch", {"role": "server-leaf", "redundancy": {"group": "g", "type": "eslag"}})
    assert switch["vlanNamespaces"] == ["default"] and switch["groups"] == ["g"]
    assert default_spec("VPCAttachment", {"subnet": "vpc-1", "connection": "c"})["subnet"] == "vpc-1/default"


def test_what_the_cluster_fills_in_is_not_a_difference():
    parsed = parse_file("pre-demo.yaml", sample(PRE_DEMO).encode())
    desired = parsed.documents[0].body["spec"]
    reported = copy.deepcopy(desired)
    reported.update(ipv4Namespace="default", vlanNamespace="default")
    reported["subnets"]["default"]["gateway"] = "10.10.101.1"
    assert without_defaults("VPC", reported, desired) == desired
    # a real difference stays
    reported["subnets"]["default"]["vlan"] = 1999
    assert without_defaults("VPC", reported, desired)["subnets"]["default"]["vlan"] == 1999
    # a namespace the cluster did not fill in (it differs from the default) stays too
    reported["ipv4Namespace"] = "other"
    assert without_defaults("VPC", reported, desired)["ipv4Namespace"] == "other"
    labels = {"labels": {"fabric.githedgehog.com/ipv4ns": "default", "team": "a"}}
    assert without_default_metadata(labels, {"labels": {"team": "a"}}) == {"labels": {"team": "a"}}


# --- over a commit: what ingestion holds back ----------------------------------------------------


def commit(files: dict[str, str], before: dict[str, str] | None = None):
    """The snapshot of `files` read whole, and the database as ingesting `before` left it."""
    from bot.core import snapshot

    def read(fs: dict[str, str]):
        read_files = {p: snapshot.read_file(p, t.encode()) for p, t in fs.items()}
        return snapshot.assemble({p: r.state.blob_sha for p, r in read_files.items()}, {}, read_files)

    applied = []
    if before is not None:
        applied = [
            snapshot.Applied(r.kind, r.namespace, r.name, r.spec, r.metadata, r.path)
            for r in read(before).desired.values()
        ]
    return snapshot.check_fabric(read(files), applied)


def test_a_commit_that_reuses_a_vlan_holds_that_vpc_back_and_applies_the_rest():
    before = lab_with_vpcs()
    after = dict(before)
    after["env-1/demo.yaml"] = edit(before["env-1/demo.yaml"], "vlan: 1132", "vlan: 1101")
    after["env-1/demo.yaml"] = edit(after["env-1/demo.yaml"], "vlan: 1131", "vlan: 1133")  # a fine change beside it
    checked = commit(after, before)
    vpc3 = ("VPC", "default", "demo-vpc-3")
    assert checked.held == {vpc3}
    assert (
        vpc3 not in checked.snapshot.desired
        and ("VPCAttachment", "default", "demo-vpc-3--server-3--bundled--ds3000-01") in checked.snapshot.desired
    )
    [problem] = [p for p in checked.snapshot.files["env-1/demo.yaml"].problems if p.rule]
    assert problem.rule == "vpc-vlan-unique" and problem.field == "spec.subnets.subnet-2.vlan"
    assert problem.line == after["env-1/demo.yaml"].splitlines().index("      vlan: 1101") + 1
    assert checked.snapshot.files["env-1/demo.yaml"].held  # read again next time
    assert not checked.snapshot.files["lab/wiring.yaml"].held


def test_deleting_a_vpc_an_attachment_still_needs_keeps_it():
    before = lab_with_vpcs()
    after = dict(before)
    text = before["env-1/demo.yaml"]
    start, end = (
        text.index("apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\n"),
        text.index("---\napiVersion: vpc.githedgehog.com/v1beta1\nkind: VPCAttachment"),
    )
    after["env-1/demo.yaml"] = text[:start] + text[end + 4 :]
    checked = commit(after, before)
    vpc3 = ("VPC", "default", "demo-vpc-3")
    assert checked.held == {vpc3} and vpc3 in checked.snapshot.present  # not orphaned
    assert [v.rule for v in checked.violations] == ["vpcattachment-vpc-exists"]


def test_new_resources_that_break_the_fabric_are_not_created():
    files = lab_with_vpcs()
    files["env-1/demo.yaml"] = edit(files["env-1/demo.yaml"], "vlan: 1132", "vlan: 1101")
    checked = commit(files)  # a first ingest: nothing applied yet, files in path order
    first, *consequences = checked.violations
    assert (first.rule, first.name) == ("vpc-vlan-unique", "demo-vpc-1")
    # demo-vpc-1 is not created, nor what refers to it (the fabric would refuse those too),
    # each said where it is
    held = {
        "demo-vpc-1--server-1--eslag--ds3000-01--ds3000-02",
        "demo-vpc-1--demo-vpc-2",
        "demo-vpc-1--default",
    }
    assert {v.name for v in consequences} == held
    assert all("so " in v.message and "is held back too" in v.message for v in consequences)
    assert {name for _, _, name in checked.held} == held | {"demo-vpc-1"}
    assert ("VPC", "default", "demo-vpc-3") in checked.snapshot.desired


def test_a_consistent_commit_changes_nothing():
    checked = commit(lab_with_vpcs(), lab())
    assert checked.violations == [] and checked.held == set()


def test_the_check_run_has_one_annotation_per_violation_and_groups_them_by_rule():
    from bot.core.checks import validate_check_output

    before = lab_with_vpcs()
    after = dict(before)
    after["env-1/demo.yaml"] = edit(before["env-1/demo.yaml"], "vlan: 1132", "vlan: 1101")
    after["lab/wiring.yaml"] = edit(before["lab/wiring.yaml"], "port: ds3000-03/E1/1/2", "port: ds3000-03/E1/1/1")
    checked = commit(after, before)
    errors = {path: state.errors for path, state in checked.snapshot.files.items() if state.errors}
    # the lab's static ExternalAttachment fails alone, as before: one more annotation
    out = validate_check_output(errors, {})
    assert out["conclusion"] == "failure"
    notes = {(a["path"], a["start_line"]): a for a in out["output"]["annotations"]}
    vlan_line = after["env-1/demo.yaml"].splitlines().index("      vlan: 1101") + 1
    port_line = after["lab/wiring.yaml"].splitlines().index("        port: ds3000-03/E1/1/1", 755) + 1
    assert notes[("env-1/demo.yaml", vlan_line)]["title"] == "Fabric rule vpc-vlan-unique: VPC/demo-vpc-3"
    assert (
        "already used by demo-vpc-1/default (env-1/pre-demo.yaml:" in notes[("env-1/demo.yaml", vlan_line)]["message"]
    )
    assert (
        notes[("lab/wiring.yaml", port_line)]["title"]
        == "Fabric rule connection-port-unique: Connection/server-8--unbundled--ds3000-03"
    )
    assert len(notes) == 3
    summary = out["output"]["summary"]
    assert out["output"]["title"] == "1 invalid document in 1 file; 2 fabric rule violations"
    assert "| connection-port-unique | 1 |" in summary and "| vpc-vlan-unique | 1 |" in summary


# --- drafts ----------------------------------------------------------------------------------------


def test_a_draft_is_judged_against_the_desired_state_and_the_other_drafts():
    from bot.core.fabric_rules import validate_with_drafts

    desired = resources(lab_with_vpcs())
    vpc3 = next(r for r in desired if r.name == "demo-vpc-3")
    spec = copy.deepcopy(vpc3.spec)
    spec["subnets"]["subnet-2"]["vlan"] = 1101
    drafted = FabricResource("VPC", "demo-vpc-3", spec)  # a draft has no file
    [v] = validate_with_drafts(desired, {("VPC", "demo-vpc-3"): drafted})
    assert (v.rule, v.name, v.field, v.path) == ("vpc-vlan-unique", "demo-vpc-3", "spec.subnets.subnet-2.vlan", None)
    assert "env-1/pre-demo.yaml:" in v.message  # the other side is in Git
    # another draft moving demo-vpc-1 off VLAN 1101 clears it
    vpc1 = next(r for r in desired if r.name == "demo-vpc-1")
    spec1 = copy.deepcopy(vpc1.spec)
    spec1["subnets"]["default"]["vlan"] = 1201
    drafts = {("VPC", "demo-vpc-3"): drafted, ("VPC", "demo-vpc-1"): FabricResource("VPC", "demo-vpc-1", spec1)}
    assert validate_with_drafts(desired, drafts) == []
    # deleting a VPC something still refers to
    found = validate_with_drafts(desired, {("VPC", "demo-vpc-3"): None})
    assert [(v.rule, v.other) for v in found] == [("vpcattachment-vpc-exists", ("VPC", "demo-vpc-3"))]
