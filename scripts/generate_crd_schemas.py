#!/usr/bin/env python3
"""Generate bot/schemas/<Kind>.json from the Hedgehog CRDs, so the bot ships the schemas it
validates against and never needs the CRD files at run time.

    python scripts/generate_crd_schemas.py [CRD_DIR] [--out bot/schemas] [--check]

CRD_DIR defaults to ../shared/hedgehog/crds (relative to the repository root). For every kind in
bot.core.kinds it reads `<group>_<plural>.yaml`, takes the OpenAPI v3 schema of the kind's
version and writes JSON with:

    kind, group, version, plural, source {file, sha256},
    spec    - JSON Schema (draft 7) of `spec`,
    object  - JSON Schema (draft 7) of the whole object (apiVersion, kind, metadata, spec, status)

OpenAPI -> JSON Schema conversion (see `convert`):
- `nullable: true` -> the type also allows null;
- `x-kubernetes-int-or-string: true` -> type [integer, string];
- `x-kubernetes-preserve-unknown-fields: true` -> unknown fields allowed there;
- any other `x-kubernetes-*` key is dropped (list/map types, validations none of these CRDs use);
- an object schema with `properties` and no `additionalProperties` gets
  `additionalProperties: false`: an unknown field is an error, as `kubectl apply` reports it by
  default (strict field validation) instead of the API server silently pruning it;
- `metadata` (a bare `type: object` in every CRD) and `status` are left as they are;
- `format` and `description` are kept (informative; int32/int64 formats are not checked).

With --check nothing is written: the exit status says whether the shipped files are current.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.kinds import KINDS, Kind  # noqa: E402

DEFAULT_CRDS = ROOT / ".." / "shared" / "hedgehog" / "crds"
DEFAULT_OUT = ROOT / "bot" / "schemas"
DRAFT = "http://json-schema.org/draft-07/schema#"


def convert(schema: Any, *, strict: bool = True) -> Any:
    """An OpenAPI v3 (Kubernetes structural) schema as a JSON Schema draft 7 schema."""
    if isinstance(schema, list):
        return [convert(item, strict=strict) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    for key, value in schema.items():
        if key.startswith("x-kubernetes-") or key == "nullable":
            continue
        if key == "properties":
            out[key] = {name: convert(sub, strict=strict) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = convert(value, strict=strict)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [convert(sub, strict=strict) for sub in value]
        else:
            out[key] = value
    if schema.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    if schema.get("nullable") and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    if strict and not preserve and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def crd_file(crds: Path, kind: Kind) -> Path:
    return crds / f"{kind.group}_{kind.plural}.yaml"


def schema_for(crds: Path, kind: Kind) -> dict[str, Any]:
    path = crd_file(crds, kind)
    raw = path.read_bytes()
    crd = yaml.load(raw, Loader=yaml.CSafeLoader)
    spec = crd["spec"]
    if spec["group"] != kind.group or spec["names"]["kind"] != kind.kind:
        raise SystemExit(f"{path.name}: expected {kind.kind} in {kind.group}")
    versions = {v["name"]: v for v in spec["versions"]}
    if kind.version not in versions:
        raise SystemExit(f"{path.name}: no version {kind.version} (has {sorted(versions)})")
    openapi = versions[kind.version]["schema"]["openAPIV3Schema"]
    whole = convert(openapi)
    # metadata and status are not ours to constrain beyond what the CRD says
    whole["properties"]["metadata"] = openapi["properties"].get("metadata", {"type": "object"})
    whole["properties"]["status"] = convert(openapi["properties"].get("status", {"type": "object"}), strict=False)
    spec_schema = dict(whole["properties"].get("spec", {"type": "object"}))
    return {
        "kind": kind.kind,
        "group": kind.group,
        "version": kind.version,
        "plural": kind.plural,
        "source": {"file": path.name, "sha256": hashlib.sha256(raw).hexdigest()},
        "spec": {"$schema": DRAFT, **spec_schema},
        "object": {"$schema": DRAFT, **whole},
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def source_md(schemas: list[dict[str, Any]]) -> str:
    lines = [
        "# Shipped CRD schemas: origin",
        "",
        "Generated by `scripts/generate_crd_schemas.py` from the Hedgehog CRDs in",
        "`../shared/hedgehog/crds/` (the fabric's `config/crd/bases/*.yaml`, githedgehog/fabric,",
        "Apache-2.0). Do not edit by hand: rerun the script; `tests/core/test_validation.py`",
        "checks that these files equal what it generates.",
        "",
        "Each `<Kind>.json` holds the kind's group, version and plural, the source file and its",
        "sha256, and two JSON Schemas (draft 7) converted from the CRD's OpenAPI v3 schema:",
        "`spec` and `object` (the whole resource). Conversion rules are in the script's docstring;",
        "the notable one is that unknown fields are errors (`additionalProperties: false`).",
        "",
        "| Kind | apiVersion | Source file | sha256 |",
        "|---|---|---|---|",
    ]
    for s in schemas:
        lines.append(
            f"| {s['kind']} | {s['group']}/{s['version']} | `{s['source']['file']}` | `{s['source']['sha256']}` |"
        )
    return "\n".join(lines) + "\n"


def generate(crds: Path) -> dict[str, str]:
    """File name -> content of everything the script writes."""
    schemas = [schema_for(crds, kind) for kind in KINDS.values()]
    files = {f"{s['kind']}.json": render(s) for s in schemas}
    files["SOURCE.md"] = source_md(schemas)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crds", nargs="?", type=Path, default=DEFAULT_CRDS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    if not args.crds.is_dir():
        print(f"no CRD directory at {args.crds}", file=sys.stderr)
        return 2
    files = generate(args.crds)
    stale = [n for n, c in files.items() if not (args.out / n).is_file() or (args.out / n).read_text() != c]
    if args.check:
        for name in stale:
            print(f"out of date: {args.out / name}")
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (args.out / name).write_text(content)
    print(f"wrote {len(files)} files to {args.out} ({len(stale)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
