"""The HNP sync contract's enums and dataclasses, as this client returns them.

Names, fields and `to_dict()` layouts are the contract's (the Bidirectional Sync Engine's
SyncRequest, SyncResult, ResourceConflict, ConflictDetectionResult). Where the contract holds
a Django object (a fabric, a user), these hold its name. `from_dict()` reads the bot's JSON;
whatever the bot answers beyond the contract's keys is kept in `extra` and given back by
`to_dict()` beside them, so nothing is lost on the way to HNP's own API.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


class SyncDirection(str, Enum):
    GUI_TO_GITHUB = "gui_to_github"
    GITHUB_TO_GUI = "github_to_gui"
    BIDIRECTIONAL = "bidirectional"


class ConflictResolutionStrategy(str, Enum):
    TIMESTAMP_WINS = "timestamp_wins"
    GUI_WINS = "gui_wins"
    GITHUB_WINS = "github_wins"
    USER_GUIDED = "user_guided"
    MERGE_STRATEGY = "merge_strategy"


class ConflictType(str, Enum):
    CONCURRENT_MODIFICATION = "concurrent_modification"
    SCHEMA_MISMATCH = "schema_mismatch"
    PERMISSION_DENIED = "permission_denied"
    DEPENDENCY_VIOLATION = "dependency_violation"
    FILE_CORRUPTION = "file_corruption"
    MISSING_RESOURCE = "missing_resource"


class Resolution(str, Enum):
    """What a person decides for one conflict (`resolve_conflict`)."""

    GUI_WINS = "gui_wins"
    GITHUB_WINS = "github_wins"
    MERGE = "merge"
    MANUAL = "manual"


FINISHED_STATUSES = ("completed", "failed", "cancelled")


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _merged(extra: dict[str, Any], contract: dict[str, Any]) -> dict[str, Any]:
    """The contract's keys over the bot's other detail, group by group."""
    out = copy.deepcopy(extra)
    for key, value in contract.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


@dataclass
class SyncRequest:
    """The contract's SyncRequest; `fabric` is the fabric's name. `create_pr` None leaves it to
    the fabric's own default (false unless the fabric was registered with create_pr)."""

    fabric: str
    direction: SyncDirection = SyncDirection.BIDIRECTIONAL
    # The contract's list: "KIND", "KIND/NAME" or "NAME", any one selects a draft; or the bot's
    # object form {"kinds": [...], "names": [...]}: kind in kinds and name in names.
    resource_filters: list[str] | dict[str, list[str]] | None = None
    force_sync: bool = False
    create_pr: bool | None = None
    conflict_resolution: ConflictResolutionStrategy = ConflictResolutionStrategy.USER_GUIDED
    initiated_by: str | None = None
    metadata: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The body of POST /api/fabrics/{fabric}/sync."""
        body: dict[str, Any] = {
            "direction": SyncDirection(self.direction).value,
            "force_sync": self.force_sync,
            "conflict_resolution": ConflictResolutionStrategy(self.conflict_resolution).value,
        }
        if self.create_pr is not None:
            body["create_pr"] = self.create_pr
        if self.resource_filters is not None:
            filters = self.resource_filters
            body["resource_filters"] = dict(filters) if isinstance(filters, dict) else list(filters)
        if self.initiated_by is not None:
            body["initiated_by"] = self.initiated_by
        if self.metadata is not None:
            body["metadata"] = self.metadata
        return body


@dataclass
class SyncResult:
    success: bool
    operation_id: str
    started_at: datetime
    completed_at: datetime | None
    direction: SyncDirection

    # Statistics
    resources_processed: int = 0
    resources_created: int = 0
    resources_updated: int = 0
    resources_deleted: int = 0
    conflicts_detected: int = 0
    conflicts_resolved: int = 0

    # GitHub integration
    commit_sha: str | None = None
    pull_request_url: str | None = None
    branch_name: str | None = None

    # Error handling
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    # Performance metrics
    processing_time_seconds: float = 0.0
    api_calls_made: int = 0
    files_transferred: int = 0

    # The bot's detail beyond the contract (timings in ms, file counts, parts of a
    # bidirectional sync, ...), as it answered it.
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return _merged(
            self.extra,
            {
                "success": self.success,
                "operation_id": self.operation_id,
                "started_at": self.started_at.isoformat(),
                "completed_at": _iso(self.completed_at),
                "direction": SyncDirection(self.direction).value,
                "statistics": {
                    "resources_processed": self.resources_processed,
                    "resources_created": self.resources_created,
                    "resources_updated": self.resources_updated,
                    "resources_deleted": self.resources_deleted,
                    "conflicts_detected": self.conflicts_detected,
                    "conflicts_resolved": self.conflicts_resolved,
                },
                "github_integration": {
                    "commit_sha": self.commit_sha,
                    "pull_request_url": self.pull_request_url,
                    "branch_name": self.branch_name,
                },
                "errors": list(self.errors),
                "warnings": list(self.warnings),
                "performance": {
                    "processing_time_seconds": self.processing_time_seconds,
                    "api_calls_made": self.api_calls_made,
                    "files_transferred": self.files_transferred,
                },
            },
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyncResult:
        stats = data.get("statistics") or {}
        github = data.get("github_integration") or {}
        performance = data.get("performance") or {}
        return cls(
            success=bool(data["success"]),
            operation_id=str(data["operation_id"]),
            started_at=_time(data["started_at"]) or datetime.min,
            completed_at=_time(data.get("completed_at")),
            direction=SyncDirection(data["direction"]),
            resources_processed=int(stats.get("resources_processed", 0)),
            resources_created=int(stats.get("resources_created", 0)),
            resources_updated=int(stats.get("resources_updated", 0)),
            resources_deleted=int(stats.get("resources_deleted", 0)),
            conflicts_detected=int(stats.get("conflicts_detected", 0)),
            conflicts_resolved=int(stats.get("conflicts_resolved", 0)),
            commit_sha=github.get("commit_sha"),
            pull_request_url=github.get("pull_request_url"),
            branch_name=github.get("branch_name"),
            errors=[str(e) for e in data.get("errors") or []],
            warnings=[str(w) for w in data.get("warnings") or []],
            processing_time_seconds=float(performance.get("processing_time_seconds", 0.0)),
            api_calls_made=int(performance.get("api_calls_made", 0)),
            files_transferred=int(performance.get("files_transferred", 0)),
            extra=copy.deepcopy(data),
        )


@dataclass
class ResourceConflict:
    resource_id: int | None
    resource_name: str | None
    resource_kind: str | None
    conflict_type: str
    detected_at: datetime

    # Conflict details
    gui_modification_time: datetime | None = None
    github_modification_time: datetime | None = None
    conflicting_fields: list[str] = field(default_factory=list)
    gui_values: dict[str, Any] = field(default_factory=dict)
    github_values: dict[str, Any] = field(default_factory=dict)

    # Resolution options
    resolution_options: list[str] = field(default_factory=list)
    auto_resolvable: bool = False
    severity: str = "medium"  # low, medium, high, critical

    # The bot's detail: id (for resolve_conflict), status, field_path, message, resolved_with,
    # resolved_by, resolved_at, the resource's file, ...
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def id(self) -> int | None:
        """The conflict's id, for `HnpGitopsClient.resolve_conflict`."""
        value = self.extra.get("id")
        return int(value) if value is not None else None

    @property
    def status(self) -> str | None:
        """open, resolved or superseded."""
        return self.extra.get("status")

    def to_dict(self) -> dict[str, Any]:
        return _merged(
            self.extra,
            {
                "resource_id": self.resource_id,
                "resource_name": self.resource_name,
                "resource_kind": self.resource_kind,
                "conflict_type": self.conflict_type,
                "detected_at": self.detected_at.isoformat(),
                "details": {
                    "gui_modification_time": _iso(self.gui_modification_time),
                    "github_modification_time": _iso(self.github_modification_time),
                    "conflicting_fields": list(self.conflicting_fields),
                    "gui_values": dict(self.gui_values),
                    "github_values": dict(self.github_values),
                },
                "resolution": {
                    "options": list(self.resolution_options),
                    "auto_resolvable": self.auto_resolvable,
                    "severity": self.severity,
                },
            },
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResourceConflict:
        details = data.get("details") or {}
        resolution = data.get("resolution") or {}
        return cls(
            resource_id=data.get("resource_id"),
            resource_name=data.get("resource_name"),
            resource_kind=data.get("resource_kind"),
            conflict_type=str(data["conflict_type"]),
            detected_at=_time(data["detected_at"]) or datetime.min,
            gui_modification_time=_time(details.get("gui_modification_time")),
            github_modification_time=_time(details.get("github_modification_time")),
            conflicting_fields=list(details.get("conflicting_fields") or []),
            gui_values=dict(details.get("gui_values") or {}),
            github_values=dict(details.get("github_values") or {}),
            resolution_options=list(resolution.get("options") or []),
            auto_resolvable=bool(resolution.get("auto_resolvable", False)),
            severity=str(resolution.get("severity", "medium")),
            extra=copy.deepcopy(data),
        )


@dataclass
class ConflictDetectionResult:
    has_conflicts: bool
    conflicts: list[ResourceConflict]
    total_resources_checked: int
    detection_time_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "has_conflicts": self.has_conflicts,
            "conflicts": [conflict.to_dict() for conflict in self.conflicts],
            "total_resources_checked": self.total_resources_checked,
            "detection_time_seconds": self.detection_time_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConflictDetectionResult:
        return cls(
            has_conflicts=bool(data["has_conflicts"]),
            conflicts=[ResourceConflict.from_dict(c) for c in data.get("conflicts") or []],
            total_resources_checked=int(data["total_resources_checked"]),
            detection_time_seconds=float(data["detection_time_seconds"]),
        )
