"""What GitHub's refusals and failures come out as. str() is GitHub's message, never a credential."""

from __future__ import annotations

import http
from typing import Any

import gidgethub


class GitHubError(gidgethub.HTTPException):
    """GitHub refused or failed a request. str() is GitHub's message (never a credential)."""


class NotFound(GitHubError, gidgethub.BadRequest):
    pass


class PermissionDenied(GitHubError, gidgethub.BadRequest):
    pass


class Conflict(GitHubError, gidgethub.BadRequest):
    pass


class UnprocessableEntity(GitHubError, gidgethub.BadRequest):
    """422: GitHub understood but would not do it. `errors` holds GitHub's details."""

    def __init__(self, status_code: http.HTTPStatus, *args: Any, errors: Any = None, **kwargs: Any) -> None:
        super().__init__(status_code, *args, **kwargs)
        self.errors = errors


class GitHubUnavailable(GitHubError, gidgethub.GitHubBroken):
    """5xx or no answer, after the retries."""


class NotConfigured(Exception):
    """The GitHub App settings this call needs are not set."""


_BY_STATUS = {404: NotFound, 410: NotFound, 401: PermissionDenied, 403: PermissionDenied, 409: Conflict}


def translate(failure: gidgethub.HTTPException) -> GitHubError:
    status = int(failure.status_code)
    message = str(failure) or http.HTTPStatus(status).phrase
    if status == 422:
        return UnprocessableEntity(
            failure.status_code, message, errors=getattr(failure, "errors", None), headers=failure.headers
        )
    cls = _BY_STATUS.get(status) or (GitHubUnavailable if status >= 500 else GitHubError)
    return cls(failure.status_code, message, headers=failure.headers)
