"""The one GitHub access layer: nothing else in the bot talks to GitHub.

    gh = github.installation(installation_id, counter)      # acts as the installation
    repo = await gh.getitem("/repos/{owner}/{repo}", {"owner": o, "repo": r})
    status, ref, etag = await gh.conditional_get("/repos/{owner}/{repo}/git/ref/heads/{branch}",
                                                 {...}, etag=fabric.branch_etag)
    data = await gh.tarball(owner, repo, sha)

`GitHub` holds the process's one aiohttp session, the app's JWT and the installation tokens
(a TTLCache, renewed 5 minutes before GitHub's expires_at). Clients it hands out are
`gidgethub.abc.GitHubAPI`s whose every HTTP request goes through `GitHub._send`, which:
  - counts the request on the caller's `CallCounter` (retries are requests too);
  - retries 5xx answers and timeouts, with backoff (timeouts only for idempotent methods:
    a POST that timed out may have happened);
  - on a secondary rate limit (403/429 with Retry-After) sleeps when the wait is short
    (<= RetryPolicy.max_wait) and retries, otherwise raises `RetryLater`;
  - on an exhausted primary limit (X-RateLimit-Remaining: 0) raises `RetryLater` until
    X-RateLimit-Reset, and makes no further request with that credential until then;
  - renews an installation token GitHub refused (401) once.
Errors come out as NotFound / PermissionDenied / Conflict / UnprocessableEntity /
GitHubUnavailable (also gidgethub's BadRequest / GitHubBroken), carrying GitHub's message and
never a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import http
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import cachetools
import gidgethub
import gidgethub.abc
import gidgethub.apps
from gidgethub import sansio
from gidgethub.aiohttp import GitHubAPI

from bot import process_metrics
from bot.config import Config, Secret
from bot.github.errors import GitHubError, GitHubUnavailable, NotConfigured, translate
from bot.retry import RetryLater, backoff_delay

log = logging.getLogger(__name__)

REQUESTER = "hnp-gitops"
RENEW_BEFORE = 300.0  # seconds before expires_at that a token is replaced
TOKEN_TTL_CAP = 3600.0  # GitHub's tokens live an hour; the cache never keeps one longer
RAW = "application/vnd.github.raw"
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


# --- pure pieces (no I/O, no clock of their own) ----------------------------------------------


@dataclass
class CallCounter:
    """HTTP requests made for one piece of work (a sync operation's `api_calls_made`)."""

    calls: int = 0
    not_modified: int = 0  # of which 304s (free under GitHub's rate limit)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # per request, for 5xx answers and timeouts
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_wait: float = 60.0  # longest Retry-After slept through inside a job; longer: RetryLater
    max_waits: int = 3  # secondary-limit waits per request before giving the job back
    timeout: float = 30.0  # per request (tarballs get 4x)


def needs_renewal(expires_at: float, now: float, margin: float = RENEW_BEFORE) -> bool:
    """A token is replaced `margin` seconds before it expires, so none expires mid-job."""
    return now >= expires_at - margin


def parse_expires_at(value: str) -> float:
    """GitHub's '2016-07-11T22:14:10Z' as epoch seconds."""
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def rate_limit_wait(status: int, headers: Mapping[str, str], body: bytes, now: float) -> tuple[str, float] | None:
    """('secondary'|'primary', seconds to wait) when the answer is a rate limit, else None.
    Follows GitHub's advice: Retry-After first, then X-RateLimit-Reset when Remaining is 0,
    otherwise (a secondary limit without headers) at least a minute."""
    if status not in (403, 429):
        return None
    retry_after = headers.get("Retry-After")
    if retry_after is not None:
        try:
            return "secondary", max(0.0, float(retry_after))
        except ValueError:
            return "secondary", 60.0
    if headers.get("X-RateLimit-Remaining") == "0":
        try:
            reset = float(headers.get("X-RateLimit-Reset", ""))
        except ValueError:
            reset = now + 60.0
        return "primary", max(1.0, reset - now + 1.0)
    if status == 429 or b"secondary rate limit" in body[:2000].lower():
        return "secondary", 60.0
    return None


@dataclass(frozen=True)
class Token:
    token: str
    expires_at: float  # epoch seconds

    def __repr__(self) -> str:  # never print the token itself
        return f"Token(expires_at={self.expires_at:.0f})"


# --- the layer --------------------------------------------------------------------------------


class GitHub:
    """The process's GitHub access: one session, the app JWT, the installation tokens."""

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        *,
        api_url: str,
        app_id: int | None,
        private_key: Secret | None,
        policy: RetryPolicy = RetryPolicy(),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.session = session
        self.api_url = api_url.rstrip("/")
        self.app_id = app_id
        self._private_key = private_key
        self.policy = policy
        self.clock = clock
        self.sleep = sleep
        self.tokens: cachetools.TTLCache[int, Token] = cachetools.TTLCache(maxsize=10_000, ttl=TOKEN_TTL_CAP)
        self._token_locks: dict[int, asyncio.Lock] = {}
        self._jwt: tuple[str, float] | None = None
        self._exhausted_until: dict[str, float] = {}  # credential -> primary limit reset
        self.total_calls = 0

    @classmethod
    def from_config(cls, session: aiohttp.ClientSession | None, config: Config, **options: Any) -> GitHub:
        return cls(
            session,
            api_url=config.github_api_url,
            app_id=config.github_app_id,
            private_key=config.github_private_key,
            **options,
        )

    # clients

    def app(self, counter: CallCounter | None = None) -> Client:
        """A client authenticated as the GitHub App (JWT): /app/..., /repos/{o}/{r}/installation."""
        return Client(self, auth=self._app_auth, credential="app", counter=counter)

    def installation(self, installation_id: int, counter: CallCounter | None = None) -> Client:
        """A client acting as one installation (its token, minted and renewed as needed)."""
        iid = int(installation_id)

        async def auth(counter: CallCounter) -> str:
            return f"token {await self.installation_token(iid, counter)}"

        return Client(self, auth=auth, credential=f"installation:{iid}", counter=counter, installation_id=iid)

    # credentials

    def app_jwt(self) -> str:
        if self.app_id is None or self._private_key is None:
            raise NotConfigured("GITHUB_APP_ID and GITHUB_PRIVATE_KEY are needed to act as the GitHub App")
        now = time.monotonic()
        if self._jwt is None or now >= self._jwt[1]:
            # gidgethub backdates iat by 60 s for clock drift; renew well before the 10 min cap.
            token = gidgethub.apps.get_jwt(
                app_id=str(self.app_id), private_key=self._private_key.reveal(), expiration=9 * 60
            )
            self._jwt = (token, now + 7 * 60)
        return self._jwt[0]

    async def _app_auth(self, counter: CallCounter) -> str:
        return f"bearer {self.app_jwt()}"

    async def installation_token(self, installation_id: int, counter: CallCounter | None = None) -> str:
        cached = self.tokens.get(installation_id)
        if cached is not None and not needs_renewal(cached.expires_at, self.clock()):
            return cached.token
        lock = self._token_locks.setdefault(installation_id, asyncio.Lock())
        async with lock:  # one mint per installation, however many jobs ask at once
            cached = self.tokens.get(installation_id)
            if cached is not None and not needs_renewal(cached.expires_at, self.clock()):
                return cached.token
            answer = await gidgethub.apps.get_installation_access_token(
                self.app(counter),
                installation_id=str(installation_id),
                app_id=str(self.app_id),
                private_key=self._private_key.reveal() if self._private_key else "",
            )
            token = Token(answer["token"], parse_expires_at(answer["expires_at"]))
            self.tokens[installation_id] = token
            log.info("installation token for %d renewed (expires %s)", installation_id, answer["expires_at"])
            return token.token

    def forget_token(self, installation_id: int) -> None:
        self.tokens.pop(installation_id, None)

    # lookups used across the bot

    async def repository_installation(
        self, owner: str, repo: str, counter: CallCounter | None = None
    ) -> dict[str, Any]:
        """The installation of this app on owner/repo (NotFound when it is not installed)."""
        return await self.app(counter).getitem("/repos/{owner}/{repo}/installation", {"owner": owner, "repo": repo})

    # every request

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        client: Client,
        timeout: float | None = None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        path = url.split("?", 1)[0].removeprefix(self.api_url)
        if any(urllib.parse.unquote(segment) in (".", "..") for segment in path.split("/")):
            # A client normalises `/repos/acme/../installation` to `/repos/installation`: a
            # name that is a dot segment would address another resource than the one meant.
            raise ValueError(f"refusing a GitHub request whose path has a dot segment: {path!r}")
        policy = self.policy
        headers = dict(headers)
        if "authorization" not in headers:
            headers["authorization"] = await client.auth(client.counter)
        attempt = waits = 0
        reauthorized = False
        while True:
            self._refuse_if_exhausted(client)
            attempt += 1
            client.counter.calls += 1
            self.total_calls += 1
            began = time.monotonic()
            if self.session is None:
                raise NotConfigured("the GitHub layer has no HTTP session (the app is not running)")
            try:
                async with self.session.request(
                    method,
                    url,
                    headers=headers,
                    data=body,
                    timeout=aiohttp.ClientTimeout(total=timeout or policy.timeout),
                ) as response:
                    status, answer_headers, data = response.status, response.headers, await response.read()
            except (TimeoutError, aiohttp.ClientConnectionError) as failure:
                retriable = method in _IDEMPOTENT or isinstance(failure, aiohttp.ClientConnectorError)
                if retriable and attempt < policy.attempts:
                    delay = backoff_delay(attempt, base=policy.backoff_base, cap=policy.backoff_max)
                    log.warning(
                        "GitHub %s %s: %s; retry %d in %.1f s", method, path, failure.__class__.__name__, attempt, delay
                    )
                    await self.sleep(delay)
                    continue
                raise GitHubUnavailable(
                    http.HTTPStatus.GATEWAY_TIMEOUT,
                    f"GitHub did not answer {method} {path} ({failure.__class__.__name__})",
                ) from None
            log.debug("GitHub %s %s -> %d in %.0f ms", method, path, status, (time.monotonic() - began) * 1000)
            process_metrics.record_github_call(
                status,
                answer_headers.get("X-RateLimit-Remaining"),
                method=method,
                installation_id=client.installation_id,
                rate_limit_reset=answer_headers.get("X-RateLimit-Reset"),
                resource=answer_headers.get("X-RateLimit-Resource"),
                seconds=time.monotonic() - began,
            )
            if status == 304:
                client.counter.not_modified += 1
            self._note_limit(client.credential, answer_headers)

            if status >= 500 and attempt < policy.attempts:
                delay = backoff_delay(attempt, base=policy.backoff_base, cap=policy.backoff_max)
                log.warning("GitHub %s %s answered %d; retry %d in %.1f s", method, path, status, attempt, delay)
                await self.sleep(delay)
                continue
            if status == 401 and client.installation_id is not None and not reauthorized:
                # A revoked or early-expired token: mint a new one, once.
                self.forget_token(client.installation_id)
                headers["authorization"] = await client.auth(client.counter)
                reauthorized = True
                continue
            limited = rate_limit_wait(status, answer_headers, data, self.clock())
            if limited is not None:
                kind, seconds = limited
                if kind == "primary":
                    self._exhausted_until[client.credential] = self.clock() + seconds
                    raise RetryLater(
                        seconds,
                        f"GitHub rate limit of {client.credential} spent until reset",
                        installation_id=client.installation_id,
                    )
                if seconds > policy.max_wait or waits >= policy.max_waits:
                    raise RetryLater(seconds, f"GitHub secondary rate limit ({method} {path})")
                waits += 1
                attempt -= 1  # waiting out a rate limit is not a failed attempt
                log.warning("GitHub secondary rate limit on %s %s; waiting %.0f s", method, path, seconds)
                await self.sleep(seconds)
                continue
            return status, answer_headers, data

    def _note_limit(self, credential: str, headers: Mapping[str, str]) -> None:
        if headers.get("X-RateLimit-Remaining") == "0":
            try:
                self._exhausted_until[credential] = float(headers["X-RateLimit-Reset"])
            except (KeyError, ValueError):
                pass

    def _refuse_if_exhausted(self, client: Client) -> None:
        """Never spin against a spent primary limit: give the job back until the reset."""
        credential = client.credential
        until = self._exhausted_until.get(credential)
        if until is None:
            return
        left = until - self.clock()
        if left <= 0:
            del self._exhausted_until[credential]
            return
        raise RetryLater(
            left + 1.0, f"GitHub rate limit of {credential} spent until reset", installation_id=client.installation_id
        )


def raise_for_status(status: int, headers: Mapping[str, str], body: bytes) -> None:
    """A refusal or failure (4xx, 5xx) as one of bot.github.errors, with GitHub's message."""
    if status >= 400:
        try:
            sansio.decipher_response(status, headers, body)
        except gidgethub.HTTPException as failure:
            raise translate(failure) from None


class Client(gidgethub.abc.GitHubAPI):
    """gidgethub's GitHubAPI (getitem, getiter, post, patch, put, delete, getstatus) plus
    conditional_get, tarball and getraw, on gidgethub's designed seam: `_request` sends every
    request through the layer (counting, retries, rate limits) and `sleep` is the layer's."""

    def __init__(
        self,
        layer: GitHub,
        *,
        auth: Callable[[CallCounter], Awaitable[str]],
        credential: str,
        counter: CallCounter | None,
        installation_id: int | None = None,
    ) -> None:
        super().__init__(REQUESTER, base_url=layer.api_url)
        self.layer = layer
        self.auth = auth
        self.credential = credential
        self.counter = counter if counter is not None else CallCounter()
        self.installation_id = installation_id

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        status, answer_headers, data = await self.layer._send(method, url, headers, body, client=self)
        raise_for_status(status, answer_headers, data)
        return status, answer_headers, data

    async def sleep(self, seconds: float) -> None:
        await self.layer.sleep(seconds)

    async def conditional_get(
        self,
        url: str,
        url_vars: Mapping[str, Any] | None = None,
        *,
        etag: str | None,
        accept: str = sansio.accept_format(),
    ) -> tuple[int, Any, str | None]:
        """(200, data, new ETag) or (304, None, the ETag given). A 304 costs no rate limit."""
        full = sansio.format_url(url, url_vars or {}, base_url=self.base_url)
        headers = sansio.create_headers(REQUESTER, accept=accept)
        if etag:
            headers["if-none-match"] = etag
        status, answer_headers, body = await self._request("GET", full, headers)
        if status == 304:
            return 304, None, etag
        data, _, _ = sansio.decipher_response(status, answer_headers, body)
        return status, data, answer_headers.get("ETag")

    async def tarball(self, owner: str, repo: str, ref: str) -> bytes:
        """GET /repos/{owner}/{repo}/tarball/{ref}, following the redirect; the archive bytes."""
        full = sansio.format_url(
            "/repos/{owner}/{repo}/tarball/{ref}", {"owner": owner, "repo": repo, "ref": ref}, base_url=self.base_url
        )
        headers = sansio.create_headers(REQUESTER, accept=sansio.accept_format())
        status, answer_headers, body = await self.layer._send(
            "GET", full, headers, b"", client=self, timeout=self.layer.policy.timeout * 4
        )
        raise_for_status(status, answer_headers, body)
        if status != 200:
            sansio.decipher_response(status, answer_headers, body)
        return body

    async def getraw(self, url: str, url_vars: Mapping[str, Any] | None = None, *, accept: str = RAW) -> bytes:
        """A GET whose answer is bytes (e.g. a file's raw contents)."""
        full = sansio.format_url(url, url_vars or {}, base_url=self.base_url)
        headers = sansio.create_headers(REQUESTER, accept=accept)
        status, answer_headers, body = await self._request("GET", full, headers)
        if status != 200:
            sansio.decipher_response(status, answer_headers, body)
        return body


# --- outside an aiohttp app ------------------------------------------------------------------


def new_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_read=60), connector=aiohttp.TCPConnector(limit=100)
    )


@contextlib.asynccontextmanager
async def open_github(config: Config, **options: Any) -> AsyncIterator[GitHub]:
    """The layer outside an aiohttp app (CLI, benchmarks, tests)."""
    async with new_session() as session:
        yield GitHub.from_config(session, config, **options)


async def convert_app_manifest(api_url: str, code: str) -> dict[str, Any]:
    """The last step of registering an app from a manifest: GitHub's answer for the code its
    redirect carried (`id`, `slug`, `html_url`, `pem`, `webhook_secret`, ...). Needs no
    credentials; a code is good once, within an hour."""
    async with new_session() as session:
        github = GitHubAPI(session, REQUESTER, base_url=api_url.rstrip("/"))
        try:
            answer = await github.post("/app-manifests/{code}/conversions", url_vars={"code": code}, data={})
        except gidgethub.HTTPException as failure:
            raise translate(failure) from None
    if not isinstance(answer, dict) or "pem" not in answer or "id" not in answer:
        raise GitHubError(http.HTTPStatus.BAD_GATEWAY, "the conversion answer holds no app")
    return answer
