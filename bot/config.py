"""The one configuration object, read once from the environment at start-up.

Secrets are wrapped in `Secret`, whose str() and repr() show nothing, so a stray log line or
error message cannot leak them. `describe()` says which settings are set, never their values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_API_URL = "https://api.github.com"

# Every variable `Config.from_env` reads, and what for (the command's help lists them).
ENVIRONMENT = {
    "DATABASE_URL": "postgresql:// URL of the database (default: an embedded PostgreSQL in HNP_GITOPS_DATA_DIR)",
    "GITHUB_APP_ID": "the GitHub App's id",
    "GITHUB_PRIVATE_KEY": "the App's private key (PEM; literal \\n allowed)",
    "GITHUB_PRIVATE_KEY_PATH": "a file holding the private key, instead of GITHUB_PRIVATE_KEY",
    "GITHUB_WEBHOOK_SECRET": "the secret webhook deliveries are signed with",
    "GITHUB_API_URL": f"GitHub's REST API (default {DEFAULT_API_URL}; GitHub Enterprise: https://HOST/api/v3)",
    "HNP_API_TOKEN": "the bearer token of the HNP API (serve accepts it; the operator commands send it)",
    "HOST": "address serve listens on (default 0.0.0.0)",
    "PORT": "port serve listens on (default 8080)",
    "HNP_GITOPS_DATA_DIR": "where the embedded PostgreSQL lives (default $XDG_DATA_HOME/hnp-gitops)",
    "XDG_DATA_HOME": "the base of the default data directory (default ~/.local/share)",
    "RECONCILE_INTERVAL": "seconds between reconciliations with GitHub (default 300)",
    "HNP_GITOPS_WORKERS": "job workers in this process (default 4; 0 receives only)",
    "HNP_GITOPS_LOG_FORMAT": "json (default) or text",
}


class ConfigError(Exception):
    """A setting the command needs is missing or malformed. Its text names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable} {problem}")
        self.variable = variable


class Secret:
    """A value that must never be printed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """Per-user data directory ($XDG_DATA_HOME/hnp-gitops, else ~/.local/share/hnp-gitops)."""
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hnp-gitops"


@dataclass(frozen=True)
class Config:
    database_url: Secret | None = None  # may hold a password
    github_app_id: int | None = None
    github_private_key: Secret | None = None
    github_webhook_secret: Secret | None = None
    github_api_url: str = DEFAULT_API_URL
    hnp_api_token: Secret | None = None
    port: int = 8080
    host: str = "0.0.0.0"
    data_dir: Path = field(default_factory=lambda: default_data_dir(os.environ))
    reconcile_interval: float = 300.0
    workers: int = 4
    insecure_webhooks: bool = False  # development only: accept unsigned deliveries
    log_format: str = "json"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ

        def text(name: str) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else None

        def secret(name: str) -> Secret | None:
            value = text(name)
            return Secret(value) if value is not None else None

        def optional_integer(name: str, low: int, high: int) -> int | None:
            raw = text(name)
            if raw is None:
                return None
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(name, "must be a whole number") from None
            if not low <= value <= high:
                raise ConfigError(name, f"must be between {low} and {high}")
            return value

        def integer(name: str, default: int, low: int, high: int) -> int:
            value = optional_integer(name, low, high)
            return default if value is None else value

        def number(name: str, default: float) -> float:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(name, "must be a number of seconds") from None
            if value <= 0:
                raise ConfigError(name, "must be greater than zero")
            return value

        database_url = text("DATABASE_URL")
        if database_url is not None and urlsplit(database_url).scheme not in ("postgres", "postgresql"):
            raise ConfigError("DATABASE_URL", "must be a postgresql:// URL")

        private_key = text("GITHUB_PRIVATE_KEY")
        key_path = text("GITHUB_PRIVATE_KEY_PATH")
        if private_key is None and key_path is not None:
            try:
                private_key = Path(key_path).read_text()
            except OSError as error:
                raise ConfigError("GITHUB_PRIVATE_KEY_PATH", f"cannot be read ({error.strerror})") from None
        if private_key is not None:
            # Platforms that only take one-line variables store the PEM with literal \n.
            private_key = private_key.replace("\\n", "\n")
            if "-----BEGIN" not in private_key or "PRIVATE KEY-----" not in private_key:
                source = "GITHUB_PRIVATE_KEY" if text("GITHUB_PRIVATE_KEY") else "GITHUB_PRIVATE_KEY_PATH"
                raise ConfigError(source, "is not a PEM private key")

        api_url = (text("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("GITHUB_API_URL", "must be an http(s) URL")

        data_dir = text("HNP_GITOPS_DATA_DIR")
        log_format = text("HNP_GITOPS_LOG_FORMAT") or "json"
        if log_format not in ("json", "text"):
            raise ConfigError("HNP_GITOPS_LOG_FORMAT", "must be json or text")

        return cls(
            database_url=Secret(database_url) if database_url else None,
            github_app_id=optional_integer("GITHUB_APP_ID", 1, 2**63 - 1),
            github_private_key=Secret(private_key) if private_key else None,
            github_webhook_secret=secret("GITHUB_WEBHOOK_SECRET"),
            github_api_url=api_url,
            hnp_api_token=secret("HNP_API_TOKEN"),
            port=integer("PORT", 8080, 1, 65535),
            host=text("HOST") or "0.0.0.0",
            data_dir=Path(data_dir).expanduser() if data_dir else default_data_dir(env),
            reconcile_interval=number("RECONCILE_INTERVAL", 300.0),
            workers=integer("HNP_GITOPS_WORKERS", 4, 0, 64),
            log_format=log_format,
        )

    def require(self, *names: str) -> None:
        """Stop with a ConfigError naming the first variable the command needs but lacks."""
        present = {
            "DATABASE_URL": self.database_url,
            "GITHUB_APP_ID": self.github_app_id,
            "GITHUB_PRIVATE_KEY": self.github_private_key,
            "GITHUB_WEBHOOK_SECRET": self.github_webhook_secret,
            "HNP_API_TOKEN": self.hnp_api_token,
        }
        for name in names:
            if present[name] is None:
                hint = " (or GITHUB_PRIVATE_KEY_PATH)" if name == "GITHUB_PRIVATE_KEY" else ""
                raise ConfigError(name, f"is not set{hint}")

    def secrets(self) -> list[str]:
        """Every secret value, for the log filter that blanks them out."""
        found = [self.github_private_key, self.github_webhook_secret, self.hnp_api_token]
        values = [s.reveal() for s in found if s is not None]
        if self.database_url is not None:
            password = urlsplit(self.database_url.reveal()).password
            if password:
                values.append(password)
        return values

    def describe(self) -> list[str]:
        """Which settings are set, for the start-up log line. Never values of secrets."""
        return [
            f"DATABASE_URL={'set' if self.database_url else 'unset (embedded PostgreSQL)'}",
            f"GITHUB_APP_ID={self.github_app_id if self.github_app_id else 'unset'}",
            f"GITHUB_PRIVATE_KEY={'set' if self.github_private_key else 'unset'}",
            f"GITHUB_WEBHOOK_SECRET={'set' if self.github_webhook_secret else 'unset'}",
            f"GITHUB_API_URL={self.github_api_url}",
            f"HNP_API_TOKEN={'set' if self.hnp_api_token else 'unset'}",
            f"PORT={self.port}",
            f"HNP_GITOPS_DATA_DIR={self.data_dir}",
            f"RECONCILE_INTERVAL={self.reconcile_interval:g}",
        ]

    def replace(self, **changes: Any) -> Config:
        return replace(self, **changes)
