"""The emulator's in-memory state: accounts, apps, installations, tokens, repositories,
pull requests, check runs and comments. Git content itself lives in the bare repos."""

from __future__ import annotations

import base64
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from .gitrepo import GitRepo

PERMISSION_LEVELS = {"none": 0, "read": 1, "triage": 1, "write": 2, "maintain": 2, "admin": 3}
DEFAULT_APP_PERMISSIONS = {
    "metadata": "read",
    "contents": "write",
    "pull_requests": "write",
    "checks": "write",
    "issues": "write",
    "statuses": "write",
    "members": "read",
}
DEFAULT_APP_EVENTS = ["push", "pull_request", "check_run", "check_suite", "issue_comment"]


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(prefix: str, ident: int) -> str:
    return prefix + "_" + base64.b64encode(f"{prefix}{ident}".encode()).decode().rstrip("=")


@dataclass
class Account:
    id: int
    login: str
    type: str  # "User", "Organization" or "Bot"
    node_id: str
    email: str = ""
    app_slug: str | None = None  # for the bot account of an app


@dataclass
class App:
    id: int
    slug: str
    name: str
    owner: Account
    bot: Account
    webhook_url: str | None
    webhook_secret: str
    private_key_pem: str
    public_key: RSAPublicKey
    permissions: dict[str, str]
    events: list[str]
    hook_id: int
    created_at: datetime = field(default_factory=now)
    client_id: str = field(default_factory=lambda: "Iv1." + secrets.token_hex(8))
    client_secret: str = field(default_factory=lambda: secrets.token_hex(20))


@dataclass
class Installation:
    id: int
    app: App
    account: Account
    repo_ids: list[int]
    permissions: dict[str, str]
    events: list[str]
    repository_selection: str = "selected"
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)


@dataclass
class Token:
    token: str
    kind: str  # "installation" or "user"
    installation_id: int | None = None
    user_login: str | None = None
    expires_at: datetime | None = None

    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= now()


@dataclass
class User:
    account: Account
    token: str
    permissions: dict[int, str]  # repo id -> admin/write/read/none


@dataclass
class Repo:
    id: int
    owner: Account
    name: str
    default_branch: str
    private: bool
    git: GitRepo
    description: str | None = None
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    pushed_at: datetime = field(default_factory=now)
    next_number: int = 1  # issues and pull requests share numbers

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"


@dataclass
class Pull:
    id: int
    number: int
    repo_id: int
    title: str
    body: str | None
    head_ref: str
    base_ref: str
    head_sha: str
    base_sha: str
    user: Account
    draft: bool = False
    state: str = "open"
    merged: bool = False
    merged_at: datetime | None = None
    merged_by: Account | None = None
    merge_commit_sha: str | None = None
    closed_at: datetime | None = None
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    comments: int = 0
    stats: dict | None = None  # frozen commits/additions/deletions/changed_files once closed
    # GitHub computes mergeability in a background job: the first look at a (base, head) pair
    # starts it (and answers null), a later look finds it done.
    mergeability_started: tuple[str, str] | None = None
    mergeability_known: tuple[str, str] | None = None


@dataclass
class CheckSuite:
    id: int
    repo_id: int
    app_id: int
    head_sha: str
    head_branch: str | None
    before: str | None = None
    after: str | None = None
    status: str = "queued"
    conclusion: str | None = None
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)


@dataclass
class CheckRun:
    id: int
    repo_id: int
    app_id: int
    suite_id: int
    name: str
    head_sha: str
    status: str = "queued"
    conclusion: str | None = None
    external_id: str | None = None
    details_url: str | None = None
    started_at: datetime | None = field(default_factory=now)
    completed_at: datetime | None = None
    output: dict = field(default_factory=lambda: {"title": None, "summary": None, "text": None})
    annotations: list[dict] = field(default_factory=list)
    actions: list[dict] = field(default_factory=list)


@dataclass
class Comment:
    id: int
    repo_id: int
    issue_number: int
    user: Account
    body: str
    via_app: App | None = None
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)


@dataclass
class Status:
    id: int
    repo_id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: Account
    created_at: datetime = field(default_factory=now)


class State:
    """All emulator state except git objects and refs; ids are unique per kind."""

    def __init__(self) -> None:
        self._ids = {
            k: itertools.count(start)
            for k, start in {
                "account": 1001,
                "app": 101,
                "installation": 5001,
                "repo": 70001,
                "pull": 900001,
                "check_suite": 300001,
                "check_run": 400001,
                "comment": 600001,
                "status": 800001,
                "hook": 200001,
            }.items()
        }
        self.accounts: dict[str, Account] = {}
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, Token] = {}
        self.users: dict[str, User] = {}
        self.repos: dict[tuple[str, str], Repo] = {}
        self.repos_by_id: dict[int, Repo] = {}
        self.pulls: dict[int, dict[int, Pull]] = {}  # repo id -> number -> pull
        self.check_suites: dict[int, CheckSuite] = {}
        self.check_runs: dict[int, CheckRun] = {}
        self.comments: dict[int, Comment] = {}
        self.statuses: list[Status] = []

    def next_id(self, kind: str) -> int:
        return next(self._ids[kind])

    def account(self, login: str, type_: str = "User") -> Account:
        """The account called `login`, created on first use."""
        key = login.lower()
        if key not in self.accounts:
            ident = self.next_id("account")
            self.accounts[key] = Account(
                ident,
                login,
                type_,
                node_id("U" if type_ != "Organization" else "O", ident),
                email=f"{ident}+{login}@users.noreply.github.com",
            )
        return self.accounts[key]

    def repo(self, owner: str, name: str) -> Repo | None:
        return self.repos.get((owner.lower(), name.lower()))

    def installations_for(self, repo: Repo) -> list[Installation]:
        return [i for i in self.installations.values() if repo.id in i.repo_ids]

    def issue_token(
        self,
        kind: str,
        *,
        installation_id: int | None = None,
        user_login: str | None = None,
        ttl: timedelta | None = None,
    ) -> Token:
        prefix = "ghs_" if kind == "installation" else "ghp_"
        tok = Token(
            prefix + secrets.token_urlsafe(27).replace("-", "A").replace("_", "B")[:36],
            kind,
            installation_id=installation_id,
            user_login=user_login,
            expires_at=now() + ttl if ttl else None,
        )
        self.tokens[tok.token] = tok
        return tok
