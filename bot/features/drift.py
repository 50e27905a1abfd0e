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

from bot.core import threeway
from bot.core.states import STATE_SQL
from bot.storage import Connection, Executor


@dataclass(frozen=True)
class Report:
    kind: str
    name: str
    spec: Any
    namespace: str = "default"


async def set_actual(conn: Connection, fabric_id: int, reports: Sequence[Report]) -> dict[str, Any]:
    """Record what the fabric runs, in one statement. Returns {"updated": [(kind, namespace,
    name, state)], "unknown": [(kind, namespace, name)]}: a report of a resource this fabric
    does not know (neither in Git nor drafted) is not stored."""
    items = [{"kind": r.kind, "namespace": r.namespace, "name": r.name, "spec": r.spec} for r in reports]
    state = STATE_SQL.format(
        orphaned="n0.orphaned",
        open_conflict="EXISTS (SELECT 1 FROM conflict oc WHERE oc.resource_id = n0.id AND oc.status = 'open')",
    )
    rows = await conn.fetch(
        f"""WITH x AS (SELECT DISTINCT ON (kind, namespace, name) * FROM jsonb_to_recordset($2::jsonb)
                       AS x(kind text, namespace text, name text, spec jsonb)),
            n0 AS (SELECT r.id, x.spec AS actual_spec, r.desired_spec, r.draft_spec, r.draft_delete,
                          r.pull_request_id,
                          (r.state = 'orphaned' OR (r.desired_spec IS NOT NULL AND r.file_path IS NULL)) AS orphaned
                   FROM x JOIN resource r ON r.fabric_id = $1 AND r.kind = x.kind AND r.namespace = x.namespace
                                          AND r.name = x.name),
            n AS (SELECT n0.id, n0.actual_spec, {state} AS state FROM n0)
        UPDATE resource r SET actual_spec = n.actual_spec, actual_reported_at = now(), state = n.state,
                              updated_at = now()
        FROM n WHERE r.id = n.id
        RETURNING r.kind, r.namespace, r.name, r.state""",
        fabric_id,
        items,
    )
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
    rows = await db.fetch(
        "SELECT kind, namespace, name, state, desired_spec, actual_spec, actual_reported_at FROM resource "
        "WHERE fabric_id = $1 AND actual_spec IS NOT NULL AND desired_spec IS NOT NULL "
        "AND actual_spec <> desired_spec AND ($2::text IS NULL OR kind = $2) ORDER BY kind, namespace, name",
        fabric_id,
        kind,
    )
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
    rows = await db.fetch(
        "SELECT kind, namespace, name, count(*) OVER () AS total FROM resource "
        "WHERE fabric_id = $1 AND desired_spec IS NOT NULL AND actual_spec IS NULL "
        "AND ($2::text IS NULL OR kind = $2) ORDER BY kind, namespace, name LIMIT $3",
        fabric_id,
        kind,
        NOT_REPORTED_LISTED,
    )
    total = rows[0]["total"] if rows else 0
    return total, [{"kind": r["kind"], "namespace": r["namespace"], "name": r["name"]} for r in rows]
