"""POST /webhook: verify, store, queue, acknowledge. No GitHub call happens here.

Answers (always JSON):
  202 {"status": "queued"}      stored with its inbox row; the workers make it a 'webhook' job
                                and run it after the answer (see bot.jobs.queue)
  202 {"status": "duplicate"}   this X-GitHub-Delivery was stored before: not processed again
  202 {"status": "ignored"}     no handler for this event/action: stored with outcome
                                'ignored' and no job (the delivery table records every delivery)
  400 bad_request               body not JSON (or not an object), X-GitHub-Event or
                                X-GitHub-Delivery missing or malformed
  401 bad_signature             X-Hub-Signature-256 missing or wrong; a sha1-only signature is
                                not accepted. Nothing is stored.
  413 too_large                 body over 25 MB
  415 unsupported_media_type    neither application/json nor form-encoded
  503 unavailable               the database did not take the delivery (GitHub may redeliver;
                                reconciliation catches what is lost)

Durability with throughput: concurrent deliveries are group-committed. Each request hands
its row to one writer task and waits; the writer takes everything waiting (up to a batch
limit), stores it with one INSERT statement (deliveries and inbox rows together, atomically) and
then answers all of them. Under load a commit carries many deliveries; when idle, one.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable

import asyncpg
import orjson
from aiohttp import web
from gidgethub import BadRequest, ValidationFailure, routing, sansio

from bot import process_metrics
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


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def ordering_key(event: sansio.Event) -> str:
    """Deliveries about one repository run in delivery order (see bot.jobs.queue)."""
    data = event.data
    repository = data.get("repository")
    if isinstance(repository, dict) and repository.get("full_name"):
        return f"repo:{repository['full_name'].lower()}"
    installation = data.get("installation")
    if isinstance(installation, dict) and installation.get("id"):
        return f"installation:{installation['id']}"
    return f"delivery:{event.delivery_id}"


def describe(event: sansio.Event, key: str | None, body: bytes) -> NewDelivery:
    data = event.data
    installation = data.get("installation")
    repository = data.get("repository")
    installation_id = installation.get("id") if isinstance(installation, dict) else None
    action = data.get("action")
    return NewDelivery(
        delivery_id=event.delivery_id,
        event=event.event,
        action=action if isinstance(action, str) else None,
        installation_id=installation_id if isinstance(installation_id, int) else None,
        repository=repository.get("full_name") if isinstance(repository, dict) else None,
        body=body,
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
                await asyncio.wait_for(self._queue.join(), timeout=5)
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
        except Exception as failure:  # every waiting request learns it was not stored
            for _, future in batch:
                if not future.done():
                    future.set_exception(failure)
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


WRITER = web.AppKey("delivery_writer", DeliveryWriter)


def _event(given: dict[str, str], body: bytes, secret: str | None, content_type: str) -> sansio.Event:
    """gidgethub's Event.from_http, with orjson decoding the common case (a signed JSON body):
    the signature is still checked by gidgethub, first; decoding was an eighth of intake's time."""
    signature = given.get("x-hub-signature-256")
    if signature is None or secret is None or content_type != "application/json":
        return sansio.Event.from_http(given, body, secret=secret)
    sansio.validate_event(body, signature=signature, secret=secret)
    return sansio.Event(orjson.loads(body), event=given["x-github-event"], delivery_id=given["x-github-delivery"])


def _parse(request: web.Request, body: bytes, secret: str | None, insecure: bool) -> sansio.Event | web.Response:
    headers = request.headers
    signature = headers.get("X-Hub-Signature-256")
    # Only what gidgethub should see: never the sha1 X-Hub-Signature, which is not accepted.
    given: dict[str, str] = {
        k.lower(): v for k, v in headers.items() if k.lower() in ("content-type", "x-github-event", "x-github-delivery")
    }
    if signature is not None:
        given["x-hub-signature-256"] = signature
    if signature is None:
        if not insecure:
            detail = (
                "only a sha1 X-Hub-Signature was sent; X-Hub-Signature-256 is required"
                if "X-Hub-Signature" in headers
                else "X-Hub-Signature-256 is missing"
            )
            return error(401, "bad_signature", detail)
        secret = None  # development mode: unsigned deliveries are accepted
    elif secret is None:
        if not insecure:
            return error(401, "bad_signature", "no webhook secret is configured")
        del given["x-hub-signature-256"]
    try:
        event = _event(given, body, secret, request.content_type)
    except ValidationFailure:
        return error(401, "bad_signature", "X-Hub-Signature-256 does not match the body")
    except BadRequest:  # gidgethub could not decode the body
        if request.content_type in ("application/json", "application/x-www-form-urlencoded"):
            return error(400, "bad_request", "the body is not valid JSON")
        return error(415, "unsupported_media_type", "Content-Type must be application/json")
    except KeyError as missing:
        return error(400, "bad_request", f"the {missing.args[0]} header is missing")
    except (RecursionError, ValueError):  # nested too deep for the JSON decoder, or not UTF-8
        return error(400, "bad_request", "the body is not valid JSON")
    if not isinstance(event.data, dict):
        return error(400, "bad_request", "the body is not a JSON object")
    if not event.event or not event.delivery_id or len(event.delivery_id) > 100:
        return error(
            400,
            "bad_request",
            "X-GitHub-Event and X-GitHub-Delivery must be non-empty (a delivery id is at most 100 characters)",
        )
    return event


def _stored_body(request: web.Request, body: bytes) -> bytes:
    """The JSON as received; form-encoded deliveries keep their JSON `payload` field."""
    if request.content_type == "application/x-www-form-urlencoded":
        return urllib.parse.parse_qs(body.decode())["payload"][0].encode()
    return body


async def receive(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    if request.content_length is not None and request.content_length > MAX_BODY:
        return error(413, "too_large", "the body is over 25 MB")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return error(413, "too_large", "the body is over 25 MB")
    secret = config.github_webhook_secret.reveal() if config.github_webhook_secret else None
    event = _parse(request, body, secret, config.insecure_webhooks)
    if isinstance(event, web.Response):
        if event.status == 401:
            log.warning(
                "refused a webhook delivery: bad signature",
                extra={"delivery_id": request.headers.get("X-GitHub-Delivery", "")[:100]},
            )
        return event

    router: routing.Router | None = request.app.get(ROUTER)
    handled = bool(router and router.fetch(event))
    delivery = describe(event, ordering_key(event) if handled else None, _stored_body(request, body))
    try:
        new = await request.app[WRITER].store(delivery)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as failure:
        log.error(
            "could not store webhook delivery: %s", failure.__class__.__name__, extra={"delivery_id": event.delivery_id}
        )
        return error(503, "unavailable", "the delivery could not be stored; try again")
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
