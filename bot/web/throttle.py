"""Failed attempts throttled per client: a small token bucket for each address.

A client starts with `burst` tries; each failure spends one and they come back at one every
`refill_seconds`. With none left the client is refused (429 with Retry-After) until one is
back, whatever it sends, so guessing a token costs `refill_seconds` a guess. Memory is
bounded: at most `max_clients` addresses are remembered (the longest idle forgotten first).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class FailureThrottle:
    def __init__(
        self,
        *,
        burst: int = 5,
        refill_seconds: float = 12.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst, self.refill_seconds, self.max_clients, self.clock = burst, refill_seconds, max_clients, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tries, as of)

    def _tries(self, client: str, now: float) -> float:
        tries, since = self._buckets.get(client, (float(self.burst), now))
        return min(float(self.burst), tries + (now - since) / self.refill_seconds)

    def retry_after(self, client: str) -> int:
        """Whole seconds until `client` may try again; 0 when it may now."""
        tries = self._tries(client, self.clock())
        return 0 if tries >= 1 else max(1, math.ceil((1 - tries) * self.refill_seconds))

    def failed(self, client: str) -> None:
        now = self.clock()
        self._buckets[client] = (max(0.0, self._tries(client, now) - 1), now)
        self._buckets.move_to_end(client)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
