#!/usr/bin/env python3
"""Publishing N drafted resources: GitHub API calls and wall time until the pull request exists,
beside a baseline doing what the seed's design did (one Contents API PUT per file, then a PR).

    python bench/publish.py [--sizes 1,10,100,1000]

Both run in one process against the GitHub emulator (ghsim, real git underneath) and a real
PostgreSQL (DATABASE_URL's server, else an embedded one in a temporary directory). For each N:
  - a repository with N VPCs, one file each (fabric/vpcs/vpc-<i>.yaml, the seed's layout),
    ingested into a fresh database through the bot's own github_to_gui sync;
  - every one of the N resources gets a draft (a new VLAN);
  - bot:      one gui_to_github sync with create_pr, run inline (operations.run): conflict
              check, one tree + one commit (Git Data API), the branch, the pull request;
  - baseline: the same N new file texts written with one `PUT /contents/{path}` each onto a
              new branch (given each file's blob sha, so no extra reads), then the PR.
Calls are the GitHub layer's own count (cross-checked with the emulator's request log);
time is wall time from the start of the publish until the pull request exists.
Prints a table and writes bench/results/publish.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from bench.common import create_database, postgres_server  # noqa: E402
from bot.config import Config, Secret  # noqa: E402
from bot.core import render  # noqa: E402
from bot.features import operations  # noqa: E402
from bot.github.client import CallCounter, open_github  # noqa: E402
from bot.storage import database, drafts, fabrics  # noqa: E402
from bot.storage import operations as operation_store  # noqa: E402
from ghsim.testing import GhSim  # noqa: E402

OWNER = "acme"


def vpc_file(i: int, vlan: int) -> str:
    return render.render_resource("VPC", f"vpc-{i}", spec=vpc_spec(i, vlan))


def vpc_spec(i: int, vlan: int) -> dict:
    return {"subnets": {"default": {"subnet": f"10.{i // 250}.{i % 250}.0/24", "vlan": vlan}}}


def repository_files(n: int) -> dict[str, str]:
    return {f"fabric/vpcs/vpc-{i}.yaml": vpc_file(i, 1000 + i % 3000) for i in range(n)}


async def bot_requests(sim: GhSim, since: int) -> int:
    return sum(1 for r in (await sim.requests(since=since) or []) if r.get("installation_id") is not None)


async def mark(sim: GhSim) -> int:
    return max((r["seq"] for r in (await sim.requests() or [])), default=0)


async def measure(sim: GhSim, app: dict, server_dsn: str, template: str, n: int) -> dict:
    repo = f"bench-{n}"
    files = repository_files(n)
    config = Config(github_app_id=app["id"], github_private_key=Secret(app["private_key"]), github_api_url=sim.base_url)
    dsn = await create_database(server_dsn, f"hnp_bench_publish_{n}", template=template)
    pool = await database.create_pool(dsn, min_size=1, max_size=4)
    try:
        async with open_github(config) as github:
            fabric = await fabrics.create(
                pool, name=f"bench-{n}", repository=f"{OWNER}/{repo}", directory="fabric", branch="main"
            )
            ingest = await operation_store.create(pool, fabric_id=fabric.id, direction="github_to_gui")
            done = await operations.run(pool, github, ingest.id)
            assert done.status == "completed", done.error
            async with pool.acquire() as conn, conn.transaction():
                for i in range(n):
                    await drafts.put_draft(
                        conn, fabric.id, "VPC", f"vpc-{i}", spec=vpc_spec(i, 3500 + i % 500), user="bench"
                    )

            # the bot: one sync, inline
            op = await operation_store.create(
                pool,
                fabric_id=fabric.id,
                direction="gui_to_github",
                request={"direction": "gui_to_github", "create_pr": True},
            )
            since = await mark(sim)
            began = time.perf_counter()
            done = await operations.run(pool, github, op.id)
            bot_seconds = time.perf_counter() - began
            assert done.status == "completed", done.error
            gi = done.result["github_integration"]
            assert gi["pull_request_number"], done.result
            bot_calls, bot_logged = gi["api_calls_made"], await bot_requests(sim, since)

            # the baseline: one Contents API PUT per file, then the pull request
            rows = await drafts.with_drafts(pool, fabric.id)
            counter = CallCounter()
            gh = github.installation(
                fabric.installation_id or (await fabrics.get(pool, fabric.id)).installation_id, counter
            )
            v = {"owner": OWNER, "repo": repo}
            since = await mark(sim)
            began = time.perf_counter()
            head = await gh.getitem("/repos/{owner}/{repo}/git/ref/heads/main", v)
            await gh.post(
                "/repos/{owner}/{repo}/git/refs", v, data={"ref": "refs/heads/baseline", "sha": head["object"]["sha"]}
            )
            for r in rows:
                text = render.apply_edits(files[r.file_path], [render.Edit.replace(0, r.draft_spec)])
                await gh.put(
                    "/repos/{owner}/{repo}/contents/{+path}",
                    {**v, "path": r.file_path},
                    data={
                        "message": f"Update {r.kind} {r.name}",
                        "branch": "baseline",
                        "sha": r.blob_sha,
                        "content": base64.b64encode(text.encode()).decode(),
                    },
                )
            await gh.post(
                "/repos/{owner}/{repo}/pulls",
                v,
                data={"title": "baseline", "head": "baseline", "base": "main", "body": "baseline"},
            )
            base_seconds = time.perf_counter() - began
            base_calls, base_logged = counter.calls, await bot_requests(sim, since)
    finally:
        await pool.close()
    return {
        "n": n,
        "bot": {"calls": bot_calls, "calls_logged": bot_logged, "seconds": round(bot_seconds, 3), "commits": 1},
        "baseline": {"calls": base_calls, "calls_logged": base_logged, "seconds": round(base_seconds, 3), "commits": n},
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,100,1000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="hnp-bench-publish-"))
    template = "hnp_bench_publish_template"
    try:
        async with postgres_server(tmp) as server_dsn:
            await create_database(server_dsn, template, migrate=True)
            async with GhSim.start(tmp / "ghsim") as sim:
                await sim.set_rate_limit(default_limit=100_000)
                app = await sim.create_app(None, "bench-secret", name="hnp-gitops-bench")
                for n in sizes:
                    await sim.create_repo(OWNER, f"bench-{n}", files=repository_files(n))
                await sim.create_installation(app["id"], OWNER, [f"{OWNER}/bench-{n}" for n in sizes])
                results = [await measure(sim, app, server_dsn, template, n) for n in sizes]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"{'N':>6} {'bot calls':>10} {'bot s':>8} {'baseline calls':>15} {'baseline s':>11} "
        f"{'calls ratio':>12} {'time ratio':>11}"
    )
    for r in results:
        b, s = r["bot"], r["baseline"]
        print(
            f"{r['n']:>6,} {b['calls']:>10} {b['seconds']:>8.3f} {s['calls']:>15,} {s['seconds']:>11.3f} "
            f"{s['calls'] / b['calls']:>11.1f}x {s['seconds'] / max(b['seconds'], 1e-9):>10.1f}x"
        )
    out = ROOT / "bench" / "results" / "publish.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "what": "GitHub API calls and wall time to publish N drafted resources until the PR exists",
                "target": "bot: at most 8 calls for any N from 1 to 1,000, pull request included",
                "baseline": "one Contents API PUT per file, then a PR (the seed's design)",
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
