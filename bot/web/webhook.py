"""POST /webhook: verify, store, queue, acknowledge. No GitHub call happens here.

Answers (always JSON):
  202 {"status": "queued"}      stored with its inbox row; the workers make it a 'webhook' job
                                and run it after the answer (see bot.jobs.queue)
  202 {"status": "duplicate"}   this X-GitHub-Delivery was stored before: not processed again
  202 {"status": "ignored"}     no handler for this event/action: stored with outcome
                                'ignored' and no job (the delivery table records every delivery)
  400 bad_request               body not JSON (or not an object), X-GitHub-Event or
                                X-GitHub-Delivery missing or malformed, or a field stored in a
                                column of its own unstorable (installation.id not an integer
                                below 2^63, a NUL in action or repository.full_name): the
                                message names the field. Nothing is stored.
  401 bad_signature             X-Hub-Signature-256 missing or wrong; a sha1-only signature is
                                not accepted. Nothing is stored.
  413 too_large                 body over 25 MB
  415 unsupported_media_type    neither application/json nor form-encoded
  415 unsupported_content_encoding  a compressed body (any Content-Encoding but identity):
                                refused before it is read (bot.web.app)
  503 unavailable               the database did not take the delivery, with Retry-After
                                (GitHub may redeliver; reconciliation catches what is lost)

The JSON is decoded once, by bot.core.payload, which the delivery's job uses too: what intake
accepts, the job can read.

Durability with throughput: concurrent deliveries are group-committed. Each request hands
its row to one writer task and waits; the writer takes everything waiting (up to a batch
limit), stores it with one INSERT statement (deliveries and inbox rows together, atomically) and
then answers all of them. Under load a commit carries many deliveries; when idle, one. A
batch that PostgreSQL refuses for what it holds (not for being unreachable) is stored again one
delivery at a time, so a delivery it cannot take fails alone.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import orjson
from aiohttp import web
from gidgethub import ValidationFailure, routing, sansio

from bot import process_metrics
from bot.core import payload as webhook_payload
from bot.storage import database
from bot.storage import deliveries as delivery_store
from bot.storage.deliveries import NewDelivery
from bot.web.keys import CONFIG, POOL, ROUTER, WORKERS

log = logging.getLogger(__name__)

MAX_BODY = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
# Workers step back for intake only when deliveries pour in at this rate: acknowledging a few
# hundred a second takes a small share of a CPU, and stepping back then would only delay the
# pushes' ingests (measured by bench.scale); thousands a second need the CPU (bench.intake).
BURST_PER_SECOND = 500
BURST_WINDOW = 0.05  # seconds the rate is judged over


def error(status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


BIGINT_MAX = 2**63 - 1  # installation ids are stored in a bigint column


class Unstorable(Exception):
    """A field intake stores in a typed column holds what the column cannot take."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field


def _text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Unstorable(field, "must be a string")
    if "\x00" in value:  # PostgreSQL text cannot hold U+0000
        raise Unstorable(field, "must not contain the NUL character (U+0000)")
    return value


def describe(event: sansio.Event, handled: bool, payload: bytes) -> NewDelivery:
    """The delivery's row, with the fields stored in columns of their own checked (raises
    Unstorable). Deliveries about one repository run in delivery order (see bot.jobs.queue): the
    ordering key is the repository, else the installation, else the delivery itself."""
    data = event.data
    installation = data.get("installation")
    repository = data.get("repository")
    installation_id = installation.get("id") if isinstance(installation, dict) else None
    if installation_id is not None and (
        not isinstance(installation_id, int)
        or isinstance(installation_id, bool)
        or not 0 < installation_id <= BIGINT_MAX
    ):
        raise Unstorable("installation.id", f"must be a whole number from 1 to {BIGINT_MAX}")
    full_name = _text(repository.get("full_name"), "repository.full_name") if isinstance(repository, dict) else None
    action = _text(data.get("action"), "action")
    key = None
    if handled:
        if full_name:
            key = f"repo:{full_name.lower()}"
        elif installation_id:
            key = f"installation:{installation_id}"
        else:
            key = f"delivery:{event.delivery_id}"
    return NewDelivery(
        delivery_id=event.delivery_id,
        event=event.event,
        action=action,
        installation_id=installation_id,
        repository=full_name,
        body=payload,
        ordering_key=key,
    )


class BurstMeter:
    """Whether deliveries arrive at `per_second` or more: the last `window` seconds held that
    many. Slower streams are not a burst."""

    def __init__(
        self,
        per_second: float = BURST_PER_SECOND,
        window: float = BURST_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.clock = clock
        self._recent: collections.deque[float] = collections.deque(maxlen=max(1, int(per_second * window)))

    def note(self) -> None:
        self._recent.append(self.clock())

    def busy(self) -> bool:
        recent = self._recent
        return len(recent) == recent.maxlen and self.clock() - recent[0] < self.window


class DeliveryWriter:
    """Group commit of webhook deliveries (one writer task, batches of up to max_batch)."""

    def __init__(
        self, pool: asyncpg.Pool, *, max_batch: int = 256, on_commit: Callable[[], None] | None = None
    ) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self.on_commit = on_commit
        self._queue: asyncio.Queue[tuple[NewDelivery, asyncio.Future]] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self.batches = 0  # how many commits carried the deliveries (for benchmarks)
        self.last_activity = float("-inf")  # monotonic time of the latest delivery
        self.arrivals = BurstMeter()

    def busy(self) -> bool:
        """A burst of deliveries is under way (see BurstMeter)."""
        return self.arrivals.busy()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="delivery-writer")

    async def stop(self) -> None:
        if self._task is not None:
            # Requests still waiting get their commit before the writer goes away.
            try:
                async with asyncio.timeout(5):
                    await self._queue.join()
            except TimeoutError:
                log.warning("stopped with webhook deliveries not yet stored")
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def store(self, delivery: NewDelivery) -> bool:
        """Durably store the delivery (and its job). True if new, False if a redelivery."""
        if self._task is None:  # not running inside an app (CLI, tests): commit alone
            return bool(await delivery_store.insert_batch(self.pool, [delivery]))
        self.last_activity = time.monotonic()
        self.arrivals.note()
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((delivery, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[tuple[NewDelivery, asyncio.Future]]) -> None:
        unique: dict[str, NewDelivery] = {}
        for delivery, _ in batch:
            unique.setdefault(delivery.delivery_id, delivery)
        try:
            new = await delivery_store.insert_batch(self.pool, list(unique.values()))
        except database.UNAVAILABLE as failure:  # every waiting request learns it was not stored
            for _, future in batch:
                if not future.done():
                    future.set_exception(failure)
            return
        except Exception as failure:
            if len(unique) == 1:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(failure)
                return
            await self._write_one_by_one(batch, unique)
            return
        self.batches += 1
        answered: set[str] = set()
        for delivery, future in batch:
            first = delivery.delivery_id not in answered
            answered.add(delivery.delivery_id)
            if not future.done():
                future.set_result(first and delivery.delivery_id in new)
        if self.on_commit is not None and new:
            self.on_commit()

    async def _write_one_by_one(
        self, batch: list[tuple[NewDelivery, asyncio.Future]], unique: dict[str, NewDelivery]
    ) -> None:
        """The batch was refused for something in it: each delivery alone, so only the one
        PostgreSQL cannot take is refused (in arrival order, as the batch would have been)."""
        outcome: dict[str, bool | BaseException] = {}
        for delivery_id, delivery in unique.items():
            try:
                outcome[delivery_id] = bool(await delivery_store.insert_batch(self.pool, [delivery]))
            except Exception as failure:
                outcome[delivery_id] = failure
        self.batches += len(unique)
        answered: set[str] = set()
        for delivery, future in batch:
            result = outcome[delivery.delivery_id]
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result and delivery.delivery_id not in answered)
            answered.add(delivery.delivery_id)
        if self.on_commit is not None and any(r is True for r in outcome.values()):
            self.on_commit()


WRITER = web.AppKey("delivery_writer", DeliveryWriter)


def _parse(
    request: web.Request, body: bytes, secret: str | None, insecure: bool
) -> tuple[sansio.Event, bytes] | web.Response:
    """The delivery and its JSON payload, or the answer that refuses it. The signature is
    checked over the body as received, before anything in it is decoded."""
    headers = request.headers
    signature = headers.get("X-Hub-Signature-256")
    if signature is None:
        if not insecure:
            detail = (
                "only a sha1 X-Hub-Signature was sent; X-Hub-Signature-256 is required"
                if "X-Hub-Signature" in headers
                else "X-Hub-Signature-256 is missing"
            )
            return error(401, "bad_signature", detail)
    elif secret is None:
        if not insecure:
            return error(401, "bad_signature", "no webhook secret is configured")
    else:
        try:
            sansio.validate_event(body, signature=signature, secret=secret)
        except ValidationFailure:
            return error(401, "bad_signature", "X-Hub-Signature-256 does not match the body")
    if request.content_type not in ("application/json", "application/x-www-form-urlencoded"):
        return error(415, "unsupported_media_type", "Content-Type must be application/json")
    for name in ("X-GitHub-Event", "X-GitHub-Delivery"):
        if name not in headers:
            return error(400, "bad_request", f"the {name} header is missing")
    event_name, delivery_id = headers["X-GitHub-Event"], headers["X-GitHub-Delivery"]
    if not event_name or not delivery_id or len(delivery_id) > 100 or "\x00" in event_name + delivery_id:
        return error(
            400,
            "bad_request",
            "X-GitHub-Event and X-GitHub-Delivery must be non-empty (a delivery id is at most 100 characters)",
        )
    payload = body
    if request.content_type == "application/x-www-form-urlencoded":  # the JSON is the `payload` field
        try:
            payload = urllib.parse.parse_qs(body.decode(), strict_parsing=True)["payload"][0].encode()
        except (UnicodeDecodeError, ValueError, KeyError):
            return error(400, "bad_request", "a form-encoded delivery needs its JSON in the payload field")
    try:
        data = webhook_payload.decode(payload)
    except webhook_payload.BadPayload as bad:
        return error(400, "bad_request", str(bad))
    return sansio.Event(data, event=event_name, delivery_id=delivery_id), payload


async def receive(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    if request.content_length is not None and request.content_length > MAX_BODY:
        return error(413, "too_large", "the body is over 25 MB")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return error(413, "too_large", "the body is over 25 MB")
    secret = config.github_webhook_secret.reveal() if config.github_webhook_secret else None
    parsed = _parse(request, body, secret, config.insecure_webhooks)
    if isinstance(parsed, web.Response):
        if parsed.status == 401:
            log.warning(
                "refused a webhook delivery: bad signature",
                extra={"delivery_id": request.headers.get("X-GitHub-Delivery", "")[:100]},
            )
        return parsed
    event, payload = parsed

    router: routing.Router | None = request.app.get(ROUTER)
    try:
        delivery = describe(event, bool(router and router.fetch(event)), payload)
    except Unstorable as bad:
        return error(400, "bad_request", f"{bad}; the delivery cannot be stored")
    try:
        new = await request.app[WRITER].store(delivery)
    except asyncpg.DataError as failure:  # a value PostgreSQL refused (the batch was retried one by one)
        log.warning(
            "refused a webhook delivery: %s", failure.__class__.__name__, extra={"delivery_id": event.delivery_id}
        )
        return error(400, "bad_request", "the delivery holds a value that cannot be stored")
    except database.DATABASE_ERRORS as failure:
        log.error(
            "could not store webhook delivery: %s", failure.__class__.__name__, extra={"delivery_id": event.delivery_id}
        )
        return error(
            503,
            "unavailable",
            "the delivery could not be stored; try again",
            headers={"Retry-After": str(database.RETRY_AFTER_SECONDS)},
        )
    handled = delivery.ordering_key is not None
    status = "duplicate" if not new else ("queued" if handled else "ignored")
    log.debug(
        "webhook %s (%s) %s", event.event, event.data.get("action"), status, extra={"delivery_id": event.delivery_id}
    )
    # orjson: the answer is written for every delivery of a burst (json.dumps is ~4x slower).
    return web.Response(
        body=orjson.dumps({"status": status, "delivery_id": event.delivery_id}),
        status=202,
        content_type="application/json",
    )


def setup(app: web.Application) -> None:
    def wake_workers() -> None:
        workers = app.get(WORKERS)
        if workers is not None:
            workers.wake(inbox=True)

    writer = DeliveryWriter(app[POOL], on_commit=wake_workers)
    app[WRITER] = writer
    if app.get(WORKERS) is not None:
        # During a burst of deliveries the workers of this process step back, so that
        # acknowledging (GitHub allows 10 s) wins the CPU over processing (which may lag).
        app[WORKERS].intake_busy = writer.busy

    async def run_writer(app: web.Application) -> AsyncIterator[None]:
        await writer.start()
        yield
        await writer.stop()

    app.cleanup_ctx.append(run_writer)

    async def timed_receive(request: web.Request) -> web.Response:
        began = time.monotonic()
        response = await receive(request)
        process_metrics.record_webhook(response.status, time.monotonic() - began)
        return response

    app.router.add_post("/webhook", timed_receive)
