"""Injected failures: REST/git requests that answer with an error (or slowly), and webhook
deliveries that are dropped, duplicated or reordered."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

REORDER_HOLD_S = 1.0  # by default a reordered delivery goes out after the next one, or after this long
HOLD_LIMIT_S = 300.0  # a held request goes on after this long even if no one released it
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {request_id}."
)
SECONDARY_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
DELIVERY_MODES = ("drop", "duplicate", "reorder")


@dataclass
class RequestFault:
    id: int
    method: str
    path: re.Pattern
    status: int | None  # None: only delay or withhold the answer, the request is carried out
    count: int | None  # how many more requests it hits; None for every one
    retry_after: int | None = None
    latency_ms: int = 0
    secondary_rate_limit: bool = False
    body: dict | None = None
    hang: bool = False  # carry the request out, then withhold the answer until the client gives up
    hold: bool = False  # keep the request waiting, not yet carried out, until the fault is released
    hits: int = 0
    waiting: int = 0  # requests held now
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def held(self) -> None:
        """Wait (a held request) until the fault is released, at most HOLD_LIMIT_S."""
        self.waiting += 1
        self.arrived.set()
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HOLD_LIMIT_S):
                    await self.released.wait()
        finally:
            self.waiting -= 1

    def describe(self) -> dict:
        return {
            "id": self.id,
            "kind": "request",
            "method": self.method,
            "path": self.path.pattern,
            "status": self.status,
            "count": self.count,
            "retry_after": self.retry_after,
            "latency_ms": self.latency_ms,
            "secondary_rate_limit": self.secondary_rate_limit,
            "body": self.body,
            "hang": self.hang,
            "hold": self.hold,
            "hits": self.hits,
            "waiting": self.waiting,
        }


@dataclass
class DeliveryFault:
    id: int
    mode: str
    event: str  # "*" for any
    action: str | None
    count: int | None
    hold_s: float = REORDER_HOLD_S  # reorder: the longest a delivery waits for the next one
    hits: int = 0

    def describe(self) -> dict:
        return {
            "id": self.id,
            "kind": "delivery",
            "mode": self.mode,
            "event": self.event,
            "action": self.action,
            "count": self.count,
            "hold_s": self.hold_s,
            "hits": self.hits,
        }


@dataclass
class Faults:
    requests: list[RequestFault] = field(default_factory=list)
    deliveries: list[DeliveryFault] = field(default_factory=list)
    # Hold faults by id until released, even once their count is spent: a held request
    # still waits on its fault, and the test still has to release it.
    holds: dict[int, RequestFault] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def add(self, spec: dict) -> dict:
        """Add a fault from its JSON description (see README); returns it described."""
        if spec.get("kind", "request") == "delivery" or "mode" in spec:
            mode = spec.get("mode")
            if mode not in DELIVERY_MODES:
                raise ValueError(f"mode must be one of {DELIVERY_MODES}")
            f = DeliveryFault(
                next(self._ids),
                mode,
                spec.get("event", "*"),
                spec.get("action"),
                _count(spec.get("count", 1)),
                float(spec.get("hold_s", REORDER_HOLD_S)),
            )
            self.deliveries.append(f)
            return f.describe()
        status = spec.get("status")
        if spec.get("secondary_rate_limit") and status is None:
            status = 403
        if status is None and not spec.get("latency_ms") and not spec.get("hang") and not spec.get("hold"):
            raise ValueError("a request fault needs a status, latency_ms, hang or hold")
        rf = RequestFault(
            next(self._ids),
            str(spec.get("method", "*")).upper(),
            re.compile(spec.get("path", ".*")),
            int(status) if status is not None else None,
            _count(spec.get("count", 1)),
            spec.get("retry_after"),
            int(spec.get("latency_ms", 0)),
            bool(spec.get("secondary_rate_limit")),
            spec.get("body"),
            bool(spec.get("hang")),
            bool(spec.get("hold")),
        )
        self.requests.append(rf)
        if rf.hold:
            self.holds[rf.id] = rf
        return rf.describe()

    def hold_of(self, fault_id: int) -> RequestFault | None:
        return self.holds.get(fault_id)

    def release(self, fault_id: int) -> bool:
        """Let the requests a hold fault keeps waiting go on (and any later ones it matches)."""
        rf = self.holds.pop(fault_id, None)
        if rf is None:
            return False
        rf.released.set()
        return True

    def match_request(self, method: str, path: str) -> RequestFault | None:
        for f in self.requests:
            if f.method not in ("*", method.upper()) or not f.path.search(path):
                continue
            f.hits += 1
            if f.count is not None:
                f.count -= 1
                if f.count <= 0:
                    self.requests.remove(f)
            return f
        return None

    def match_delivery(self, event: str, action: str | None) -> DeliveryFault | None:
        for f in self.deliveries:
            if f.event not in ("*", event) or (f.action is not None and f.action != action):
                continue
            f.hits += 1
            if f.count is not None:
                f.count -= 1
                if f.count <= 0:
                    self.deliveries.remove(f)
            return f
        return None

    def remove(self, fault_id: int) -> bool:
        released = self.release(fault_id)
        before = len(self.requests) + len(self.deliveries)
        self.requests = [f for f in self.requests if f.id != fault_id]
        self.deliveries = [f for f in self.deliveries if f.id != fault_id]
        return released or before != len(self.requests) + len(self.deliveries)

    def clear(self) -> None:
        self.requests.clear()
        self.deliveries.clear()
        for fault_id in list(self.holds):
            self.release(fault_id)

    def describe(self) -> list[dict]:
        return [f.describe() for f in self.requests] + [f.describe() for f in self.deliveries]


def _count(value: Any) -> int | None:  # a count from the JSON spec
    return None if value in (None, 0, "always") else int(value)
