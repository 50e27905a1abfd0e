"""A fixed reference workload, timed beside every benchmark run, so that a change of code and a
change of machine can be told apart.

This machine's speed moves by 2-3x between runs (other tenants, CPU frequency). The yardstick
does the same work every time, none of it the project's own code:

- cpu: parse a fixed 2,000-document YAML text with libyaml and round-trip the result through JSON;
- db:  insert 5,000 rows with executemany, read them back, then 500 single-row SELECTs, on the
  benchmark's PostgreSQL (a database of its own).

Each is the best of several repetitions (the least disturbed one). `python -m bench` runs it first
and reports every timing target beside it: the figure as measured, its ratio to the yardstick,
and the figure scaled to the quiet reference below (measured x reference / today's yardstick),
which is what the target is judged on.

    python -m bench.yardstick
"""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from bench.common import _database, print_table, write_results

# The yardstick on a quiet run of this machine (nothing else running; `python -m bench.yardstick`,
# best of three runs). Timing targets are judged against these.
QUIET_REFERENCE: dict[str, Any] = {
    "cpu_ms": 176.0,
    "db_ms": 58.0,
    "measured": "2026-12-01, 2 CPUs, load average 1.0, best of three runs",
}

CPU_REPEATS = 5
DB_REPEATS = 3


def _fixed_yaml(documents: int = 2000) -> str:
    parts = []
    for i in range(documents):
        parts.append(
            "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata:\n"
            f"  name: vpc-{i}\n  namespace: default\n  labels:\n    team: t{i % 7}\n"
            "spec:\n  ipv4Namespace: default\n  vlanNamespace: default\n  subnets:\n"
            f"    default:\n      subnet: 10.{i // 250}.{i % 250}.0/24\n      gateway: 10.{i // 250}.{i % 250}.1\n"
            f"      vlan: {1000 + i}\n      dhcp:\n        enable: true\n        range:\n"
            f"          start: 10.{i // 250}.{i % 250}.10\n"
        )
    return "---\n".join(parts)


FIXED_YAML = _fixed_yaml()


def cpu_workload() -> float:
    """Seconds for one pass of the CPU workload."""
    began = time.perf_counter()
    documents = list(yaml.load_all(FIXED_YAML, Loader=yaml.CSafeLoader))
    json.loads(json.dumps(documents))
    return time.perf_counter() - began


async def db_workload(dsn: str) -> float:
    """Seconds for one pass of the database workload."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("DROP TABLE IF EXISTS yardstick; CREATE TABLE yardstick (id int PRIMARY KEY, v text)")
        began = time.perf_counter()
        await connection.executemany("INSERT INTO yardstick VALUES ($1, $2)", [(i, f"v{i}") for i in range(5000)])
        rows = await connection.fetch("SELECT id, v FROM yardstick ORDER BY id")
        assert len(rows) == 5000
        for i in range(0, 5000, 10):
            await connection.fetchval("SELECT v FROM yardstick WHERE id = $1", i)
        return time.perf_counter() - began
    finally:
        await connection.close()


async def measure() -> dict[str, Any]:
    cpu = min(cpu_workload() for _ in range(CPU_REPEATS))
    with tempfile.TemporaryDirectory(prefix="hnp-bench-yardstick-") as tmp:
        async with _database(Path(tmp), "yardstick") as dsn:
            db = min([await db_workload(dsn) for _ in range(DB_REPEATS)])
    return {"cpu_ms": round(cpu * 1000, 1), "db_ms": round(db * 1000, 1)}


def scale_factor(today: dict[str, Any], kind: str) -> float:
    """How much slower today's machine is than the quiet reference (1.0: as quiet; 2.0: twice as
    slow), for a figure bound by `kind`: 'cpu', 'db', or 'mixed' (their geometric mean)."""
    cpu = today["cpu_ms"] / QUIET_REFERENCE["cpu_ms"]
    db = today["db_ms"] / QUIET_REFERENCE["db_ms"]
    return {"cpu": cpu, "db": db, "mixed": math.sqrt(cpu * db)}[kind]


def main() -> None:
    today = asyncio.run(measure())
    rows = [
        {"workload": kind, "today_ms": today[f"{kind}_ms"], "quiet_reference_ms": QUIET_REFERENCE[f"{kind}_ms"]}
        for kind in ("cpu", "db")
    ]
    for row, kind in zip(rows, ("cpu", "db")):
        row["slower_than_quiet"] = f"{scale_factor(today, kind):.2f}x"
    print_table(rows, ("workload", "today_ms", "quiet_reference_ms", "slower_than_quiet"), title="yardstick")
    write_results("yardstick", {"benchmark": "yardstick", **today, "quiet_reference": QUIET_REFERENCE})


if __name__ == "__main__":
    main()
