"""POST /webhook: GitHub's deliveries are verified, stored with their job in one commit,
acknowledged with 202, and then processed once by a worker."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging

from bot import logs
from bot.web.keys import WORKERS
from bot.web.webhook import WRITER
from tests.conftest import wait_for
from tests.intake.intake_helpers import (
    API_TOKEN,
    WEBHOOK_SECRET,
    delivery_headers,
    make_config,
    post_event,
    push_payload,
    record_tables,
    running_bot,
)


async def _count(pool, sql, *args):
    return await pool.fetchval(sql, *args)


async def test_a_signed_push_is_stored_acknowledged_and_processed_once(pool):
    await record_tables(pool)
    async with running_bot(pool) as client:
        status, answer = await post_event(client, "push", push_payload(), delivery_id="d-push-1")
        assert status == 202 and answer == {"status": "queued", "delivery_id": "d-push-1"}
        await wait_for(
            lambda: _count(pool, "SELECT count(*) FROM webhook_delivery WHERE outcome = 'processed'"),
            message="the delivery to be processed",
        )
    row = await pool.fetchrow("SELECT event, repository, installation_id, outcome, body FROM webhook_delivery")
    assert (row["event"], row["repository"], row["installation_id"], row["outcome"]) == (
        "push",
        "acme/fabric",
        42,
        "processed",
    )
    assert json.loads(bytes(row["body"]))["ref"] == "refs/heads/main"  # stored as received
    seen = await pool.fetch("SELECT delivery_id, ref FROM seen_event")
    assert [(r["delivery_id"], r["ref"]) for r in seen] == [("d-push-1", "refs/heads/main")]
    job = await pool.fetchrow("SELECT kind, ordering_key, status, attempts FROM job WHERE kind = 'webhook'")
    assert dict(job) == {"kind": "webhook", "ordering_key": "repo:acme/fabric", "status": "done", "attempts": 1}


async def test_a_redelivery_is_acknowledged_and_not_processed_again(pool):
    await record_tables(pool)
    async with running_bot(pool) as client:
        first = await post_event(client, "push", push_payload(), delivery_id="d-same")
        await wait_for(lambda: _count(pool, "SELECT count(*) FROM seen_event"), message="first processing")
        second = await post_event(client, "push", push_payload(), delivery_id="d-same")
        # and the same delivery twice at the same moment (GitHub retrying while we commit)
        both = await asyncio.gather(
            *(post_event(client, "push", push_payload(), delivery_id="d-twin") for _ in range(2))
        )
        await wait_for(
            lambda: _count(pool, "SELECT count(*) FROM seen_event WHERE delivery_id = 'd-twin'"),
            message="the twin to be processed",
        )
        await wait_for(
            lambda: _count(pool, "SELECT count(*) = 0 FROM job WHERE kind = 'webhook' AND status <> 'done'"),
            message="the queue to be empty",
        )
    assert first[0] == 202 and first[1]["status"] == "queued"
    assert second[0] == 202 and second[1]["status"] == "duplicate"
    assert sorted(answer["status"] for _, answer in both) == ["duplicate", "queued"]
    assert await _count(pool, "SELECT count(*) FROM seen_event WHERE delivery_id = 'd-same'") == 1
    assert await _count(pool, "SELECT count(*) FROM seen_event WHERE delivery_id = 'd-twin'") == 1
    assert await _count(pool, "SELECT count(*) FROM job WHERE kind = 'webhook'") == 2


async def test_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(pool):
    body = json.dumps(push_payload()).encode()
    sha1 = "sha1=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha1).hexdigest()
    cases = {
        "wrong secret": {**delivery_headers("push", body, secret="not-the-secret")},
        "tampered": {**delivery_headers("push", body), "X-Hub-Signature-256": "sha256=" + "0" * 64},
        "missing": delivery_headers("push", body, signed=False),
        "sha1 only": {**delivery_headers("push", body, signed=False), "X-Hub-Signature": sha1},
    }
    async with running_bot(pool) as client:
        for name, headers in cases.items():
            response = await client.post("/webhook", data=body, headers=headers)
            answer = await response.json()
            assert response.status == 401, name
            assert answer["error"]["code"] == "bad_signature", name
            assert WEBHOOK_SECRET not in json.dumps(answer)
    assert await _count(pool, "SELECT count(*) FROM webhook_delivery") == 0
    assert await _count(pool, "SELECT count(*) FROM job WHERE kind = 'webhook'") == 0


async def test_malformed_deliveries_get_400_and_are_not_stored(pool):
    async with running_bot(pool) as client:
        not_json = b"{not json"
        response = await client.post("/webhook", data=not_json, headers=delivery_headers("push", not_json))
        assert response.status == 400 and (await response.json())["error"]["code"] == "bad_request"

        body = json.dumps(push_payload()).encode()
        for missing in ("X-GitHub-Event", "X-GitHub-Delivery"):
            headers = delivery_headers("push", body)
            del headers[missing]
            response = await client.post("/webhook", data=body, headers=headers)
            answer = await response.json()
            assert response.status == 400 and missing.lower() in answer["error"]["message"].lower()

        array = b"[1, 2]"
        response = await client.post("/webhook", data=array, headers=delivery_headers("push", array))
        assert response.status == 400
    assert await _count(pool, "SELECT count(*) FROM webhook_delivery") == 0


async def test_a_body_over_25_mb_gets_413_as_json(pool):
    body = b'{"padding": "' + b"x" * (25 * 1024 * 1024) + b'"}'
    async with running_bot(pool) as client:
        response = await client.post("/webhook", data=body, headers=delivery_headers("push", body))
        answer = await response.json()
    assert response.status == 413 and answer["error"]["code"] == "too_large"
    assert await _count(pool, "SELECT count(*) FROM webhook_delivery") == 0


async def test_an_event_nothing_handles_is_acknowledged_recorded_as_ignored_and_gets_no_job(pool):
    async with running_bot(pool) as client:
        status, answer = await post_event(
            client, "star", {"action": "created", "sender": {"login": "a"}}, delivery_id="d-star"
        )
        status_ping, answer_ping = await post_event(client, "ping", {"zen": "Keep it logically awesome."})
    assert (status, answer["status"]) == (202, "ignored")
    assert (status_ping, answer_ping["status"]) == (202, "ignored")
    row = await pool.fetchrow("SELECT outcome, processed_at FROM webhook_delivery WHERE delivery_id = 'd-star'")
    assert row["outcome"] == "ignored" and row["processed_at"] is not None
    assert await _count(pool, "SELECT count(*) FROM job WHERE kind = 'webhook'") == 0


async def test_unsigned_deliveries_are_accepted_only_in_insecure_development_mode(pool):
    await record_tables(pool)
    async with running_bot(pool, make_config(insecure_webhooks=True)) as client:
        status, answer = await post_event(client, "push", push_payload(), delivery_id="d-unsigned", signed=False)
        assert (status, answer["status"]) == (202, "queued")
        # a signature that is present is still checked
        body = json.dumps(push_payload()).encode()
        headers = {**delivery_headers("push", body), "X-Hub-Signature-256": "sha256=" + "0" * 64}
        assert (await client.post("/webhook", data=body, headers=headers)).status == 401
        await wait_for(lambda: _count(pool, "SELECT count(*) FROM seen_event"), message="processing")


async def test_concurrent_deliveries_are_group_committed_and_all_stored(pool):
    async with running_bot(pool, background=False) as client:
        answers = await asyncio.gather(
            *(
                post_event(client, "push", push_payload(f"acme/r{i % 7}"), delivery_id=f"d-burst-{i}")
                for i in range(300)
            )
        )
        writer = client.app[WRITER]
        workers = client.app[WORKERS]
    assert all(status == 202 and answer["status"] == "queued" for status, answer in answers)
    assert await _count(pool, "SELECT count(*) FROM webhook_delivery WHERE outcome = 'pending'") == 300
    assert writer.batches < 300  # several deliveries shared commits
    # Acknowledged into the inbox; the workers make the jobs afterwards, in bulk.
    assert await _count(pool, "SELECT count(*) FROM delivery_inbox") == 300
    assert await _count(pool, "SELECT count(*) FROM job WHERE kind = 'webhook'") == 0
    async with pool.acquire() as conn:
        assert await workers.dispatch_inbox(conn) == 300
        assert await workers.dispatch_inbox(conn) == 0  # nothing is queued twice
    assert await _count(pool, "SELECT count(*) FROM delivery_inbox") == 0
    assert await _count(pool, "SELECT count(*) FROM job WHERE kind = 'webhook' AND status = 'queued'") == 300
    # jobs of one repository are queued in the order their deliveries were accepted
    rows = await pool.fetch("SELECT delivery_id FROM job WHERE ordering_key = 'repo:acme/r0' ORDER BY id")
    order = [int(r["delivery_id"].rsplit("-", 1)[1]) for r in rows]
    assert order == sorted(order)


async def test_no_secret_reaches_the_logs_or_the_answers(pool):
    await record_tables(pool)
    config = make_config()
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.setup("json", config.secrets(), level=logging.DEBUG, stream=stream)
    try:
        async with running_bot(pool, config) as client:
            body = json.dumps(push_payload()).encode()
            bad = {**delivery_headers("push", body), "X-Hub-Signature-256": "sha256=" + "f" * 64}
            refused = await (await client.post("/webhook", data=body, headers=bad)).text()
            status, _ = await post_event(client, "push", push_payload(), delivery_id="d-logged")
            await wait_for(lambda: _count(pool, "SELECT count(*) FROM seen_event"), message="processing")
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    output = stream.getvalue()
    assert status == 202 and "refused a webhook delivery" in output and "d-logged" in output
    for secret in (WEBHOOK_SECRET, API_TOKEN, config.github_private_key.reveal().splitlines()[1]):
        assert secret not in output and secret not in refused


async def test_a_body_that_is_not_json_by_content_type_gets_415(pool):
    async with running_bot(pool) as client:
        body = b"ref=refs/heads/main"
        headers = {**delivery_headers("push", body), "Content-Type": "text/plain"}
        response = await client.post("/webhook", data=body, headers=headers)
        answer = await response.json()
    assert response.status == 415 and answer["error"]["code"] == "unsupported_media_type"
    assert await _count(pool, "SELECT count(*) FROM webhook_delivery") == 0
