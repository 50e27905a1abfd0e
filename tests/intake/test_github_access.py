"""The GitHub access layer against the emulator, driven through real jobs: retries on
server errors, waiting out secondary rate limits, deferring on a spent primary limit,
counting calls, token caching and renewal, and no token in the logs."""

from __future__ import annotations

import io
import logging
import time

import pytest

from bot import logs
from bot.github.client import CallCounter, GitHub, RetryPolicy, needs_renewal, new_session, rate_limit_wait
from bot.github.errors import NotFound, UnprocessableEntity
from bot.jobs.queue import JobContext, enqueue
from bot.web.keys import GITHUB
from tests.conftest import wait_for
from tests.intake.intake_helpers import bot_on, github_world

REPO = "/repos/acme/fabric"


async def _github_result_table(pool):
    await pool.execute(
        "CREATE TABLE github_result (job_id bigint, attempts int, calls int, full_name text, "
        "began double precision, ended double precision)"
    )


async def read_repository(ctx: JobContext) -> None:
    """A job that reads the repository, recording how many calls it took."""
    counter = CallCounter()
    began = time.monotonic()
    gh = ctx.github.installation(ctx.job.payload["installation_id"], counter)
    repo = await gh.getitem(REPO)
    await ctx.pool.execute(
        "INSERT INTO github_result VALUES ($1, $2, $3, $4, $5, $6)",
        ctx.job.id,
        ctx.job.attempts,
        counter.calls,
        repo["full_name"],
        began,
        time.monotonic(),
    )


async def _run_read_job(world, pool):
    job_id = await enqueue(pool, "test.github", {"installation_id": world.installation_id}, max_attempts=2)
    await wait_for(
        lambda: pool.fetchval("SELECT status = 'done' FROM job WHERE id = $1", job_id),
        timeout=30,
        message="the GitHub job to finish",
    )
    return await pool.fetchrow("SELECT * FROM github_result WHERE job_id = $1", job_id)


def _statuses(requests, path=REPO):
    return [r["status"] for r in requests if r["method"] == "GET" and r["path"] == path]


async def test_two_server_errors_then_success_end_in_success_with_every_call_counted(tmp_path, pool):
    await _github_result_table(pool)
    async with github_world(tmp_path) as world:
        await world.sim.add_fault(method="GET", path=f"^{REPO}$", status=500, count=2)
        await world.sim.clear_requests()
        async with bot_on(world, pool, extra_jobs={"test.github": read_repository}):
            result = await _run_read_job(world, pool)
        requests = await world.sim.requests()
    assert result["full_name"] == "acme/fabric" and result["attempts"] == 1  # retried inside one attempt
    assert _statuses(requests) == [500, 500, 200]
    # the counter saw exactly what GitHub saw: the token mint and the three GETs
    assert result["calls"] == len([r for r in requests if r["kind"] == "rest"]) == 4


async def test_a_secondary_rate_limit_with_retry_after_1_is_waited_out(tmp_path, pool):
    await _github_result_table(pool)
    async with github_world(tmp_path) as world:
        await world.sim.add_fault(
            method="GET", path=f"^{REPO}$", status=403, secondary_rate_limit=True, retry_after=1, count=1
        )
        await world.sim.clear_requests()
        async with bot_on(world, pool, extra_jobs={"test.github": read_repository}):
            result = await _run_read_job(world, pool)
        requests = await world.sim.requests()
    assert _statuses(requests) == [403, 200]
    assert result["ended"] - result["began"] >= 1.0  # it waited the second GitHub asked for
    assert result["attempts"] == 1


async def test_a_spent_primary_rate_limit_defers_the_job_until_the_reset_without_spinning(tmp_path, pool):
    await _github_result_table(pool)
    async with github_world(tmp_path) as world:
        async with bot_on(world, pool, extra_jobs={"test.github": read_repository}) as client:
            await client.app[GITHUB].installation_token(world.installation_id)  # mint before the limit
            # The limit is spent while the job's call is held: it is refused however late the
            # job was taken (the reset is counted from here).
            call = await world.sim.add_fault(method="GET", path=f"^{REPO}$", hold=True)
            await world.sim.clear_requests()
            job_id = await enqueue(pool, "test.github", {"installation_id": world.installation_id}, max_attempts=1)
            await world.sim.wait_held(call["id"], timeout=15)
            limit = await world.sim.set_rate_limit(installation_id=world.installation_id, remaining=0, reset_in=2)
            await world.sim.release_fault(call["id"])
            deferred = await wait_for(
                lambda: pool.fetchrow(
                    "SELECT status, attempts, extract(epoch FROM run_after) AS run_after, last_error FROM job "
                    "WHERE id = $1 AND status = 'queued' AND last_error IS NOT NULL",
                    job_id,
                ),
                timeout=15,
                message="the job to be deferred",
            )
            await wait_for(
                lambda: pool.fetchval("SELECT status = 'done' FROM job WHERE id = $1", job_id),
                timeout=20,
                message="the job to finish after the reset",
            )
        requests = await world.sim.requests()
    assert deferred["attempts"] == 0 and "rate limit" in deferred["last_error"]
    assert deferred["run_after"] >= limit["reset"]  # not before GitHub's reset
    assert _statuses(requests) == [403, 200]  # one refusal, then nothing until the reset
    assert await pool.fetchval("SELECT attempts FROM job WHERE id = $1", job_id) == 1


async def test_installation_tokens_are_cached_and_renewed_5_minutes_before_expiry(tmp_path):
    assert not needs_renewal(expires_at=10_000, now=10_000 - 301)
    assert needs_renewal(expires_at=10_000, now=10_000 - 300)
    assert needs_renewal(expires_at=10_000, now=10_001)

    async with github_world(tmp_path) as world:
        now = [time.time()]
        async with new_session() as session:
            layer = GitHub.from_config(session, world.config(), clock=lambda: now[0])
            first = await layer.installation_token(world.installation_id)
            expires_at = layer.tokens[world.installation_id].expires_at
            assert 3000 < expires_at - now[0] <= 3602  # GitHub's real expires_at is used (whole seconds)
            now[0] = expires_at - 301
            assert await layer.installation_token(world.installation_id) == first
            now[0] = expires_at - 299
            second = await layer.installation_token(world.installation_id)
        mints = [
            r for r in await world.sim.requests() if r["method"] == "POST" and r["path"].endswith("/access_tokens")
        ]
    assert second != first and len(mints) == 2


async def test_errors_are_mapped_and_downloads_work(tmp_path):
    async with github_world(tmp_path) as world:
        async with new_session() as session:
            layer = GitHub.from_config(session, world.config(), policy=RetryPolicy(backoff_base=0.01))
            counter = CallCounter()
            gh = layer.installation(world.installation_id, counter)
            with pytest.raises(NotFound):
                await gh.getitem("/repos/acme/nothing-here")
            with pytest.raises(UnprocessableEntity) as refused:
                await gh.post("/repos/acme/fabric/git/refs", data={"ref": "refs/heads/x", "sha": "0" * 40})
            raw = await gh.getraw("/repos/acme/fabric/contents/{+path}", {"path": "fabric/vpc-1.yaml"})
            archive = await gh.tarball("acme", "fabric", "main")
            installation = await layer.repository_installation("acme", "fabric")
    assert str(refused.value)  # GitHub's message, for the operator
    assert raw.startswith(b"kind: VPC")
    assert archive[:2] == b"\x1f\x8b"  # gzip, fetched through the redirect
    assert installation["id"] == world.installation_id
    assert counter.calls >= 5


def test_rate_limit_answers_are_read_the_way_github_documents():
    now = 1_000_000.0
    assert rate_limit_wait(403, {"Retry-After": "1"}, b"", now) == ("secondary", 1.0)
    assert rate_limit_wait(429, {}, b"", now) == ("secondary", 60.0)
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(now) + 30)}
    assert rate_limit_wait(403, spent, b"", now) == ("primary", 31.0)
    assert rate_limit_wait(403, {"X-RateLimit-Remaining": "12"}, b'{"message": "Resource not accessible"}', now) is None
    assert rate_limit_wait(500, spent, b"", now) is None


async def test_no_token_or_key_is_logged_even_when_calls_fail(tmp_path, pool):
    await _github_result_table(pool)
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    async with github_world(tmp_path) as world:
        config = world.config()
        logs.setup("json", config.secrets(), level=logging.DEBUG, stream=stream)
        try:
            await world.sim.add_fault(method="GET", path=f"^{REPO}$", status=502, count=1)
            async with bot_on(world, pool, config=config, extra_jobs={"test.github": read_repository}) as client:
                await _run_read_job(world, pool)
                token = client.app[GITHUB].tokens[world.installation_id].token
        finally:
            root.handlers[:] = saved[0]
            root.setLevel(saved[1])
    output = stream.getvalue()
    assert "answered 502" in output  # the retry was logged...
    assert token not in output  # ...without the token
    for line in config.github_private_key.reveal().splitlines()[1:-1]:
        assert line not in output
    assert await pool.fetchval("SELECT count(*) FROM job WHERE last_error LIKE '%' || $1 || '%'", token) == 0
