"""Prometheus instruments this process updates as things happen: GitHub API calls and the rate
limit GitHub last reported (`record_github_call`, called by the GitHub gateway), webhook
acknowledgement latency (`record_webhook`), jobs this process ran (`record_job`), plus the
standard process_* and python_* metrics. `GET /metrics` (bot.web.metrics) serves them beside the
database-derived ones.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

log = logging.getLogger(__name__)

PREFIX = "hnp_gitops"

PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=PROCESS_REGISTRY)
PlatformCollector(registry=PROCESS_REGISTRY)

_github_calls = Counter(
    f"{PREFIX}_github_api_requests",
    "GitHub API requests this process made, by method and HTTP status ('error' when no answer came)",
    ["method", "status"],
    registry=PROCESS_REGISTRY,
)
_github_seconds = Histogram(
    f"{PREFIX}_github_api_request_duration_seconds",
    "Time GitHub took to answer this process's requests",
    ["method"],
    registry=PROCESS_REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
_rate_remaining = Gauge(
    f"{PREFIX}_github_rate_limit_remaining",
    "Requests left in GitHub's rate limit window, as GitHub "
    "last reported to this process (per installation; 'app' for app-JWT calls)",
    ["installation", "resource"],
    registry=PROCESS_REGISTRY,
)
_rate_reset = Gauge(
    f"{PREFIX}_github_rate_limit_reset_timestamp_seconds",
    "When GitHub's rate limit window resets (Unix time), as last reported to this process",
    ["installation", "resource"],
    registry=PROCESS_REGISTRY,
)
_webhook_ack = Histogram(
    f"{PREFIX}_webhook_ack_duration_seconds",
    "Time from a webhook request's arrival to its answer, in this process",
    ["status"],
    registry=PROCESS_REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0),
)
_jobs_run = Histogram(
    f"{PREFIX}_jobs_run_duration_seconds",
    "Jobs this process's workers ran, by kind and outcome (done, retry, dead), and how long each attempt took",
    ["kind", "outcome"],
    registry=PROCESS_REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0),
)


def record_github_call(
    status: int | str,
    rate_limit_remaining: int | str | None = None,
    *,
    method: str = "GET",
    installation_id: int | str | None = None,
    rate_limit_reset: int | float | str | None = None,
    resource: str | None = None,
    seconds: float | None = None,
) -> None:
    """Count one GitHub API request (call once per HTTP request, retries included).

    `status` is the HTTP status, or a word such as "error" or "timeout" when none came back;
    the rate-limit arguments are the X-RateLimit-Remaining / -Reset / -Resource headers as
    received (strings are fine). Never raises: metrics must not break a sync.
    """
    try:
        _github_calls.labels(method=str(method).upper(), status=str(status)).inc()
        if seconds is not None:
            _github_seconds.labels(method=str(method).upper()).observe(max(0.0, float(seconds)))
        labels = {
            "installation": str(installation_id) if installation_id is not None else "app",
            "resource": resource or "core",
        }
        if rate_limit_remaining not in (None, ""):
            _rate_remaining.labels(**labels).set(float(rate_limit_remaining))
        if rate_limit_reset not in (None, ""):
            _rate_reset.labels(**labels).set(float(rate_limit_reset))
    except (TypeError, ValueError):
        log.debug("ignored a malformed GitHub rate-limit header for metrics")


_webhook_ack_by_status: dict[int, Any] = {}  # labels() looks the child up by string each time


def record_webhook(status: int, seconds: float) -> None:
    """One webhook request answered with `status` after `seconds` (on every acknowledgement,
    so the labelled child is kept rather than looked up)."""
    child = _webhook_ack_by_status.get(status)
    if child is None:
        child = _webhook_ack_by_status[status] = _webhook_ack.labels(status=str(status))
    child.observe(max(0.0, seconds))


def record_job(kind: str, outcome: str, seconds: float) -> None:
    """One job attempt by this process's workers: outcome done, retry or dead."""
    _jobs_run.labels(kind=kind, outcome=outcome).observe(max(0.0, seconds))
