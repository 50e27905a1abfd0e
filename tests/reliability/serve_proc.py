"""`hnp-gitops serve` as a child process, with timings sized for tests.

    python tests/reliability/serve_proc.py --port 8123 [--migrate] [--insecure-dev-unsigned-webhooks]

It runs the real command (`bot.cli.main(["serve", ...])`) with the real configuration from the
environment; only the knobs that `serve` takes no setting for are turned, from these variables:

  HNP_TEST_LEASE           job lease in seconds (default 2; serve's own is 60), so a SIGKILLed
                           process's job is reclaimed within seconds
  HNP_TEST_GITHUB_TIMEOUT  per-request GitHub timeout in seconds (default 3; serve's own is 30),
                           so a latency fault "beyond the client timeout" costs seconds, not minutes
  HNP_TEST_LOG_LEVEL       root log level (default info; `debug` for the secret-leak test)

Both timing knobs are given to `serve` as its `Tuning` (queue settings and GitHub retry policy);
nothing in the bot's behaviour is replaced.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot import cli
from bot.github.client import RetryPolicy
from bot.jobs.queue import QueueSettings
from bot.web.app import Tuning


def main() -> int:
    lease = float(os.environ.get("HNP_TEST_LEASE", "2"))
    timeout = float(os.environ.get("HNP_TEST_GITHUB_TIMEOUT", "3"))
    tuning = Tuning(
        queue=QueueSettings.for_lease(lease, poll_seconds=0.2, backoff_base=0.2, backoff_max=2.0),
        github=RetryPolicy(timeout=timeout, backoff_base=0.05, backoff_max=0.5, max_wait=10.0),
    )
    level = getattr(logging, os.environ.get("HNP_TEST_LOG_LEVEL", "info").upper())
    return cli.main(["serve", *sys.argv[1:]], tuning=tuning, log_level=level)


if __name__ == "__main__":
    sys.exit(main())
