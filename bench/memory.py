"""Memory: peak RSS of the `serve` process while it ingests a 10,000-document fabric.

    python -m bench.memory [--documents 10000] [--layouts files,one-file]

For each layout a fresh stack (embedded PostgreSQL, the GitHub emulator, `hnp-gitops serve`
as a real process): a fabric is made through the HNP API, then one `git push` brings the
whole fabric (copies of the real lab-ci wiring's switches, servers and connections, renamed;
a sample of the generated files is checked against the CRDs first) and serve ingests it on
its own (push webhook -> job -> ingest). Layouts:
  files     1,000 files of 10 documents (the way a fabric is usually split)
  one-file  one file of 10,000 documents
Measured from /proc/<serve pid>/status: VmRSS when idle before the push, VmRSS sampled
every 20 ms during the ingest, and VmHWM (the kernel's peak RSS of the process) at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    Stack,
    check_generated,
    commit,
    print_table,
    push,
    rss_mb,
    wait_until,
    write_fabric,
    write_results,
)
from bot.storage import jobs as job_store

TARGET_MB = 300.0


async def measure(layout: str, documents: int, timeout: float) -> dict[str, Any]:
    files, per_file = (documents // 10, 10) if layout == "files" else (1, documents)
    async with Stack.start("memory") as stack:
        fabric_id = await stack.create_fabric("memory", "fabric")
        tree = await stack.clone()
        paths = write_fabric(tree, "fabric", files, per_file)
        checked = check_generated(paths, sample=10 if layout == "files" else 1)
        sha = await commit(tree, f"{documents} documents")
        await asyncio.sleep(0.5)
        before = rss_mb(stack.serve_pid)
        samples: list[float] = []
        began = time.perf_counter()
        await push(tree)

        async def ingested() -> bool:
            samples.append(rss_mb(stack.serve_pid)["VmRSS"])
            return await stack.ingested_sha(fabric_id) == sha

        await wait_until(ingested, timeout=timeout, interval=0.02, what="the fabric to be ingested")
        seconds = time.perf_counter() - began

        # The check run is completed after the commit; let the job finish, still sampling.
        async def idle() -> bool:
            samples.append(rss_mb(stack.serve_pid)["VmRSS"])
            return not await job_store.outstanding(stack.db)

        await wait_until(idle, timeout=60, interval=0.02, what="the ingest job to finish")
        after = rss_mb(stack.serve_pid)
        resources = await stack.db.fetchval("SELECT count(*) FROM resource WHERE fabric_id = $1", fabric_id)
        errors = stack.serve_log_errors()
    return {
        "layout": f"{files:,} file(s) x {per_file:,}",
        "documents": documents,
        "documents_checked": checked,
        "resources_ingested": resources,
        "push_to_committed_s": round(seconds, 2),
        "rss_idle_mb": before["VmRSS"],
        "rss_peak_sampled_mb": max(samples),
        "vmhwm_mb": after["VmHWM"],
        "rss_after_mb": after["VmRSS"],
        "serve_errors": errors[:5],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rows = [await measure(layout, args.documents, args.timeout) for layout in args.layouts.split(",") if layout]
    print_table(
        rows,
        (
            "layout",
            "resources_ingested",
            "push_to_committed_s",
            "rss_idle_mb",
            "rss_peak_sampled_mb",
            "vmhwm_mb",
            "rss_after_mb",
        ),
        title=f"\nserve's memory while ingesting a {args.documents:,}-document fabric (MB)",
    )
    peak = max(r["vmhwm_mb"] for r in rows)
    ok = peak < TARGET_MB and all(r["resources_ingested"] == r["documents"] for r in rows)
    print(f"\npeak RSS (VmHWM) = {peak} MB (target < {TARGET_MB:.0f} MB)")
    data = {
        "settings": {"documents": args.documents, "layouts": args.layouts},
        "rows": rows,
        "peak_mb": peak,
        "target": {"peak_mb_max": TARGET_MB},
        "pass": ok,
    }
    write_results(args.output, data)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=10000)
    parser.add_argument("--layouts", default="files,one-file", help="comma-separated: files, one-file")
    parser.add_argument("--timeout", type=float, default=300, help="longest the ingest may take")
    parser.add_argument("--output", default="memory", help="results name (bench/results/<name>.json)")
    args = parser.parse_args(argv)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
