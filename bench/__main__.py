"""Run every benchmark, check each against its target, print one summary and write the plot.

    python -m bench [--only intake,freshness] [--skip publish] [--budget 600]

Each benchmark runs as its own process (`python -m bench.<name>`), one after the other,
printing its own table and writing bench/results/<name>.json. Then:
  - bench/results/summary.json: the machine, every benchmark's exit code, duration and JSON,
    and the target checks;
  - one table with PASS / MISS per target (MISSING when a benchmark wrote no fresh JSON);
  - bench/results/calls_and_time.png (bench/plot.py);
  - the figures table in README.md, between its `figures` markers.
The exit code is 0 when every benchmark ran, whatever the targets say (the table says that).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import yardstick
from bench.common import RESULTS, ROOT, machine, print_table

# name, JSON it writes (None: prints only), arguments, time limit in seconds
BENCHMARKS: list[tuple[str, str | None, list[str], float]] = [
    ("yardstick", "yardstick", [], 120),
    ("parse_validate", None, [], 120),
    ("fabric_rules", "fabric_rules", [], 120),
    ("conflicts", "conflicts", [], 180),
    ("publish", "publish", [], 300),
    ("ingest", "ingest", [], 240),
    ("intake", "intake", [], 300),
    ("freshness", "freshness", [], 240),
    ("memory", "memory", [], 240),
    ("scale", "scale", [], 1500),
]


# --- target checks -------------------------------------------------------------------------

Check = dict[str, Any]


def _check(
    benchmark: str,
    target: str,
    measured: Any,
    ok: bool | None,
    detail: str = "",
    timing: tuple[float, float, str] | None = None,
) -> Check:
    """One target's verdict. `timing` = (value, limit, yardstick kind) for a target that is an
    absolute time: judged again on the value scaled to the quiet machine (judge_against_yardstick)."""
    check = {
        "benchmark": benchmark,
        "target": target,
        "measured": measured,
        "result": "MISSING" if ok is None else ("PASS" if ok else "MISS"),
        "detail": detail,
    }
    if timing is not None:
        check["timing"] = {"value": timing[0], "limit": timing[1], "yardstick": timing[2]}
    return check


def judge_against_yardstick(checks: list[Check], today: dict[str, Any] | None) -> None:
    """Timing targets are judged on the figure scaled to the quiet reference run of the
    yardstick (bench/yardstick.py), so that a slow machine and slow code can be told apart."""
    for check in checks:
        timing = check.get("timing")
        if timing is None or today is None or check["result"] == "MISSING":
            continue
        factor = yardstick.scale_factor(today, timing["yardstick"])
        scaled = timing["value"] / factor
        timing.update(machine_slower_than_quiet=round(factor, 2), scaled_to_quiet=round(scaled, 4))
        check["result"] = "PASS" if scaled < timing["limit"] else "MISS"
        check["detail"] = (
            f"as measured {timing['value']:g}; machine {factor:.2f}x the quiet yardstick ({timing['yardstick']}), "
            f"scaled {scaled:.3g}; " + str(check["detail"])
        )


def check_publish(data: dict[str, Any]) -> list[Check]:
    rows = data.get("results") or []
    worst = max(rows, key=lambda r: r["bot"]["calls"])
    base = max(rows, key=lambda r: r["n"])
    ratio = base["baseline"]["calls"] / max(1, base["bot"]["calls"])
    return [
        _check(
            "publish",
            "<= 8 GitHub calls for every N (1..1,000)",
            f"max {worst['bot']['calls']} calls (N={worst['n']:,})",
            all(r["bot"]["calls"] <= 8 for r in rows),
            f"baseline {base['baseline']['calls']:,} calls at N={base['n']:,} ({ratio:,.0f}x); "
            f"bot {base['bot']['seconds']} s vs baseline {base['baseline']['seconds']} s",
        )
    ]


def check_ingest(data: dict[str, Any]) -> list[Check]:
    rows = data.get("rows") or []
    worst_calls = max(rows, key=lambda r: r["api_calls"])
    big = [r for r in rows if r.get("documents_parsed", 0) >= 10000]
    out = [
        _check(
            "ingest",
            "<= 6 GitHub calls for any size",
            f"max {worst_calls['api_calls']} calls",
            all(r["api_calls"] <= 6 for r in rows),
            worst_calls["case"],
        )
    ]
    if big:
        slow = max(big, key=lambda r: r["wall_s"])
        out.append(
            _check(
                "ingest",
                "10,000 documents ingested < 3 s",
                f"{slow['wall_s']} s (worst)",
                all(r["wall_s"] < 3 for r in big),
                "; ".join(f"{r['case']}: {r['wall_s']} s (db {r['database_ms']:.0f} ms)" for r in big),
                timing=(slow["wall_s"], 3, "mixed"),
            )
        )
    else:
        out.append(_check("ingest", "10,000 documents ingested < 3 s", None, None, "no 10,000-document row"))
    return out


def check_conflicts(data: dict[str, Any]) -> list[Check]:
    rows = [r for r in data.get("results") or [] if r.get("drafts", 0) >= 10000]
    if not rows:
        return [_check("conflicts", "10,000 drafts checked < 1 s", None, None, "no 10,000-draft row")]
    seconds = max(max(r["seconds"].values()) for r in rows)
    detail = ", ".join(f"{k} {v:.3f} s" for k, v in rows[0]["seconds"].items())
    return [
        _check(
            "conflicts",
            "10,000 drafts checked < 1 s",
            f"{seconds:.3f} s (slowest mode)",
            seconds < 1,
            detail,
            timing=(seconds, 1, "mixed"),
        )
    ]


def check_fabric_rules(data: dict[str, Any]) -> list[Check]:
    target = "10,000 documents validated as a whole < 0.5 s"
    rows = [r for r in data.get("results") or [] if r.get("documents", 0) >= 10000]
    if not rows:
        return [_check("fabric_rules", target, None, None, "no 10,000-document row")]
    row = rows[0]
    detail = (
        f"{row['vpcs']:,} VPCs, {row['connections']:,} connections; {row['violations']} violations "
        f"(a consistent fabric: 0 expected); best of {data['settings']['repeat']}"
    )
    return [
        _check(
            "fabric_rules",
            target,
            f"{row['seconds']:.3f} s",
            row["seconds"] < 0.5,
            detail,
            timing=(row["seconds"], 0.5, "cpu"),
        )
    ]


def check_intake(data: dict[str, Any]) -> list[Check]:
    serve, ceiling, ratio = data["serve"], data["ceiling"], data.get("ratio")
    plain = (data.get("references") or {}).get("plain")
    grouped = (data.get("references") or {}).get("grouped")
    load = f"{data['settings']['count']:,} deliveries, concurrency {data['settings']['concurrency']}"
    detail = f"serve {serve['per_second']:,.0f}/s vs ceiling {ceiling['per_second']:,.0f}/s ({load})"
    ratios = data.get("reference_ratios") or {}
    if plain:
        detail += f"; plain insert-per-request {plain['per_second']:,.0f}/s = {ratios.get('plain')}x"
    if grouped:
        detail += f"; minimal group commit {grouped['per_second']:,.0f}/s = {ratios.get('grouped')}x"
    cpu, ceiling_cpu = serve.get("cpu") or {}, ceiling.get("cpu") or {}
    if None not in (
        cpu.get("receiver_us"),
        cpu.get("postgres_us"),
        cpu.get("client_us"),
        ceiling_cpu.get("receiver_us"),
        ceiling_cpu.get("client_us"),
    ):
        detail += (
            f"; CPU per delivery: serve {cpu['receiver_us']:.0f} us + PostgreSQL {cpu['postgres_us']:.0f} us"
            f" + load generator {cpu['client_us']:.0f} us (ceiling "
            f"{ceiling_cpu['receiver_us']:.0f} + {ceiling_cpu['client_us']:.0f} us), "
            f"machine {cpu['machine_busy_pct']}% busy"
        )
    return [
        _check("intake", ">= 0.5x the signature-only ceiling", f"{ratio}x", ratio is not None and ratio >= 0.5, detail),
        _check(
            "intake",
            "ack p99 < 25 ms",
            f"{serve['p99_ms']} ms",
            serve["p99_ms"] < 25,
            f"p50 {serve['p50_ms']} ms, max {serve['max_ms']} ms; ceiling p99 {ceiling['p99_ms']} ms",
            timing=(serve["p99_ms"], 25, "mixed"),
        ),
        _check(
            "intake",
            "none lost (stored == acknowledged)",
            f"{serve['stored_total']:,} stored / {serve['acknowledged_total']:,} acked",
            serve["lost"] == 0
            and (serve["stored_total"] == serve["acknowledged_total"] or data["settings"]["client"] == "wrk"),
        ),
    ]


def check_freshness(data: dict[str, Any]) -> list[Check]:
    fresh = data["fresh"]
    return [
        _check(
            "freshness",
            "git push -> database p99 < 1 s",
            f"{fresh['p99_ms']:.0f} ms",
            fresh["p99_ms"] < 1000 and data["resources_changed"] == len(data["pushes"]),
            f"p50 {fresh['p50_ms']:.0f} ms over {len(data['pushes'])} pushes "
            f"({data['settings']['documents']:,}-document fabric)",
            timing=(fresh["p99_ms"], 1000, "mixed") if data["resources_changed"] == len(data["pushes"]) else None,
        )
    ]


def check_memory(data: dict[str, Any]) -> list[Check]:
    return [
        _check(
            "memory",
            "serve peak RSS < 300 MB ingesting 10,000 documents",
            f"{data['peak_mb']} MB",
            data["peak_mb"] < 300,
            "; ".join(f"{r['layout']}: {r['vmhwm_mb']} MB" for r in data["rows"]),
        )
    ]


def check_scale(data: dict[str, Any]) -> list[Check]:
    rounds = data.get("rounds") or []
    one = next((r for r in rounds if r["processes"] == 1), None)
    if one is None:
        return [_check("scale", t, None, None, "no round with one serve process") for t in TARGETS["scale"]]
    target = data["target"]
    others = ", ".join(
        f"{r['processes']} processes {r['all_in_database_s']} s (quietest p99 {r['quietest']['p99_ms'] / 1000:.2f} s)"
        for r in rounds
        if r["processes"] != 1
    )
    quiet = one["quietest"]
    sweep = one["reconcile_sweep"]
    invariants_ok = all(
        r["invariants"]["every_delivery_processed_once"]
        and r["invariants"]["ingests_that_went_backwards"] == 0
        and r["invariants"]["commits_ingested_twice"] == 0
        and r["invariants"]["pull_requests"] == 0
        and r["invariants"]["dead_jobs"] == 0
        and r["fabrics_matching_head"] == data["settings"]["fabrics"]
        for r in rounds
    )
    all_in = one["all_in_database_s"]
    return [
        _check(
            "scale",
            "1,000-push burst over 200 fabrics in the database < 30 s (one serve)",
            f"{all_in} s",
            all_in < target["all_in_database_s"],
            f"{one['pushes']:,} pushes to {one['fabrics_pushed']} fabrics, sent in {one['burst_send_s']} s; "
            f"{one['ingests_run']} ingests run; {others}",
            timing=(all_in, target["all_in_database_s"], "mixed"),
        ),
        _check(
            "scale",
            "quiet installation's push -> database p99 < 2 s during the burst",
            f"{quiet['p99_ms'] / 1000:.2f} s",
            quiet["p99_ms"] < target["quiet_p99_ms"],
            f"installation {quiet['installation']} ({quiet['pushes']} pushes), p50 {quiet['p50_ms'] / 1000:.2f} s; "
            f"busiest installation p99 {one['per_installation'][0]['p99_ms'] / 1000:.2f} s",
            timing=(quiet["p99_ms"] / 1000, target["quiet_p99_ms"] / 1000, "mixed"),
        ),
        _check(
            "scale",
            "<= 6 GitHub calls per ingest run; ingests coalesced",
            f"{one['calls_per_ingest_run']} calls per ingest",
            bool(one["calls_within_bound"]),
            f"{one['github_calls']:,} calls, {one['ingests_run']} ingests run for {one['pushes']:,} pushes "
            f"({one['ingests_that_changed_state']} changed state), {one['tokens_minted']} tokens minted",
        ),
        _check(
            "scale",
            "reconcile sweep with nothing changed: every check a 304, at a bounded rate",
            f"{sweep['not_modified_304']}/{sweep['checks']} 304",
            sweep["checks"] == sweep["fabrics"] and sweep["not_modified_304"] == sweep["checks"],
            f"spread over {sweep['spread_s']} s: first to last check {sweep['first_to_last_check_s']} s, "
            f"at most {sweep['most_checks_in_one_second']} in one second",
        ),
        _check(
            "scale",
            "replicas: each delivery once, ingests in order, no commit twice, no PR (1, 2, 4 processes)",
            "held" if invariants_ok else "broken",
            invariants_ok,
            "; ".join(f"{r['processes']}: {r['invariants']}" for r in rounds if not invariants_ok),
        ),
    ]


CHECKS: dict[str, Callable[[dict[str, Any]], list[Check]]] = {
    "publish": check_publish,
    "ingest": check_ingest,
    "conflicts": check_conflicts,
    "fabric_rules": check_fabric_rules,
    "intake": check_intake,
    "freshness": check_freshness,
    "memory": check_memory,
    "scale": check_scale,
}
TARGETS = {
    "publish": ["<= 8 GitHub calls for every N (1..1,000)"],
    "ingest": ["<= 6 GitHub calls for any size", "10,000 documents ingested < 3 s"],
    "conflicts": ["10,000 drafts checked < 1 s"],
    "fabric_rules": ["10,000 documents validated as a whole < 0.5 s"],
    "intake": [">= 0.5x the signature-only ceiling", "ack p99 < 25 ms", "none lost (stored == acknowledged)"],
    "freshness": ["git push -> database p99 < 1 s"],
    "memory": ["serve peak RSS < 300 MB ingesting 10,000 documents"],
    "scale": [
        "1,000-push burst over 200 fabrics in the database < 30 s (one serve)",
        "quiet installation's push -> database p99 < 2 s during the burst",
        "<= 6 GitHub calls per ingest run; ingests coalesced",
        "reconcile sweep with nothing changed: every check a 304, at a bounded rate",
        "replicas: each delivery once, ingests in order, no commit twice, no PR (1, 2, 4 processes)",
    ],
}


def checks_for(name: str, data: dict[str, Any] | None, why: str) -> list[Check]:
    if name not in CHECKS:
        return []
    if data is None:
        return [_check(name, t, None, None, why) for t in TARGETS[name]]
    try:
        return CHECKS[name](data)
    except (KeyError, TypeError, ValueError) as error:
        return [
            _check(name, t, None, None, f"unexpected JSON ({error.__class__.__name__}: {error})") for t in TARGETS[name]
        ]


# --- running ----------------------------------------------------------------------------------


def run_one(name: str, args: list[str], limit: float) -> dict[str, Any]:
    print(f"\n=== {name} {'=' * max(3, 70 - len(name))}", flush=True)
    began = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", f"bench.{name}", *args], cwd=ROOT, env=env, start_new_session=True)
    try:
        code = proc.wait(limit)
        reason = None if code == 0 else f"exit code {code}"
    except subprocess.TimeoutExpired:
        # SIGINT to its whole process group (serve, ghsim, the load generator): the benchmark's
        # clean-up runs (KeyboardInterrupt), serve and ghsim stop as on Ctrl-C.
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        code, reason = None, f"stopped after its {limit:.0f} s limit"
    return {"exit_code": code, "seconds": round(time.monotonic() - began, 1), "problem": reason}


# --- README.md ------------------------------------------------------------------------

DOC = ROOT / "README.md"
START, END = "<!-- figures:start (written by python -m bench) -->", "<!-- figures:end -->"


def yardstick_line(summary: dict[str, Any]) -> str:
    today = ((summary["runs"].get("yardstick") or {}).get("results")) or None
    if today is None:
        return "Yardstick: not measured in this run; timing targets are judged on the figures as measured."
    ref = yardstick.QUIET_REFERENCE
    return (
        f"Yardstick (`bench/yardstick.py`, a fixed CPU and database workload): cpu {today['cpu_ms']} ms, "
        f"db {today['db_ms']} ms in this run; {ref['cpu_ms']} ms and {ref['db_ms']} ms on the quiet reference run "
        f"({ref['measured']}). Timing targets are judged on the figure scaled to the quiet run."
    )


def figures_markdown(summary: dict[str, Any]) -> str:
    m = summary["machine"]
    lines = [
        f"Measured {summary['started'][:10]} on {m['nproc']} CPUs ({m['cpu_model']}), "
        f"{m['memory_gib']} GiB memory, {m['os']}, Python {m['python']}, PostgreSQL {m['postgresql']} "
        f"(embedded); load average {m['loadavg_before'][0]} when the run began. "
        f"`python -m bench` took {summary['total_seconds']:.0f} s.",
        "",
        yardstick_line(summary),
        "",
        "| Benchmark | Target | Measured | Result | Detail |",
        "|---|---|---|---|---|",
    ]
    for c in summary["checks"]:
        measured = c["measured"] if c["measured"] is not None else "-"
        detail = str(c["detail"]).replace("|", "/")
        lines.append(f"| {c['benchmark']} | {c['target']} | {measured} | **{c['result']}** | {detail} |")
    return "\n".join(lines)


def update_performance_doc(summary: dict[str, Any]) -> Path:
    """Replace the figures between the markers of README.md (left alone without them)."""
    text = DOC.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{DOC.name} has no figures markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{START}\n{figures_markdown(summary)}\n{END}{tail}")
    return DOC


def _previous_summary() -> dict[str, Any]:
    try:
        return json.loads((RESULTS / "summary.json").read_text())
    except (OSError, ValueError):
        return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated benchmarks to run (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated benchmarks to leave out")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    names = [b[0] for b in BENCHMARKS]
    chosen = args.only.split(",") if args.only else names
    unknown = set(chosen) - set(names)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))} (choose from {', '.join(names)})")
    skipped = set(args.skip.split(",")) - {""}

    started = datetime.now(UTC)
    began = time.monotonic()
    load_before = os.getloadavg()
    runs: dict[str, Any] = {}
    checks: list[Check] = []
    for name, output, extra, limit in BENCHMARKS:
        # The yardstick runs with any selection: every timing is judged against today's machine.
        if name != "yardstick" and (name not in chosen or name in skipped):
            continue
        t0 = time.time()
        run = run_one(name, extra, limit)
        data, why = None, run["problem"] or "no JSON written"
        if output is not None:
            path = RESULTS / f"{output}.json"
            if path.exists() and path.stat().st_mtime >= t0:
                try:
                    data = json.loads(path.read_text())
                except ValueError as error:
                    why = f"unreadable JSON: {error}"
            run["json"] = str(path.relative_to(ROOT))
        else:
            run["json"] = None
            run["note"] = "prints a table only; writes no JSON"
        run["results"] = data
        runs[name] = run
        checks.extend(checks_for(name, data, why))
    total = round(time.monotonic() - began, 1)

    judge_against_yardstick(checks, (runs.get("yardstick") or {}).get("results"))
    ran = set(runs)
    previous = _previous_summary()
    carried = [n for n in previous.get("runs", {}) if n not in ran]
    for name in carried:  # a partial run (--only / --skip) keeps the other benchmarks' last figures
        was = previous["runs"][name]
        runs[name] = {**was, "carried_over_from": was.get("carried_over_from") or previous.get("started")}
        checks.extend(c for c in previous.get("checks", []) if c["benchmark"] == name)
    order = [b[0] for b in BENCHMARKS]
    checks.sort(key=lambda c: order.index(c["benchmark"]) if c["benchmark"] in order else len(order))
    runs = {n: runs[n] for n in sorted(runs, key=lambda n: order.index(n) if n in order else len(order))}
    if carried:
        total = previous.get("total_seconds", total)
    summary = {
        "benchmark": "summary",
        "started": started.isoformat(timespec="seconds"),
        "total_seconds": total,
        "machine": {
            **machine(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "checks": checks,
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")

    print("\n=== summary " + "=" * 60)
    print_table(
        [{**c, "measured": c["measured"] if c["measured"] is not None else "-"} for c in checks],
        ("result", "benchmark", "target", "measured", "detail"),
    )
    print()
    print_table(
        [
            {
                "benchmark": n,
                "seconds": r["seconds"],
                "exit": r["exit_code"],
                "note": r.get("problem") or r.get("note") or "",
            }
            for n, r in runs.items()
        ],
        ("benchmark", "seconds", "exit", "note"),
    )
    note = f" (benchmarks not run now keep their figures of {previous.get('started')})" if carried else ""
    print(f"\ntotal {total:.0f} s{note}; written bench/results/summary.json", flush=True)

    if not args.no_plot:
        try:
            from bench import plot

            print(f"plot: {plot.write().relative_to(ROOT)}")
        except Exception as error:
            print(f"plot not written: {error.__class__.__name__}: {error}", file=sys.stderr)
    try:
        print(f"figures table: {update_performance_doc(summary).relative_to(ROOT)}")
    except Exception as error:
        print(f"README.md not updated: {error.__class__.__name__}: {error}", file=sys.stderr)
    return 0 if all(r["exit_code"] == 0 for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
