"""The result of a sync operation: the wire format HNP reads (`SyncResult.to_dict()`).

The enum values are the seed's and are the contract: directions `gui_to_github`,
`github_to_gui`, `bidirectional`; strategies `timestamp_wins`, `gui_wins`, `github_wins`,
`user_guided` (default), `merge_strategy`.

`to_dict()` has every key of the contract's `SyncResult.to_dict()` at its place, with its
meaning, and more detail beside them:
  statistics          the contract's six counts (conflicts_detected: every conflict the
                      operation found before its strategy ran; conflicts_resolved: those it
                      settled), then files and validation counts
  github_integration  commit_sha, pull_request_url, branch_name, then repository, base and
                      pull request number (api_calls_made and files_transferred are repeated
                      here for readers of earlier results)
  performance         processing_time_seconds, api_calls_made, files_transferred, then the
                      timings in milliseconds
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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


class OperationStatus(str, Enum):
    PENDING = "pending"
    INITIALIZING = "initializing"
    DETECTING_CONFLICTS = "detecting_conflicts"
    GITHUB_TO_GUI_SYNC = "github_to_gui_sync"
    GUI_TO_GITHUB_SYNC = "gui_to_github_sync"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (OperationStatus.COMPLETED, OperationStatus.FAILED, OperationStatus.CANCELLED)


@dataclass
class SyncStatistics:
    resources_processed: int = 0
    resources_created: int = 0
    resources_updated: int = 0
    resources_deleted: int = 0
    resources_orphaned: int = 0
    resources_unchanged: int = 0
    files_processed: int = 0
    files_created: int = 0
    files_updated: int = 0
    files_deleted: int = 0
    validation_errors: int = 0
    conflicts_detected: int = 0
    conflicts_resolved: int = 0

    def add(self, other: SyncStatistics) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


@dataclass
class GitHubIntegration:
    repository: str | None = None
    branch: str | None = None
    base_sha: str | None = None  # the commit the operation started from
    commit_sha: str | None = None  # the commit it made or ingested
    branch_name: str | None = None  # the bot's sync branch, when a PR was opened
    pull_request_number: int | None = None
    pull_request_url: str | None = None
    files_transferred: int = 0  # files read from or written to GitHub
    api_calls_made: int = 0  # real count of GitHub HTTP requests
    rate_limit_remaining: int | None = None


@dataclass
class SyncPerformance:
    duration_ms: float = 0.0
    github_time_ms: float = 0.0
    database_time_ms: float = 0.0
    parse_time_ms: float = 0.0
    validation_time_ms: float = 0.0


@dataclass
class SyncResult:
    operation_id: str
    direction: SyncDirection
    started_at: datetime
    completed_at: datetime | None = None
    success: bool = False
    statistics: SyncStatistics = field(default_factory=SyncStatistics)
    github_integration: GitHubIntegration = field(default_factory=GitHubIntegration)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    performance: SyncPerformance = field(default_factory=SyncPerformance)
    # The parts of a bidirectional operation, each a SyncResult dict of its own.
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "success": self.success,
            "operation_id": self.operation_id,
            "started_at": self.started_at.isoformat(),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "direction": SyncDirection(self.direction).value,
            "statistics": asdict(self.statistics),
            "github_integration": asdict(self.github_integration),
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "performance": {
                "processing_time_seconds": round(self.performance.duration_ms / 1000, 3),
                "api_calls_made": self.github_integration.api_calls_made,
                "files_transferred": self.github_integration.files_transferred,
                **asdict(self.performance),
            },
        }
        if self.parts:
            data["parts"] = self.parts
        return data
