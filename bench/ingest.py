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
import json
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

import yaml  # noqa: E402

from bench.common import create_database, postgres_server  # noqa: E402
from bot import database, ingest  # noqa: E402
from bot.config import Config, Secret  # noqa: E402
from bot.github import CallCounter, open_github  # noqa: E402
from bot.storage import fabrics, operations  # noqa: E402
from ghsim.testing import GhSim  # noqa: E402

OWNER, REPO = "acme", "fabric"
SAMPLE = ROOT.parent / "shared" / "hedgehog" / "samples" / "lab-ci_wiring.yaml"
KINDS = ("Switch", "Server", "Connection")
GIT_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def templates() -> list[dict]:
    docs = [d for d in yaml.safe_load_all(SAMPLE.read_text()) if d and d["kind"] in KINDS]
    if not docs:
        raise SystemExit(f"no wiring documents in {SAMPLE}")
    return docs


def fabric_file(docs: list[dict], copy: int, first: int, count: int, label: str = "v1") -> str:
    """`count` documents, the templates renamed for copy `copy` (names stay unique)."""
    out = []
    for n in range(first, first + count):
        doc = json.loads(json.dumps(docs[n % len(docs)]))
        doc["metadata"]["name"] = f"{doc['metadata']['name']}-c{copy}-{n}"
        doc["metadata"].setdefault("labels", {})["bench.example.com/rev"] = label
        out.append(yaml.safe_dump(doc, sort_keys=False))
    return "---\n".join(out)


async def git(cwd: Path, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com", *args, cwd=cwd, env=GIT_ENV,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"git {args[0]} failed: {err.decode()}")
    return out.decode().strip()


async def commit_and_push(tree: Path, message: str) -> str:
    await git(tree, "add", "-A")
    await git(tree, "commit", "-q", "-m", message)
    await git(tree, "push", "-q", "origin", "HEAD:refs/heads/main")
    return await git(tree, "rev-parse", "HEAD")


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
        "case": label, "files_changed": changed_files, "files_read": stats.files_processed,
        "documents_parsed": stats.resources_processed,
        "resources_written": stats.resources_created + stats.resources_updated + stats.resources_orphaned,
        "api_calls": logged, "wall_s": round(wall, 3),
        "github_ms": perf.github_time_ms, "parse_ms": perf.parse_time_ms,
        "validation_ms": perf.validation_time_ms, "database_ms": perf.database_time_ms,
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
    docs = templates()
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
                config = Config(github_app_id=app["id"], github_private_key=Secret(app["private_key"]),
                                github_api_url=sim.base_url)
                async with open_github(config) as github:
                    ctx = SimpleNamespace(pool=pool, github=github)
                    await github.installation_token(installation["id"])  # a long-lived cached token, as in service

                    # 1. The many-files fabric, first sync (a fresh fabric on the same directory each run).
                    files = {}
                    for f in range(args.files):
                        path = tree / "fabric" / f"part-{f:04}.yaml"
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_text(fabric_file(docs, f, 0, args.docs_per_file))
                        files[f] = path
                    await commit_and_push(tree, f"{total} documents")
                    runs = []
                    for run in range(args.repeat):
                        fabric = await fabrics.create(pool, name=f"many-files-{run}", repository=f"{OWNER}/{REPO}",
                                                      directory="fabric", branch="main",
                                                      installation_id=installation["id"])
                        runs.append(await measure(ctx, sim, fabric.id,
                                                  f"first sync, {total:,} docs in {args.files:,} files", args.files))
                    rows.append(fastest(runs))

                    # 2. Pushes that change N files (one label per document in each), on the last fabric.
                    revision = 1
                    for n in changes:
                        runs = []
                        for _ in range(args.repeat):
                            revision += 1
                            for f in range(n):
                                files[f].write_text(fabric_file(docs, f, 0, args.docs_per_file, label=f"v{revision}"))
                            await commit_and_push(tree, f"change {n} files")
                            runs.append(await measure(ctx, sim, fabric.id, f"push changing {n:,} file(s)", n))
                        rows.append(fastest(runs))

                    # 3. One file of 10,000 documents, in fabrics of its own.
                    single = tree / "single" / "wiring.yaml"
                    single.parent.mkdir(parents=True, exist_ok=True)
                    single.write_text(fabric_file(docs, 99999, 0, total))
                    await commit_and_push(tree, "one big wiring file")
                    runs = []
                    for run in range(args.repeat):
                        fabric = await fabrics.create(pool, name=f"one-file-{run}", repository=f"{OWNER}/{REPO}",
                                                      directory="single", branch="main",
                                                      installation_id=installation["id"])
                        runs.append(await measure(ctx, sim, fabric.id, f"first sync, {total:,} docs in 1 file", 1))
                    rows.append(fastest(runs))
            await pool.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    columns = ("case", "files_read", "documents_parsed", "resources_written", "api_calls", "wall_s", "github_ms",
               "parse_ms", "validation_ms", "database_ms", "peak_rss_mb")
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in rows:
        print("  ".join(str(r[c]).ljust(w) for c, w in zip(columns, widths)))
    out = ROOT / "bench" / "results" / "ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "ingest", "python": sys.version.split()[0], "rows": rows}, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
