"""App authentication, rate limits, conditional requests, injected faults and webhook
delivery behaviour (signatures, redelivery, drop/duplicate/reorder)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time

import aiohttp
import jwt
import pytest
from conftest import wait_for

from ghsim.testing import ControlError, GhSim


async def test_app_jwts_are_verified_and_tokens_scoped_to_the_installation(world, sim):
    app = world.app
    good = GhSim.app_jwt(app["id"], app["private_key"])
    status, body, _ = await world.api.post(
        f"/app/installations/{world.installation_id}/access_tokens", headers={"Authorization": f"Bearer {good}"}
    )
    assert status == 201 and body["expires_at"].endswith("Z")
    now = int(time.time())
    expired = jwt.encode({"iat": now - 700, "exp": now - 60, "iss": str(app["id"])}, app["private_key"], "RS256")
    too_long = jwt.encode({"iat": now, "exp": now + 3600, "iss": str(app["id"])}, app["private_key"], "RS256")
    other = await sim.create_app(None, "x")
    wrong_key = jwt.encode({"iat": now, "exp": now + 300, "iss": str(app["id"])}, other["private_key"], "RS256")
    for token in (expired, too_long, wrong_key):
        status, body, _ = await world.api.post(
            f"/app/installations/{world.installation_id}/access_tokens", headers={"Authorization": f"Bearer {token}"}
        )
        assert status == 401 and body["documentation_url"].startswith("https://docs.github.com")
    status, body, _ = await world.api.get(world.r, token="ghs_wrong")
    assert status == 401 and body["message"] == "Bad credentials"
    await sim.create_repo("elsewhere", "private-repo")
    status, body, _ = await world.api.get("/repos/elsewhere/private-repo")
    assert status == 404 and body["message"] == "Not Found"
    status, body, _ = await world.api.get(f"{world.r}/installation", headers={"Authorization": f"Bearer {good}"})
    assert status == 200 and body["id"] == world.installation_id


async def test_an_exhausted_installation_gets_403_and_304s_do_not_count(world, sim):
    await sim.set_rate_limit(installation_id=world.installation_id, limit=3)
    status, _, headers = await world.api.get(f"{world.r}/git/ref/heads/main")
    assert headers["X-RateLimit-Limit"] == "3" and headers["X-RateLimit-Remaining"] == "2"
    assert headers["X-RateLimit-Resource"] == "core" and int(headers["X-RateLimit-Reset"]) > time.time()
    etag = headers["ETag"]
    for _ in range(5):
        status, _, h = await world.api.get(f"{world.r}/git/ref/heads/main", headers={"If-None-Match": etag})
        assert status == 304 and h["X-RateLimit-Remaining"] == "2"
    await world.api.get(world.r)
    await world.api.get(world.r)
    status, body, headers = await world.api.get(world.r)
    assert status == 403 and headers["X-RateLimit-Remaining"] == "0"
    assert body["message"].startswith(f"API rate limit exceeded for installation ID {world.installation_id}.")
    status, _, _ = await world.api.get(world.r, token=world.writer_token)
    assert status == 200  # a user's budget is separate


async def test_request_faults_answer_with_status_retry_after_and_secondary_limit_body(world, sim):
    await sim.add_fault(
        method="GET", path=r"/git/ref/heads/main$", status=403, count=2, retry_after=7, secondary_rate_limit=True
    )
    for _ in range(2):
        status, body, headers = await world.api.get(f"{world.r}/git/ref/heads/main")
        assert status == 403 and headers["Retry-After"] == "7"
        assert body["message"].startswith("You have exceeded a secondary rate limit")
    status, _, _ = await world.api.get(f"{world.r}/git/ref/heads/main")
    assert status == 200
    await sim.add_fault(path="/pulls", status=502)
    status, _, _ = await world.api.get(f"{world.r}/pulls")
    assert status == 502
    log = await sim.requests()
    assert [r["status"] for r in log if r["path"].endswith("/pulls")] == [502]
    started = time.perf_counter()
    await sim.add_fault(path="/git/ref/", latency_ms=200)
    status, _, _ = await world.api.get(f"{world.r}/git/ref/heads/main")
    assert status == 200 and time.perf_counter() - started >= 0.2


async def test_a_hung_request_is_carried_out_and_its_answer_withheld_until_the_client_gives_up(world, sim):
    _, ref, _ = await world.api.get(f"{world.r}/git/ref/heads/main")
    await sim.add_fault(method="POST", path=r"/git/refs$", hang=True)
    mark = max((r["seq"] for r in await sim.requests()), default=0)
    body = {"ref": "refs/heads/lost-answer", "sha": ref["object"]["sha"]}
    headers = {"Authorization": f"token {world.api.token}"}
    with pytest.raises(asyncio.TimeoutError):
        async with world.api.session.post(
            world.api.base + f"{world.r}/git/refs", json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=0.3)
        ) as resp:
            await resp.read()
    status, made, _ = await world.api.get(f"{world.r}/git/ref/heads/lost-answer")
    assert status == 200 and made["object"]["sha"] == ref["object"]["sha"]  # GitHub did it all the same

    async def logged() -> list:
        return [r for r in await sim.requests(since=mark) if r["path"].endswith("/git/refs")]

    await wait_for(logged)
    [entry] = await logged()
    assert (entry["method"], entry["status"]) == ("POST", 201)
    status, _, _ = await world.api.post(f"{world.r}/git/refs", {**body, "ref": "refs/heads/answered"})
    assert status == 201  # the fault was spent on the first request


async def test_a_held_request_is_not_carried_out_until_its_fault_is_released(world, sim):
    _, ref, _ = await world.api.get(f"{world.r}/git/ref/heads/main")
    fault = await sim.add_fault(method="POST", path=r"/git/refs$", hold=True)
    body = {"ref": "refs/heads/held", "sha": ref["object"]["sha"]}
    creating = asyncio.create_task(world.api.post(f"{world.r}/git/refs", body))
    held = await sim.wait_held(fault["id"], timeout=10)
    assert held["waiting"] == 1
    status, _, _ = await world.api.get(f"{world.r}/git/ref/heads/held")
    assert status == 404 and not creating.done()  # waiting, not yet carried out
    await sim.release_fault(fault["id"])
    async with asyncio.timeout(10):
        status, made, _ = await creating
    assert status == 201 and made["ref"] == "refs/heads/held"
    status, _, _ = await world.api.post(f"{world.r}/git/refs", {**body, "ref": "refs/heads/after"})
    assert status == 201  # count 1: the fault was spent on the held request
    with pytest.raises(ControlError) as released_twice:
        await sim.release_fault(fault["id"])
    assert released_twice.value.status == 404


async def test_waiting_for_a_held_request_that_never_comes_times_out(world, sim):
    fault = await sim.add_fault(method="POST", path=r"/git/refs$", hold=True)
    with pytest.raises(TimeoutError):
        await sim.wait_held(fault["id"], timeout=0.2)
    await sim.clear_faults()  # releases the hold: a later request is not held
    with pytest.raises(ControlError):
        await sim.wait_held(fault["id"], timeout=0.2)


async def test_the_request_log_records_method_path_status_body_and_installation(world, sim):
    await sim.clear_requests()
    await world.api.post(f"{world.r}/git/blobs", {"content": "a"})
    (entry,) = await sim.requests()
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/repos/acme/fabric/git/blobs", 201)
    assert entry["body"] == {"content": "a"} and entry["installation_id"] == world.installation_id


async def test_deliveries_are_signed_recorded_and_redeliverable(world, sim):
    status, ref, _ = await world.api.get(f"{world.r}/git/ref/heads/main")
    await world.api.post(f"{world.r}/git/refs", {"ref": "refs/heads/x", "sha": ref["object"]["sha"]})
    await sim.wait_deliveries_idle()
    got = [r for r in world.receiver.received if r["event"] == "push"][-1]
    h = got["headers"]
    assert h["X-Hub-Signature-256"] == "sha256=" + hmac.new(b"s3cret", got["body"], hashlib.sha256).hexdigest()
    assert h["X-Hub-Signature"] == "sha1=" + hmac.new(b"s3cret", got["body"], hashlib.sha1).hexdigest()
    assert h["User-Agent"].startswith("GitHub-Hookshot/") and h["Content-Type"] == "application/json"
    assert h["X-GitHub-Hook-Installation-Target-Type"] == "integration"
    recorded = [d for d in await sim.deliveries(event="push") if d["guid"] == h["X-GitHub-Delivery"]]
    assert recorded and recorded[0]["status_code"] == 200
    again = await sim.redeliver(recorded[0]["id"])
    await sim.wait_deliveries_idle()
    assert again["guid"] == recorded[0]["guid"]
    assert [r["headers"]["X-GitHub-Delivery"] for r in world.receiver.received].count(recorded[0]["guid"]) == 2


async def test_delivery_faults_drop_duplicate_and_reorder(world, sim):
    _, ref, _ = await world.api.get(f"{world.r}/git/ref/heads/main")
    sha = ref["object"]["sha"]

    async def branch(name):
        await world.api.post(f"{world.r}/git/refs", {"ref": f"refs/heads/{name}", "sha": sha})

    await sim.add_fault(mode="drop", event="push", count=1)
    await branch("dropped")
    await sim.add_fault(mode="duplicate", event="push", count=1)
    await branch("doubled")
    await sim.add_fault(mode="reorder", event="push", count=1, hold_s=60)  # overtaken, not timed out
    await branch("late")
    await branch("early")
    await sim.wait_deliveries_idle()
    refs = [p["ref"].rsplit("/", 1)[-1] for p in world.receiver.events("push")]
    assert refs == ["doubled", "doubled", "early", "late"]
    dropped = [d for d in await sim.deliveries(event="push") if d["status"] == "dropped"]
    assert [d["payload"]["ref"] for d in dropped] == ["refs/heads/dropped"]


async def test_a_failing_receiver_is_recorded_and_webhook_url_can_change(world, sim, receiver):
    world.receiver.status = 500
    _, ref, _ = await world.api.get(f"{world.r}/git/ref/heads/main")
    await world.api.post(f"{world.r}/git/refs", {"ref": "refs/heads/a", "sha": ref["object"]["sha"]})
    await sim.wait_deliveries_idle()
    last = (await sim.deliveries(event="push"))[-1]
    assert last["status"] == "failed" and last["status_code"] == 500
    await sim.set_webhook_url(world.app["id"], "http://127.0.0.1:9/nowhere")
    await world.api.post(f"{world.r}/git/refs", {"ref": "refs/heads/b", "sha": ref["object"]["sha"]})
    await sim.wait_deliveries_idle()
    last = (await sim.deliveries(event="push"))[-1]
    assert last["status"] == "failed" and last["status_code"] is None and last["error"]
    await wait_for(lambda: len(world.receiver.events("push")) == 1)
