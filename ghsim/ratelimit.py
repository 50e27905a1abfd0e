"""Primary rate limits as GitHub applies them: an hourly budget per installation, user
token, app JWT or (unauthenticated) address, reported in X-RateLimit-* headers."""

from __future__ import annotations

import time
from dataclasses import dataclass

DEFAULT_LIMIT = 5000
ANONYMOUS_LIMIT = 60
WINDOW = 3600


@dataclass
class Bucket:
    limit: int
    used: int
    reset: int  # epoch seconds when the window restarts

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)


class RateLimiter:
    def __init__(self, default_limit: int = DEFAULT_LIMIT) -> None:
        self.default_limit = default_limit
        self.limits: dict[str, int] = {}  # per-key overrides
        self.buckets: dict[str, Bucket] = {}

    def _limit_for(self, key: str) -> int:
        if key in self.limits:
            return self.limits[key]
        return ANONYMOUS_LIMIT if key.startswith("ip:") else self.default_limit

    def bucket(self, key: str) -> Bucket:
        now = int(time.time())
        b = self.buckets.get(key)
        if b is None or b.reset <= now:
            b = Bucket(self._limit_for(key), 0, now + WINDOW)
            self.buckets[key] = b
        return b

    def take(self, key: str) -> tuple[bool, Bucket]:
        """Count one request; False (and nothing counted) when the budget is spent."""
        b = self.bucket(key)
        if b.remaining <= 0:
            return False, b
        b.used += 1
        return True, b

    def refund(self, key: str) -> None:
        b = self.bucket(key)
        b.used = max(b.used - 1, 0)

    def configure(
        self,
        *,
        key: str | None = None,
        limit: int | None = None,
        remaining: int | None = None,
        reset_in: int | None = None,
        default_limit: int | None = None,
    ) -> dict:
        if default_limit is not None:
            self.default_limit = default_limit
            for k, b in self.buckets.items():
                if k not in self.limits and not k.startswith("ip:"):
                    b.limit = default_limit
        if key is not None:
            if limit is not None:
                self.limits[key] = limit
            b = self.bucket(key)
            if limit is not None:
                b.limit = limit
            if remaining is not None:
                b.used = max(b.limit - remaining, 0)
            if reset_in is not None:
                b.reset = int(time.time()) + reset_in
            return self.describe(key)
        return {"default_limit": self.default_limit}

    def reset_all(self) -> None:
        self.buckets.clear()

    def describe(self, key: str) -> dict:
        b = self.bucket(key)
        return {"key": key, "limit": b.limit, "used": b.used, "remaining": b.remaining, "reset": b.reset}

    @staticmethod
    def headers(b: Bucket, resource: str = "core") -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(b.limit),
            "X-RateLimit-Remaining": str(b.remaining),
            "X-RateLimit-Reset": str(b.reset),
            "X-RateLimit-Used": str(b.used),
            "X-RateLimit-Resource": resource,
        }
