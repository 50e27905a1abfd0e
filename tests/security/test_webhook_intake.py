"""POST /webhook refuses what GitHub did not send: every bad delivery gets a clear error and
changes nothing (no stored delivery, no job, no GitHub call, no resource touched). Unsigned
deliveries are accepted only by a process started with --insecure-dev-unsigned-webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import uuid

import pytest

from tests.reliability.system import FULL, LAUNCHER, ROOT, WEBHOOK_SECRET, System, sign


def push_body(system: System, after: str = "b" * 40) -> bytes:
    return json.dumps(
        {
            "ref": "refs/heads/main",
            "before": "a" * 40,
            "after": after,
            "created": False,
            "deleted": False,
            "forced": False,
            "commits": [],
            "repository": {"id": 1, "name": "fabric", "full_name": FULL, "owner": {"login": "acme"}},
            "installation": {"id": system.installation_id},
            "sender": {"login": "alice"},
        }
    ).encode()


def headers(
    body: bytes,
    *,
    event: str | None = "push",
    delivery: str | None = None,
    signature: str | None = "ok",
    content_type: str = "application/json",
    **extra: str,
) -> dict[str, str]:
    out = {"Content-Type": content_type, "X-GitHub-Delivery": delivery if delivery is not None else str(uuid.uuid4())}
    if event is not None:
        out["X-GitHub-Event"] = event
    if signature == "ok":
        out["X-Hub-Signature-256"] = sign(body)
    elif signature is not None:
        out["X-Hub-Signature-256"] = signature
    out.update(extra)
    return out


def sha1(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


BIG = 26 * 1024 * 1024


def bad_deliveries(system: System) -> dict[str, tuple[bytes, dict[str, str], int, str]]:
    """name -> (body, headers, expected status, expected error code)."""
    body = push_body(system)
    other = push_body(system, after="c" * 40)
    broken = b'{"ref": "refs/heads/main", "after": '
    big = b'{"pad": "' + b"x" * BIG + b'"}'
    return {
        "no signature": (body, headers(body, signature=None), 401, "bad_signature"),
        "signed with another secret": (
            body,
            headers(body, signature=sign(body, "not-the-secret")),
            401,
            "bad_signature",
        ),
        "signature of another body": (body, headers(body, signature=sign(other)), 401, "bad_signature"),
        "sha1-only signature (X-Hub-Signature)": (
            body,
            headers(body, signature=None, **{"X-Hub-Signature": sha1(body)}),
            401,
            "bad_signature",
        ),
        "malformed signature header": (body, headers(body, signature="sha256=zz"), 401, "bad_signature"),
        "malformed JSON (signed)": (broken, headers(broken), 400, "bad_request"),
        "JSON that is not an object (signed)": (b"[1, 2]", headers(b"[1, 2]"), 400, "bad_request"),
        "no X-GitHub-Event": (body, headers(body, event=None), 400, "bad_request"),
        "empty X-GitHub-Delivery": (body, headers(body, delivery=""), 400, "bad_request"),
        "X-GitHub-Delivery over 100 characters": (body, headers(body, delivery="d" * 101), 400, "bad_request"),
        "text/plain body": (body, headers(body, content_type="text/plain"), 415, "unsupported_media_type"),
        "26 MB body": (big, headers(big, signature=None), 413, "too_large"),
    }


@pytest.mark.scenario(
    "bad input",
    "webhook deliveries: missing, wrong, sha1-only and malformed signatures; malformed "
    "JSON; a non-object body; missing or bad X-GitHub-Event / X-GitHub-Delivery; a wrong "
    "Content-Type; a 26 MB body",
    "401 / 400 / 415 / 413 with a JSON error naming the problem; nothing stored, no job, no "
    "GitHub call, no state changed",
)
async def test_bad_deliveries_are_refused_and_change_nothing(system: System) -> None:
    before = await system.state_snapshot()
    mark = await system.request_mark()
    for name, (body, sent, status, code) in bad_deliveries(system).items():
        async with system.session.post(f"{system.bot.url}/webhook", data=body, headers=sent) as r:
            answer = await r.json()
            assert (r.status, answer["error"]["code"]) == (status, code), (name, r.status, answer)
            assert answer["error"]["message"], name
    assert await system.state_snapshot() == before
    assert await system.bot_requests(mark) == []
    assert await system.bot.healthy()


@pytest.mark.scenario(
    "bad input",
    "a signed delivery whose JSON nests 100,000 arrays deep",
    "400 bad_request (not valid JSON for us), never a 500; nothing stored",
)
async def test_deeply_nested_json_is_a_bad_request_not_a_server_error(system: System) -> None:
    """JSON nested deeper than a parser's recursion limit raises RecursionError, not
    ValueError: intake answers 400, never a 500 or aiohttp's HTML error page."""
    before = await system.state_snapshot()
    deep = b"[" * 100_000 + b"]" * 100_000
    async with system.session.post(f"{system.bot.url}/webhook", data=deep, headers=headers(deep)) as r:
        assert r.status == 400, (r.status, (await r.text())[:300])
    assert await system.state_snapshot() == before


@pytest.mark.scenario(
    "bad input",
    "a wrong X-GitHub-Event: an event GitHub does not send, and `push` naming a pull_request payload",
    "202 and ignored (recorded as such), or processed as a push that names no branch: no "
    "job beyond its own, no GitHub call, no resource or fabric changed",
)
async def test_a_wrong_event_name_changes_nothing(system: System) -> None:
    before = await system.state_snapshot()
    mark = await system.request_mark()
    body = push_body(system)
    async with system.session.post(
        f"{system.bot.url}/webhook", data=body, headers=headers(body, event="definitely_not_an_event")
    ) as r:
        assert r.status == 202 and (await r.json())["status"] == "ignored"
    pull = json.dumps(
        {
            "action": "opened",
            "number": 7,
            "pull_request": {"number": 7, "state": "open"},
            "repository": {"full_name": FULL},
            "installation": {"id": system.installation_id},
        }
    ).encode()
    async with system.session.post(f"{system.bot.url}/webhook", data=pull, headers=headers(pull, event="push")) as r:
        assert r.status == 202
    await system.idle()
    after = await system.state_snapshot()
    for key in ("resources", "fabrics", "operations", "branches"):
        assert after[key] == before[key], key
    outcomes = [
        r["outcome"]
        for r in await system.pool.fetch(
            "SELECT outcome FROM webhook_delivery WHERE received_at > now() - interval '1 minute' ORDER BY received_at"
        )
    ]
    assert outcomes[-2:] == ["ignored", "processed"], outcomes
    assert await system.bot_requests(mark) == []


@pytest.mark.scenario(
    "security",
    "unsigned webhook deliveries to a process started with "
    "--insecure-dev-unsigned-webhooks, and `serve` started with no webhook secret",
    "only the flagged process accepts them (a wrong signature is still refused); without a "
    "secret and without the flag `serve` refuses to start",
)
async def test_unsigned_deliveries_only_with_the_explicit_insecure_flag(system: System) -> None:
    body = push_body(system, after="d" * 40)
    async with system.session.post(f"{system.bot.url}/webhook", data=body, headers=headers(body, signature=None)) as r:
        assert r.status == 401
    dev = await system.add_bot(args=("--insecure-dev-unsigned-webhooks",), deliver=False)
    assert "NOT checked" in dev.log_text()  # it says so loudly
    async with system.session.post(f"{dev.url}/webhook", data=body, headers=headers(body, signature=None)) as r:
        assert r.status == 202 and (await r.json())["status"] == "queued"
    async with system.session.post(
        f"{dev.url}/webhook", data=body, headers=headers(body, signature=sign(body, "wrong"))
    ) as r:
        assert r.status == 401

    env = system.bot_env()
    del env["GITHUB_WEBHOOK_SECRET"]
    result = subprocess.run(
        [sys.executable, str(LAUNCHER), "--port", "1"],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "GITHUB_WEBHOOK_SECRET" in result.stderr, result.stderr
