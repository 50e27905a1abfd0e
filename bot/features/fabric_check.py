"""What a draft would break in the fabric as a whole: the whole-fabric rules
(bot.core.fabric_rules) on the desired state with every draft applied, reported back to the
GUI as warnings when a draft is set. (A sync refuses such drafts: bot.features.conflicts.)"""

from __future__ import annotations

from typing import Any

from bot.core import fabric_rules
from bot.core.resource import Resource
from bot.storage import fabric_files, resources
from bot.storage.resources import Executor


def fabric_with_drafts(
    rows: list[Resource], lines: dict[tuple[str, str], int]
) -> tuple[list[fabric_rules.FabricResource], dict[tuple[str, str], fabric_rules.FabricResource | None]]:
    """The desired state (what Git holds: orphans left out) and the drafts, as the rules take
    them; `lines` gives each desired resource's document line in its file."""
    desired = [
        fabric_rules.FabricResource(
            r.kind, r.name, r.desired_spec, r.desired_metadata, r.file_path, lines.get((r.kind, r.name))
        )
        for r in rows
        if r.desired_spec is not None and not r.orphaned
    ]
    drafts: dict[tuple[str, str], fabric_rules.FabricResource | None] = {
        (r.kind, r.name): None
        if r.draft_delete
        else fabric_rules.FabricResource(r.kind, r.name, r.draft_spec, r.draft_metadata)
        for r in rows
        if r.has_draft
    }
    return desired, drafts


async def draft_warnings(db: Executor, fabric_id: int, kind: str, name: str) -> list[dict[str, Any]]:
    """The whole-fabric violations the fabric's drafts (this one and every other) would cause
    that involve `kind`/`name`, on its side or on the other side."""
    rows = await resources.list_for_fabric(db, fabric_id)
    lines = {
        (ref.kind, ref.name): ref.line
        for state in (await fabric_files.load(db, fabric_id)).values()
        for ref in state.documents
    }
    desired, drafts = fabric_with_drafts(rows, lines)
    had = {(v.rule, v.kind, v.name, v.field, v.other) for v in fabric_rules.validate_fabric(desired)}
    return [
        v.to_json()
        for v in fabric_rules.validate_with_drafts(desired, drafts)
        if ((v.kind, v.name) == (kind, name) or v.other == (kind, name))
        and (v.rule, v.kind, v.name, v.field, v.other) not in had
    ]


async def without_cluster_defaults(
    db: Executor, fabric_id: int, kind: str, name: str, spec: Any, metadata: dict[str, Any] | None
) -> tuple[Any, dict[str, Any] | None]:
    """A draft (often made from what the cluster shows) less what the cluster fills in that
    the desired spec leaves out, and less the `fabric.githedgehog.com/*` labels its webhooks
    add: those are no change (bot.core.fabric_rules.without_defaults)."""
    row = await resources.get(db, fabric_id, kind, name)
    if row is None or row.desired_spec is None:
        return spec, metadata
    return (
        fabric_rules.without_defaults(kind, spec, row.desired_spec),
        fabric_rules.without_default_metadata(metadata, row.desired_metadata) or None,
    )
