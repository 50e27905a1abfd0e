#!/usr/bin/env python3
"""Whole-fabric validation time for 1,000 and 10,000 documents (target: 10,000 in < 0.5 s).

    python -m bench.fabric_rules [--sizes 1000,10000] [--repeat 5]

Pure core, no I/O but reading the samples. The fabric is built from the real lab-ci wiring
(../shared/hedgehog/samples): its VLANNamespace and IPv4Namespace once (the IPv4Namespace
widened to 10.0.0.0/8), then copies of its SwitchGroups, Switches, Servers, Connections,
Externals and ExternalAttachments, every name and every reference renamed per copy (ports
"<device>/<port>" included), so the copies hold together; and VPCs made from demo-gitops'
`demo-vpc-1` (one subnet each, its own /24 and VLAN), each attached to an unbundled, bundled
or ESLAG connection of a copy. About 30 % of the documents are VPCs and attachments. The
fabric is consistent: the run also counts the violations found, which must be 0.

Timed: `validate_fabric` over the resources (defaulting included), best of --repeat, each run
cold (its parsed-address caches cleared first). Prints a table and writes
bench/results/fabric_rules.json.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import SHARED, print_table, write_results  # noqa: E402
from bot.core.fabric_rules import RULES, FabricResource, clear_caches, validate_fabric  # noqa: E402
from bot.core.validation import validate_body  # noqa: E402

SAMPLES = SHARED / "hedgehog" / "samples"
COPIED = ("SwitchGroup", "Switch", "Server", "Connection", "External", "ExternalAttachment")
TARGET_SECONDS = 0.5
VPC_SHARE = 0.3


def _load(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((SAMPLES / name).read_text()) if d]


def _renamer(names: dict[str, str]):
    pattern = re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True))) + r")(?=$|/)")

    def rename(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: rename(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v) for v in value]
        if isinstance(value, str):
            return pattern.sub(lambda m: names[m.group(1)], value)
        return value

    return rename


def build(count: int) -> list[FabricResource]:
    lab = [d for d in _load("lab-ci_wiring.yaml") if not validate_body(d)]  # its one invalid document left out
    namespaces = [copy.deepcopy(d) for d in lab if d["kind"] in ("VLANNamespace", "IPv4Namespace")]
    for doc in namespaces:
        if doc["kind"] == "IPv4Namespace":
            doc["spec"]["subnets"] = ["10.0.0.0/8"]
    templates = [d for d in lab if d["kind"] in COPIED]
    vpc_template = next(d for d in _load("demo-gitops_pre-demo.yaml") if d["kind"] == "VPC")
    attachable = [d["metadata"]["name"] for d in templates if d["kind"] == "Connection" and _attachable(d)]

    vpcs = int(count * VPC_SHARE) // 2
    copies = max(1, (count - len(namespaces) - 2 * vpcs + len(templates) - 1) // len(templates))
    docs: list[dict[str, Any]] = list(namespaces)
    for c in range(copies):
        names = {d["metadata"]["name"]: f"{d['metadata']['name']}-{c}" for d in templates if d["kind"] != "External"}
        rename = _renamer(names)
        for template in templates:
            doc = rename(copy.deepcopy(template))
            if doc["kind"] == "External":  # names of at most 11 characters; "default" is also a namespace
                doc["metadata"]["name"] = _external(doc["metadata"]["name"], c)
            elif doc["kind"] == "ExternalAttachment":
                doc["spec"]["external"] = _external(doc["spec"]["external"], c)
            docs.append(doc)
    for i in range(vpcs):
        vpc = copy.deepcopy(vpc_template)
        name = f"v{i}"
        net = f"10.{1 + i // 256}.{i % 256}"
        subnet = vpc["spec"]["subnets"]["default"]
        subnet.update(subnet=f"{net}.0/24", vlan=1000 + i % 2000)
        subnet["dhcp"]["range"] = {"start": f"{net}.10", "end": f"{net}.99"}
        vpc["metadata"]["name"] = name
        connection = f"{attachable[i % len(attachable)]}-{i // len(attachable) % copies}"
        attachment = {
            "apiVersion": "vpc.githedgehog.com/v1beta1",
            "kind": "VPCAttachment",
            "metadata": {"name": f"{name}--{connection}"},
            "spec": {"connection": connection, "subnet": f"{name}/default"},
        }
        docs.extend([vpc, attachment])
    docs = docs[:count]
    return [
        FabricResource(
            d["kind"], d["metadata"]["name"], d.get("spec") or {}, d.get("metadata"), f"part-{n // 10:04}.yaml", 1
        )
        for n, d in enumerate(docs)
    ]


def _external(name: str, copy_no: int) -> str:
    return f"{name[:4]}{copy_no}"


def _attachable(conn: dict[str, Any]) -> bool:
    return any(k in conn["spec"] for k in ("unbundled", "bundled", "eslag"))


def measure(resources: list[FabricResource], repeat: int) -> tuple[float, int]:
    best = float("inf")
    found = 0
    for _ in range(repeat):
        clear_caches()  # every run parses its addresses, as the first ingest of a process does
        started = time.perf_counter()
        found = len(validate_fabric(resources))
        best = min(best, time.perf_counter() - started)
    return best, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not (SAMPLES / "lab-ci_wiring.yaml").is_file():
        print(f"sample wirings not found under {SAMPLES}", file=sys.stderr)
        return 2
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        resources = build(size)
        kinds: dict[str, int] = {}
        for r in resources:
            kinds[r.kind] = kinds.get(r.kind, 0) + 1
        seconds, violations = measure(resources, args.repeat)
        rows.append(
            {
                "documents": len(resources),
                "seconds": round(seconds, 4),
                "violations": violations,
                "vpcs": kinds.get("VPC", 0),
                "connections": kinds.get("Connection", 0),
                "kinds": kinds,
            }
        )
    print_table(rows, ["documents", "seconds", "violations", "vpcs", "connections"], "whole-fabric validation")
    write_results(
        "fabric_rules",
        {"settings": {"repeat": args.repeat, "rules": len(RULES), "target_seconds": TARGET_SECONDS}, "results": rows},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
