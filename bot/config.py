"""The one configuration object, read once from the environment at start-up.

Secrets are wrapped in `Secret`, whose str() and repr() show nothing, so a stray log line or
error message cannot leak them. `describe()` says which settings are set, never their values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_WEB_URL = "https://github.com"  # the pages that go with DEFAULT_API_URL
MIN_API_TOKEN_LENGTH = 32  # `serve` refuses a shorter HNP_API_TOKEN: it must not be guessable
MAKE_API_TOKEN = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"

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
    "HNP_GITOPS_ENV_FILE": "a NAME=value file the settings above are read from when unset (hnp-gitops setup writes one)",
}


ENV_FILE_VARIABLE = "HNP_GITOPS_ENV_FILE"


class ConfigError(Exception):
    """Settings the command needs are missing or malformed: one line per variable, each naming it."""

    def __init__(self, variable: str, problem: str, *more: tuple[str, str]) -> None:
        self.problems = [(variable, problem), *more]
        self.variable = variable
        lines = [f"{name} {what}" for name, what in self.problems]
        if len(lines) == 1:
            super().__init__(lines[0])
        else:
            super().__init__(f"{len(lines)} settings need attention:\n" + "\n".join(f"  {line}" for line in lines))

    @classmethod
    def of(cls, problems: Sequence[tuple[str, str]]) -> ConfigError:
        return cls(*problems[0], *problems[1:])


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines (blank lines and `#` comments skipped; a value may be quoted, and a
    PEM key kept on one line with literal \\n), as `hnp-gitops setup` writes them."""
    values = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.removeprefix("export ").partition("=")
        name = name.strip()
        if not equals or not name.isidentifier():
            raise ConfigError(ENV_FILE_VARIABLE, f"line {number} of {path} is not NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[name] = value
    return values


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
    def from_env(cls, environ: Mapping[str, str] | None = None, *, require: Sequence[str] = ()) -> Config:
        """The settings in `environ` (default: the process environment), filled in from the env
        file that HNP_GITOPS_ENV_FILE names (the environment wins). Every malformed setting, and
        every one in `require` that is missing, is reported at once in one ConfigError."""
        env = dict(os.environ if environ is None else environ)
        problems: list[tuple[str, str]] = []
        env_file = env.get(ENV_FILE_VARIABLE)
        if env_file:
            try:
                env = {**read_env_file(Path(env_file).expanduser()), **env}
            except OSError as error:
                problems.append((ENV_FILE_VARIABLE, f"names a file that cannot be read ({error.strerror})"))
            except ConfigError as error:
                problems += error.problems

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
                problems.append((name, "must be a whole number"))
                return None
            if not low <= value <= high:
                problems.append((name, f"must be between {low} and {high}"))
                return None
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
                problems.append((name, "must be a number of seconds"))
                return default
            if value <= 0:
                problems.append((name, "must be greater than zero"))
                return default
            return value

        database_url = text("DATABASE_URL")
        if database_url is not None and urlsplit(database_url).scheme not in ("postgres", "postgresql"):
            problems.append(("DATABASE_URL", "must be a postgresql:// URL"))
            database_url = None

        private_key = text("GITHUB_PRIVATE_KEY")
        key_path = text("GITHUB_PRIVATE_KEY_PATH")
        if private_key is None and key_path is not None:
            try:
                private_key = Path(key_path).read_text()
            except OSError as error:
                problems.append(("GITHUB_PRIVATE_KEY_PATH", f"cannot be read ({error.strerror})"))
        if private_key is not None:
            # Platforms that only take one-line variables store the PEM with literal \n.
            private_key = private_key.replace("\\n", "\n")
            if "-----BEGIN" not in private_key or "PRIVATE KEY-----" not in private_key:
                source = "GITHUB_PRIVATE_KEY" if text("GITHUB_PRIVATE_KEY") else "GITHUB_PRIVATE_KEY_PATH"
                problems.append((source, "is not a PEM private key"))
                private_key = None

        api_url = (text("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(("GITHUB_API_URL", "must be an http(s) URL"))
            api_url = DEFAULT_API_URL

        data_dir = text("HNP_GITOPS_DATA_DIR")
        log_format = text("HNP_GITOPS_LOG_FORMAT") or "json"
        if log_format not in ("json", "text"):
            problems.append(("HNP_GITOPS_LOG_FORMAT", "must be json or text"))
            log_format = "json"

        config = cls(
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
        malformed = {name for name, _ in problems}
        problems += [problem for problem in config.missing(*require) if problem[0] not in malformed]
        if problems:
            raise ConfigError.of(problems)
        return config

    def missing(self, *names: str) -> list[tuple[str, str]]:
        """(variable, "is not set ...") for each of `names` the command needs but lacks."""
        present = {
            "DATABASE_URL": self.database_url,
            "GITHUB_APP_ID": self.github_app_id,
            "GITHUB_PRIVATE_KEY": self.github_private_key,
            "GITHUB_WEBHOOK_SECRET": self.github_webhook_secret,
            "HNP_API_TOKEN": self.hnp_api_token,
        }
        found = []
        for name in names:
            if present[name] is None:
                hint = " (or GITHUB_PRIVATE_KEY_PATH)" if name == "GITHUB_PRIVATE_KEY" else ""
                found.append((name, f"is not set{hint}"))
        token = self.hnp_api_token
        if "HNP_API_TOKEN" in names and token is not None and len(token.reveal()) < MIN_API_TOKEN_LENGTH:
            # The token guards every API route: one short enough to guess is as good as none.
            found.append(
                (
                    "HNP_API_TOKEN",
                    f"is shorter than {MIN_API_TOKEN_LENGTH} characters; make a random one with: {MAKE_API_TOKEN}",
                )
            )
        return found

    @property
    def github_web_url(self) -> str:
        """Where GitHub's pages are: github.com for api.github.com, the server itself for
        GitHub Enterprise Server (`https://HOST/api/v3`), else the API's own address (an
        emulator serving both)."""
        if self.github_api_url == DEFAULT_API_URL:
            return DEFAULT_WEB_URL
        return self.github_api_url.removesuffix("/api/v3")

    def require(self, *names: str) -> None:
        """Stop with one ConfigError naming every variable the command needs but lacks."""
        problems = self.missing(*names)
        if problems:
            raise ConfigError.of(problems)

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
