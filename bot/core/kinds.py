"""The Hedgehog kinds this bot manages, and where each one lives in a repository.

One table, used everywhere: ingestion (is this a Hedgehog kind?), validation (which CRD and
apiVersion), and publishing (which folder a new resource's file goes to).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    kind: str  # "VPC"
    group: str  # "vpc.githedgehog.com"
    version: str  # "v1beta1" (the CRD's served and stored version)
    plural: str  # "vpcs"
    folder: str  # folder under "<directory>/managed/" for resources the bot creates
    primary: bool  # the folder's own kind: its files are "<name>.yaml", others "<name>.<kind>.yaml"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


VPC_GROUP = "vpc.githedgehog.com"
WIRING_GROUP = "wiring.githedgehog.com"

# The seed's kind-to-folder table names five folders (vpcs, externals, connections, servers,
# switches); every other kind joins the folder of the kind it belongs with.
KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (
        Kind("VPC", VPC_GROUP, "v1beta1", "vpcs", "vpcs", True),
        Kind("VPCAttachment", VPC_GROUP, "v1beta1", "vpcattachments", "vpcs", False),
        Kind("VPCPeering", VPC_GROUP, "v1beta1", "vpcpeerings", "vpcs", False),
        Kind("IPv4Namespace", VPC_GROUP, "v1beta1", "ipv4namespaces", "vpcs", False),
        Kind("External", VPC_GROUP, "v1beta1", "externals", "externals", True),
        Kind("ExternalAttachment", VPC_GROUP, "v1beta1", "externalattachments", "externals", False),
        Kind("ExternalPeering", VPC_GROUP, "v1beta1", "externalpeerings", "externals", False),
        Kind("Connection", WIRING_GROUP, "v1beta1", "connections", "connections", True),
        Kind("Server", WIRING_GROUP, "v1beta1", "servers", "servers", True),
        Kind("Switch", WIRING_GROUP, "v1beta1", "switches", "switches", True),
        Kind("SwitchGroup", WIRING_GROUP, "v1beta1", "switchgroups", "switches", False),
        Kind("VLANNamespace", WIRING_GROUP, "v1beta1", "vlannamespaces", "switches", False),
    )
}

HEDGEHOG_GROUPS = frozenset({VPC_GROUP, WIRING_GROUP})
DEFAULT_NAMESPACE = "default"  # a document without metadata.namespace is in this one


def lookup(kind: str) -> Kind | None:
    """The Kind for a kind name, case-insensitively (URLs carry `vpc` as often as `VPC`)."""
    found = KINDS.get(kind)
    if found is not None:
        return found
    lowered = kind.lower()
    for candidate in KINDS.values():
        if lowered in (candidate.kind.lower(), candidate.plural):
            return candidate
    return None
