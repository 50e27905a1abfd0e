"""A bot process for the multi-process tests, with test job handlers registered.

    python tests/intake/worker_proc.py serve --lease 1 --port 8123   # the real `serve`
    python tests/intake/worker_proc.py worker --lease 1             # just a worker loop

Settings come from the environment like `serve` (DATABASE_URL, ...). Handlers:
  'test.proc'  records (job, pid, attempt) in proc_run; payload {"hang_first": true} makes the
               first attempt record 'started' and then hang (to be killed); {"seconds": s}
               makes each run take s seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot import cli
from bot.config import Config
from bot.jobs.queue import JobContext, QueueSettings, Workers
from bot.storage import database
from bot.web.app import Tuning


async def proc_job(ctx: JobContext) -> None:
    payload = ctx.job.payload
    if payload.get("hang_first") and ctx.job.attempts == 1:
        await ctx.pool.execute(
            "INSERT INTO proc_run (job_id, pid, attempts, phase) VALUES ($1, $2, $3, 'started')",
            ctx.job.id,
            os.getpid(),
            ctx.job.attempts,
        )
        await asyncio.Event().wait()  # until SIGKILL
    if payload.get("seconds"):
        await asyncio.sleep(float(payload["seconds"]))  # wait-ok: simulated work
    await ctx.pool.execute(
        "INSERT INTO proc_run (job_id, pid, attempts, phase) VALUES ($1, $2, $3, 'finished')",
        ctx.job.id,
        os.getpid(),
        ctx.job.attempts,
    )


TEST_JOBS = {"test.proc": proc_job}


async def run_worker(lease: float, count: int) -> int:
    config = Config.from_env()
    pool = await database.create_pool(config.database_url.reveal())
    workers = Workers(
        pool=pool,
        config=config,
        handlers=TEST_JOBS,
        count=count,
        settings=QueueSettings.for_lease(lease, poll_seconds=0.2),
    )
    await workers.start()
    print("worker ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await workers.stop()
    await pool.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("serve", "worker"))
    parser.add_argument("--lease", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    if args.mode == "worker":
        return asyncio.run(run_worker(args.lease, args.workers))
    tuning = Tuning(queue=QueueSettings.for_lease(args.lease, poll_seconds=0.5), extra_jobs=TEST_JOBS)
    return cli.main(["serve", "--port", str(args.port)], tuning=tuning)


if __name__ == "__main__":
    sys.exit(main())
