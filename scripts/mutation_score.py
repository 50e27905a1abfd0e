"""Scores of the last mutation run (scripts/mutation), per module of bot/core, on the mutants
that are not listed as equivalent in mutation-equivalents.md.

A listed mutant is excluded only while it still is the change the list describes: each entry
gives the mutated line as mutmut writes it, and an entry whose mutant now changes something
else (the function was edited, mutmut renumbered its mutants) is reported as stale and the
mutant counts like any other. `--survivors` prints every surviving mutant's change.

Usage: .venv/bin/python scripts/mutation_score.py [--survivors] [module ...]
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants" / "bot" / "core"
EQUIVALENTS = ROOT / "mutation-equivalents.md"

# mutmut's exit codes (mutmut/stats.py): killed by a failing test, a timeout or the type checker.
KILLED = {1, 3, 24, -24, 36, 37, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}

# An entry: | `bot.core.x.x_f__mutmut_3` | `mutated line` | why it is equivalent |
_ENTRY = re.compile(r"^\|\s*`(?P<name>bot\.core\.[^`]+)`\s*\|\s*`(?P<line>(?:[^`]|``)*)`\s*\|(?P<reason>.*)\|\s*$")


@dataclass
class Score:
    module: str
    killed: int = 0
    survived: list[str] = field(default_factory=list)
    no_tests: list[str] = field(default_factory=list)
    not_run: int = 0
    equivalent: int = 0
    stale: list[str] = field(default_factory=list)

    @property
    def counted(self) -> int:
        return self.killed + len(self.survived) + len(self.no_tests)

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.counted if self.counted else 100.0


def read_equivalents() -> dict[str, str]:
    """{mutant name: the mutated line the entry describes}."""
    if not EQUIVALENTS.exists():
        return {}
    out = {}
    for line in EQUIVALENTS.read_text().splitlines():
        match = _ENTRY.match(line)
        if match:
            out[match.group("name")] = match.group("line").replace("``", "`").strip()
    return out


def mutant_functions(module: str) -> dict[str, str]:
    """{function name in the mutants file: its source} for one module."""
    source = (MUTANTS / f"{module}.py").read_text()
    lines = source.splitlines()
    return {
        node.name: "\n".join(lines[node.lineno - 1 : node.end_lineno])
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def changed_line(functions: dict[str, str], mutant: str) -> str:
    """The line a mutant changes, as it reads in the mutant ('' for a removed line)."""
    local = mutant.rsplit(".", 1)[1]
    original = functions.get(re.sub(r"__mutmut_\d+$", "__mutmut_orig", local), "")
    mutated = functions.get(local, "")
    body = [line.strip() for line in mutated.splitlines()[1:]]
    before = [line.strip() for line in original.splitlines()[1:]]
    for op in difflib.ndiff(before, body):
        if op.startswith("+ "):
            return op[2:]
    # the signature changed (a default value): the def line, under the function's own name
    signature = mutated.splitlines()[0].strip() if mutated else ""
    return re.sub(r"^(async )?def \S+?__mutmut_\d+\(", lambda m: f"{m.group(1) or ''}def {_plain(local)}(", signature)


def _plain(local: str) -> str:
    """The source name of a mutated function: x_name__mutmut_3 -> name, xǁClassǁname__mutmut_3 -> name."""
    name = re.sub(r"__mutmut_\d+$", "", local)
    return name.rsplit("ǁ", 1)[-1] if "ǁ" in name else name[2:]


def score(module: str, equivalents: dict[str, str]) -> Score:
    meta = json.loads((MUTANTS / f"{module}.py.meta").read_text())
    functions = mutant_functions(module)
    result = Score(module)
    for name, code in sorted(meta["exit_code_by_key"].items()):
        if name in equivalents:
            if changed_line(functions, name) == equivalents[name]:
                result.equivalent += 1
                continue
            result.stale.append(name)
        if code is None:
            result.not_run += 1
        elif code in KILLED:
            result.killed += 1
        elif code in NO_TESTS:
            result.no_tests.append(name)
        else:  # survived, or anything mutmut could not classify
            result.survived.append(name)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--survivors", action="store_true", help="print each surviving mutant's change")
    parser.add_argument("modules", nargs="*", help="modules of bot/core (default: every one measured)")
    args = parser.parse_args(argv)
    if not MUTANTS.exists():
        print("no mutation run yet: run scripts/mutation first", file=sys.stderr)
        return 2
    modules = args.modules or sorted(p.name[: -len(".py.meta")] for p in MUTANTS.glob("*.py.meta"))
    equivalents = read_equivalents()
    print(f"{'module':<12} {'killed':>7} {'survived':>9} {'no test':>8} {'equivalent':>11} {'score':>8}")
    for module in modules:
        s = score(module, equivalents)
        if s.counted == 0 and s.equivalent == 0:
            continue
        note = f"  ({s.not_run} not run)" if s.not_run else ""
        print(
            f"{module:<12} {s.killed:>7} {len(s.survived):>9} {len(s.no_tests):>8} {s.equivalent:>11}"
            f" {s.percent:>7.1f}%{note}"
        )
        for name in s.stale:
            print(f"  stale entry in {EQUIVALENTS.name}: {name} no longer changes the line it names")
        if args.survivors:
            functions = mutant_functions(module)
            for name in s.survived + s.no_tests:
                print(f"  {name}: {changed_line(functions, name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
