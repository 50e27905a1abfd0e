"""One resource as every reader sees it: its row's columns, and its JSON for the HNP API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.snapshot import ResourceFacts


@dataclass(frozen=True)
class Resource(ResourceFacts):
    id: int
    fabric_id: int
    kind: str
    namespace: str
    name: str
    desired_spec: Any
    desired_metadata: dict[str, Any] | None
    desired_sha: str | None
    desired_at: datetime | None
    draft_spec: Any
    draft_metadata: dict[str, Any] | None
    draft_delete: bool
    drafted_at: datetime | None
    drafted_by: str | None
    draft_base_spec: Any
    draft_base_sha: str | None
    base_moved: bool
    actual_spec: Any
    actual_reported_at: datetime | None
    file_path: str | None
    document_index: int | None
    blob_sha: str | None
    state: str
    pull_request_id: int | None
    created_at: datetime
    updated_at: datetime
    # Filled by the HNP API's reads (bot/storage/drafts.py), which join conflicts and PRs.
    open_conflict: bool = False
    pr_number: int | None = None
    pr_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        desired_meta = self.desired_metadata or {}
        draft_meta = self.draft_metadata or {}
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "state": self.state,
            "draft": None
            if not self.has_draft
            else {
                "spec": self.draft_spec,
                "delete": self.draft_delete,
                "labels": draft_meta.get("labels"),
                "annotations": draft_meta.get("annotations"),
                "drafted_at": _iso(self.drafted_at),
                "drafted_by": self.drafted_by,
                "base": {"spec": self.draft_base_spec, "sha": self.draft_base_sha},
                "base_moved": self.base_moved,
            },
            "desired": None
            if self.desired_spec is None
            else {
                "spec": self.desired_spec,
                "labels": desired_meta.get("labels"),
                "annotations": desired_meta.get("annotations"),
                "sha": self.desired_sha,
                "at": _iso(self.desired_at),
            },
            "actual": None
            if self.actual_spec is None
            else {
                "spec": self.actual_spec,
                "reported_at": _iso(self.actual_reported_at),
            },
            "file": None
            if self.file_path is None
            else {
                "path": self.file_path,
                "document_index": self.document_index,
                "blob_sha": self.blob_sha,
            },
            "pull_request": None
            if self.pull_request_id is None
            else {
                "number": self.pr_number,
                "url": self.pr_url,
            },
            "updated_at": _iso(self.updated_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
