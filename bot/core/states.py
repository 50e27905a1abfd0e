"""A resource's state, computed from its three specs in one place.

Every writer of a resource row sets `state = resource_state(...)` from the row's new values, so
the state column never disagrees with the data (the schema's CHECKs back this up; the bulk
statements use the same rule as SQL, bot.storage.resources.STATE_SQL).

Precedence, highest first:
  orphaned   its document disappeared from the repository and no draft recreates it
  conflict   a draft exists and an open conflict blocks it
  pending_pr a draft exists and sits in an open bot pull request
  draft      a draft exists
  drifted    no draft; the running fabric reports something other than desired
  in_sync    otherwise
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ResourceState(StrEnum):
    IN_SYNC = "in_sync"
    DRAFT = "draft"
    PENDING_PR = "pending_pr"
    CONFLICT = "conflict"
    DRIFTED = "drifted"
    ORPHANED = "orphaned"


class ConflictType(StrEnum):
    CONCURRENT_MODIFICATION = "concurrent_modification"
    MISSING_RESOURCE = "missing_resource"
    SCHEMA_MISMATCH = "schema_mismatch"
    FILE_CORRUPTION = "file_corruption"
    DEPENDENCY_VIOLATION = "dependency_violation"
    PERMISSION_DENIED = "permission_denied"  # found by publishing, not by a check


def resource_state(
    *,
    desired_spec: Any,
    draft_spec: Any,
    draft_delete: bool,
    actual_spec: Any,
    orphaned: bool = False,
    in_open_pr: bool = False,
    has_open_conflict: bool = False,
) -> ResourceState:
    has_draft = draft_spec is not None or draft_delete
    if orphaned and not has_draft:
        return ResourceState.ORPHANED
    if has_draft:
        if has_open_conflict:
            return ResourceState.CONFLICT
        if in_open_pr:
            return ResourceState.PENDING_PR
        return ResourceState.DRAFT
    if actual_spec is not None and desired_spec is not None and actual_spec != desired_spec:
        return ResourceState.DRIFTED
    return ResourceState.IN_SYNC
