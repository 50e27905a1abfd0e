"""`HnpGitopsClient`: the hnp-gitops HNP API from synchronous Python (urllib, no event loop).

    client = HnpGitopsClient("http://hnp-gitops:8080", token)
    result = client.sync(SyncRequest("lab", create_pr=True), wait=120)   # -> SyncResult

The token is only ever sent in the Authorization header and never appears in an error.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hnp_gitops_client.errors import (
    HnpGitopsError,
    NotAnApi,
    NotFound,
    StateConflict,
    SyncStillRunning,
    Unreachable,
    error_for,
)
from hnp_gitops_client.models import (
    FINISHED_STATUSES,
    ConflictDetectionResult,
    ResourceConflict,
    SyncRequest,
    SyncResult,
)

DEFAULT_TIMEOUT = 30.0
SERVER_MAX_WAIT = 60.0  # the longest the bot holds one request open (it clamps longer waits)


def shown_url(url: str) -> str:
    """The URL without any user:password part, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        parts = parts._replace(netloc=host + (f":{parts.port}" if parts.port else ""))
    return urllib.parse.urlunsplit(parts)


def _q(segment: str | int) -> str:
    return urllib.parse.quote(str(segment), safe="")


class HnpGitopsClient:
    """One bot's HNP API. Every method raises a `HnpGitopsError` subclass on failure (an
    `ApiError` subclass, with the API's error body, when the bot answered one)."""

    def __init__(self, base_url: str, token: str, *, timeout: float = DEFAULT_TIMEOUT, user: str | None = None) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, not {shown_url(base_url)!r}")
        if parts.username or parts.password:
            raise ValueError("base_url must not carry credentials; pass the token")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.user = user  # sent as X-HNP-User: who drafts, resolves and syncs

    # --- transport ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        answers: Sequence[int] = (),
    ) -> tuple[int, Any]:
        """(status, JSON) of one call. 2xx answers, and those listed in `answers` whose body is
        not an API error, are returned; every other answer raises its typed error."""
        url = self.base_url + path
        shown = {k: v for k, v in (query or {}).items() if v is not None}
        if shown:
            url += "?" + urllib.parse.urlencode(
                {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in shown.items()}
            )
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
            "User-Agent": "hnp-gitops-client",
        }
        if self.user:
            headers["X-HNP-User"] = self.user
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, _read(error)
            if status not in answers:
                raise error_for(status, raw) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            text = getattr(reason, "strerror", None) or str(reason) or reason.__class__.__name__
            raise Unreachable(f"cannot reach {shown_url(self.base_url)}: {text}") from None
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            raise NotAnApi(
                f"{shown_url(self.base_url)} answered something that is not JSON (is the URL the hnp-gitops server?)",
                status,
            ) from None
        if status >= 400 and isinstance(answer, dict) and isinstance(answer.get("error"), dict):
            raise error_for(status, raw)
        return status, answer

    def _get(self, path: str, **query: Any) -> Any:
        return _object(self.request("GET", path, query=query)[1])

    # --- fabrics and resources ---------------------------------------------------------------

    def create_fabric(
        self, name: str, repository: str, *, directory: str = "", branch: str = "main", create_pr: bool = False
    ) -> dict[str, Any]:
        body = {
            "name": name,
            "repository": repository,
            "directory": directory,
            "branch": branch,
            "create_pr": create_pr,
        }
        return _object(self.request("POST", "/api/fabrics", body)[1])

    def list_fabrics(self) -> list[dict[str, Any]]:
        return list(self._get("/api/fabrics")["fabrics"])

    def get_fabric(self, fabric: str) -> dict[str, Any]:
        return dict(self._get(f"/api/fabrics/{_q(fabric)}"))

    def list_resources(self, fabric: str, *, kind: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        return list(self._get(f"/api/fabrics/{_q(fabric)}/resources", kind=kind, state=state)["resources"])

    def get_resource(self, fabric: str, kind: str, name: str) -> dict[str, Any]:
        """State, draft, desired, actual, file (path and line) and pull request of one resource."""
        return dict(self._get(f"/api/fabrics/{_q(fabric)}/resources/{_q(kind)}/{_q(name)}"))

    # --- drafts ------------------------------------------------------------------------------

    def _draft_path(self, fabric: str, kind: str, name: str) -> str:
        return f"/api/fabrics/{_q(fabric)}/resources/{_q(kind)}/{_q(name)}/draft"

    def set_draft(
        self,
        fabric: str,
        kind: str,
        name: str,
        spec: Mapping[str, Any],
        *,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Save the GUI's version of a resource (validated against its CRD: ValidationFailed
        lists each error's field path). A draft equal to desired is cleared (`cleared`)."""
        body: dict[str, Any] = {"spec": dict(spec)}
        if labels is not None:
            body["labels"] = dict(labels)
        if annotations is not None:
            body["annotations"] = dict(annotations)
        return _object(self.request("PUT", self._draft_path(fabric, kind, name), body)[1])

    def delete_resource(self, fabric: str, kind: str, name: str) -> dict[str, Any]:
        """Draft the deletion of a resource (published by the next sync)."""
        return _object(self.request("PUT", self._draft_path(fabric, kind, name), {"delete": True})[1])

    def discard_draft(self, fabric: str, kind: str, name: str) -> dict[str, Any]:
        """Throw a draft away (a resource that existed only as a draft is gone)."""
        return _object(self.request("DELETE", self._draft_path(fabric, kind, name))[1])

    # --- sync operations ---------------------------------------------------------------------

    def start_sync(self, request: SyncRequest) -> str:
        """Start a sync and return its operation id at once (StateConflict while another API
        sync of the fabric is active: its id is in `details["operation_id"]`)."""
        return str(
            self.request("POST", f"/api/fabrics/{_q(request.fabric)}/sync", request.to_dict())[1]["operation_id"]
        )

    def sync(self, request: SyncRequest, *, wait: float = 300.0) -> SyncResult:
        """The contract's synchronous sync: start it and wait up to `wait` seconds for its
        SyncResult (success or not). SyncStillRunning if it has not finished by then."""
        deadline = time.monotonic() + wait
        first = min(wait, SERVER_MAX_WAIT)
        status, answer = self.request(
            "POST",
            f"/api/fabrics/{_q(request.fabric)}/sync",
            {**request.to_dict(), "wait": first},
            timeout=first + self.timeout,
            answers=(400,),
        )
        if status != 202:
            return SyncResult.from_dict(answer)
        operation = self.wait_for_operation(answer["operation_id"], timeout=max(0.0, deadline - time.monotonic()))
        if operation is None or operation["status"] not in FINISHED_STATUSES:
            raise SyncStillRunning(answer["operation_id"], (operation or answer)["status"])
        return self.operation_result(operation)

    @staticmethod
    def operation_result(operation: Mapping[str, Any]) -> SyncResult:
        """The SyncResult of a finished operation (as `get_operation_status` answers it)."""
        result = operation.get("result")
        if isinstance(result, dict) and "success" in result:
            return SyncResult.from_dict(result)
        return SyncResult.from_dict(
            {
                "success": False,
                "operation_id": operation["operation_id"],
                "started_at": operation.get("started_at") or operation.get("created_at"),
                "completed_at": operation.get("completed_at"),
                "direction": operation["direction"],
                "errors": [operation.get("error") or operation["status"]],
            }
        )

    def get_operation_status(self, operation_id: str, *, wait: float | None = None) -> dict[str, Any] | None:
        """The contract's operation status (operation_id, status, request, progress, started_at,
        completed_at, and the SyncResult under `result` once finished), or None when there is
        no such operation. `wait`: hold the call up to that many seconds for it to finish."""
        try:
            return dict(
                self.request(
                    "GET",
                    f"/api/operations/{_q(operation_id)}",
                    query={"wait": wait},
                    timeout=(wait or 0) + self.timeout,
                )[1]
            )
        except NotFound:
            return None

    def wait_for_operation(
        self,
        operation_id: str,
        *,
        timeout: float,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        poll_seconds: float = 5.0,
    ) -> dict[str, Any] | None:
        """Long-poll until the operation finishes or `timeout` passes; its last status (None:
        no such operation). `on_progress` sees every status read."""
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.0, deadline - time.monotonic())
            operation = self.get_operation_status(operation_id, wait=min(poll_seconds, left))
            if operation is None:
                return None
            if on_progress is not None:
                on_progress(operation)
            if operation["status"] in FINISHED_STATUSES or time.monotonic() >= deadline:
                return operation

    def list_operations(self, fabric: str, *, active: bool = False) -> list[dict[str, Any]]:
        """A fabric's operations, newest first (each in get_operation_status's shape)."""
        return list(self._get(f"/api/fabrics/{_q(fabric)}/operations", active=active or None)["operations"])

    def list_active_operations(self, fabric: str) -> list[dict[str, Any]]:
        """The contract's list_active_operations(): operation_id, status, fabric, direction,
        started_at of each unfinished operation of the fabric."""
        return [
            {
                "operation_id": op["operation_id"],
                "status": op["status"],
                "fabric": op.get("fabric") or fabric,
                "direction": op["direction"],
                "started_at": op.get("started_at"),
            }
            for op in self.list_operations(fabric, active=True)
        ]

    def cancel_operation(self, operation_id: str) -> dict[str, Any]:
        """The contract's cancel_operation(): {"success": True, "message"} or {"success": False,
        "error"} (no such operation, or it has already finished)."""
        try:
            answer = self.request("POST", f"/api/operations/{_q(operation_id)}/cancel")[1]
        except (NotFound, StateConflict) as refused:
            return {"success": False, "error": refused.message or "Operation not found or already completed"}
        return {"success": True, "message": answer.get("message") or f"Operation {operation_id} cancelled"}

    # --- conflicts ---------------------------------------------------------------------------

    def list_conflicts(self, fabric: str, *, status: str = "open") -> list[ResourceConflict]:
        """A fabric's conflicts (status open, resolved, superseded or all), most severe first."""
        answer = self._get(f"/api/fabrics/{_q(fabric)}/conflicts", status=status)
        return [ResourceConflict.from_dict(c) for c in answer["conflicts"]]

    def detect_conflicts(self, fabric: str) -> ConflictDetectionResult:
        """Check the fabric's drafts now (nothing is overwritten)."""
        return ConflictDetectionResult.from_dict(self.request("POST", f"/api/fabrics/{_q(fabric)}/conflicts/detect")[1])

    def resolve_conflict(
        self, conflict_id: int, resolution: str, *, values: Mapping[str, Any] | None = None
    ) -> ResourceConflict:
        """Decide one conflict: gui_wins, github_wins, merge, or manual with `values` ({field
        path: value}). Saying the same again changes nothing."""
        body: dict[str, Any] = {"resolution": str(getattr(resolution, "value", resolution))}
        if values is not None:
            body["values"] = dict(values)
        answer = self.request("POST", f"/api/conflicts/{_q(conflict_id)}/resolve", body)[1]
        return ResourceConflict.from_dict(answer["conflict"])

    # --- actual state and drift --------------------------------------------------------------

    def report_actual(
        self, fabric: str, kind: str, name: str, spec: Mapping[str, Any], *, namespace: str = "default"
    ) -> dict[str, Any]:
        """What the running fabric has for one resource; answers its state and differences."""
        path = f"/api/fabrics/{_q(fabric)}/resources/{_q(kind)}/{_q(name)}/actual"
        return _object(self.request("PUT", path, {"spec": dict(spec), "namespace": namespace})[1])

    def report_actual_bulk(self, fabric: str, resources: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Many reports at once: each {"kind", "name", "spec"[, "namespace"]}."""
        return _object(
            self.request("PUT", f"/api/fabrics/{_q(fabric)}/actual", {"resources": [dict(r) for r in resources]})[1]
        )

    def drift(self, fabric: str, *, kind: str | None = None) -> dict[str, Any]:
        """Resources whose actual state differs from desired (`resources`, `count`), and those
        never reported (`not_reported`, `not_reported_resources`)."""
        return dict(self._get(f"/api/fabrics/{_q(fabric)}/drift", kind=kind))


def _object(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise NotAnApi("the answer is not a JSON object (is the URL the hnp-gitops server?)")
    return answer


def _read(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()
    except OSError:
        return b""


__all__ = ["HnpGitopsClient", "HnpGitopsError", "shown_url"]
