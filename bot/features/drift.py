"""Drift: what the running fabric reports (actual) against what the branch says (desired).

The fabric (or HNP on its behalf) reports actual specs; each report sets the resource's
`actual_spec` and its state with the one rule (bot.core.states): a resource without a draft
whose actual differs from desired is `drifted` until a report agrees again (or Git changes to
what runs). Field differences are computed with the three-way module's diff, so they use the
same field paths as conflicts (`spec.subnets.default.vlan`).

A resource whose actual state was never reported is not known to agree: `not_reported` counts
and names them, and every reader (API, CLI, status page) says so instead of "no drift".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.core import fabric_rules, threeway
from bot.core.kinds import DEFAULT_NAMESPACE
from bot.storage import Connection, Executor
from bot.storage import drift as drift_store


@dataclass(frozen=True)
class Report:
    kind: str
    name: str
    spec: Any
    namespace: str = DEFAULT_NAMESPACE


async def set_actual(conn: Connection, fabric_id: int, reports: Sequence[Report]) -> dict[str, Any]:
    """Record what the fabric runs, in one statement. Returns {"updated": [(kind, namespace,
    name, state)], "unknown": [(kind, namespace, name)]}: a report of a resource this fabric
    does not know (neither in Git nor drafted) is not stored.

    What the cluster fills in that the desired spec leaves out (a defaulted namespace, a
    gateway, a DHCP range: bot.core.fabric_rules.without_defaults, the same defaulting the
    fabric rules use) is not kept, so it never shows as drift: the actual spec is stored in the
    desired spec's terms."""
    desired = await drift_store.desired_specs(conn, fabric_id, [(r.kind, r.namespace, r.name) for r in reports])
    items = [
        {
            "kind": r.kind,
            "namespace": r.namespace,
            "name": r.name,
            "spec": fabric_rules.without_defaults(r.kind, r.spec, desired.get((r.kind, r.namespace, r.name))),
        }
        for r in reports
    ]
    rows = await drift_store.set_actual(conn, fabric_id, items)
    updated = [(r["kind"], r["namespace"], r["name"], r["state"]) for r in rows]
    known = {(k, ns, n) for k, ns, n, _ in updated}
    unknown = sorted({(r.kind, r.namespace, r.name) for r in reports} - known)
    return {"updated": updated, "unknown": unknown}


def differences(desired: Any, actual: Any) -> list[dict[str, Any]]:
    """[{field, desired, actual}] between two specs, by field path."""
    changed = threeway.diff(threeway.make_resource(desired), threeway.make_resource(actual))
    return [
        {"field": path or "(resource)", "desired": threeway.to_json(old), "actual": threeway.to_json(new)}
        for path, (old, new) in sorted(changed.items())
    ]


async def drifted(db: Executor, fabric_id: int, *, kind: str | None = None) -> list[dict[str, Any]]:
    """Every resource whose reported actual spec differs from its desired spec, with the
    differing fields (drafted ones too: their drift shows once the draft is published)."""
    rows = await drift_store.drifted(db, fabric_id, kind)
    out = []
    for r in rows:
        fields = differences(r["desired_spec"], r["actual_spec"])
        if fields:
            out.append(
                {
                    "kind": r["kind"],
                    "namespace": r["namespace"],
                    "name": r["name"],
                    "state": r["state"],
                    "reported_at": r["actual_reported_at"].isoformat(),
                    "differences": fields,
                }
            )
    return out


NOT_REPORTED_LISTED = 1000  # names listed beside the count


async def not_reported(db: Executor, fabric_id: int, *, kind: str | None = None) -> tuple[int, list[dict[str, str]]]:
    """(how many, the first NOT_REPORTED_LISTED of them): resources Git describes whose actual
    state the fabric never reported."""
    rows = await drift_store.not_reported(db, fabric_id, kind, NOT_REPORTED_LISTED)
    total = rows[0]["total"] if rows else 0
    return total, [{"kind": r["kind"], "namespace": r["namespace"], "name": r["name"]} for r in rows]
