#!/usr/bin/env python3
"""Parse + validate time for 1 to 10,000 real wiring documents (pure core, no I/O but reading
the samples).

    python bench/parse_validate.py [--samples ../shared/hedgehog/samples] [--repeat 3]

The documents are the real sample wirings (lab-ci, gitops-test-1) replicated with renamed
resources (each copy's names get a `-<n>` suffix, names limited to 11 characters get a short
`x<n>` form), written as one multi-document file per size, and read with parse_file then
validate_document (fast path: first error only) as ingestion does. Prints the best of --repeat.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.documents import parse_file  # noqa: E402
from bot.core.validation import NAME_LIMITS, classify, validate_document  # noqa: E402

WIRINGS = ("lab-ci_wiring.yaml", "gitops-test-1_prepop.yaml")


def corpus(samples: Path, count: int) -> bytes:
    originals = []
    for name in WIRINGS:
        originals.extend(d for d in yaml.load_all((samples / name).read_bytes(), Loader=yaml.CSafeLoader) if d)
    docs = []
    copy_no = 0
    while len(docs) < count:
        for body in originals:
            if len(docs) == count:
                break
            body = yaml.load(yaml.dump(body, Dumper=yaml.CSafeDumper), Loader=yaml.CSafeLoader)
            if copy_no:
                old = body["metadata"]["name"]
                limit = NAME_LIMITS.get(body["kind"])
                body["metadata"]["name"] = f"x{copy_no}{old[:3]}"[:limit] if limit else f"{old}-{copy_no}"
            docs.append(body)
        copy_no += 1
    return yaml.dump_all(docs, Dumper=yaml.CSafeDumper, sort_keys=False).encode()


def measure(data: bytes, repeat: int) -> tuple[float, float, int, int]:
    best_parse = best_validate = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        parsed = parse_file("wiring.yaml", data)
        parsed_at = time.perf_counter()
        failing = 0
        for doc in parsed.documents:
            if classify(doc).hedgehog and validate_document(doc, all_errors=False):
                failing += 1
        done = time.perf_counter()
        best_parse = min(best_parse, parsed_at - started)
        best_validate = min(best_validate, done - parsed_at)
    return best_parse, best_validate, len(parsed.documents), failing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT / ".." / "shared" / "hedgehog" / "samples")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not all((args.samples / name).is_file() for name in WIRINGS):
        print(f"sample wirings not found under {args.samples}", file=sys.stderr)
        return 2
    print(f"{'documents':>9} {'bytes':>10} {'parse s':>8} {'validate s':>10} {'total s':>8} {'invalid':>7}")
    for count in (1, 10, 100, 1_000, 10_000):
        data = corpus(args.samples, count)
        parse_s, validate_s, docs, failing = measure(data, args.repeat)
        print(
            f"{docs:>9} {len(data):>10,} {parse_s:>8.3f} {validate_s:>10.3f} {parse_s + validate_s:>8.3f} {failing:>7}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
