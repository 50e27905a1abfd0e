"""A resource's state, computed from its three specs in one place.

Every writer of a resource row sets `state = resource_state(...)` from the row's new values, so
the state column never disagrees with the data (the schema's CHECKs back this up).

Precedence, highest first:
  orphaned   its document disappeared from the repository and no draft recreates it
  conflict   a draft exists and an open conflict blocks it
  pending_pr a draft exists and sits in an open bot pull request
  draft      a draft exists
  drifted    no draft; the running fabric reports something other than desired
  in_sync    otherwise
"""

from __future__ import annotations

from typing import Any


def resource_state(
    *,
    desired_spec: Any,
    draft_spec: Any,
    draft_delete: bool,
    actual_spec: Any,
    orphaned: bool = False,
    in_open_pr: bool = False,
    has_open_conflict: bool = False,
) -> str:
    has_draft = draft_spec is not None or draft_delete
    if orphaned and not has_draft:
        return "orphaned"
    if has_draft:
        if has_open_conflict:
            return "conflict"
        if in_open_pr:
            return "pending_pr"
        return "draft"
    if actual_spec is not None and desired_spec is not None and actual_spec != desired_spec:
        return "drifted"
    return "in_sync"


# The same rule as SQL, for bulk statements that update many rows at once. It expects the
# columns of `resource` and two booleans named open_conflict and orphaned in scope.
STATE_SQL = """
CASE
  WHEN {orphaned} AND draft_spec IS NULL AND NOT draft_delete THEN 'orphaned'
  WHEN (draft_spec IS NOT NULL OR draft_delete) AND {open_conflict} THEN 'conflict'
  WHEN (draft_spec IS NOT NULL OR draft_delete) AND pull_request_id IS NOT NULL THEN 'pending_pr'
  WHEN draft_spec IS NOT NULL OR draft_delete THEN 'draft'
  WHEN actual_spec IS NOT NULL AND desired_spec IS NOT NULL AND actual_spec <> desired_spec THEN 'drifted'
  ELSE 'in_sync'
END"""
