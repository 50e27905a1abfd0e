#!/usr/bin/env python3
"""Ingesting pushes: GitHub API calls and wall time, by how much the push changed.

    python bench/ingest.py [--files 1000] [--docs-per-file 10] [--changes 1,10,100,1000]

Everything real: the GitHub emulator (ghsim) runs as a separate process with real git
repositories, a person pushes with `git push`, and the bot ingests into a real PostgreSQL
(DATABASE_URL's server, else an embedded one in a temporary directory) through the same
`ingest_head` the HNP API calls.

The fabric: 10,000 real wiring documents (the lab-ci wiring's switches, servers and
connections, renamed per copy) in 1,000 files of 10 documents.
  - first sync: the whole fabric (every file read);
  - pushes that change 1, 10, 100 and 1,000 of the files (one label edited in each);
  - one file of 10,000 documents, first sync of a second fabric.
Each case runs --repeat times (3) and the fastest run is shown (all wall times are in the JSON):
the machine is shared, and the fastest run is the one least disturbed by others.
Calls are the GitHub layer's count for the ingest (cross-checked with the emulator's request
log); wall time is ingest_head from start to end (GitHub, parsing, validation, database).
Peak RSS is this process's (the emulator and git run in other processes).
Prints a table and writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    OWNER,
    REPO,
    commit,
    create_database,
    fabric_file,
    git,
    postgres_server,
    print_table,
    push,
    wiring_templates,
    write_results,
)
from bot.config import Config, Secret  # noqa: E402
from bot.features import ingest  # noqa: E402
from bot.github.client import CallCounter, open_github  # noqa: E402
from bot.storage import database, fabrics, operations  # noqa: E402
from ghsim.testing import GhSim  # noqa: E402


async def commit_and_push(tree: Path, message: str) -> str:
    sha = await commit(tree, message)
    await push(tree)
    return sha


async def measure(ctx: SimpleNamespace, sim: GhSim, fabric_id: int, label: str, changed_files: int) -> dict:
    fabric = await fabrics.get(ctx.pool, fabric_id)
    operation = await operations.create(ctx.pool, fabric_id=fabric_id, direction="github_to_gui", trigger="api")
    seq = max((r["seq"] for r in await sim.requests()), default=0)
    counter = CallCounter()
    began = time.perf_counter()
    result = await ingest.ingest_head(ctx, fabric, operation, counter)
    wall = time.perf_counter() - began
    logged = len(await sim.requests(since=seq))
    if not result.success or result.github_integration.api_calls_made != logged:
        raise RuntimeError(f"{label}: ingest failed or miscounted: {result.to_dict()} (log: {logged})")
    stats, perf = result.statistics, result.performance
    return {
        "case": label,
        "files_changed": changed_files,
        "files_read": stats.files_processed,
        "documents_parsed": stats.resources_processed,
        "resources_written": stats.resources_created + stats.resources_updated + stats.resources_orphaned,
        "api_calls": logged,
        "wall_s": round(wall, 3),
        "github_ms": perf.github_time_ms,
        "parse_ms": perf.parse_time_ms,
        "validation_ms": perf.validation_time_ms,
        "database_ms": perf.database_time_ms,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def fastest(runs: list[dict]) -> dict:
    best = dict(min(runs, key=lambda r: r["wall_s"]))
    best["wall_s_all"] = [r["wall_s"] for r in runs]
    return best


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--docs-per-file", type=int, default=10)
    parser.add_argument("--changes", default="1,10,100,1000")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the fastest is reported")
    args = parser.parse_args()
    changes = [int(c) for c in args.changes.split(",") if c.strip() and int(c) <= args.files]
    docs = wiring_templates()
    total = args.files * args.docs_per_file
    rows: list[dict] = []

    tmp = Path(tempfile.mkdtemp(prefix="hnp-bench-ingest-"))
    try:
        async with postgres_server(tmp) as url:
            dsn = await create_database(url, f"hnp_bench_ingest_{os.getpid()}", migrate=True)
            pool = await database.create_pool(dsn, min_size=1, max_size=4)
            async with GhSim.start_subprocess(tmp / "ghsim") as sim:
                app = await sim.create_app(None, "secret")
                await sim.create_repo(OWNER, REPO)
                installation = await sim.create_installation(app["id"], OWNER, [f"{OWNER}/{REPO}"])
                token = await sim.create_user("bench", "write", [f"{OWNER}/{REPO}"])
                tree = tmp / "clone"
                await git(tmp, "clone", "-q", sim.git_url(OWNER, REPO, token), str(tree))
                config = Config(
                    github_app_id=app["id"], github_private_key=Secret(app["private_key"]), github_api_url=sim.base_url
                )
                async with open_github(config) as github:
                    ctx = SimpleNamespace(pool=pool, github=github)
                    await github.installation_token(installation["id"])  # a long-lived cached token, as in service

                    # 1. The many-files fabric, first sync (a fresh fabric on the same directory each run).
                    files = {}
                    for f in range(args.files):
                        path = tree / "fabric" / f"part-{f:04}.yaml"
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_text(fabric_file(docs, f, args.docs_per_file))
                        files[f] = path
                    await commit_and_push(tree, f"{total} documents")
                    runs = []
                    for run in range(args.repeat):
                        fabric = await fabrics.create(
                            pool,
                            name=f"many-files-{run}",
                            repository=f"{OWNER}/{REPO}",
                            directory="fabric",
                            branch="main",
                            installation_id=installation["id"],
                        )
                        runs.append(
                            await measure(
                                ctx, sim, fabric.id, f"first sync, {total:,} docs in {args.files:,} files", args.files
                            )
                        )
                    rows.append(fastest(runs))

                    # 2. Pushes that change N files (one label per document in each), on the last fabric.
                    revision = 1
                    for n in changes:
                        runs = []
                        for _ in range(args.repeat):
                            revision += 1
                            for f in range(n):
                                files[f].write_text(fabric_file(docs, f, args.docs_per_file, revision=f"v{revision}"))
                            await commit_and_push(tree, f"change {n} files")
                            runs.append(await measure(ctx, sim, fabric.id, f"push changing {n:,} file(s)", n))
                        rows.append(fastest(runs))

                    # 3. One file of 10,000 documents, in fabrics of its own.
                    single = tree / "single" / "wiring.yaml"
                    single.parent.mkdir(parents=True, exist_ok=True)
                    single.write_text(fabric_file(docs, 0, total))  # a fabric of its own: whole copies
                    await commit_and_push(tree, "one big wiring file")
                    runs = []
                    for run in range(args.repeat):
                        fabric = await fabrics.create(
                            pool,
                            name=f"one-file-{run}",
                            repository=f"{OWNER}/{REPO}",
                            directory="single",
                            branch="main",
                            installation_id=installation["id"],
                        )
                        runs.append(await measure(ctx, sim, fabric.id, f"first sync, {total:,} docs in 1 file", 1))
                    rows.append(fastest(runs))
            await pool.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print_table(
        rows,
        (
            "case",
            "files_read",
            "documents_parsed",
            "resources_written",
            "api_calls",
            "wall_s",
            "github_ms",
            "parse_ms",
            "validation_ms",
            "database_ms",
            "peak_rss_mb",
        ),
    )
    write_results("ingest", {"rows": rows})


if __name__ == "__main__":
    asyncio.run(main())
