"""GET /metrics: what an operator's Prometheus sees, read from the database at scrape time."""

from __future__ import annotations

import uuid

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot import process_metrics
from bot.storage import fabrics, operations
from tests.operator.helpers import running_bot


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found, name, **labels) -> float:
    return found[(name, frozenset(labels.items()))]


async def seed(pool) -> None:
    """Two fabrics with deliveries, jobs, syncs, conflicts and drift of known counts."""
    east = await fabrics.create(pool, name="east", repository="acme/fabric", directory="", branch="main")
    west = await fabrics.create(pool, name="west", repository="acme/fabric", directory="west", branch="main")
    await fabrics.set_ingested(pool, east.id, "a" * 40)
    for i, (event, outcome) in enumerate(
        [
            ("push", "processed"),
            ("push", "processed"),
            ("push", "failed"),
            ("pull_request", "ignored"),
            ("ping", "pending"),
        ]
    ):
        processed = "now()" if outcome != "pending" else "NULL"
        await pool.execute(
            f"INSERT INTO webhook_delivery (delivery_id, event, body, outcome, processed_at) "
            f"VALUES ($1, $2, '\\x7b7d', $3, {processed})",
            f"d{i}",
            event,
            outcome,
        )
    # Queue: 2 ready, 1 delayed, 1 running with an expired lease, 1 dead, 2 done (0.3 s and 20 s).
    await pool.execute("""
        INSERT INTO job (kind, ordering_key, status, run_after, lease_expires_at, finished_at, created_at, attempts)
        VALUES ('webhook', 'k1', 'queued', now() - interval '30 seconds', NULL, NULL, now(), 0),
               ('webhook', 'k2', 'queued', now(), NULL, NULL, now(), 0),
               ('sync', 'k3', 'queued', now() + interval '1 hour', NULL, NULL, now(), 1),
               ('sync', 'k4', 'running', now(), now() - interval '1 minute', NULL, now(), 1),
               ('sync', 'k5', 'dead', now(), NULL, now(), now() - interval '1 minute', 8),
               ('webhook', 'k6', 'done', now(), NULL, now(), now() - interval '300 milliseconds', 1),
               ('webhook', 'k7', 'done', now(), NULL, now(), now() - interval '20 seconds', 1)
    """)
    # Syncs: one completed publish (7 API calls, 2 s), one failed ingest, one still running.
    done = await operations.create(pool, fabric_id=east.id, direction="gui_to_github")
    await operations.finish(
        pool,
        done.id,
        "completed",
        {"success": True, "github_integration": {"api_calls_made": 7, "rate_limit_remaining": 4990}},
    )
    # Exactly 2 s, whatever time passed between the statements.
    await pool.execute(
        "UPDATE sync_operation SET started_at = completed_at - interval '2 seconds' WHERE id = $1", done.id
    )
    failed = await operations.create(pool, fabric_id=east.id, direction="github_to_gui")
    await operations.finish(
        pool,
        failed.id,
        "failed",
        {"success": False, "github_integration": {"api_calls_made": 2}},
        error="tree too large",
    )
    running = await operations.create(pool, fabric_id=west.id, direction="bidirectional")
    await operations.set_status(pool, running.id, "gui_to_github_sync")
    # Resources: east has 3 in_sync, 1 drifted, 1 conflict (with 2 open conflicts and 1 resolved).
    for name in ("a", "b", "c"):
        await pool.execute(
            "INSERT INTO resource (fabric_id, kind, name, desired_spec, desired_sha) VALUES ($1, 'VPC', $2, '{}', $3)",
            east.id,
            name,
            "a" * 40,
        )
    await pool.execute(
        "INSERT INTO resource (fabric_id, kind, name, desired_spec, desired_sha, actual_spec, "
        "actual_reported_at, state) VALUES ($1, 'Switch', 'leaf-1', '{\"x\": 1}', $2, "
        "'{\"x\": 2}', now(), 'drifted')",
        east.id,
        "a" * 40,
    )
    conflicted = await pool.fetchval(
        "INSERT INTO resource (fabric_id, kind, name, desired_spec, desired_sha, draft_spec, drafted_at, state) "
        "VALUES ($1, 'VPC', 'vpc-1', '{}', $2, '{\"v\": 1}', now(), 'conflict') RETURNING id",
        east.id,
        "a" * 40,
    )
    for path, status in (("spec.a", "open"), ("spec.b", "open"), ("spec.c", "resolved")):
        resolved = "'gui_wins', now()" if status == "resolved" else "NULL, NULL"
        await pool.execute(
            f"INSERT INTO conflict (fabric_id, resource_id, type, severity, field_path, message, status, "
            f"resolution, resolved_at) VALUES ($1, $2, 'concurrent_modification', 'high', $3, 'both changed', "
            f"$4, {resolved})",
            east.id,
            conflicted,
            path,
            status,
        )
    await pool.execute(
        "INSERT INTO pull_request (fabric_id, number, branch, state) VALUES ($1, 7, 'hnp-sync/east/1', 'open')", east.id
    )


async def scrape(base_url: str, **headers) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base_url}/metrics", headers=headers) as response:
            return response.status, response.headers["Content-Type"], await response.text()


async def test_metrics_report_deliveries_queue_syncs_conflicts_and_drift_from_the_database(pool, tmp_path):
    await seed(pool)
    async with running_bot(pool) as bot:
        status, content_type, text = await scrape(bot.url)  # no token: scrapers send none
    assert status == 200
    assert content_type.startswith("text/plain") and "version=0.0.4" in content_type
    found = samples(text)

    assert value(found, "hnp_gitops_webhook_deliveries_total", event="push", outcome="processed") == 2
    assert value(found, "hnp_gitops_webhook_deliveries_total", event="push", outcome="failed") == 1
    assert value(found, "hnp_gitops_webhook_deliveries_total", event="ping", outcome="pending") == 1
    assert value(found, "hnp_gitops_webhook_oldest_pending_age_seconds") >= 0

    assert value(found, "hnp_gitops_queue_jobs", kind="webhook", state="ready") == 2
    assert value(found, "hnp_gitops_queue_jobs", kind="sync", state="delayed") == 1
    assert value(found, "hnp_gitops_queue_jobs", kind="sync", state="running") == 1
    assert value(found, "hnp_gitops_queue_expired_leases") == 1
    assert value(found, "hnp_gitops_queue_dead_jobs", kind="sync") == 1
    assert value(found, "hnp_gitops_queue_oldest_ready_age_seconds") >= 29
    # Two finished webhook jobs: 0.3 s and 20 s after enqueueing.
    assert value(found, "hnp_gitops_job_latency_seconds_count", kind="webhook", status="done") == 2
    assert value(found, "hnp_gitops_job_latency_seconds_bucket", kind="webhook", status="done", le="0.5") == 1
    assert value(found, "hnp_gitops_job_latency_seconds_bucket", kind="webhook", status="done", le="30.0") == 2
    assert 20 <= value(found, "hnp_gitops_job_latency_seconds_sum", kind="webhook", status="done") < 25

    assert value(found, "hnp_gitops_sync_duration_seconds_count", direction="gui_to_github", status="completed") == 1
    assert (
        value(found, "hnp_gitops_sync_duration_seconds_bucket", direction="gui_to_github", status="completed", le="1.0")
        == 0
    )
    assert (
        value(found, "hnp_gitops_sync_duration_seconds_bucket", direction="gui_to_github", status="completed", le="2.5")
        == 1
    )
    assert value(found, "hnp_gitops_sync_duration_seconds_count", direction="github_to_gui", status="failed") == 1
    assert value(found, "hnp_gitops_sync_operations_active", status="gui_to_github_sync") == 1
    assert value(found, "hnp_gitops_sync_github_api_calls_total", direction="gui_to_github") == 7
    assert value(found, "hnp_gitops_sync_github_api_calls_total", direction="github_to_gui") == 2
    assert value(found, "hnp_gitops_sync_rate_limit_remaining", fabric="east") == 4990

    assert value(found, "hnp_gitops_conflicts_open", fabric="east", type="concurrent_modification") == 2
    assert value(found, "hnp_gitops_conflicts_open", fabric="west", type="concurrent_modification") == 0
    assert value(found, "hnp_gitops_resources", fabric="east", state="in_sync") == 3
    assert value(found, "hnp_gitops_resources", fabric="east", state="drifted") == 1
    assert value(found, "hnp_gitops_resources", fabric="east", state="conflict") == 1
    assert value(found, "hnp_gitops_pull_requests_open", fabric="east") == 1
    assert value(found, "hnp_gitops_fabric_connection", fabric="east", status="connected") == 1
    assert value(found, "hnp_gitops_fabric_last_ingest_timestamp_seconds", fabric="east") > 1.7e9
    assert value(found, "hnp_gitops_fabrics") == 2
    assert value(found, "hnp_gitops_database_up") == 1


async def test_github_calls_recorded_by_the_access_layer_appear_with_the_rate_limit(pool):
    installation = f"inst-{uuid.uuid4().hex[:6]}"
    process_metrics.record_github_call(
        200, "4321", method="get", installation_id=installation, rate_limit_reset="1700000000", seconds=0.12
    )
    process_metrics.record_github_call(502, None, method="POST", installation_id=installation)
    process_metrics.record_github_call("timeout", "not a number", installation_id=installation)  # never raises
    process_metrics.record_webhook(202, 0.004)
    process_metrics.record_job("webhook", "done", 0.2)
    async with running_bot(pool) as bot:
        _, _, text = await scrape(bot.url)
    found = samples(text)
    assert value(found, "hnp_gitops_github_api_requests_total", method="GET", status="200") >= 1
    assert value(found, "hnp_gitops_github_api_requests_total", method="POST", status="502") >= 1
    assert value(found, "hnp_gitops_github_api_requests_total", method="GET", status="timeout") >= 1
    assert value(found, "hnp_gitops_github_rate_limit_remaining", installation=installation, resource="core") == 4321
    assert (
        value(found, "hnp_gitops_github_rate_limit_reset_timestamp_seconds", installation=installation, resource="core")
        == 1700000000
    )
    assert value(found, "hnp_gitops_webhook_ack_duration_seconds_count", status="202") >= 1
    assert value(found, "hnp_gitops_jobs_run_duration_seconds_count", kind="webhook", outcome="done") >= 1
    assert ("process_cpu_seconds_total", frozenset()) in found  # this process's standard metrics


async def test_metrics_carry_no_secrets_and_no_payload_data(pool):
    await seed(pool)
    await pool.execute(
        "INSERT INTO webhook_delivery (delivery_id, event, body) VALUES "
        "('secret-body', 'push', convert_to('{\"token\": \"ghs_supersecretvalue\"}', 'UTF8'))"
    )
    async with running_bot(pool, token="metrics-test-token-0123456789") as bot:
        status, _, text = await scrape(bot.url)
    assert status == 200
    assert "metrics-test-token-0123456789" not in text
    assert "ghs_supersecretvalue" not in text and "secret-body" not in text
    assert "acme/fabric" not in text  # repository names stay out; fabric names are the labels
    assert "vpc-1" not in text and "leaf-1" not in text and "spec.a" not in text


async def test_an_unreachable_database_gives_database_up_0_not_an_error(pool, database_url):
    async with running_bot(pool) as bot:
        await pool.close()  # the database goes away under the running bot
        status, _, text = await scrape(bot.url)
    assert status == 200
    found = samples(text)
    assert value(found, "hnp_gitops_database_up") == 0
    assert not any(name.startswith("hnp_gitops_webhook_deliveries") for name, _ in found)
