"""Whole-fabric validation: the rules the fabric checks with every other object in view, as
Hedgehog's `hhfab validate` does, and the defaults its `Default()` methods fill in.

Pure: resources in, violations out (no I/O, no clock). Sources, read at githedgehog/fabric
78827deb (the commit whose `config/crd/bases` are the CRDs in bot/schemas) and
githedgehog/fabricator fee55670:

* fabricator `pkg/util/apiutil/include.go` ValidateFabricGateway / defaultAndValidate: every
  object of every kind is defaulted (`obj.Default()`), then validated (`obj.Validate(ctx, kube,
  fabricCfg)`) with a client (`kube`) that sees all the others. The rules below are the parts of
  each `Validate` that run only `if kube != nil`, that is the ones that need other objects; the
  rules one document can check alone are bot.core.validation's.
* fabricator `pkg/hhfab/hydrate.go` getHydration and fabric `api/wiring/v1beta1/switch_types.go`
  Switch.HydrationValidation: switch management / protocol / VTEP IPs and leaf ASNs are unique.

What this bot cannot see, and therefore does not judge
* `fabricCfg` (the Fabricator config, not in a fabric repository): reserved subnets and VLANs,
  the fabric / VTEP / protocol subnets and ASN ranges, the fabric MTU. Rules that need it are
  left out.
* SwitchProfiles and Gateways (built into the fabric, not managed here): port names a profile
  allows, profile features (RoCE, ESLAG, L2VNI), breakouts.
* A kind of which the fabric holds no resource at all is managed elsewhere (a repository of
  VPCs only, whose wiring `hhfab` installed; namespaces the installer created): a reference to
  it is not judged. `managed_kinds` widens that set (a sync passes the kinds that exist before
  it deletes anything, so deleting the last VPC that something refers to is still caught).

MCLAG is deprecated upstream: Connection.Validate and ConnectionSpec.Endpoints skip mclag and
mclagDomain connections (their ports are not checked), and VPCAttachment.Validate refuses to
attach a VPC to one.

Which side is blamed
    For a clash between two resources (the same VLAN, one switch port), the resource that comes
    first in the input keeps its value and the later one gets the violation, naming the first
    and where it is (`Violation.other`; for a reference to nothing, `other` is what is missing).
    Callers list what is already applied before what is new; `validate_with_drafts` lists the
    drafts last, so a draft is blamed rather than what Git holds.

Defaults (`default_spec`, `default_metadata`, `without_defaults`)
    One function per kind, as its `Default()` does; validation runs on defaulted specs, and the
    three-way comparison and drift use `without_defaults` so that what the cluster fills in (a
    namespace, a gateway, a DHCP range, `vlanNamespaces: [default]`, `fabric.githedgehog.com/*`
    labels) is never a difference. Labels the webhooks derive from the spec are removed, not
    recomputed: they are a function of the spec, which is compared anyway.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from bot.core.documents import Document, field_line
from bot.core.fieldpath import format_path

DEFAULT_NAMESPACE_NAME = "default"  # wiringapi.DefaultVLANNamespace, vpcapi.DefaultIPv4Namespace
FABRIC_LABEL_PART = "fabric.githedgehog.com/"  # wiringapi.LabelPrefix, matched by CleanupFabricLabels


# ---------------------------------------------------------------------------------------------
# Input and output


@dataclass(frozen=True)
class FabricResource:
    """One resource of the fabric: its kind, name and spec as written, and where it is written
    (`document` lets a violation point at the offending field's line)."""

    kind: str
    name: str
    spec: Mapping[str, Any]
    metadata: Mapping[str, Any] | None = None
    path: str | None = None  # file in the repository
    line: int | None = None  # line of the document (its `metadata.name` when known)
    document: Document | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"

    def where(self, at: str = "") -> str:
        """`path:line` of a field of this resource (of the document without a field)."""
        line = self.line_of(at)
        if self.path is None:
            return "a draft"
        return f"{self.path}:{line}" if line else self.path

    def line_of(self, at: str) -> int | None:
        if at and self.document is not None:
            found = field_line(self.document, at)
            if found:
                return found
        return self.line


@dataclass(frozen=True)
class Violation:
    rule: str  # e.g. "vpc-vlan-unique"
    kind: str  # the offending resource
    name: str
    field: str  # its field, e.g. "spec.subnets.default.vlan"
    message: str  # names the other side and where it is
    path: str | None  # file of the offending document (None: a draft)
    line: int | None
    other: tuple[str, str] | None = None  # (kind, name) of the other side: the resource clashed with or missing
    source: str = ""  # the upstream function the rule comes from

    @property
    def resource(self) -> str:
        return f"{self.kind}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "name": self.name,
            "field_path": self.field,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "other": None if self.other is None else {"kind": self.other[0], "name": self.other[1]},
        }


RULES: dict[str, str] = {}  # rule id -> the upstream function it comes from


def _rule(rule_id: str, source: str) -> str:
    RULES[rule_id] = source
    return rule_id


# ---------------------------------------------------------------------------------------------
# Defaults


def default_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """wiringapi.CleanupFabricLabels (api/wiring/v1beta1/meta.go), called by every kind's
    Default(): labels whose key contains `fabric.githedgehog.com/` belong to the fabric."""
    out = dict(metadata or {})
    labels = out.get("labels")
    if isinstance(labels, dict) and any(FABRIC_LABEL_PART in key for key in labels):
        kept = {k: v for k, v in labels.items() if FABRIC_LABEL_PART not in k}
        if kept:
            out["labels"] = kept
        else:
            out.pop("labels")
    return out


def default_spec(kind: str, spec: Any) -> Any:
    """The spec as the kind's Default() leaves it. `spec` is not modified; containers are copied
    only where something is filled in. A spec that is not a mapping is returned as it is."""
    if not isinstance(spec, dict):
        return spec
    defaulter = _DEFAULTERS.get(kind)
    return spec if defaulter is None else defaulter(spec)


def _default_vpc(spec: dict[str, Any]) -> dict[str, Any]:
    """VPC.Default (api/vpc/v1beta1/vpc_types.go)."""
    out = dict(spec)
    if not out.get("ipv4Namespace"):
        out["ipv4Namespace"] = DEFAULT_NAMESPACE_NAME
    if not out.get("vlanNamespace"):
        out["vlanNamespace"] = DEFAULT_NAMESPACE_NAME
    subnets = out.get("subnets")
    if isinstance(subnets, dict):
        out["subnets"] = {
            name: _default_vpc_subnet(cfg) if isinstance(cfg, dict) else cfg for name, cfg in subnets.items()
        }
    return out


def _default_vpc_subnet(cfg: dict[str, Any]) -> dict[str, Any]:
    net = _network(cfg.get("subnet"))
    if net is None:
        return cfg  # iputil.ParseCIDR failed: Default() skips the subnet
    out = dict(cfg)
    if not out.get("gateway") and not out.get("hostBGP"):
        out["gateway"] = _filled_addresses(net)[0]
    if net.bits > 30:
        return out
    dhcp = dict(out.get("dhcp") or {})
    if not dhcp.get("enable"):
        dhcp.pop("range", None)
        dhcp.pop("options", None)
        if dhcp or "dhcp" in out:
            out["dhcp"] = dhcp
        return out
    rng = dict(dhcp.get("range") or {})
    if not rng.get("start"):
        rng["start"] = _filled_addresses(net)[1]
    if not rng.get("end"):
        rng["end"] = _filled_addresses(net)[2]
    dhcp["range"] = rng
    options = dhcp.get("options")
    if isinstance(options, dict):
        if (
            not options.get("pxeURL")
            and options.get("dnsServers") is None
            and options.get("timeServers") is None
            and not options.get("interfaceMTU")
            and not options.get("leaseTimeSeconds")
            and not options.get("disableDefaultRoute")
            and options.get("advertisedRoutes") is None
        ):
            dhcp.pop("options")
            out["dhcp"] = dhcp
            return out  # Default() `continue`s here, before normalising MACs
        else:
            options = dict(options)
            options["interfaceMTU"] = options.get("interfaceMTU") or 9036
            options["leaseTimeSeconds"] = options.get("leaseTimeSeconds") or 3600
            options["dnsServers"] = sorted(options.get("dnsServers") or [])
            options["timeServers"] = sorted(options.get("timeServers") or [])
            routes = list(options.get("advertisedRoutes") or [])
            # VPCDHCPRouteCompare: by destination, then gateway
            routes.sort(key=lambda r: (str(r.get("destination", "")), str(r.get("gateway", ""))))
            options["advertisedRoutes"] = routes
            dhcp["options"] = options
    static = dhcp.get("static")
    if isinstance(static, dict):
        dhcp["static"] = {_normal_mac(mac): value for mac, value in static.items()}
    out["dhcp"] = dhcp
    return out


@lru_cache(maxsize=65536)
def _filled_addresses(net: _Net) -> tuple[str, str, str]:
    """iputil.ParseCIDR (pkg/util/iputil/ip.go): Gateway is the address after the network's,
    DHCPRangeStart the one after that, DHCPRangeEnd the last one (LastIPNetip)."""
    if net.version == 4:
        return _dotted(net.first + 1), _dotted(net.first + 2), _dotted(net.last)
    make = ipaddress.IPv6Address
    return str(make(net.first + 1)), str(make(net.first + 2)), str(make(net.last))


def _dotted(addr: int) -> str:
    return f"{addr >> 24}.{addr >> 16 & 255}.{addr >> 8 & 255}.{addr & 255}"


def _normal_mac(mac: str) -> str:
    """net.ParseMAC(mac).String() for the 6-byte forms: lowercase, colon-separated."""
    digits = mac.replace(":", "").replace("-", "").replace(".", "")
    if len(digits) != 12 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        return mac
    digits = digits.lower()
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _default_switch(spec: dict[str, Any]) -> dict[str, Any]:
    """Switch.Default (api/wiring/v1beta1/switch_types.go)."""
    out = dict(spec)
    for key in ("portGroupSpeeds", "portSpeeds"):
        speeds = out.get(key)
        if isinstance(speeds, dict):
            out[key] = {k: v.removeprefix("SPEED_") if isinstance(v, str) else v for k, v in speeds.items()}
    namespaces = out.get("vlanNamespaces") or [DEFAULT_NAMESPACE_NAME]
    out["vlanNamespaces"] = sorted(namespaces)
    groups = list(out.get("groups") or [])
    group = (out.get("redundancy") or {}).get("group") if isinstance(out.get("redundancy"), dict) else None
    if group and group not in groups:
        groups.append(group)
    if groups or "groups" in out:
        out["groups"] = sorted(groups)
    flap = out.get("linkFlapErrDisable")
    if isinstance(flap, dict):
        # DefaultLinkFlapThreshold / SamplingInterval / RecoveryInterval (switch_types.go)
        out["linkFlapErrDisable"] = {
            **flap,
            "flapThreshold": flap.get("flapThreshold", _LINK_FLAP_DEFAULTS["flapThreshold"]),
            "samplingInterval": flap.get("samplingInterval", _LINK_FLAP_DEFAULTS["samplingInterval"]),
            "recoveryInterval": flap.get("recoveryInterval", _LINK_FLAP_DEFAULTS["recoveryInterval"]),
        }
    return out


_LINK_FLAP_DEFAULTS = {"flapThreshold": 3, "samplingInterval": 30, "recoveryInterval": 300}


def _default_vpc_attachment(spec: dict[str, Any]) -> dict[str, Any]:
    """VPCAttachment.Default (api/vpc/v1beta1/vpcattachment_types.go): "<vpc>" means
    "<vpc>/default"."""
    subnet = spec.get("subnet")
    if isinstance(subnet, str) and subnet and "/" not in subnet:
        return {**spec, "subnet": f"{subnet}/default"}
    return spec


def _default_external(spec: dict[str, Any]) -> dict[str, Any]:
    """External.Default (api/vpc/v1beta1/external_types.go)."""
    if spec.get("ipv4Namespace"):
        return spec
    return {**spec, "ipv4Namespace": DEFAULT_NAMESPACE_NAME}


def _default_external_peering(spec: dict[str, Any]) -> dict[str, Any]:
    """ExternalPeering.Default (api/vpc/v1beta1/externalpeering_types.go): subnets and
    prefixes sorted."""
    permit = spec.get("permit")
    if not isinstance(permit, dict):
        return spec
    permit = dict(permit)
    vpc, external = permit.get("vpc"), permit.get("external")
    if isinstance(vpc, dict) and isinstance(vpc.get("subnets"), list):
        permit["vpc"] = {**vpc, "subnets": sorted(vpc["subnets"], key=str)}
    if isinstance(external, dict) and isinstance(external.get("prefixes"), list):
        prefixes = sorted(external["prefixes"], key=lambda p: str(p.get("prefix", "")) if isinstance(p, dict) else "")
        permit["external"] = {**external, "prefixes": prefixes}
    return {**spec, "permit": permit}


def _default_ipv4_namespace(spec: dict[str, Any]) -> dict[str, Any]:
    """IPv4Namespace.Default (api/vpc/v1beta1/ipv4namespace_types.go): subnets sorted."""
    subnets = spec.get("subnets")
    if isinstance(subnets, list):
        return {**spec, "subnets": sorted(subnets, key=str)}
    return spec


def _default_vlan_namespace(spec: dict[str, Any]) -> dict[str, Any]:
    """VLANNamespace.Default -> meta.NormalizedVLANRanges (api/meta/vlan.go), which works in
    place: `to` defaults to `from` and the ranges are sorted (their merge is not kept)."""
    ranges = spec.get("ranges")
    if not isinstance(ranges, list) or not all(isinstance(r, dict) for r in ranges):
        return spec
    filled = [{**r, "to": r.get("to") or r.get("from", 0)} for r in ranges]
    if len(filled) >= 2:
        filled.sort(key=lambda r: (r.get("from", 0), r.get("to", 0)))
    return {**spec, "ranges": filled}


_DEFAULTERS = {
    "VPC": _default_vpc,
    "Switch": _default_switch,
    "VPCAttachment": _default_vpc_attachment,
    "External": _default_external,
    "ExternalPeering": _default_external_peering,
    "IPv4Namespace": _default_ipv4_namespace,
    "VLANNamespace": _default_vlan_namespace,
    # Server, SwitchGroup, Connection, ExternalAttachment, VPCPeering: metadata and labels only
}


def without_defaults(kind: str, spec: Any, reference: Any) -> Any:
    """`spec` less what the fabric fills in that `reference` leaves out: every field `spec`
    has and `reference` omits is dropped when the value equals what Default() gives
    `reference` there. So the spec the cluster reports (or a draft made from it) compared with
    the spec in Git shows only real differences. A spec unrelated to its reference comes back
    unchanged."""
    if not isinstance(spec, dict) or not isinstance(reference, dict):
        return spec
    filled = default_spec(kind, reference)
    if filled is reference:
        return spec
    return _strip(spec, reference, filled)


def _strip(value: Any, reference: Any, filled: Any) -> Any:
    if not isinstance(value, dict) or not isinstance(filled, dict):
        return value
    ref = reference if isinstance(reference, dict) else {}
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key not in ref:
            if key in filled and _same(item, filled[key]):
                continue  # filled in by the fabric
            if isinstance(item, dict) and isinstance(filled.get(key), dict):
                stripped = _strip(item, {}, filled[key])
                if stripped:
                    out[key] = stripped
                continue
            out[key] = item
        elif isinstance(item, dict):
            out[key] = _strip(item, ref[key], filled.get(key))
        elif isinstance(item, list) and isinstance(ref[key], list) and _same(item, filled.get(key)):
            out[key] = ref[key]  # the same items in the order Default() sorts them into
        else:
            out[key] = item
    return out


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def without_default_metadata(metadata: Mapping[str, Any] | None, reference: Mapping[str, Any] | None) -> Any:
    """`metadata` less the `fabric.githedgehog.com/*` labels `reference` does not have."""
    if not metadata:
        return metadata
    ref_labels = (reference or {}).get("labels") or {}
    labels = metadata.get("labels")
    if not isinstance(labels, dict):
        return metadata
    kept = {k: v for k, v in labels.items() if FABRIC_LABEL_PART not in k or k in ref_labels}
    out = {k: v for k, v in metadata.items() if k != "labels"}
    if kept:
        out["labels"] = kept
    return out


# ---------------------------------------------------------------------------------------------
# Addresses (netip.ParsePrefix / ParseAddr), as integer ranges for cheap overlap checks


@dataclass(frozen=True)
class _Net:
    version: int
    first: int  # the masked address
    last: int
    bits: int
    addr: int  # the address as written (host bits kept)


_IPV4_PREFIX = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})$")


@lru_cache(maxsize=65536)
def _network(text: Any) -> _Net | None:
    """netip.ParsePrefix: address/length, host bits allowed (the common IPv4 case parsed
    directly: ipaddress is ten times slower; anything else goes to ipaddress)."""
    if not isinstance(text, str) or "/" not in text:
        return None
    match = _IPV4_PREFIX.match(text)
    if match:
        *octets, bits_text = match.groups()
        values = [int(o) for o in octets]
        bits = int(bits_text)
        # netip refuses leading zeros, as ipaddress does
        if all(v < 256 and (len(o) == 1 or o[0] != "0") for v, o in zip(values, octets)) and bits <= 32:
            addr = values[0] << 24 | values[1] << 16 | values[2] << 8 | values[3]
            host = (1 << (32 - bits)) - 1
            return _Net(4, addr & ~host & 0xFFFFFFFF, (addr & ~host & 0xFFFFFFFF) | host, bits, addr)
        return None
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        return None
    net = iface.network
    return _Net(net.version, int(net.network_address), int(net.broadcast_address), net.prefixlen, int(iface.ip))


def clear_caches() -> None:
    """Forget parsed addresses (for measuring a cold run)."""
    _network.cache_clear()
    _filled_addresses.cache_clear()


# ---------------------------------------------------------------------------------------------
# The fabric, indexed once


class _Fabric:
    def __init__(self, resources: Iterable[FabricResource], managed_kinds: Iterable[str] | None) -> None:
        # kind -> name -> (resource, defaulted spec), in input order
        self.by_kind: dict[str, dict[str, tuple[FabricResource, dict[str, Any]]]] = {}
        for res in resources:
            named = self.by_kind.get(res.kind)
            if named is None:
                named = self.by_kind[res.kind] = {}
            if res.name in named:
                continue  # a duplicate identity is the snapshot's error, not a fabric rule's
            named[res.name] = (res, default_spec(res.kind, res.spec if isinstance(res.spec, dict) else {}))
        self.managed = set(self.by_kind) | set(managed_kinds or ())
        self.out: list[Violation] = []

    def of(self, kind: str) -> Iterable[tuple[FabricResource, dict[str, Any]]]:
        return self.by_kind.get(kind, {}).values()

    def get(self, kind: str, name: Any) -> tuple[FabricResource, dict[str, Any]] | None:
        named = self.by_kind.get(kind)
        return None if named is None or not isinstance(name, str) else named.get(name)

    def spec_of(self, res: FabricResource) -> dict[str, Any]:
        return self.by_kind[res.kind][res.name][1]

    def judged(self, kind: str) -> bool:
        """Is a missing `kind` resource an error? Only if the fabric manages that kind."""
        return kind in self.managed

    def add(
        self,
        rule: str,
        res: FabricResource,
        at: list[str | int],
        message: str,
        other: FabricResource | tuple[str, str] | None = None,
    ) -> None:
        field_path = format_path(["spec", *at])
        if isinstance(other, FabricResource):
            other = (other.kind, other.name)
        self.out.append(
            Violation(
                rule, res.kind, res.name, field_path, message, res.path, res.line_of(field_path), other, RULES[rule]
            )
        )

    def missing(self, rule: str, res: FabricResource, at: list[str | int], kind: str, name: Any, what: str) -> bool:
        """Report a reference to a `kind` that is not there; True when it is missing."""
        if self.get(kind, name) is not None or not self.judged(kind):
            return False
        self.add(rule, res, at, f"{what} {name} does not exist in the fabric", (kind, str(name)))
        return True


def _there(res: FabricResource, at: str = "") -> str:
    return f"{res.kind} {res.name} ({res.where(at)})"


# ---------------------------------------------------------------------------------------------
# Entry point


def validate_fabric(
    resources: Iterable[FabricResource], *, managed_kinds: Iterable[str] | None = None
) -> list[Violation]:
    """Every violation of the fabric's cross-resource rules, resources defaulted first.

    `resources` are the fabric's valid resources (each already passed bot.core.validation),
    in the order that decides who is blamed for a clash (see the module docstring)."""
    fabric = _Fabric(resources, managed_kinds)
    for check in _CHECKS:
        check(fabric)
    return fabric.out


def validate_with_drafts(
    desired: Iterable[FabricResource], drafts: Mapping[tuple[str, str], FabricResource | None]
) -> list[Violation]:
    """The violations of the fabric the drafts would make: the desired state with every draft
    applied (`drafts` maps (kind, name) to the drafted resource, None to delete it). Drafted
    resources come last, so a clash with a resource nobody drafted is blamed on the draft;
    kinds the desired state or a draft holds are managed (deleting the last VPC is judged)."""
    desired = list(desired)
    managed = {r.kind for r in desired} | {kind for kind, _ in drafts}
    kept = [r for r in desired if (r.kind, r.name) not in drafts]
    changed = [r for r in drafts.values() if r is not None]
    return validate_fabric([*kept, *changed], managed_kinds=managed)


def resources_from_documents(path: str, docs: Iterable[Document]) -> list[FabricResource]:
    """The resources of a file's parsed documents (those with a kind, a name and a body)."""
    out = []
    for doc in docs:
        if doc.body is None or not doc.kind or not doc.name:
            continue
        spec = doc.body.get("spec")
        out.append(
            FabricResource(
                doc.kind,
                doc.name,
                spec if isinstance(spec, dict) else {},
                doc.body.get("metadata") if isinstance(doc.body.get("metadata"), dict) else None,
                path,
                doc.name_line or doc.line,
                doc,
            )
        )
    return out


def summary_by_rule(violations: Iterable[Violation]) -> dict[str, int]:
    """{rule: count}, rules in the order of RULES."""
    counts: dict[str, int] = {}
    for v in violations:
        counts[v.rule] = counts.get(v.rule, 0) + 1
    return {rule: counts[rule] for rule in RULES if rule in counts}


# ---------------------------------------------------------------------------------------------
# VPC

R_VPC_IPV4NS = _rule("vpc-ipv4namespace-exists", "VPC.Validate (api/vpc/v1beta1/vpc_types.go)")
R_VPC_VLANNS = _rule("vpc-vlannamespace-exists", "VPC.Validate (api/vpc/v1beta1/vpc_types.go)")
R_VPC_SUBNET_IN_NS = _rule("vpc-subnet-in-ipv4namespace", "VPC.Validate (api/vpc/v1beta1/vpc_types.go)")
R_VPC_VLAN_IN_NS = _rule("vpc-vlan-in-vlannamespace", "VPC.Validate (api/vpc/v1beta1/vpc_types.go)")
R_VPC_RELAY = _rule("vpc-dhcp-relay-vpc-exists", "VPC.Validate (api/vpc/v1beta1/vpc_types.go)")
R_VPC_OVERLAP = _rule("vpc-subnet-overlap", "VPC.Validate (api/vpc/v1beta1/vpc_types.go)")
R_VPC_VLAN = _rule("vpc-vlan-unique", "VPC.Validate (api/vpc/v1beta1/vpc_types.go)")


def _check_vpcs(fabric: _Fabric) -> None:
    """VPC.Validate, `if kube != nil`: its namespaces exist; each subnet lies in one of its
    IPv4Namespace's subnets (iputil.IsSubset) and each VLAN (hostBGP subnets have none) in its
    VLANNamespace's ranges (VLANNamespaceSpec.Contains); a DHCP relay VPC exists; no subnet
    overlaps a subnet of another VPC of the same IPv4Namespace; no VLAN is used by another VPC
    of the same VLANNamespace."""
    # (namespace) -> sorted intervals, for the overlap sweep below
    intervals: dict[tuple[str, int], list[tuple[int, int, int, FabricResource, str, str]]] = {}
    vlans: dict[tuple[str, Any], tuple[FabricResource, str]] = {}
    seq = 0
    for res, spec in fabric.of("VPC"):
        ipv4ns, vlanns = spec.get("ipv4Namespace"), spec.get("vlanNamespace")
        ip_found = fabric.get("IPv4Namespace", ipv4ns)
        vlan_found = fabric.get("VLANNamespace", vlanns)
        fabric.missing(R_VPC_IPV4NS, res, ["ipv4Namespace"], "IPv4Namespace", ipv4ns, "IPv4Namespace")
        fabric.missing(R_VPC_VLANNS, res, ["vlanNamespace"], "VLANNamespace", vlanns, "VLANNamespace")
        ns_nets = [n for n in (_network(s) for s in (ip_found[1].get("subnets") or [])) if n] if ip_found else None
        ranges = _ranges(vlan_found[1]) if vlan_found else None
        subnets = spec.get("subnets") or {}
        for subnet_name, cfg in subnets.items():
            if not isinstance(cfg, dict):
                continue
            net = _network(cfg.get("subnet"))
            if net is None:
                continue
            if (
                ip_found is not None
                and ns_nets is not None
                and not any(n.version == net.version and n.first <= net.first and net.last <= n.last for n in ns_nets)
            ):
                ns_res = ip_found[0]
                fabric.add(
                    R_VPC_SUBNET_IN_NS,
                    res,
                    ["subnets", subnet_name, "subnet"],
                    f"subnet {subnet_name} ({cfg.get('subnet')}) of VPC {res.name} is not inside any subnet of "
                    f"IPv4Namespace {ipv4ns} ({', '.join(map(str, ip_found[1].get('subnets') or [])) or 'none'}; "
                    f"{ns_res.where('spec.subnets')})",
                    ns_res,
                )
            vlan = cfg.get("vlan")
            host_bgp = bool(cfg.get("hostBGP"))
            if ranges is not None and not host_bgp and not any(lo <= (vlan or 0) <= hi for lo, hi in ranges):
                ns_res = vlan_found[0] if vlan_found else res
                shown = ", ".join(f"{lo}-{hi}" for lo, hi in ranges) or "none"
                fabric.add(
                    R_VPC_VLAN_IN_NS,
                    res,
                    ["subnets", subnet_name, "vlan"],
                    f"VLAN {vlan} of {res.name}/{subnet_name} is outside the ranges of VLANNamespace {vlanns} "
                    f"({shown}; {ns_res.where('spec.ranges')})",
                    ns_res,
                )
            relay = (cfg.get("dhcp") or {}).get("relayVPC") if isinstance(cfg.get("dhcp"), dict) else None
            if relay:
                fabric.missing(
                    R_VPC_RELAY, res, ["subnets", subnet_name, "dhcp", "relayVPC"], "VPC", relay, "DHCP relay VPC"
                )
            seq += 1
            intervals.setdefault((str(ipv4ns), net.version), []).append(
                (net.first, net.last, seq, res, subnet_name, str(cfg.get("subnet")))
            )
            # HostBGP subnets have VLAN 0 and may share it
            if host_bgp or not vlan:
                continue
            key = (str(vlanns), vlan)
            first = vlans.get(key)
            if first is None:
                vlans[key] = (res, subnet_name)
            elif first[0] is not res:
                other, other_subnet = first
                fabric.add(
                    R_VPC_VLAN,
                    res,
                    ["subnets", subnet_name, "vlan"],
                    f"VLAN {vlan} of {res.name}/{subnet_name} is already used by {other.name}/{other_subnet} "
                    f"({other.where(format_path(['spec', 'subnets', other_subnet, 'vlan']))}) in VLANNamespace {vlanns}",
                    other,
                )
    for (ipv4ns, _version), items in intervals.items():
        _overlaps(fabric, ipv4ns, items)


def _overlaps(fabric: _Fabric, ipv4ns: str, items: list[tuple[int, int, int, FabricResource, str, str]]) -> None:
    """Subnets of different VPCs that overlap, in one sweep over the subnets sorted by start.
    A subnet overlaps an earlier-starting one of another VPC exactly when the furthest-reaching
    earlier subnet of another VPC reaches it; so the sweep keeps the furthest-reaching subnet
    of the two furthest-reaching VPCs. Of a clashing pair the later one in input order is
    blamed."""
    items.sort(key=lambda i: (i[0], -i[1]))
    reach: list[tuple[int, int, int, FabricResource, str, str]] = []  # at most one per VPC, furthest first
    for item in items:
        first, last, seq, res = item[0], item[1], item[2], item[3]
        clash = next((seen for seen in reach if seen[3] is not res), None)
        if clash is not None and clash[1] >= first:
            blamed, other = (item, clash) if seq > clash[2] else (clash, item)
            b_res, b_name, b_text = blamed[3], blamed[4], blamed[5]
            o_res, o_name, o_text = other[3], other[4], other[5]
            fabric.add(
                R_VPC_OVERLAP,
                b_res,
                ["subnets", b_name, "subnet"],
                f"subnet {b_text} of {b_res.name}/{b_name} overlaps subnet {o_text} of {o_res.name}/{o_name} "
                f"({o_res.where(format_path(['spec', 'subnets', o_name, 'subnet']))}) in IPv4Namespace {ipv4ns}",
                o_res,
            )
        mine = next((seen for seen in reach if seen[3] is res), None)
        if mine is None or mine[1] < last:
            mine = item
        reach = sorted([mine, *(seen for seen in reach if seen[3] is not res)], key=lambda s: -s[1])[:2]


def _ranges(vlan_ns_spec: Mapping[str, Any]) -> list[tuple[int, int]]:
    out = []
    for r in vlan_ns_spec.get("ranges") or []:
        if isinstance(r, dict):
            low = r.get("from") or 0
            out.append((low, r.get("to") or low))
    return out


# ---------------------------------------------------------------------------------------------
# VPCAttachment

R_ATT_VPC = _rule("vpcattachment-vpc-exists", "VPCAttachment.Validate (api/vpc/v1beta1/vpcattachment_types.go)")
R_ATT_SUBNET = _rule("vpcattachment-subnet-exists", "VPCAttachment.Validate (api/vpc/v1beta1/vpcattachment_types.go)")
R_ATT_CONN = _rule("vpcattachment-connection-exists", "VPCAttachment.Validate (api/vpc/v1beta1/vpcattachment_types.go)")
R_ATT_CONN_TYPE = _rule(
    "vpcattachment-connection-type", "VPCAttachment.Validate (api/vpc/v1beta1/vpcattachment_types.go)"
)
R_ATT_ESLAG_MODE = _rule("vpcattachment-eslag-mode", "VPCAttachment.Validate (api/vpc/v1beta1/vpcattachment_types.go)")
R_ATT_HOSTBGP = _rule("vpcattachment-hostbgp", "VPCAttachment.Validate (api/vpc/v1beta1/vpcattachment_types.go)")
R_ATT_SWITCH_NS = _rule(
    "vpcattachment-switch-vlannamespace", "VPCAttachment.Validate (api/vpc/v1beta1/vpcattachment_types.go)"
)
R_ATT_UNIQUE = _rule("vpcattachment-unique", "VPCAttachment.Validate (api/vpc/v1beta1/vpcattachment_types.go)")
R_ATT_NATIVE = _rule("vpcattachment-native-vlan", "VPCAttachment.Validate (api/vpc/v1beta1/vpcattachment_types.go)")

ATTACHABLE = ("unbundled", "bundled", "eslag")  # "vpc can be attached only to Unbundled, Bundled or ESLAG"


def _check_vpc_attachments(fabric: _Fabric) -> None:
    """VPCAttachment.Validate, `if kube != nil`: the VPC and its subnet exist; the connection
    exists and is unbundled, bundled or eslag (eslag only for an l2vni VPC, hostBGP only over
    unbundled); every switch of the connection has the VPC's VLANNamespace (and a hostBGP
    subnet is not on an MCLAG peer; a switch that does not exist is the connection's
    violation, a VLANNamespace that does not exist the VPC's); no other attachment of the connection has the same
    subnet, and at most one is native VLAN."""
    on_connection: dict[str, list[tuple[FabricResource, dict[str, Any]]]] = {}
    for res, spec in fabric.of("VPCAttachment"):
        subnet_ref = spec.get("subnet")
        connection = spec.get("connection")
        vpc_name, _, subnet_name = subnet_ref.partition("/") if isinstance(subnet_ref, str) else ("", "", "")
        for other, other_spec in on_connection.get(str(connection), []):
            if other_spec.get("subnet") == subnet_ref:
                fabric.add(
                    R_ATT_UNIQUE,
                    res,
                    ["subnet"],
                    f"connection {connection} is already attached to subnet {subnet_ref} by {_there(other, 'spec.subnet')}",
                    other,
                )
                break
            if spec.get("nativeVLAN") and other_spec.get("nativeVLAN"):
                fabric.add(
                    R_ATT_NATIVE,
                    res,
                    ["nativeVLAN"],
                    f"connection {connection} is already attached with native VLAN by {_there(other, 'spec.nativeVLAN')}",
                    other,
                )
                break
        if isinstance(connection, str):
            on_connection.setdefault(connection, []).append((res, spec))
        vpc = fabric.get("VPC", vpc_name)
        subnet_cfg = None
        if vpc is None:
            fabric.missing(R_ATT_VPC, res, ["subnet"], "VPC", vpc_name, "VPC")
        else:
            subnet_cfg = (vpc[1].get("subnets") or {}).get(subnet_name)
            if not isinstance(subnet_cfg, dict):
                fabric.add(
                    R_ATT_SUBNET,
                    res,
                    ["subnet"],
                    f"subnet {subnet_name} not found in VPC {vpc_name} ({vpc[0].where('spec.subnets')})",
                    vpc[0],
                )
                subnet_cfg = None
        conn = fabric.get("Connection", connection)
        if conn is None:
            fabric.missing(R_ATT_CONN, res, ["connection"], "Connection", connection, "connection")
            continue
        conn_res, conn_spec = conn
        shape = _connection_type(conn_spec)
        if vpc is None or subnet_cfg is None:
            continue  # upstream stops at the first error: the VPC's facts are unknown
        mode = vpc[1].get("mode") or ""
        if shape == "eslag" and mode != "":
            fabric.add(
                R_ATT_ESLAG_MODE,
                res,
                ["connection"],
                f"VPC {vpc_name} has mode {mode} ({vpc[0].where('spec.mode')}), which is not supported for the ESLAG "
                f"connection {connection}",
                vpc[0],
            )
            continue
        if subnet_cfg.get("hostBGP") and shape != "unbundled":
            fabric.add(
                R_ATT_HOSTBGP,
                res,
                ["connection"],
                f"subnet {subnet_ref} is hostBGP ({vpc[0].where(format_path(['spec', 'subnets', subnet_name, 'hostBGP']))}): "
                f"only an unbundled connection can attach to it, {connection} is {shape}",
                vpc[0],
            )
            continue
        if shape not in ATTACHABLE:
            fabric.add(
                R_ATT_CONN_TYPE,
                res,
                ["connection"],
                f"connection {connection} is {shape} ({conn_res.where()}): a VPC can be attached only to unbundled, "
                "bundled or eslag connections",
                conn_res,
            )
            continue
        vlanns = vpc[1].get("vlanNamespace")
        if fabric.get("VLANNamespace", vlanns) is None and fabric.judged("VLANNamespace"):
            continue  # reported on the VPC (vpc-vlannamespace-exists)
        for switch_name in _link_devices(conn_spec, shape, "switch"):
            sw = fabric.get("Switch", switch_name)
            if sw is None:
                continue  # reported on the connection (connection-switch-exists)
            sw_res, sw_spec = sw
            if vlanns not in (sw_spec.get("vlanNamespaces") or []):
                fabric.add(
                    R_ATT_SWITCH_NS,
                    res,
                    ["subnet"],
                    f"switch {switch_name} used in connection {connection} does not have VLANNamespace {vlanns} of "
                    f"VPC {vpc_name} (its vlanNamespaces: {', '.join(sw_spec.get('vlanNamespaces') or [])}; "
                    f"{sw_res.where('spec.vlanNamespaces')})",
                    sw_res,
                )
                break
            redundancy = sw_spec.get("redundancy") or {}
            if subnet_cfg.get("hostBGP") and redundancy.get("group") and redundancy.get("type") == "mclag":
                fabric.add(
                    R_ATT_HOSTBGP,
                    res,
                    ["subnet"],
                    f"hostBGP subnet {subnet_ref} cannot be attached to switch {switch_name}, an MCLAG peer "
                    f"({sw_res.where('spec.redundancy')})",
                    sw_res,
                )
                break


# ---------------------------------------------------------------------------------------------
# VPCPeering

R_PEER_VPC = _rule("vpcpeering-vpc-exists", "VPCPeering.Validate (api/vpc/v1beta1/vpcpeering_types.go)")
R_PEER_NS = _rule("vpcpeering-same-namespaces", "VPCPeering.Validate (api/vpc/v1beta1/vpcpeering_types.go)")
R_PEER_SUBNET = _rule("vpcpeering-subnet-exists", "VPCPeering.Validate (api/vpc/v1beta1/vpcpeering_types.go)")


def _check_vpc_peerings(fabric: _Fabric) -> None:
    """VPCPeering.Validate, `if kube != nil`: both VPCs exist, share their IPv4Namespace and
    their VLANNamespace, and every permitted subnet is one of theirs."""
    for res, spec in fabric.of("VPCPeering"):
        permits = [p for p in spec.get("permit") or [] if isinstance(p, dict)]
        names = sorted({name for p in permits for name in p})  # VPCPeeringSpec.VPCs
        if len(names) != 2:
            continue  # a per-document error
        vpcs = {}
        gone = False
        for name in names:
            idx = next(i for i, p in enumerate(permits) if name in p)
            found = fabric.get("VPC", name)
            if found is None:
                gone = fabric.missing(R_PEER_VPC, res, ["permit", idx, name], "VPC", name, "VPC") or True
                break
            vpcs[name] = found
        if gone:
            continue
        (a_name, (a_res, a_spec)), (b_name, (b_res, b_spec)) = vpcs.items()
        for key, what in (("ipv4Namespace", "IPv4"), ("vlanNamespace", "VLAN")):
            if a_spec.get(key) != b_spec.get(key):
                fabric.add(
                    R_PEER_NS,
                    res,
                    ["permit"],
                    f"VPCs must be in the same {what} namespace: {a_name} is in {a_spec.get(key)} "
                    f"({a_res.where('spec.' + key)}), {b_name} in {b_spec.get(key)} ({b_res.where('spec.' + key)})",
                    b_res,
                )
                break
        else:
            for idx, permit in enumerate(permits):
                for vpc_name, peer in permit.items():
                    vpc_res, vpc_spec = vpcs[vpc_name]
                    for s_idx, subnet in enumerate((peer or {}).get("subnets") or [] if isinstance(peer, dict) else []):
                        if subnet not in (vpc_spec.get("subnets") or {}):
                            fabric.add(
                                R_PEER_SUBNET,
                                res,
                                ["permit", idx, vpc_name, "subnets", s_idx],
                                f"subnet {subnet} not found in VPC {vpc_name} ({vpc_res.where('spec.subnets')})",
                                vpc_res,
                            )


# ---------------------------------------------------------------------------------------------
# External, ExternalAttachment, ExternalPeering

R_EXT_NS = _rule("external-ipv4namespace-exists", "External.Validate (api/vpc/v1beta1/external_types.go)")
R_EATT_EXT = _rule(
    "externalattachment-external-exists", "ExternalAttachment.Validate (api/vpc/v1beta1/externalattachment_types.go)"
)
R_EATT_STATIC = _rule(
    "externalattachment-static-matches", "ExternalAttachment.Validate (api/vpc/v1beta1/externalattachment_types.go)"
)
R_EATT_CONN = _rule(
    "externalattachment-connection-exists", "ExternalAttachment.Validate (api/vpc/v1beta1/externalattachment_types.go)"
)
R_EATT_CONN_TYPE = _rule(
    "externalattachment-connection-external",
    "ExternalAttachment.Validate (api/vpc/v1beta1/externalattachment_types.go)",
)
R_EATT_VLAN = _rule(
    "externalattachment-vlan-unique", "ExternalAttachment.Validate (api/vpc/v1beta1/externalattachment_types.go)"
)
R_EPEER_VPC = _rule("externalpeering-vpc-exists", "ExternalPeering.Validate (api/vpc/v1beta1/externalpeering_types.go)")
R_EPEER_EXT = _rule(
    "externalpeering-external-exists", "ExternalPeering.Validate (api/vpc/v1beta1/externalpeering_types.go)"
)
R_EPEER_NS = _rule(
    "externalpeering-same-ipv4namespace", "ExternalPeering.Validate (api/vpc/v1beta1/externalpeering_types.go)"
)
R_EPEER_SUBNET = _rule(
    "externalpeering-subnet-exists", "ExternalPeering.Validate (api/vpc/v1beta1/externalpeering_types.go)"
)


def _check_externals(fabric: _Fabric) -> None:
    """External.Validate, `if kube != nil`: its IPv4Namespace exists."""
    for res, spec in fabric.of("External"):
        fabric.missing(R_EXT_NS, res, ["ipv4Namespace"], "IPv4Namespace", spec.get("ipv4Namespace"), "IPv4Namespace")


def _check_external_attachments(fabric: _Fabric) -> None:
    """ExternalAttachment.Validate, `if kube != nil`: the External exists and is static exactly
    when the attachment is; the connection exists and is `external`; no other attachment of
    the connection uses the same VLAN (switch.vlan, static.vlan for a static one)."""
    vlans: dict[tuple[str, Any], FabricResource] = {}
    for res, spec in fabric.of("ExternalAttachment"):
        static = spec.get("static")
        ext = fabric.get("External", spec.get("external"))
        if ext is None:
            if fabric.missing(R_EATT_EXT, res, ["external"], "External", spec.get("external"), "external"):
                continue
        elif (static is None) != (ext[1].get("static") is None):
            fabric.add(
                R_EATT_STATIC,
                res,
                ["static"] if static is not None else ["external"],
                f"external attachment is {'' if static is not None else 'not '}static but external "
                f"{spec.get('external')} is{' not' if static is not None else ''} ({ext[0].where()})",
                ext[0],
            )
            continue
        connection = spec.get("connection")
        conn = fabric.get("Connection", connection)
        if conn is None:
            fabric.missing(R_EATT_CONN, res, ["connection"], "Connection", connection, "connection")
            continue
        if conn[1].get("external") is None:
            fabric.add(
                R_EATT_CONN_TYPE,
                res,
                ["connection"],
                f"connection {connection} is {_connection_type(conn[1])}, not external ({conn[0].where()})",
                conn[0],
            )
            continue
        vlan = (static or {}).get("vlan", 0) if isinstance(static, dict) else (spec.get("switch") or {}).get("vlan", 0)
        key = (str(connection), vlan or 0)
        other = vlans.get(key)
        if other is not None:
            at: list[str | int] = ["static", "vlan"] if isinstance(static, dict) else ["switch", "vlan"]
            fabric.add(
                R_EATT_VLAN,
                res,
                at,
                f"connection {connection} already has an external attachment with VLAN {vlan or 0}: {_there(other)}",
                other,
            )
        else:
            vlans[key] = res


def _check_external_peerings(fabric: _Fabric) -> None:
    """ExternalPeering.Validate, `if kube != nil`: the VPC and the External exist, share their
    IPv4Namespace, and every permitted subnet is the VPC's."""
    for res, spec in fabric.of("ExternalPeering"):
        permit = spec.get("permit") or {}
        vpc_name = (permit.get("vpc") or {}).get("name")
        ext_name = (permit.get("external") or {}).get("name")
        vpc = fabric.get("VPC", vpc_name)
        if vpc is None:
            fabric.missing(R_EPEER_VPC, res, ["permit", "vpc", "name"], "VPC", vpc_name, "vpc")
            continue
        ext = fabric.get("External", ext_name)
        if ext is None:
            if fabric.missing(R_EPEER_EXT, res, ["permit", "external", "name"], "External", ext_name, "external"):
                continue
        elif vpc[1].get("ipv4Namespace") != ext[1].get("ipv4Namespace"):
            fabric.add(
                R_EPEER_NS,
                res,
                ["permit", "external", "name"],
                f"VPC {vpc_name}'s IPv4 namespace {vpc[1].get('ipv4Namespace')} ({vpc[0].where()}) is different from "
                f"external {ext_name}'s IPv4 namespace {ext[1].get('ipv4Namespace')} ({ext[0].where()})",
                ext[0],
            )
            continue
        for idx, subnet in enumerate((permit.get("vpc") or {}).get("subnets") or []):
            if subnet not in (vpc[1].get("subnets") or {}):
                fabric.add(
                    R_EPEER_SUBNET,
                    res,
                    ["permit", "vpc", "subnets", idx],
                    f"VPC {vpc_name} does not have subnet {subnet} ({vpc[0].where('spec.subnets')})",
                    vpc[0],
                )


# ---------------------------------------------------------------------------------------------
# Switch

R_SW_VLANNS = _rule("switch-vlannamespace-exists", "Switch.Validate (api/wiring/v1beta1/switch_types.go)")
R_SW_VLANNS_OVERLAP = _rule("switch-vlannamespaces-overlap", "Switch.Validate (api/wiring/v1beta1/switch_types.go)")
R_SW_GROUP = _rule("switch-group-exists", "Switch.Validate (api/wiring/v1beta1/switch_types.go)")
R_SW_IP = _rule(
    "switch-ip-unique",
    "Switch.HydrationValidation (api/wiring/v1beta1/switch_types.go); getHydration (fabricator pkg/hhfab/hydrate.go)",
)
R_SW_PROTOCOL_IP = _rule(
    "switch-protocol-ip-unique",
    "Switch.HydrationValidation (api/wiring/v1beta1/switch_types.go); getHydration (fabricator pkg/hhfab/hydrate.go)",
)
R_SW_VTEP_IP = _rule(
    "switch-vtep-ip-unique",
    "Switch.HydrationValidation (api/wiring/v1beta1/switch_types.go); getHydration (fabricator pkg/hhfab/hydrate.go)",
)
R_SW_ASN = _rule(
    "switch-leaf-asn-unique",
    "Switch.HydrationValidation (api/wiring/v1beta1/switch_types.go); getHydration (fabricator pkg/hhfab/hydrate.go)",
)
LEAF_ROLES = ("server-leaf", "border-leaf", "mixed-leaf")  # SwitchRole.IsLeaf (switch_types.go)


def _check_switches(fabric: _Fabric) -> None:
    """Switch.Validate, `if kube != nil`: every VLANNamespace and SwitchGroup it names exists
    (after Default(), which adds `default` and the redundancy group) and the ranges of its
    namespaces do not overlap (meta.CheckVLANRangesOverlap). Switch.HydrationValidation and
    hhfab's getHydration, for the values hydration filled in: management IPs, protocol IPs and
    VTEP IPs are unique, and so are leaf ASNs; MCLAG peers share their ASN and VTEP IP."""
    mgmt: dict[Any, FabricResource] = {}
    protocol: dict[Any, FabricResource] = {}
    vtep: dict[Any, FabricResource] = {}
    asns: dict[Any, FabricResource] = {}
    for res, spec in fabric.of("Switch"):
        ranges: list[tuple[int, int, str]] = []
        written_ns = res.spec.get("vlanNamespaces") or []
        for ns in spec.get("vlanNamespaces") or []:
            found = fabric.get("VLANNamespace", ns)
            if found is None:
                at_ns: list[str | int] = (
                    ["vlanNamespaces", written_ns.index(ns)] if ns in written_ns else ["vlanNamespaces"]
                )
                fabric.missing(R_SW_VLANNS, res, at_ns, "VLANNamespace", ns, "VLANNamespace")
                continue
            ranges.extend((lo, hi, ns) for lo, hi in _ranges(found[1]))
        ranges.sort()
        for prev, cur in zip(ranges, ranges[1:]):
            if prev[1] >= cur[0]:
                fabric.add(
                    R_SW_VLANNS_OVERLAP,
                    res,
                    ["vlanNamespaces"],
                    f"VLAN ranges of its VLANNamespaces overlap: {prev[0]}-{prev[1]} ({prev[2]}) and "
                    f"{cur[0]}-{cur[1]} ({cur[2]})",
                )
                break
        written = res.spec.get("groups") or []  # paths point into the document, not the sorted copy
        for group in spec.get("groups") or []:
            if group:
                at: list[str | int] = ["groups", written.index(group)] if group in written else ["redundancy", "group"]
                fabric.missing(R_SW_GROUP, res, at, "SwitchGroup", group, "switch group")
        redundancy = spec.get("redundancy") or {}
        mclag_group = redundancy.get("group") if redundancy.get("type") == "mclag" else None
        leaf = spec.get("role") in LEAF_ROLES
        ip = _network(spec.get("ip"))
        if ip is not None:
            _unique(fabric, R_SW_IP, res, ["ip"], mgmt, (ip.version, ip.addr), f"management IP {spec.get('ip')}")
        if spec.get("protocolIP"):
            _unique(
                fabric,
                R_SW_PROTOCOL_IP,
                res,
                ["protocolIP"],
                protocol,
                spec["protocolIP"],
                f"protocol IP {spec['protocolIP']}",
            )
        # MCLAG peers share their VTEP IP and ASN (the exception in both upstream functions)
        if leaf and spec.get("vtepIP"):
            _unique(
                fabric, R_SW_VTEP_IP, res, ["vtepIP"], vtep, spec["vtepIP"], f"VTEP IP {spec['vtepIP']}", mclag_group
            )
        if leaf and spec.get("asn"):
            _unique(fabric, R_SW_ASN, res, ["asn"], asns, spec["asn"], f"leaf ASN {spec['asn']}", mclag_group)


def _unique(
    fabric: _Fabric,
    rule: str,
    res: FabricResource,
    at: list[str | int],
    seen: dict[Any, FabricResource],
    key: Any,
    what: str,
    mclag_group: str | None = None,
) -> None:
    other = seen.get(key)
    if other is None:
        seen[key] = res
        return
    if mclag_group is not None:
        peer = fabric.spec_of(other).get("redundancy") or {}
        if peer.get("type") == "mclag" and peer.get("group") == mclag_group:
            return
    fabric.add(
        rule,
        res,
        at,
        f"{what} of switch {res.name} is already used by {_there(other, format_path(['spec', *at]))}",
        other,
    )


# ---------------------------------------------------------------------------------------------
# Connection

R_CONN_SWITCH = _rule("connection-switch-exists", "Connection.Validate (api/wiring/v1beta1/connection_types.go)")
R_CONN_SERVER = _rule("connection-server-exists", "Connection.Validate (api/wiring/v1beta1/connection_types.go)")
R_CONN_ESLAG = _rule("connection-eslag-redundancy", "Connection.Validate (api/wiring/v1beta1/connection_types.go)")
R_CONN_PORT = _rule("connection-port-unique", "Connection.Validate (api/wiring/v1beta1/connection_types.go)")
R_CONN_LINK_IP = _rule("connection-link-ip", "Connection.Validate (api/wiring/v1beta1/connection_types.go)")

# ConnectionSpec.Endpoints: for each type, the links and the role of each end. MCLAG and
# mclagDomain connections are skipped by Endpoints and Connection.Validate ("deprecated").
_SHAPES: dict[str, tuple[bool, tuple[tuple[str, str], ...]]] = {
    # type: (one `link` rather than `links`, ((end, device kind), ...))
    "unbundled": (True, (("server", "Server"), ("switch", "Switch"))),
    "bundled": (False, (("server", "Server"), ("switch", "Switch"))),
    "eslag": (False, (("server", "Server"), ("switch", "Switch"))),
    "fabric": (False, (("spine", "Switch"), ("leaf", "Switch"))),
    "mesh": (False, (("leaf1", "Switch"), ("leaf2", "Switch"))),
    "gateway": (False, (("switch", "Switch"), ("gateway", "Gateway"))),
    "vpcLoopback": (False, (("switch1", "Switch"), ("switch2", "Switch"))),
    "external": (True, (("switch", "Switch"),)),
    "staticExternal": (True, (("switch", "Switch"),)),
}
_DEPRECATED_SHAPES = ("mclag", "mclagDomain")
_ALL_SHAPES = frozenset((*_SHAPES, *_DEPRECATED_SHAPES))
_LINK_IP_SHAPES = {"fabric": ("spine", "leaf"), "mesh": ("leaf1", "leaf2"), "gateway": ("switch", "gateway")}


def _connection_type(spec: Mapping[str, Any]) -> str:
    """ConnectionSpec.Type (connection_types.go), with the deprecated kinds named too."""
    for key in spec:
        if key in _ALL_SHAPES and spec[key] is not None:
            return key
    return "invalid"


def _links(spec: Mapping[str, Any], shape: str) -> list[tuple[int | None, dict[str, Any]]]:
    single, _ends = _SHAPES[shape]
    body = spec.get(shape) or {}
    if single:
        link = body.get("link")
        return [(None, link)] if isinstance(link, dict) else []
    return [(i, link) for i, link in enumerate(body.get("links") or []) if isinstance(link, dict)]


def _link_devices(spec: Mapping[str, Any], shape: str, end: str) -> list[str]:
    out: list[str] = []
    for _idx, link in _links(spec, shape):
        port = (link.get(end) or {}).get("port")
        if isinstance(port, str) and "/" in port:
            device = port.split("/", 1)[0]
            if device not in out:
                out.append(device)
    return out


def _check_connections(fabric: _Fabric) -> None:
    """Connection.Validate, `if kube != nil`: every switch and server of its ports exists; the
    switches of an ESLAG connection share one redundancy group of type eslag; no port is used
    by another connection (`<device>/E1/4` also means its first breakout `E1/4/1`); fabric,
    mesh and gateway link IPs are /31s of one subnet per link, used once in the fabric."""
    ports: dict[str, tuple[FabricResource, list[str | int]]] = {}
    link_ips: dict[tuple[int, int], tuple[FabricResource, list[str | int]]] = {}
    devices = {kind: fabric.by_kind.get(kind, {}) for kind in ("Switch", "Server")}
    judged = {kind: fabric.judged(kind) for kind in ("Switch", "Server")}
    for res, spec in fabric.of("Connection"):
        shape = _connection_type(spec)
        if shape not in _SHAPES:
            continue
        single, ends = _SHAPES[shape]
        reported_device = False
        eslag_groups: list[tuple[str, Any, Any, FabricResource]] = []
        own: list[tuple[str, int | None, str]] = []
        for idx, link in _links(spec, shape):
            for end, device_kind in ends:
                endpoint = link.get(end)
                port = endpoint.get("port") if isinstance(endpoint, dict) else None
                if not isinstance(port, str):
                    continue
                device, slash, _ = port.partition("/")
                if not slash:
                    continue
                own.append((port, idx, end))
                known = devices.get(device_kind)
                if known is None:
                    continue  # a Gateway: not managed here
                found = known.get(device)
                if found is None:
                    if not reported_device and judged[device_kind]:
                        rule = R_CONN_SWITCH if device_kind == "Switch" else R_CONN_SERVER
                        at = _port_path(shape, single, idx, end)
                        fabric.add(rule, res, at, f"{device_kind.lower()} {device} of port {port} does not exist")
                        reported_device = True
                    continue
                if shape == "eslag" and device_kind == "Switch":
                    redundancy = found[1].get("redundancy") or {}
                    eslag_groups.append((device, redundancy.get("group"), redundancy.get("type"), found[0]))
        if eslag_groups and not reported_device:
            _eslag(fabric, res, eslag_groups)
        for port, idx, end in own:
            breakout = port.count("/") == 2
            other = ports.get(port) or (ports.get(port + "/1") if breakout else None)
            if other is not None and other[0] is not res:
                other_res, other_at = other
                fabric.add(
                    R_CONN_PORT,
                    res,
                    _port_path(shape, single, idx, end),
                    f"port {port} is already used by connection {other_res.name} "
                    f"({other_res.where(format_path(['spec', *other_at]))})",
                    other_res,
                )
                continue
            place = (res, _port_path(shape, single, idx, end))
            ports.setdefault(port, place)
            if breakout:
                ports.setdefault(port + "/1", place)
        if shape in _LINK_IP_SHAPES:
            _link_ips(fabric, res, spec, shape, [shape, "links"], link_ips)


def _port_path(shape: str, single: bool, idx: int | None, end: str) -> list[str | int]:
    return [shape, "link", end, "port"] if single else [shape, "links", idx if idx is not None else 0, end, "port"]


def _eslag(fabric: _Fabric, res: FabricResource, switches: list[tuple[str, Any, Any, FabricResource]]) -> None:
    group = None
    for device, g, t, sw in switches:
        if g and group is not None and g != group[0]:
            fabric.add(
                R_CONN_ESLAG,
                res,
                ["eslag", "links"],
                f"all switches of an ESLAG connection must share one redundancy group: {device} is in {g} "
                f"({sw.where('spec.redundancy.group')}), {group[1]} in {group[0]}",
                sw,
            )
            return
        if g and group is None:
            group = (g, device)
        if t != "eslag":
            fabric.add(
                R_CONN_ESLAG,
                res,
                ["eslag", "links"],
                f"all switches of an ESLAG connection must have redundancy type eslag: {device} has "
                f"{t or 'none'} ({sw.where('spec.redundancy')})",
                sw,
            )
            return
    if group is None:
        fabric.add(
            R_CONN_ESLAG, res, ["eslag", "links"], "all switches of an ESLAG connection must have a redundancy group"
        )


def _link_ips(
    fabric: _Fabric,
    res: FabricResource,
    spec: Mapping[str, Any],
    shape: str,
    base: list[str | int],
    seen: dict[tuple[int, int], tuple[FabricResource, list[str | int]]],
) -> None:
    a_end, b_end = _LINK_IP_SHAPES[shape]
    for idx, link in _links(spec, shape):
        a_ip, b_ip = (link.get(a_end) or {}).get("ip"), (link.get(b_end) or {}).get("ip")
        if not a_ip or not b_ip:
            continue  # "if link.Spine.IP == "" || link.Leaf.IP == "" { continue }"
        nets = []
        for end, text in ((a_end, a_ip), (b_end, b_ip)):
            at = [*base, idx if idx is not None else 0, end, "ip"]
            net = _network(text)
            if net is None or net.bits != 31:
                fabric.add(R_CONN_LINK_IP, res, at, f"{shape} link {idx} {end} IP {text} is not a /31")
                return
            key = (net.version, net.addr)
            other = seen.get(key)
            if other is not None:
                fabric.add(
                    R_CONN_LINK_IP,
                    res,
                    at,
                    f"{shape} link {idx} {end} IP {text} is already in use by connection {other[0].name} "
                    f"({other[0].where(format_path(['spec', *other[1]]))})",
                    other[0],
                )
                return
            seen[key] = (res, at)
            nets.append(net)
        if nets[0].first != nets[1].first:
            fabric.add(
                R_CONN_LINK_IP,
                res,
                [*base, idx if idx is not None else 0],
                f"{shape} link {idx} {a_end} IP {a_ip} and {b_end} IP {b_ip} are not in the same subnet",
            )


_CHECKS = (
    _check_switches,
    _check_connections,
    _check_vpcs,
    _check_vpc_attachments,
    _check_vpc_peerings,
    _check_externals,
    _check_external_attachments,
    _check_external_peerings,
)
