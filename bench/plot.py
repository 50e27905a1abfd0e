"""The README's plot: GitHub API calls and wall time against N, the bot beside the baseline.

    python -m bench.plot            # reads bench/results/publish.json (and ingest.json)

Writes bench/results/calls_and_time.png: on the left API calls, on the right wall time,
both against N on log scales, for
  - publishing N drafted resources: the bot (one tree, one commit, one PR) and the
    baseline (one Contents API write per file, then the PR: the seed's design);
  - ingesting a push that changes N files of a 10,000-document fabric (when ingest.json
    is there).
Needs matplotlib (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, ROOT

OUT = RESULTS / "calls_and_time.png"


def _series() -> list[dict]:
    series = []
    publish = json.loads((RESULTS / "publish.json").read_text())
    rows = sorted(publish["results"], key=lambda r: r["n"])
    n = [r["n"] for r in rows]
    series.append(
        {
            "label": "publish: bot (Git Data API, one commit)",
            "n": n,
            "calls": [r["bot"]["calls"] for r in rows],
            "seconds": [r["bot"]["seconds"] for r in rows],
            "style": {"color": "tab:blue", "marker": "o"},
        }
    )
    series.append(
        {
            "label": "publish: baseline (Contents API per file)",
            "n": n,
            "calls": [r["baseline"]["calls"] for r in rows],
            "seconds": [r["baseline"]["seconds"] for r in rows],
            "style": {"color": "tab:red", "marker": "s", "linestyle": "--"},
        }
    )
    ingest_path = RESULTS / "ingest.json"
    if ingest_path.exists():
        ingest = json.loads(ingest_path.read_text())
        pushes = sorted(
            (r for r in ingest.get("rows", []) if str(r.get("case", "")).startswith("push changing")),
            key=lambda r: r["files_changed"],
        )
        if pushes:
            series.append(
                {
                    "label": "ingest: bot, push changing N files",
                    "n": [r["files_changed"] for r in pushes],
                    "calls": [r["api_calls"] for r in pushes],
                    "seconds": [r["wall_s"] for r in pushes],
                    "style": {"color": "tab:green", "marker": "^"},
                }
            )
    return series


def write(out: Path = OUT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = _series()
    fig, (calls, seconds) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for s in series:
        calls.plot(s["n"], s["calls"], label=s["label"], **s["style"])
        seconds.plot(s["n"], s["seconds"], label=s["label"], **s["style"])
    calls.axhline(8, color="gray", linewidth=0.8, linestyle=":")
    calls.annotate(
        "publish target: 8 calls", (1, 8), textcoords="offset points", xytext=(2, 4), fontsize=8, color="gray"
    )
    for ax, title, unit in ((calls, "GitHub API calls", "calls"), (seconds, "Wall time", "seconds")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N (resources published / files changed)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", linewidth=0.3)
    calls.legend(fontsize=8, loc="upper left")
    fig.suptitle("hnp-gitops against the GitHub emulator", fontsize=11)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main() -> int:
    print(f"written {write().relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
