"""The benchmarks keep working: intake, freshness and scale run end to end at tiny sizes (real serve,
ghsim and PostgreSQL, as in `python -m bench`), with their results in a temporary directory."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# A bound for a hung benchmark, not a speed target: these check that the benchmarks work, and
# a loaded 2-core machine (another test process beside them) can take minutes to start three
# servers and a PostgreSQL.
BENCH_TIMEOUT = 300
pytestmark = pytest.mark.timeout(BENCH_TIMEOUT + 30)


def run_bench(tmp_path: Path, *args: str) -> dict:
    env = {**os.environ, "HNP_BENCH_RESULTS": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=BENCH_TIMEOUT
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    name = args[0].split(".")[1]
    return json.loads((tmp_path / f"{name}.json").read_text())


def test_intake_benchmark_counts_every_acknowledged_delivery_as_stored(tmp_path):
    result = run_bench(
        tmp_path, "bench.intake", "--count", "50", "--warmup", "10", "--concurrency", "8", "--drain-timeout", "20"
    )
    serve, ceiling = result["serve"], result["ceiling"]
    assert ceiling["statuses"] == {"202": 50} and serve["statuses"] == {"202": 50}
    assert serve["acknowledged_total"] == serve["stored_total"] == 60 and serve["lost"] == 0
    assert serve["per_second"] > 0 and result["ratio"] > 0 and serve["p99_ms"] >= serve["p50_ms"] > 0
    assert serve["serve_errors"] == []
    # the reference receivers ran on the same load, and stored what they acknowledged
    for role in ("plain", "grouped"):
        reference = result["references"][role]
        assert reference["statuses"] == {"202": 50}, role
        assert reference["acknowledged_total"] == reference["stored_total"] == 60 and reference["lost"] == 0, role
        assert result["reference_ratios"][role] > 0
    # the CPU each part spent is reported per delivery
    assert serve["cpu"]["receiver_us"] > 0 and serve["cpu"]["client_us"] > 0
    assert 0 < serve["cpu"]["machine_busy_pct"] <= 100


def test_freshness_benchmark_times_pushes_until_the_database_has_them(tmp_path):
    result = run_bench(tmp_path, "bench.freshness", "--pushes", "5", "--files", "5", "--docs-per-file", "2")
    assert [p["push"] for p in result["pushes"]] == [1, 2, 3, 4, 5]
    assert result["resources_changed"] == 5 and result["first_push"]["resources"] == 10
    assert 0 < result["fresh"]["p50_ms"] <= result["fresh"]["p99_ms"]
    assert result["serve_errors"] == []


def test_scale_benchmark_with_two_serve_processes_keeps_every_invariant(tmp_path):
    """Two `serve` processes on one database take a burst of signed pushes, spread over two
    installations and four fabrics: each delivery is processed once, every fabric ends at its
    branch head, its ingested commits only move forward, no more ingests run than pushes came,
    the calls stay within the bound, and a reconcile with nothing changed costs only 304s."""
    result = run_bench(
        tmp_path,
        "bench.scale",
        "--fabrics", "4", "--repositories", "2", "--installations", "2",
        "--pushes", "40", "--processes", "2", "--sweep-spread", "0.5",
    )  # fmt: skip
    [burst] = result["rounds"]
    assert burst["processes"] == 2 and burst["pushes"] == 40
    assert burst["answers"] == {"202 queued": 40}
    assert burst["fabrics_matching_head"] == 4
    invariants = burst["invariants"]
    assert invariants["every_delivery_processed_once"], invariants
    assert invariants["ingests_that_went_backwards"] == invariants["commits_ingested_twice"] == 0, invariants
    assert invariants["pull_requests"] == invariants["dead_jobs"] == invariants["unfinished_jobs"] == 0, invariants
    assert burst["ingests_run"] <= burst["pushes"] and burst["calls_within_bound"], burst
    assert {i["installation"] for i in burst["per_installation"]} == {0, 1}
    assert all(0 < i["p50_ms"] <= i["p99_ms"] for i in burst["per_installation"])
    sweep = burst["reconcile_sweep"]
    assert sweep["checks"] == sweep["not_modified_304"] == 4, sweep  # nothing changed: all free
    assert burst["serve_errors"] == []
