"""Waiting before another try: the one backoff, and `RetryLater` for work that must wait."""

from __future__ import annotations

import random
from collections.abc import Callable


class RetryLater(Exception):
    """Run this job again after `seconds`, without counting a failed attempt. `installation_id`:
    the wait is that installation's (its rate limit is spent), so none of its jobs can run
    before then either."""

    def __init__(self, seconds: float, reason: str = "", *, installation_id: int | None = None) -> None:
        self.seconds = max(0.0, float(seconds))
        self.reason = reason
        self.installation_id = installation_id
        super().__init__(f"retry in {self.seconds:.0f} s" + (f": {reason}" if reason else ""))


def backoff_delay(attempt: int, *, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: half the doubled delay fixed, half random, so retries
    of many jobs failing together spread out instead of arriving as one wave."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay / 2 + rand() * delay / 2
