"""Webhook delivery: one ordered queue and worker per app, signed as GitHub signs, every
attempt recorded; faults can drop, duplicate or reorder deliveries.

Deliveries never block the API call that caused them: `enqueue` only snapshots the payload
and returns. `wait_idle` lets tests wait until every queued delivery has been attempted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

import aiohttp

from .faults import Faults
from .model import App, iso, now

HOOKSHOT_UA = "GitHub-Hookshot/5d0b1f0"
DELIVERY_TIMEOUT = 10.0  # GitHub gives a receiver 10 seconds


@dataclass
class Delivery:
    id: int
    guid: str
    app_id: int
    event: str
    action: str | None
    installation_id: int | None
    payload: dict
    body: bytes
    url: str | None
    redelivery: bool = False
    status: str = "pending"  # pending, delivered, failed, dropped
    status_code: int | None = None
    response: str | None = None
    error: str | None = None
    fault: str | None = None
    request_headers: dict = field(default_factory=dict)
    enqueued_at: str | None = None
    delivered_at: str | None = None
    duration_ms: float | None = None

    def describe(self, with_payload: bool = True) -> dict:
        out = {
            "id": self.id,
            "guid": self.guid,
            "app_id": self.app_id,
            "event": self.event,
            "action": self.action,
            "installation_id": self.installation_id,
            "url": self.url,
            "redelivery": self.redelivery,
            "status": self.status,
            "status_code": self.status_code,
            "response": self.response,
            "error": self.error,
            "fault": self.fault,
            "request_headers": self.request_headers,
            "enqueued_at": self.enqueued_at,
            "delivered_at": self.delivered_at,
            "duration_ms": self.duration_ms,
        }
        if with_payload:
            out["payload"] = self.payload
        return out


def sign(secret: str, body: bytes) -> tuple[str, str]:
    """(X-Hub-Signature-256, X-Hub-Signature) header values."""
    key = secret.encode()
    return (
        "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
        "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
    )


class Deliverer:
    def __init__(self, apps: dict[int, App], faults: Faults) -> None:
        self.apps = apps
        self.faults = faults
        self.deliveries: list[Delivery] = []
        self._ids = itertools.count(1)
        self._queues: dict[int, deque[Delivery]] = {}
        self._wakeups: dict[int, asyncio.Event] = {}
        self._workers: dict[int, asyncio.Task] = {}
        self._held: dict[int, list[Delivery]] = {}
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    # -- queueing -----------------------------------------------------------------------
    def enqueue(self, app: App, event: str, payload: dict, installation_id: int | None = None) -> Delivery | None:
        """Queue one event for `app`; returns the recorded delivery (None if no webhook URL)."""
        if not app.webhook_url or self._closed:
            return None
        action = payload.get("action")
        body = json.dumps(payload, separators=(",", ":")).encode()
        d = Delivery(
            next(self._ids),
            str(uuid.uuid4()),
            app.id,
            event,
            action,
            installation_id,
            payload,
            body,
            app.webhook_url,
            enqueued_at=iso(now()),
        )
        self.deliveries.append(d)
        fault = self.faults.match_delivery(event, action)
        if fault and fault.mode == "drop":
            d.status, d.fault = "dropped", "dropped"
            return d
        if fault and fault.mode == "reorder":
            d.fault = "reordered"
            self._held.setdefault(app.id, []).append(d)
            self._add_pending(1)
            asyncio.get_running_loop().call_later(fault.hold_s, self._release_held, app.id, d)
            return d
        self._push(app.id, d)
        if fault and fault.mode == "duplicate":
            d.fault = "duplicated"
            dup = Delivery(
                next(self._ids),
                d.guid,
                app.id,
                event,
                action,
                installation_id,
                payload,
                body,
                app.webhook_url,
                fault="duplicate",
                enqueued_at=d.enqueued_at,
            )
            self.deliveries.append(dup)
            self._push(app.id, dup)
        # A held (reordered) delivery goes out right after the one that overtook it.
        for held in self._held.pop(app.id, []):
            self._push(app.id, held, counted=True)
        return d

    def redeliver(self, delivery_id: int) -> Delivery:
        old = next((d for d in self.deliveries if d.id == delivery_id), None)
        if old is None:
            raise KeyError(delivery_id)
        app = self.apps[old.app_id]
        d = Delivery(
            next(self._ids),
            old.guid,
            old.app_id,
            old.event,
            old.action,
            old.installation_id,
            old.payload,
            old.body,
            app.webhook_url,
            redelivery=True,
            enqueued_at=iso(now()),
        )
        self.deliveries.append(d)
        self._push(app.id, d)
        return d

    def _release_held(self, app_id: int, d: Delivery) -> None:
        held = self._held.get(app_id, [])
        if d in held:
            held.remove(d)
            self._push(app_id, d, counted=True)

    def _push(self, app_id: int, d: Delivery, counted: bool = False) -> None:
        if not counted:
            self._add_pending(1)
        self._queues.setdefault(app_id, deque()).append(d)
        self._wakeups.setdefault(app_id, asyncio.Event()).set()
        if app_id not in self._workers or self._workers[app_id].done():
            self._workers[app_id] = asyncio.get_running_loop().create_task(self._worker(app_id))

    def _add_pending(self, n: int) -> None:
        self._pending += n
        if self._pending > 0:
            self._idle.clear()
        else:
            self._idle.set()

    # -- sending --------------------------------------------------------------------------
    async def _worker(self, app_id: int) -> None:
        queue = self._queues[app_id]
        wake = self._wakeups[app_id]
        while not self._closed:
            if not queue:
                wake.clear()
                await wake.wait()
                continue
            d = queue.popleft()
            try:
                await self._send(d)
            finally:
                self._add_pending(-1)

    async def _send(self, d: Delivery) -> None:
        app = self.apps.get(d.app_id)
        if app is None or not d.url:
            d.status, d.error = "failed", "app has no webhook URL"
            return
        sig256, sig1 = sign(app.webhook_secret, d.body)
        headers = {
            "Accept": "*/*",
            "Content-Type": "application/json",
            "User-Agent": HOOKSHOT_UA,
            "X-GitHub-Delivery": d.guid,
            "X-GitHub-Event": d.event,
            "X-GitHub-Hook-ID": str(app.hook_id),
            "X-GitHub-Hook-Installation-Target-ID": str(app.id),
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-Hub-Signature": sig1,
            "X-Hub-Signature-256": sig256,
        }
        d.request_headers = headers
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT))
        started = time.perf_counter()
        try:
            async with self._session.post(d.url, data=d.body, headers=headers, allow_redirects=False) as resp:
                d.status_code = resp.status
                d.response = (await resp.text(errors="replace"))[:4096]
                d.status = "delivered" if 200 <= resp.status < 300 else "failed"
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            d.status, d.error = "failed", f"{type(exc).__name__}: {exc}"
        d.duration_ms = round((time.perf_counter() - started) * 1000, 3)
        d.delivered_at = iso(now())

    # -- waiting and shutdown -----------------------------------------------------------
    @property
    def pending(self) -> int:
        return self._pending

    async def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once every queued delivery has been attempted; False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
            return True
        except TimeoutError:
            return False

    def list(self, app_id: int | None = None, event: str | None = None, since: int = 0) -> list[Delivery]:
        return [
            d
            for d in self.deliveries
            if (app_id is None or d.app_id == app_id) and (event is None or d.event == event) and d.id > since
        ]

    def clear(self) -> None:
        self.deliveries = [d for d in self.deliveries if d.status == "pending"]

    async def close(self) -> None:
        self._closed = True
        for ev in self._wakeups.values():
            ev.set()
        for t in self._workers.values():
            t.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        if self._session:
            await self._session.close()
