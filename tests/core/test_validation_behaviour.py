"""The fabric's own rules, behaviour by behaviour: each test gives a spec that passes the CRD
schema and the exact problems (field path and message, as the fabric's webhooks word them)
validation must report. The VPCs start from the real demo VPC."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.core.documents import Document, parse_file
from bot.core.render import load_documents
from bot.core.validation import (
    Classification,
    ValidationError,
    classify,
    validate_body,
    validate_document,
    validate_name,
    validate_spec,
)
from tests.conftest import SHARED

# The first VPC of githedgehog/demo-gitops env-1/pre-demo.yaml (tests below skip when the
# sample is absent only where they read the file itself).
DEMO_SUBNET = {
    "subnet": "10.10.101.0/24",
    "vlan": 1101,
    "dhcp": {"enable": True, "range": {"start": "10.10.101.10", "end": "10.10.101.99"}},
}
SUBNET = "spec.subnets.default"
OPTIONS = {"interfaceMTU": 0, "leaseTimeSeconds": 3600}


def problems(kind: str, spec: Any) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_spec(kind, spec)]


def vpc(change=None, **subnets: dict) -> dict:
    """A VPC spec: the demo subnet as "default" (plus `subnets`), then `change` applied."""
    spec: dict[str, Any] = {"subnets": {"default": copy.deepcopy(DEMO_SUBNET), **copy.deepcopy(subnets)}}
    if change is not None:
        change(spec)
    return spec


def default(spec: dict) -> dict:
    return spec["subnets"]["default"]


def dhcp(**fields: Any) -> Any:
    """A change setting fields of the default subnet's dhcp."""
    return lambda spec: default(spec)["dhcp"].update(fields)


def options(**fields: Any) -> Any:
    return lambda spec: default(spec)["dhcp"].__setitem__("options", {**OPTIONS, **fields})


def test_the_real_demo_vpc_is_valid():
    path = SHARED / "hedgehog" / "samples" / "demo-gitops_pre-demo.yaml"
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (../shared is not checked out beside the repo)")
    [first, *_] = [b for b in load_documents(path.read_text()) if b["kind"] == "VPC"]
    assert first["spec"]["subnets"]["default"] == DEMO_SUBNET
    assert problems("VPC", first["spec"]) == []
    assert problems("VPC", vpc()) == []


# --------------------------------------------------------------------------------------------
# VPC: the DHCP range


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (dhcp(range={"start": "x"}), [(f"{SUBNET}.dhcp.range.start", "subnet default: invalid dhcp range start x")]),
        (
            dhcp(range={"end": "10.10.101.0"}),
            [(f"{SUBNET}.dhcp.range.end", "subnet default: dhcp range end 10.10.101.0 is equal to subnet")],
        ),
        (
            dhcp(range={"start": "10.10.101.1"}),
            [(f"{SUBNET}.dhcp.range.start", "subnet default: dhcp range start 10.10.101.1 is equal to gateway")],
        ),
        (
            dhcp(range={"start": "10.10.102.5", "end": "10.10.101.99"}),
            [(f"{SUBNET}.dhcp.range.start", "subnet default: dhcp range start 10.10.102.5 is not in the subnet")],
        ),
        (
            dhcp(range={"start": "10.10.101.99", "end": "10.10.101.10"}),
            [
                (
                    f"{SUBNET}.dhcp.range",
                    "subnet default: dhcp range start 10.10.101.99 does not come before dhcp range end 10.10.101.10",
                )
            ],
        ),
        (
            dhcp(range={"start": "10.10.101.50", "end": "10.10.101.50"}),
            [
                (
                    f"{SUBNET}.dhcp.range",
                    "subnet default: dhcp range start 10.10.101.50 does not come before dhcp range end 10.10.101.50",
                )
            ],
        ),
        (dhcp(range={"start": "10.10.101.2", "end": "10.10.101.254"}), []),
        (dhcp(range={"end": "10.10.101.5"}), []),  # the fabric fills in the start
        (dhcp(range={"start": "", "end": ""}), []),
    ],
    ids=["unparsable", "network", "gateway", "outside", "reversed", "single-address", "widest", "end-only", "empty"],
)
def test_a_dhcp_range_must_lie_in_the_subnet_past_the_gateway_and_in_order(change, expected):
    assert problems("VPC", vpc(change)) == expected


def test_a_dhcp_range_bound_may_not_be_an_explicit_gateway_either():
    def change(spec: dict) -> None:
        default(spec)["gateway"] = "10.10.101.254"
        default(spec)["dhcp"]["range"] = {"start": "10.10.101.1", "end": "10.10.101.254"}

    assert problems("VPC", vpc(change)) == [
        (f"{SUBNET}.dhcp.range.end", "subnet default: dhcp range end 10.10.101.254 is equal to gateway")
    ]


def test_with_a_bad_gateway_the_dhcp_range_is_checked_without_one():
    def change(spec: dict) -> None:
        default(spec)["gateway"] = "nope"
        default(spec)["dhcp"]["range"] = {"start": "10.10.101.1", "end": "10.10.101.9"}

    assert problems("VPC", vpc(change)) == [
        (f"{SUBNET}.gateway", "subnet default: gateway nope is not a valid IP address")
    ]


# --------------------------------------------------------------------------------------------
# VPC: DHCP options


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (options(dnsServers=["1.1.1.1", "2001:db8::1"], timeServers=["10.0.0.1"]), []),
        (
            options(dnsServers=["1.1.1.1", "dns.example"]),
            [(f"{SUBNET}.dhcp.options.dnsServers[1]", "subnet default: dns address dns.example is not a valid IP")],
        ),
        (
            options(timeServers=["ntp", "10.0.0.1", "x"]),
            [
                (f"{SUBNET}.dhcp.options.timeServers[0]", "subnet default: time server ntp is not a valid IP"),
                (f"{SUBNET}.dhcp.options.timeServers[2]", "subnet default: time server x is not a valid IP"),
            ],
        ),
        (options(interfaceMTU=96), []),
        (options(interfaceMTU=9036), []),
        (options(interfaceMTU=0), []),
        (
            options(interfaceMTU=95),
            [(f"{SUBNET}.dhcp.options.interfaceMTU", "subnet default: MTU must be between 96 and 9036")],
        ),
        (
            options(interfaceMTU=9037),
            [(f"{SUBNET}.dhcp.options.interfaceMTU", "subnet default: MTU must be between 96 and 9036")],
        ),
        (
            options(interfaceMTU=-1),
            [(f"{SUBNET}.dhcp.options.interfaceMTU", "subnet default: MTU must be between 96 and 9036")],
        ),
    ],
    ids=["good", "dns", "time", "mtu-96", "mtu-9036", "mtu-default", "mtu-95", "mtu-9037", "mtu-negative"],
)
def test_dhcp_options_name_servers_by_address_and_keep_the_mtu_in_bounds(change, expected):
    assert problems("VPC", vpc(change)) == expected


ROUTE = f"{SUBNET}.dhcp.options.advertisedRoutes"


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ({"destination": "10.20.0.0/16", "gateway": "10.10.101.1"}, []),
        ({"gateway": "10.10.101.1"}, [(f"{ROUTE}[0]", "subnet default: advertised route destination is required")]),
        (
            {"destination": "10.20.0.0", "gateway": "10.10.101.1"},
            [(f"{ROUTE}[0].destination", "subnet default: failed to parse advertised route destination 10.20.0.0")],
        ),
        ({"destination": "10.20.0.0/16"}, [(f"{ROUTE}[0]", "subnet default: advertised route gateway is required")]),
        (
            {"destination": "10.20.0.0/16", "gateway": "gw"},
            [(f"{ROUTE}[0].gateway", "subnet default: invalid advertised route gateway gw")],
        ),
        (
            {"destination": "10.20.0.0/16", "gateway": "10.10.102.1"},
            [(f"{ROUTE}[0].gateway", "subnet default: advertised route gateway 10.10.102.1 is not in the subnet")],
        ),
        (
            {},
            [
                (f"{ROUTE}[0]", "subnet default: advertised route destination is required"),
                (f"{ROUTE}[0]", "subnet default: advertised route gateway is required"),
            ],
        ),
    ],
    ids=[
        "good",
        "no-destination",
        "destination-not-a-prefix",
        "no-gateway",
        "gateway-not-an-ip",
        "gateway-outside",
        "empty",
    ],
)
def test_an_advertised_route_needs_a_prefix_and_a_gateway_in_the_subnet(route, expected):
    assert problems(
        "VPC", vpc(options(advertisedRoutes=[{"destination": "10.30.0.0/16", "gateway": "10.10.101.1"}, route]))
    ) == [(path.replace("[0]", "[1]"), message) for path, message in expected]


STATIC = f"{SUBNET}.dhcp.static"


@pytest.mark.parametrize(
    ("mac", "ip", "expected"),
    [
        ("aa:bb:cc:dd:ee:ff", "10.10.101.200", []),
        ("AA-BB-CC-DD-EE-FF", "10.10.101.200", []),
        ("aabb.ccdd.eeff", "10.10.101.200", []),
        (
            "aa:bb:cc:dd:ee",
            "10.10.101.200",
            [(f'{STATIC}["aa:bb:cc:dd:ee"]', "subnet default: invalid MAC aa:bb:cc:dd:ee for static IP 10.10.101.200")],
        ),
        (
            "aa:bb:cc:dd:ee:ff",
            "",
            [(f'{STATIC}["aa:bb:cc:dd:ee:ff"]', "subnet default: empty static IP assigned to MAC aa:bb:cc:dd:ee:ff")],
        ),
        ("zz", "", [(f"{STATIC}.zz", "subnet default: empty static IP assigned to MAC zz")]),
        (
            "aa:bb:cc:dd:ee:ff",
            "host",
            [(f'{STATIC}["aa:bb:cc:dd:ee:ff"].ip', "subnet default: invalid static IP host")],
        ),
        (
            "aa:bb:cc:dd:ee:ff",
            "10.10.102.200",
            [(f'{STATIC}["aa:bb:cc:dd:ee:ff"].ip', "subnet default: static IP 10.10.102.200 is not in the subnet")],
        ),
        (
            "aa:bb:cc:dd:ee:ff",
            "10.10.101.0",
            [
                (
                    f'{STATIC}["aa:bb:cc:dd:ee:ff"].ip',
                    "subnet default: static IP 10.10.101.0 is the same as the subnet IP",
                )
            ],
        ),
        (
            "aa:bb:cc:dd:ee:ff",
            "10.10.101.1",
            [
                (
                    f'{STATIC}["aa:bb:cc:dd:ee:ff"].ip',
                    "subnet default: static IP 10.10.101.1 is the same as the gateway IP",
                )
            ],
        ),
        (
            "aa:bb:cc:dd:ee:ff",
            "10.10.101.255",
            [
                (
                    f'{STATIC}["aa:bb:cc:dd:ee:ff"].ip',
                    "subnet default: static IP 10.10.101.255 is the same as the broadcast IP",
                )
            ],
        ),
        (
            "zz",
            "nope",
            [
                (f"{STATIC}.zz", "subnet default: invalid MAC zz for static IP nope"),
                (f"{STATIC}.zz.ip", "subnet default: invalid static IP nope"),
            ],
        ),
    ],
)
def test_a_static_lease_needs_a_mac_and_a_free_address_of_the_subnet(mac, ip, expected):
    assert problems("VPC", vpc(dhcp(static={mac: {"ip": ip}}))) == expected


def test_a_static_address_may_be_given_to_one_mac_only():
    static = {"aa:bb:cc:dd:ee:01": {"ip": "10.10.101.200"}, "aa:bb:cc:dd:ee:02": {"ip": "10.10.101.200"}}
    assert problems("VPC", vpc(dhcp(static=static))) == [
        (
            f'{STATIC}["aa:bb:cc:dd:ee:02"].ip',
            "subnet default: static IP 10.10.101.200 is already assigned to another MAC address",
        )
    ]
    static["aa:bb:cc:dd:ee:02"]["ip"] = "10.10.101.201"
    assert problems("VPC", vpc(dhcp(static=static))) == []


def test_static_leases_need_the_dhcp_server():
    spec = vpc(dhcp(enable=False, static={"aa:bb:cc:dd:ee:ff": {"ip": "nope"}}))
    assert problems("VPC", spec) == [
        (f"{SUBNET}.dhcp.static", "subnet default: static IPs are not supported when DHCP is disabled")
    ]


# --------------------------------------------------------------------------------------------
# VPC: subnets


def subnet(**fields: Any) -> Any:
    return lambda spec: default(spec).update(fields)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (subnet(subnet=""), [(f"{SUBNET}.subnet", "subnet default: missing subnet")]),
        (subnet(subnet="10.10.101.0"), [(f"{SUBNET}.subnet", "subnet default: failed to parse subnet '10.10.101.0'")]),
        (
            subnet(subnet="10.10.101.0/31", dhcp={}),
            [(f"{SUBNET}.subnet", "subnet default: prefix length 31 is too large, must be <= 30")],
        ),
        (subnet(subnet="10.10.101.0/30", dhcp={}), []),
        (subnet(subnet="10.10.101.7/24"), []),  # host bits are allowed, the network is what counts
        (subnet(gateway="10.10.101.254"), []),
        (
            subnet(gateway="10.10.102.1"),
            [(f"{SUBNET}.gateway", "subnet default: gateway 10.10.102.1 is not in the subnet")],
        ),
        (subnet(vlan=0), [(f"{SUBNET}.vlan", "subnet default: vlan is required")]),
        (subnet(vlan=4095), [(f"{SUBNET}.vlan", "subnet default: vlan 4095 is out of range 1..4094")]),
        (subnet(vlan=-5), [(f"{SUBNET}.vlan", "subnet default: vlan -5 is out of range 1..4094")]),
        (subnet(vlan=1), []),
        (subnet(vlan=4094), []),
        (
            subnet(hostBGP=True),
            [(f"{SUBNET}.dhcp.enable", "subnet default: dhcp should not be enabled for hostBGP subnets")],
        ),
        (subnet(hostBGP=True, vlan=0, dhcp={}), []),  # a hostBGP subnet needs no VLAN
        (
            subnet(dhcp={"enable": True, "relay": "10.99.0.1/32"}),
            [(f"{SUBNET}.dhcp", "subnet default: dhcp relay and dhcp server cannot be enabled at the same time")],
        ),
        (subnet(dhcp={"relay": "10.99.0.1/32", "relayVPC": "other"}), []),
        (
            subnet(dhcp={"relay": "10.99.0.1"}),
            [(f"{SUBNET}.dhcp.relay", "subnet default: failed to parse dhcp relay 10.99.0.1")],
        ),
        (
            subnet(dhcp={"relayVPC": "other"}),
            [(f"{SUBNET}.dhcp.relayVPC", "subnet default: dhcp relay VPC specified but dhcp relay is not enabled")],
        ),
    ],
    ids=[
        "missing",
        "no-length",
        "too-long",
        "slash-30",
        "host-bits",
        "gateway",
        "gateway-outside",
        "no-vlan",
        "vlan-4095",
        "vlan-negative",
        "vlan-1",
        "vlan-4094",
        "hostbgp-dhcp",
        "hostbgp-no-vlan",
        "relay-and-server",
        "relay-vpc",
        "relay-not-a-prefix",
        "relay-vpc-alone",
    ],
)
def test_a_subnet_needs_a_prefix_a_vlan_and_one_kind_of_dhcp(change, expected):
    assert problems("VPC", vpc(change)) == expected


def test_a_subnet_without_a_usable_prefix_is_not_checked_further():
    spec = vpc(subnet(subnet="bad", vlan=99999, gateway="x"))
    assert problems("VPC", spec) == [(f"{SUBNET}.subnet", "subnet default: failed to parse subnet 'bad'")]


def test_two_subnets_may_not_share_a_vlan():
    other = {"subnet": "10.10.102.0/24", "vlan": 1101}
    assert problems("VPC", vpc(s2=other)) == [
        ("spec.subnets.s2.vlan", "duplicate subnet VLANs: 1101 is used by subnets default and s2")
    ]
    assert problems("VPC", vpc(s2={**other, "vlan": 1102})) == []


def test_two_subnets_may_not_overlap():
    inner = {"subnet": "10.10.101.128/25", "vlan": 1102}
    assert problems("VPC", vpc(s2=inner)) == [
        ("spec.subnets.s2.subnet", "subnets default (10.10.101.0/24) and s2 (10.10.101.128/25) overlap")
    ]
    three = vpc(s2=inner, s3={"subnet": "10.10.101.0/26", "vlan": 1103})
    assert problems("VPC", three) == [
        ("spec.subnets.s2.subnet", "subnets default (10.10.101.0/24) and s2 (10.10.101.128/25) overlap"),
        ("spec.subnets.s3.subnet", "subnets default (10.10.101.0/24) and s3 (10.10.101.0/26) overlap"),
    ]
    assert problems("VPC", vpc(s2={"subnet": "10.10.102.0/24", "vlan": 1102})) == []


def test_a_vpc_has_between_one_and_twenty_subnets():
    assert problems("VPC", {"subnets": {}}) == [("spec.subnets", "at least one subnet is required")]
    assert problems("VPC", {}) == [("spec.subnets", "at least one subnet is required")]
    many = {f"s{i}": {"subnet": f"10.0.{i}.0/24", "vlan": 100 + i} for i in range(21)}
    assert problems("VPC", {"subnets": many}) == [("spec.subnets", "too many subnets, max is 20")]
    many.pop("s20")
    assert problems("VPC", {"subnets": many}) == []


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("", []),
        ("l3vni", []),
        ("l3flat", [("spec.mode", "L3Flat mode is not supported yet")]),
        ("l2", [("spec.mode", "invalid mode 'l2', must be one of '', 'l3vni', 'l3flat'")]),
    ],
)
def test_a_vpc_mode_is_one_the_fabric_supports(mode, expected):
    assert problems("VPC", vpc(lambda spec: spec.__setitem__("mode", mode))) == expected


# --------------------------------------------------------------------------------------------
# VPC: permits and static routes


@pytest.mark.parametrize(
    ("permit", "expected"),
    [
        ([["default", "s2"]], []),
        ([["default"]], [("spec.permit[0]", "each permit policy must have at least 2 subnets in it")]),
        ([["default", "s2"], ["default", "nope"]], [("spec.permit[1]", "permit policy #1: subnet nope not found")]),
        ([["default", "default"]], [("spec.permit[0]", "permit policy #0: duplicate subnets")]),
        (
            [["x"]],
            [
                ("spec.permit[0]", "each permit policy must have at least 2 subnets in it"),
                ("spec.permit[0]", "permit policy #0: subnet x not found"),
            ],
        ),
    ],
    ids=["good", "single", "unknown", "duplicate", "single-unknown"],
)
def test_a_permit_policy_names_two_or_more_distinct_subnets_of_the_vpc(permit, expected):
    spec = vpc(lambda spec: spec.__setitem__("permit", permit), s2={"subnet": "10.10.102.0/24", "vlan": 1102})
    assert problems("VPC", spec) == expected


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ({"prefix": "10.50.0.0/16", "nextHops": ["10.10.101.5"]}, []),
        ({"nextHops": ["10.10.101.5"]}, [("spec.staticRoutes[1].prefix", "static route #1: prefix is required")]),
        (
            {"prefix": "10.50.0.0", "nextHops": ["10.10.101.5"]},
            [("spec.staticRoutes[1].prefix", "static route #1: failed to parse prefix 10.50.0.0")],
        ),
        (
            {"prefix": "10.50.0.1/16", "nextHops": ["10.10.101.5"]},
            [
                (
                    "spec.staticRoutes[1].prefix",
                    "static route #1: prefix 10.50.0.1/16 is invalid: inconsistent IP address and mask",
                )
            ],
        ),
        (
            {"prefix": "10.50.0.0/16"},
            [("spec.staticRoutes[1].nextHops", "static route #1: at least one next hop is required")],
        ),
    ],
    ids=["good", "no-prefix", "not-a-prefix", "host-bits", "no-next-hop"],
)
def test_a_static_route_needs_a_network_prefix_and_a_next_hop(route, expected):
    good = {"prefix": "10.40.0.0/16", "nextHops": ["10.10.101.5"]}
    assert problems("VPC", vpc(lambda spec: spec.__setitem__("staticRoutes", [good, route]))) == expected


# --------------------------------------------------------------------------------------------
# External attachments: BGP or static


BGP = {"switch": {"ip": "10.99.0.1/31", "vlan": 100}, "neighbor": {"asn": 65100, "ip": "10.99.0.0"}}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({**BGP}, []),
        (
            {"switch": {}, "neighbor": {}},
            [
                ("spec.switch.ip", "switch.ip is required"),
                ("spec.neighbor.asn", "neighbor.asn is required"),
                ("spec.neighbor.ip", "neighbor.ip is required"),
            ],
        ),
        ({**BGP, "switch": {"ip": "10.99.0.1"}}, [("spec.switch.ip", "switch.ip is not a valid IP CIDR")]),
        (
            {**BGP, "neighbor": {"asn": 65100, "ip": "10.99.0.0/31"}},
            [("spec.neighbor.ip", "neighbor.ip is not a valid IP address")],
        ),
    ],
    ids=["bgp", "bgp-empty", "switch-ip-not-cidr", "neighbor-ip-not-address"],
)
def test_a_bgp_external_attachment_needs_both_ends_of_the_session(spec, expected):
    assert problems("ExternalAttachment", {"external": "ext", "connection": "conn", **spec}) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"static": {"remoteIP": "10.99.0.2", "ip": "10.99.0.1/24"}}, []),
        ({"static": {"remoteIP": "10.99.0.2", "proxy": True}}, []),
        (
            {"static": {"remoteIP": "10.99.0.2", "ip": "10.99.0.1/24"}, "switch": {"vlan": 5}},
            [("spec.switch", "switch parameters must not be set for static external attachment")],
        ),
        (
            {"static": {"remoteIP": "10.99.0.2", "ip": "10.99.0.1/24"}, "switch": {"ip": "10.99.0.1/31"}},
            [("spec.switch", "switch parameters must not be set for static external attachment")],
        ),
        (
            {"static": {"remoteIP": "10.99.0.2", "ip": "10.99.0.1/24"}, "neighbor": {"asn": 1}},
            [("spec.neighbor", "neighbor parameters must not be set for static external attachment")],
        ),
        (
            {"static": {"remoteIP": "10.99.0.2", "ip": "10.99.0.1/24"}, "neighbor": {"ip": "10.99.0.0"}},
            [("spec.neighbor", "neighbor parameters must not be set for static external attachment")],
        ),
        (
            {"static": {"remoteIP": "", "ip": "10.99.0.1/24"}},
            [("spec.static.remoteIP", "static.remoteIP is required for static external attachment")],
        ),
        (
            {"static": {"remoteIP": "host", "ip": "10.99.0.1/24"}},
            [("spec.static.remoteIP", "static.remoteIP is not a valid IP address")],
        ),
        (
            {"static": {"remoteIP": "10.99.0.2"}},
            [("spec.static", "either static.ip or static.proxy must be set for static external attachment")],
        ),
        (
            {"static": {"remoteIP": "10.99.0.2", "ip": "10.99.0.1/24", "proxy": True}},
            [("spec.static", "either static.ip or static.proxy must be set for static external attachment")],
        ),
        (
            {"static": {"remoteIP": "10.99.0.2", "ip": "10.99.0.1"}},
            [("spec.static.ip", "static.ip is not a valid IP CIDR")],
        ),
    ],
    ids=[
        "ip",
        "proxy",
        "switch-vlan",
        "switch-ip",
        "neighbor-asn",
        "neighbor-ip",
        "no-remote",
        "remote-not-an-ip",
        "neither",
        "both",
        "ip-not-cidr",
    ],
)
def test_a_static_external_attachment_has_a_remote_address_and_no_bgp_session(spec, expected):
    full = {"external": "ext", "connection": "conn", "switch": {}, "neighbor": {}, **spec}
    assert problems("ExternalAttachment", full) == expected


def test_an_external_attachment_names_its_external_and_connection():
    assert problems("ExternalAttachment", {**BGP, "external": "", "connection": ""}) == [
        ("spec.external", "external is required"),
        ("spec.connection", "connection is required"),
    ]


# --------------------------------------------------------------------------------------------
# The other kinds' rules


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"inboundCommunity": "65101:3001", "outboundCommunity": "0:65535"}, []),
        (
            {},
            [
                ("spec.inboundCommunity", "inboundCommunity is required"),
                ("spec.outboundCommunity", "outboundCommunity is required"),
            ],
        ),
        ({"static": {"prefixes": ["10.0.0.0/8"]}}, []),  # a static external has no communities
        (
            {"static": {}, "inboundCommunity": "1:1", "outboundCommunity": "65536:1"},
            [("spec.outboundCommunity", "outboundCommunity 65536:1 is not a valid community, example 50000:50001")],
        ),
        (
            {"inboundCommunity": "01:1", "outboundCommunity": "1:1"},
            [("spec.inboundCommunity", "inboundCommunity 01:1 is not a valid community, example 50000:50001")],
        ),
        (
            {"inboundCommunity": "1", "outboundCommunity": "65535:65535"},
            [("spec.inboundCommunity", "inboundCommunity 1 is not a valid community, example 50000:50001")],
        ),
    ],
    ids=["bgp", "bgp-without", "static", "too-large", "leading-zero", "no-colon"],
)
def test_a_bgp_external_needs_two_valid_communities(spec, expected):
    assert problems("External", spec) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"permit": {"vpc": {"name": "v"}, "external": {"name": "e", "prefixes": [{"prefix": "0.0.0.0/0"}]}}}, []),
        (
            {},
            [
                ("spec.permit.vpc.name", "vpc.name is required"),
                ("spec.permit.external.name", "external.name is required"),
            ],
        ),
        (
            {"permit": {"vpc": {"name": "v"}, "external": {"name": "e", "prefixes": [{"prefix": "0.0.0.0/0"}, {}]}}},
            [("spec.permit.external.prefixes[1].prefix", "external.prefixes.prefix is required")],
        ),
    ],
    ids=["good", "empty", "prefix-missing"],
)
def test_an_external_peering_names_a_vpc_an_external_and_its_prefixes(spec, expected):
    assert problems("ExternalPeering", spec) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"subnet": "v/default", "connection": "c"}, []),
        ({"subnet": "v", "connection": "c"}, []),  # the fabric reads "v" as "v/default"
        ({}, [("spec.subnet", "subnet is required"), ("spec.connection", "connection is required")]),
        (
            {"subnet": "/s", "connection": "c"},
            [("spec.subnet", "subnet should be in <vpc>/<subnet> format, vpc is missing")],
        ),
    ],
    ids=["good", "vpc-only", "empty", "no-vpc"],
)
def test_a_vpc_attachment_names_a_subnet_of_a_vpc_and_a_connection(spec, expected):
    assert problems("VPCAttachment", spec) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"permit": [{"a": {}, "b": {}}]}, []),
        ({"permit": [{"a": {}, "b": {}}, {"b": {}, "a": {}}]}, []),
        ({}, [("spec.permit", "VPCPeering must have exactly 2 VPCs")]),
        (
            {"permit": [{"a": {}, "b": {}}, {"a": {}, "c": {}}]},
            [("spec.permit", "VPCPeering must have exactly 2 VPCs")],
        ),
        ({"permit": [{"a": {}}]}, [("spec.permit[0]", "each permit policy must have exactly 2 VPCs (idx 0)")]),
        (
            {"permit": [{"a": {}, "b": {}}], "remote": "border"},
            [("spec.remote", "remote field is deprecated and no longer supported")],
        ),
    ],
    ids=["good", "twice", "empty", "three-vpcs", "one-vpc", "remote"],
)
def test_a_vpc_peering_joins_exactly_two_vpcs(spec, expected):
    assert problems("VPCPeering", spec) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"subnets": ["10.0.0.0/16", "10.1.0.0/16", "fd00::/64"]}, []),
        ({"subnets": ["10.0.0.0"]}, [("spec.subnets[0]", "failed to parse cidr 10.0.0.0")]),
        (
            {"subnets": ["10.0.0.0/16", "10.1.0.0/16", "10.0.5.0/24"]},
            [("spec.subnets[2]", "subnets overlap: 10.0.0.0/16 and 10.0.5.0/24")],
        ),
        (
            {"subnets": ["x", "10.0.0.0/16", "10.0.0.0/16"]},
            [
                ("spec.subnets[0]", "failed to parse cidr x"),
                ("spec.subnets[2]", "subnets overlap: 10.0.0.0/16 and 10.0.0.0/16"),
            ],
        ),
    ],
    ids=["good", "no-length", "overlap", "unparsable-then-duplicate"],
)
def test_an_ipv4_namespace_has_distinct_subnets(spec, expected):
    assert problems("IPv4Namespace", spec) == expected


@pytest.mark.parametrize(
    ("ranges", "expected"),
    [
        ([{"from": 1, "to": 4094}], []),
        ([{"from": 1000}], []),  # to defaults to from
        ([{"from": 4094}], []),
        ([{"from": 1, "to": 1}], []),
        ([{"from": 1000, "to": 0}], []),
        ([{"from": 2000, "to": 1000}], [("spec.ranges[0]", "invalid range 0: from > to")]),
        ([{"from": 0, "to": 10}], [("spec.ranges[0].from", "invalid range 0: from < 1 || from > 4094")]),
        ([{"to": 10}], [("spec.ranges[0].from", "invalid range 0: from < 1 || from > 4094")]),
        ([{"from": 4095}], [("spec.ranges[0].from", "invalid range 0: from < 1 || from > 4094")]),
        ([{"from": 10, "to": 4095}], [("spec.ranges[0].to", "invalid range 0: to < 1 || to > 4094")]),
        ([{"from": 1, "to": 2}, {"from": 3, "to": 1}], [("spec.ranges[1]", "invalid range 1: from > to")]),
    ],
    ids=[
        "full",
        "single",
        "single-4094",
        "single-1",
        "to-zero",
        "reversed",
        "from-zero",
        "no-from",
        "from-4095",
        "to-4095",
        "second",
    ],
)
def test_a_vlan_range_lies_within_1_and_4094_in_order(ranges, expected):
    assert problems("VLANNamespace", {"ranges": ranges}) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"role": "server-leaf", "redundancy": {"group": "g", "type": "mclag"}, "groups": ["g"]}, []),
        (
            {"role": "server-leaf", "redundancy": {"group": "g"}},
            [("spec.redundancy", "redundancy group specified without type")],
        ),
        (
            {"role": "server-leaf", "redundancy": {"type": "mclag"}},
            [("spec.redundancy", "redundancy type specified without group")],
        ),
        ({"role": "spine", "vtepIP": "172.30.0.1/32"}, [("spec.vtepIP", "VTEP IP is not allowed for spine switches")]),
        ({"role": "server-leaf", "vtepIP": "172.30.0.1/32"}, []),
        ({"role": "server-leaf", "groups": ["a", ""]}, [("spec.groups[1]", "group name cannot be empty")]),
    ],
    ids=["good", "group-only", "type-only", "spine-vtep", "leaf-vtep", "empty-group"],
)
def test_a_switch_pairs_redundancy_group_and_type(spec, expected):
    assert problems("Switch", spec) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"unbundled": {"link": {"server": {"port": "s/e1"}, "switch": {"port": "leaf-01/E1/1"}}}}, []),
        ({}, [("spec", "exactly one connection type must be used")]),
        (
            {
                "vpcLoopback": {"links": [{"switch1": {"port": "l/E1/1"}, "switch2": {"port": "l/E1/2"}}]},
                "mclagDomain": {"peerLinks": [{"switch1": {"port": "l/E1/3"}, "switch2": {"port": "m/E1/3"}}]},
            },
            [("spec", "exactly one connection type must be used (found mclagDomain, vpcLoopback)")],
        ),
        (
            {"unbundled": {"link": {"server": {"port": "/e1"}, "switch": {"port": "leaf-01/"}}}},
            [
                ("spec.unbundled.link.server.port", "invalid port name '/e1', should be \"<device>/<port>\" format"),
                (
                    "spec.unbundled.link.switch.port",
                    "invalid port name 'leaf-01/', should be \"<device>/<port>\" format",
                ),
            ],
        ),
        (
            {"bundled": {"links": [{"server": {"port": "s/e1"}, "switch": {"port": "leaf"}}]}},
            [("spec.bundled.links[0].switch.port", "invalid port name 'leaf', should be \"<device>/<port>\" format")],
        ),
    ],
    ids=["good", "none", "two", "empty-parts", "no-slash"],
)
def test_a_connection_has_one_type_and_device_slash_port_names(spec, expected):
    assert problems("Connection", spec) == expected


def test_every_real_connection_and_switch_passes_the_fabric_rules():
    path = SHARED / "hedgehog" / "samples" / "gitops-test-1_prepop.yaml"
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (../shared is not checked out beside the repo)")
    bodies = load_documents(path.read_text())
    assert {b["kind"] for b in bodies} >= {"Connection", "Switch"}
    for body in bodies:
        assert problems(body["kind"], body.get("spec") or {}) == [], body["metadata"]["name"]


# --------------------------------------------------------------------------------------------
# The envelope and the schema


VPC_API = "vpc.githedgehog.com/v1beta1"


def body_problems(body: Any) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_body(body)]


def test_a_document_that_is_not_a_mapping_is_refused():
    assert body_problems([]) == [("", "a resource must be a mapping")]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"kind": "Deployment", "apiVersion": "apps/v1"},
            [("kind", "Deployment (apps/v1) is not a Hedgehog kind; skipped")],
        ),
        ({"kind": "Deployment"}, [("kind", "Deployment (no apiVersion) is not a Hedgehog kind; skipped")]),
        ({"replicas": 3}, [("kind", "not a Kubernetes resource (no kind); skipped")]),
        ({"apiVersion": VPC_API, "metadata": {"name": "a"}}, [("kind", "kind is required")]),
        (
            {"apiVersion": VPC_API, "kind": "Nope", "metadata": {"name": "a"}},
            [
                (
                    "kind",
                    f"kind 'Nope' is not a kind of {VPC_API} (known: External, ExternalAttachment, ExternalPeering,"
                    " IPv4Namespace, VPC, VPCAttachment, VPCPeering)",
                )
            ],
        ),
        (
            {"apiVersion": "vpc.githedgehog.com/v2", "kind": "VPC", "metadata": {"name": "a"}},
            [("apiVersion", f"vpc.githedgehog.com/v2 is not a served version of VPC; use {VPC_API}")],
        ),
        (
            {"apiVersion": "", "kind": "VPC", "metadata": {"name": "a"}},
            [("apiVersion", f"apiVersion is required; use {VPC_API}")],
        ),
    ],
    ids=["other-group", "other-no-api", "no-kind", "hedgehog-no-kind", "unknown-kind", "unserved", "empty-api"],
)
def test_what_a_document_is_decides_whether_and_how_it_is_checked(body, expected):
    assert body_problems(body) == expected


def test_a_hedgehog_kind_without_api_version_is_still_a_hedgehog_document():
    verdict = classify({"kind": "VPC"})
    assert verdict.hedgehog and verdict.kind is not None and verdict.kind.kind == "VPC" and verdict.warning is None
    assert classify({"apiVersion": VPC_API, "kind": 5}) == Classification(True, None)


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (None, [("metadata", "metadata with a name is required")]),
        ("x", [("metadata", "metadata must be a mapping, not str")]),
        ([], [("metadata", "metadata must be a mapping, not a list")]),
        ({"name": "a", "labels": []}, [("metadata.labels", "labels must be a mapping of strings")]),
        (
            {"name": "a", "annotations": {"a": 1, "b": True, "c": {}}},
            [
                ("metadata.annotations.a", "annotation 'a' must be a string, not a number (quote it)"),
                ("metadata.annotations.b", "annotation 'b' must be a string, not a boolean (quote it)"),
                ("metadata.annotations.c", "annotation 'c' must be a string, not a mapping (quote it)"),
            ],
        ),
        (
            {"name": "a", "labels": {"x": 1.5}},
            [("metadata.labels.x", "label 'x' must be a string, not a number (quote it)")],
        ),
        (
            {"name": "a", "namespace": "prod"},
            [("metadata.namespace", "namespace 'prod' is not supported: only the default namespace is")],
        ),
        ({"name": "a", "labels": None, "annotations": {}}, []),
    ],
    ids=["none", "string", "list", "labels-list", "annotation-types", "label-float", "namespace", "empty"],
)
def test_metadata_is_a_mapping_with_a_name_and_string_labels(metadata, expected):
    body = {"apiVersion": VPC_API, "kind": "VPC", "spec": vpc()}
    if metadata is not None:
        body["metadata"] = metadata
    assert body_problems(body) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("", ["metadata.name is required"]),
        (None, ["metadata.name is required"]),
        (7, ["metadata.name must be a string, not a number"]),
        (["a"], ["metadata.name must be a string, not a list"]),
        (
            "A",
            [
                "name 'A' is not a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and '.', starting"
                " and ending with a letter or digit"
            ],
        ),
        ("a" * 12, ["VPC name 'aaaaaaaaaaaa' is too long, must be <= 11 characters"]),
    ],
)
def test_a_name_is_a_short_lowercase_subdomain(name, expected):
    assert [e.message for e in validate_name("VPC", name)] == expected


def test_a_name_over_253_characters_is_too_long_for_any_kind():
    name = ("a" * 63 + ".") * 4
    [error] = validate_name("Server", name[:254])
    assert error.message == f"name {name[:254]!r} is too long: at most 253 characters"
    assert validate_name("Server", name[:253].rstrip(".")) == []


def test_unknown_top_level_fields_are_listed_with_the_known_ones():
    body = {"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": "a"}, "spec": vpc(), "specs": 1}
    assert body_problems(body) == [
        ("specs", "unknown field 'specs' (expected apiVersion, kind, metadata, spec, status)")
    ]


def test_a_kind_that_needs_a_spec_says_so_and_one_that_does_not_is_checked_as_empty():
    attachment = {"apiVersion": VPC_API, "kind": "ExternalAttachment", "metadata": {"name": "a"}}
    assert body_problems(attachment)[0] == ("spec", "spec is required")
    server = {"apiVersion": "wiring.githedgehog.com/v1beta1", "kind": "Server", "metadata": {"name": "s"}}
    assert body_problems(server) == []


def test_the_first_schema_error_alone_names_the_field_and_what_is_wrong():
    def first(kind: str, spec: Any) -> list[tuple[str, str]]:
        return [(e.path, e.message) for e in validate_spec(kind, spec, all_errors=False)]

    assert first("VPC", {"subnets": {"a": {"subnet": 5, "vlan": 1}}}) == [
        ("spec.subnets.a.subnet", "spec.subnets.a.subnet must be string")
    ]
    assert first("ExternalAttachment", {}) == [("spec.neighbor", "neighbor, switch are required")]
    assert first("ExternalAttachment", {"switch": {}}) == [("spec.neighbor", "neighbor is required")]
    assert first("Switch", {"role": "spine", "x": 1}) == [("spec", "spec has unknown fields")]
    assert first("Switch", []) == [("spec", "spec must be object")]


def test_every_schema_error_names_its_field():
    assert problems("VPC", {"subnets": {"a": {"subnet": 5, "vlan": 1}}, "x": 1}) == [
        ("spec.x", "unknown field 'x'"),
        ("spec.subnets.a.subnet", "5 is not of type 'string'"),
    ]
    assert problems("ExternalAttachment", {}) == [
        ("spec.neighbor", "neighbor is required"),
        ("spec.switch", "switch is required"),
    ]
    assert problems("Nope", {}) == [("kind", "unknown kind 'Nope'")]


def test_a_kind_without_rules_of_its_own_is_checked_by_its_schema_only():
    assert problems("SwitchGroup", {}) == []
    assert problems("Server", {}) == []


# --------------------------------------------------------------------------------------------
# Remaining details: later items are still checked after a bad one; lines; odd inputs


def test_a_bad_subnet_does_not_stop_the_check_of_the_next_subnet():
    for bad in ({"vlan": 5}, {"subnet": "x", "vlan": 5}, {"subnet": "10.0.0.0/31", "vlan": 5}):
        spec = {"subnets": {"a": bad, "b": {"subnet": "10.10.102.0/24", "vlan": 0}}}
        assert problems("VPC", spec)[-1] == ("spec.subnets.b.vlan", "subnet b: vlan is required"), bad


def test_a_subnet_without_its_prefix_is_missing_it():
    assert problems("VPC", {"subnets": {"a": {"vlan": 5}}}) == [("spec.subnets.a.subnet", "subnet a: missing subnet")]


def test_an_empty_static_lease_does_not_stop_the_check_of_the_next_one():
    static = {"aa:bb:cc:dd:ee:01": {"ip": ""}, "aa:bb:cc:dd:ee:02": {"ip": "nope"}}
    assert problems("VPC", vpc(dhcp(static=static))) == [
        (f'{STATIC}["aa:bb:cc:dd:ee:01"]', "subnet default: empty static IP assigned to MAC aa:bb:cc:dd:ee:01"),
        (f'{STATIC}["aa:bb:cc:dd:ee:02"].ip', "subnet default: invalid static IP nope"),
    ]


def test_an_attachment_subnet_with_an_empty_vpc_part_is_refused_whatever_follows():
    assert problems("VPCAttachment", {"subnet": "/a/b", "connection": "c"}) == [
        ("spec.subnet", "subnet should be in <vpc>/<subnet> format, vpc is missing")
    ]


def test_only_port_fields_are_read_as_ports():
    spec = {
        "staticExternal": {
            "link": {"switch": {"port": "leaf-01/E1/1", "ip": "10.0.0.1/24", "nextHop": "10.0.0.2"}},
            "withinVPC": "vpc-1",
        }
    }
    assert problems("Connection", spec) == []


def test_a_kind_that_is_not_text_is_a_missing_kind():
    assert body_problems({"apiVersion": VPC_API, "kind": 5, "metadata": {"name": "a"}}) == [
        ("kind", "kind is required")
    ]


def test_an_api_version_with_more_slashes_is_read_from_its_last_one():
    body = {"apiVersion": "vpc.githedgehog.com/v1/v1beta1", "kind": "VPC", "metadata": {"name": "a"}}
    assert body_problems(body) == [("apiVersion", f"VPC belongs to {VPC_API}, not vpc.githedgehog.com/v1/v1beta1")]


def test_a_documents_name_is_held_to_its_kinds_length_limit():
    body = {"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": "a" * 12}, "spec": vpc()}
    assert body_problems(body) == [("metadata.name", "VPC name 'aaaaaaaaaaaa' is too long, must be <= 11 characters")]


def test_annotations_are_checked_when_the_labels_are_not_a_mapping():
    metadata = {"name": "a", "labels": "x", "annotations": {"n": 1}}
    body = {"apiVersion": VPC_API, "kind": "VPC", "metadata": metadata, "spec": vpc()}
    assert body_problems(body) == [
        ("metadata.labels", "labels must be a mapping of strings"),
        ("metadata.annotations.n", "annotation 'n' must be a string, not a number (quote it)"),
    ]


def test_annotations_are_checked_when_there_are_no_labels():
    body = {"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": "a", "annotations": {"n": 1}}, "spec": vpc()}
    assert body_problems(body) == [
        ("metadata.annotations.n", "annotation 'n' must be a string, not a number (quote it)")
    ]


def test_validate_body_lists_every_schema_error_unless_asked_for_the_first():
    body = {"apiVersion": VPC_API, "kind": "VPC", "metadata": {"name": "a"}, "spec": {"subnets": {}, "x": 1, "y": 2}}
    assert body_problems(body) == [("spec.x", "unknown field 'x'"), ("spec.y", "unknown field 'y'")]
    assert [(e.path, e.message) for e in validate_body(body, all_errors=False)] == [("spec", "spec has unknown fields")]


def test_the_first_schema_error_of_a_wrongly_typed_mapping_is_its_type():
    assert [
        (e.path, e.message) for e in validate_spec("VPC", {"subnets": {"a": {"subnet": {}}}}, all_errors=False)
    ] == [("spec.subnets.a.subnet", "spec.subnets.a.subnet must be string")]


def lines_of(text: str) -> list[tuple[str, int | None]]:
    [doc] = parse_file("f.yaml", text.encode()).documents
    return [(e.path, e.line) for e in validate_document(doc)]


def test_each_problem_of_a_file_points_at_the_line_to_fix():
    text = (
        "# a header\n"
        "apiVersion: vpc.githedgehog.com/v2\n"
        "kind: VPC\n"
        "metadata:\n"
        "  labels:\n"
        "    x: 1\n"
        "  name: Bad_Name\n"
        "spec:\n"
        "  subnets: {}\n"
        "extra: 1\n"
    )
    assert lines_of(text) == [("apiVersion", 2), ("extra", 10), ("metadata.name", 7), ("metadata.labels.x", 6)]


def test_a_problem_of_the_whole_document_or_a_missing_field_points_at_the_document():
    assert lines_of("\n\napiVersion: vpc.githedgehog.com/v1beta1\nmetadata:\n  name: a\n") == [("kind", 3)]
    assert lines_of("\napiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nspec:\n  subnets: {}\n") == [
        ("metadata", 2),
        ("spec.subnets", 5),
    ]
    assert lines_of("\nkind: VPC\nmetadata:\n  name: a\nspec:\n  subnets: {}\n") == [
        ("apiVersion", 2),
    ]


def test_a_wrong_kind_or_api_version_points_at_its_own_line_not_the_documents_first():
    assert lines_of(
        "# c\nkind: VPC\napiVersion: vpc.githedgehog.com/v2\nmetadata:\n  name: a\nspec:\n  subnets: {}\n"
    ) == [("apiVersion", 3)]
    assert lines_of("apiVersion: vpc.githedgehog.com/v1beta1\nmetadata:\n  name: a\nkind: Nope\n") == [("kind", 4)]


def test_a_name_that_is_not_text_points_at_its_line():
    text = (
        "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n  labels: x\n  name: 5\nspec:\n  subnets: {}\n"
    )
    assert lines_of(text) == [("metadata.name", 5), ("metadata.labels", 4), ("spec.subnets", 7)]


def test_the_parse_error_of_a_document_is_its_problem_at_its_line():
    [doc] = parse_file("f.yaml", b"\nkind: VPC\nmetadata:\n  name: a\n  name: b\n").documents
    [error] = validate_document(doc)
    assert (error.path, error.line) == ("", 5) and "duplicate key 'name'" in error.message


def test_a_document_without_body_or_error_could_not_be_read():
    doc = Document(index=0, line=3, start=0, end=0, start_line=1, text="")
    assert validate_document(doc) == [ValidationError("", "document could not be read", 3)]


def test_a_document_that_did_not_parse_is_a_hedgehog_document_of_no_known_kind():
    [doc] = parse_file("f.yaml", b"kind: VPC\nmetadata:\n  name: a\n  name: b\n").documents
    assert classify(doc) == Classification(True, None)


@pytest.mark.parametrize(
    ("body", "verdict"),
    [
        (
            {"apiVersion": "vpc.githedgehog.com/x/v1", "kind": "Deployment"},
            Classification(False, None, "Deployment (vpc.githedgehog.com/x/v1) is not a Hedgehog kind; skipped"),
        ),
        (
            {"apiVersion": "", "kind": "Deployment"},
            Classification(False, None, "Deployment (no apiVersion) is not a Hedgehog kind; skipped"),
        ),
        (
            {"apiVersion": "apps/v1", "kind": 5},
            Classification(False, None, "not a Kubernetes resource (no kind); skipped"),
        ),
        (
            {"apiVersion": "apps/v1", "kind": ""},
            Classification(False, None, "not a Kubernetes resource (no kind); skipped"),
        ),
        ({"apiVersion": VPC_API, "kind": ["VPC"]}, Classification(True, None)),
        (
            {"apiVersion": 5, "kind": "Deployment"},
            Classification(False, None, "Deployment (no apiVersion) is not a Hedgehog kind; skipped"),
        ),
    ],
    ids=["group-is-before-the-last-slash", "empty-api", "kind-not-text", "kind-empty", "kind-a-list", "api-not-text"],
)
def test_classification_reads_the_group_before_the_last_slash_and_needs_a_kind_name(body, verdict):
    assert classify(body) == verdict


def test_a_name_too_long_for_its_kind_is_a_problem_of_the_name_field():
    assert [(e.path, e.message) for e in validate_name("External", "e" * 12)] == [
        ("metadata.name", "External name 'eeeeeeeeeeee' is too long, must be <= 11 characters")
    ]
