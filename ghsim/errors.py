"""GitHub's error bodies: `{"message", "documentation_url", "status"}` and 422 `errors`."""

from __future__ import annotations

DOCS = "https://docs.github.com/rest"


class GhError(Exception):
    """Raised by handlers; the middleware turns it into GitHub's JSON error answer."""

    def __init__(
        self,
        status: int,
        message: str,
        doc: str = DOCS,
        errors: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.doc = doc
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict:
        out: dict = {"message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        out["documentation_url"] = self.doc
        out["status"] = str(self.status)
        return out


def not_found(doc: str = DOCS) -> GhError:
    return GhError(404, "Not Found", doc)


def bad_credentials() -> GhError:
    return GhError(401, "Bad credentials", DOCS)


def validation(
    resource: str, doc: str, *, code: str = "custom", field: str | None = None, message: str | None = None
) -> GhError:
    err: dict = {"resource": resource, "code": code}
    if field is not None:
        err["field"] = field
    if message is not None:
        err["message"] = message
    return GhError(422, "Validation Failed", doc, errors=[err])


def invalid_request(message: str, doc: str) -> GhError:
    """The 422 GitHub gives when a body fails its JSON-schema check."""
    return GhError(422, f"Invalid request.\n\n{message}", doc)


def missing_field(field: str, doc: str) -> GhError:
    return invalid_request(f'"{field}" wasn\'t supplied.', doc)
