"""The emulator and the bot stay apart: neither imports the other."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_roots(folder: Path) -> dict[str, set[str]]:
    found = {}
    for path in folder.rglob("*.py"):
        roots = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = roots
    return found


def test_ghsim_does_not_import_bot_and_bot_does_not_import_ghsim():
    ghsim = imported_roots(ROOT / "ghsim")
    assert ghsim, "no ghsim modules found"
    assert [p for p, roots in ghsim.items() if "bot" in roots] == []
    assert [p for p, roots in imported_roots(ROOT / "bot").items() if "ghsim" in roots] == []
