#!/usr/bin/env python3
"""Conflict check time for 1,000 and 10,000 resources with drafts (target: 10,000 in < 1 s).

    python bench/conflicts.py [--sizes 1000,10000] [--repeat 3]

Against a real PostgreSQL: DATABASE_URL's server, else an embedded one in a temporary
directory. Each size gets a fresh migrated database and a fabric of N resources, every one
with a draft, as a busy fabric would have them:
  - 80 % drafts whose base Git did not move (the fast path),
  - 15 % drafts under which Git changed other fields (three-way, merge, CRD validation, rebase),
  -  5 % drafts where the GUI and Git changed the same VLAN (a concurrent_modification each),
over a mix of kinds (VPCs, VPCAttachments referring to them, Connections referring to
Switches and Servers), so the dependency pass has real references to follow.

Timed, each the best of --repeat on a fresh copy of the data:
  first    the first check: opens the conflicts, rebases the merged drafts (most writes)
  recheck  the same check again: nothing new (the common case: a branch moved elsewhere)
  gui_wins a sync with the gui_wins strategy: settles every conflict
Prints a table and writes bench/results/conflicts.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from bench.common import create_database, postgres_server  # noqa: E402
from bot.features import conflicts  # noqa: E402
from bot.storage import database  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=UTC)
SHA_BASE, SHA_GIT = "b" * 40, "c" * 40


def vpc_spec(i: int, vlan: int, gateway_host: int = 1) -> dict:
    third, second = i % 250, (i // 250) % 250
    return {
        "subnets": {
            "default": {
                "subnet": f"10.{second}.{third}.0/24",
                "gateway": f"10.{second}.{third}.{gateway_host}",
                "vlan": vlan,
            }
        },
        "ipv4Namespace": "default",
        "vlanNamespace": "default",
    }


def resources(n: int) -> list[tuple]:
    """(kind, name, desired, draft, base) rows: every resource has a draft."""
    out = []
    for i in range(n):
        bucket = i % 20  # 0: conflict, 1-3: Git moved other fields, else untouched base
        kind_no = i % 5
        if kind_no in (0, 1):  # VPCs
            base = vpc_spec(i, 1000 + i % 3000)
            if bucket == 0:
                draft, desired = vpc_spec(i, 1000 + (i + 1) % 3000), vpc_spec(i, 1000 + (i + 2) % 3000)
            elif bucket <= 3:
                draft, desired = vpc_spec(i, 1000 + (i + 1) % 3000), vpc_spec(i, 1000 + i % 3000, 254)
            else:
                draft, desired = vpc_spec(i, 1000 + (i + 1) % 3000), base
            out.append(("VPC", f"vpc-{i}", desired, draft, base))
        elif kind_no == 2:  # attachments of the VPC just before, over a connection
            spec = {"subnet": f"vpc-{i - 1}/default", "connection": f"conn-{i}"}
            desired = dict(spec, connection=f"conn-{i}") if bucket > 3 else dict(spec)
            out.append(("VPCAttachment", f"att-{i}", desired, dict(spec), dict(spec)))
        elif kind_no == 3:
            spec = {
                "unbundled": {
                    "link": {
                        "server": {"port": f"srv-{i}/enp2s1"},
                        "switch": {"port": f"leaf-{i % 16}/E1/{i % 48 + 1}"},
                    }
                }
            }
            out.append(
                (
                    "Connection",
                    f"conn-{i - 1}",
                    spec,
                    {**spec, "unbundled": {"link": {**spec["unbundled"]["link"], "mtu": 9000}}},
                    spec,
                )
            )
        else:
            out.append(
                ("Server", f"srv-{i - 1}", {"description": "s"}, {"description": f"server {i}"}, {"description": "s"})
            )
    out.extend(("Switch", f"leaf-{j}", {"role": "server-leaf"}, None, None) for j in range(16))
    return out


async def seed(conn: asyncpg.Connection, fabric_id: int, rows: list[tuple]) -> None:
    records = []
    for kind, name, desired, draft, base in rows:
        has_draft = draft is not None
        records.append(
            (
                fabric_id,
                kind,
                "default",
                name,
                json.dumps(desired),
                SHA_GIT,
                T0,
                json.dumps(draft) if has_draft else None,
                T0 + timedelta(hours=1) if has_draft else None,
                json.dumps(base) if has_draft else None,
                SHA_BASE if has_draft else None,
                f"fabric/{kind.lower()}s.yaml",
                0,
                "draft" if has_draft else "in_sync",
            )
        )
    await conn.execute(
        "CREATE TEMP TABLE seed_rows (fabric_id bigint, kind text, namespace text, name text, "
        "desired text, desired_sha text, desired_at timestamptz, draft text, drafted_at timestamptz, "
        "base text, base_sha text, file_path text, document_index int, state text)"
    )
    await conn.copy_records_to_table("seed_rows", records=records)
    await conn.execute(
        "INSERT INTO resource (fabric_id, kind, namespace, name, desired_spec, desired_sha, desired_at, draft_spec, "
        "drafted_at, draft_base_spec, draft_base_sha, file_path, document_index, state) "
        "SELECT fabric_id, kind, namespace, name, desired::jsonb, desired_sha, desired_at, draft::jsonb, drafted_at, "
        "base::jsonb, base_sha, file_path, document_index, state FROM seed_rows"
    )
    await conn.execute("DROP TABLE seed_rows")
    await conn.execute("ANALYZE resource")


async def measure(server_dsn: str, template: str, n: int, repeat: int) -> dict:
    rows = resources(n)
    drafted = sum(1 for r in rows if r[3] is not None)
    best = {"first": float("inf"), "recheck": float("inf"), "gui_wins": float("inf")}
    found = {}
    for _attempt in range(repeat):
        dsn = await create_database(server_dsn, f"hnp_bench_conflicts_{n}", template=template)
        pool = await database.create_pool(dsn, min_size=1, max_size=2)
        try:
            async with pool.acquire() as conn:
                fabric_id = await conn.fetchval(
                    "INSERT INTO fabric (name, repository, branch) VALUES ('bench', 'acme/bench', 'main') RETURNING id"
                )
                await seed(conn, fabric_id, rows)
                for label, strategy in (("first", "user_guided"), ("recheck", "user_guided"), ("gui_wins", "gui_wins")):
                    started = time.perf_counter()
                    report = await conflicts.check_fabric(conn, fabric_id, strategy)
                    best[label] = min(best[label], time.perf_counter() - started)
                    found[label] = report.to_json()
        finally:
            await pool.close()
    return {"resources": len(rows), "drafts": drafted, "seconds": best, "reports": found}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="hnp-bench-pg-"))
    template = "hnp_bench_template"
    try:
        async with postgres_server(tmp) as server_dsn:
            await create_database(server_dsn, template, migrate=True)
            results = [await measure(server_dsn, template, n, args.repeat) for n in sizes]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"{'drafts':>8} {'resources':>10} {'first s':>9} {'recheck s':>10} {'gui_wins s':>11} "
        f"{'open':>6} {'merged':>7} {'resolved':>9}"
    )
    for r in results:
        s, rep = r["seconds"], r["reports"]
        print(
            f"{r['drafts']:>8,} {r['resources']:>10,} {s['first']:>9.3f} {s['recheck']:>10.3f} "
            f"{s['gui_wins']:>11.3f} {rep['first']['open']:>6,} {rep['first']['merged']:>7,} "
            f"{rep['gui_wins']['resolved']:>9,}"
        )
    out = ROOT / "bench" / "results" / "conflicts.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"target": "10,000 drafts checked in < 1 s", "repeat": args.repeat, "results": results}, indent=2)
        + "\n"
    )
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
