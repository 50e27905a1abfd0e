"""Typed errors. Every answer of the API that is an error becomes an `ApiError` subclass
carrying the status and the API's error body `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

import json
from typing import Any


class HnpGitopsError(Exception):
    """Anything this client raises."""


class Unreachable(HnpGitopsError):
    """The bot could not be reached (connection refused, DNS, timeout)."""


class NotAnApi(HnpGitopsError):
    """Something answered that is not the hnp-gitops API (not JSON, or no error body)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApiError(HnpGitopsError):
    """The API answered an error: `status`, `code`, `message`, `details` and the whole `body`."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        self.status = status
        self.body = body
        self.code: str = str(error.get("code") or "error")
        self.message: str = str(error.get("message") or "")
        self.details: Any = error.get("details")
        super().__init__(self.line())

    @property
    def field_errors(self) -> list[dict[str, str]]:
        """A 422's problems: [{"path", "message"}]."""
        errors = self.details.get("errors") if isinstance(self.details, dict) else None
        return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []

    def line(self) -> str:
        """The error on one line: '422 validation_failed: ... (path: message; ...)'."""
        text = f"{self.status} {self.code}: {self.message}"
        shown: list[str] = [f"{e.get('path')}: {e.get('message')}" for e in self.field_errors]
        if not shown and isinstance(self.details, dict) and self.details.get("operation_id"):
            shown = [f"operation {self.details['operation_id']}"]
        if shown:
            text += " (" + "; ".join(shown[:5]) + (f"; and {len(shown) - 5} more)" if len(shown) > 5 else ")")
        return " ".join(text.split())


class BadRequest(ApiError):
    """400: malformed JSON or query string."""


class Unauthorized(ApiError):
    """401: no token, or a wrong one."""


class NotFound(ApiError):
    """404: no such fabric, resource, operation, conflict or route."""


class StateConflict(ApiError):
    """409: the request conflicts with the current state (a sync of the fabric is active, the
    fabric exists, the operation has finished, the conflict is not open)."""


class ValidationFailed(ApiError):
    """422: the body is JSON but wrong; `field_errors` lists each problem."""


class ServerError(ApiError):
    """5xx."""


class SyncStillRunning(HnpGitopsError):
    """`sync(wait=...)` gave up waiting; the operation goes on in the bot."""

    def __init__(self, operation_id: str, status: str) -> None:
        super().__init__(f"operation {operation_id} is still {status}")
        self.operation_id = operation_id
        self.status = status


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    409: StateConflict,
    422: ValidationFailed,
}


def error_for(status: int, raw: bytes) -> HnpGitopsError:
    """The typed error for an error answer."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return NotAnApi(f"HTTP {status} (the answer was not an HNP API error; is the URL right?)", status)
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    return cls(status, body)
