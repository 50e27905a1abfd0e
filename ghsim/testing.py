"""The emulator for tests: start it in-process or as a subprocess, and drive it through
its control API.

    async with GhSim.start(tmp_path) as sim:
        app = await sim.create_app("http://127.0.0.1:8080/webhook", "secret")
        await sim.create_repo("acme", "fabric")
        inst = await sim.create_installation(app["id"], "acme", ["acme/fabric"])
        ...
        await sim.wait_deliveries_idle()

Every helper goes over HTTP, so the same code drives a subprocess (`GhSim.start_subprocess`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp
import jwt

from .server import Server
from .sim import Sim


class ControlError(RuntimeError):
    def __init__(self, status: int, body: object):
        super().__init__(f"ghsim control API answered {status}: {body}")
        self.status = status
        self.body = body


class GhSim:
    def __init__(self, base_url: str, session: aiohttp.ClientSession, sim: Sim | None = None):
        self.base_url = base_url
        self.session = session
        self.sim = sim  # the in-process emulator (None for a subprocess)

    # -- starting -----------------------------------------------------------------------
    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, data_dir: str | os.PathLike, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[GhSim]:
        """Run the emulator inside this event loop."""
        server = await Server.start(str(data_dir), host, port)
        session = aiohttp.ClientSession()
        try:
            yield cls(server.base_url, session, server.sim)
        finally:
            await session.close()
            await server.stop()

    @classmethod
    @contextlib.asynccontextmanager
    async def start_subprocess(
        cls, data_dir: str | os.PathLike, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 20.0
    ) -> AsyncIterator[GhSim]:
        """Run `python -m ghsim` as a child process (for tests where the bot is a process too)."""
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ghsim",
            "--host",
            host,
            "--port",
            str(port),
            "--data",
            str(data_dir),
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        assert proc.stdout
        session = aiohttp.ClientSession()
        try:
            async with asyncio.timeout(startup_timeout):
                line = await proc.stdout.readline()
            if not line.startswith(b"ghsim listening on "):
                raise RuntimeError(f"ghsim did not start: {line!r}")
            yield cls(line.decode().split()[-1], session)
        finally:
            await session.close()
            if proc.returncode is None:
                proc.terminate()
                try:
                    async with asyncio.timeout(10):
                        await proc.wait()
                except TimeoutError:
                    proc.kill()
                    await proc.wait()

    # -- plumbing -------------------------------------------------------------------------
    async def _call(
        self,
        method: str,
        path: str,
        body: object = None,
        ok: tuple[int, ...] = (200, 201, 202, 204),
        params: dict[str, str] | None = None,
    ) -> Any:  # the decoded JSON body
        async with self.session.request(method, self.base_url + path, json=body, params=params) as resp:
            text = await resp.text()
            if resp.status not in ok:
                try:
                    raise ControlError(resp.status, json.loads(text))
                except ValueError:
                    raise ControlError(resp.status, text) from None
            if not text:
                return None
            if resp.content_type == "application/x-ndjson":
                return [json.loads(line) for line in text.splitlines() if line]
            return json.loads(text)

    def git_url(self, owner: str, repo: str, token: str | None = None) -> str:
        """A clone URL; with a token, authenticated as GitHub expects (x-access-token:<token>@)."""
        scheme, rest = self.base_url.split("://", 1)
        auth = f"x-access-token:{quote(token, safe='')}@" if token else ""
        return f"{scheme}://{auth}{rest}/{owner}/{repo}.git"

    @staticmethod
    def app_jwt(app_id: int, private_key: str, lifetime: int = 540) -> str:
        """An app JWT as GitHub wants it (RS256, iss = app id, iat 60 s back, exp <= 10 min)."""
        now = int(time.time())
        return jwt.encode({"iat": now - 60, "exp": now + lifetime, "iss": str(app_id)}, private_key, algorithm="RS256")

    # -- setup --------------------------------------------------------------------------
    async def create_app(self, webhook_url: str | None, webhook_secret: str, **options: Any) -> dict:
        """-> {"id", "slug", "private_key", "bot_login", ...}; options: name, permissions, events."""
        return await self._call(
            "POST", "/_ghsim/apps", {"webhook_url": webhook_url, "webhook_secret": webhook_secret, **options}
        )

    async def set_webhook_url(self, app_id: int, url: str | None, secret: str | None = None) -> dict:
        body = {"webhook_url": url} | ({"webhook_secret": secret} if secret is not None else {})
        return await self._call("PATCH", f"/_ghsim/apps/{app_id}", body)

    async def create_repo(self, owner: str, name: str, default_branch: str = "main", **options: Any) -> dict:
        """-> the repository JSON; options: private, auto_init, files {path: text}, owner_type, description."""
        return await self._call(
            "POST", "/_ghsim/repos", {"owner": owner, "name": name, "default_branch": default_branch, **options}
        )

    async def create_installation(self, app_id: int, account: str, repositories: list[str], **options: Any) -> dict:
        """-> {"id", ...}; sends the `installation` created webhook. options: permissions, events."""
        return await self._call(
            "POST",
            "/_ghsim/installations",
            {"app_id": app_id, "account": account, "repositories": repositories, **options},
        )

    async def delete_installation(self, installation_id: int) -> None:
        await self._call("DELETE", f"/_ghsim/installations/{installation_id}")

    async def change_installation_repositories(
        self, installation_id: int, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> dict:
        return await self._call(
            "POST", f"/_ghsim/installations/{installation_id}/repositories", {"add": list(add), "remove": list(remove)}
        )

    async def installation_token(self, installation_id: int) -> str:
        return (await self._call("POST", f"/_ghsim/installations/{installation_id}/token"))["token"]

    async def create_user(
        self, login: str, permission: str = "write", repositories: Sequence[str] = (), email: str | None = None
    ) -> str:
        """-> the user's token (for git pushes, REST calls, merges and comments as that user)."""
        body = {"login": login, "permission": permission, "repositories": list(repositories)}
        if email:
            body["email"] = email
        return (await self._call("POST", "/_ghsim/users", body))["token"]

    # -- observation ------------------------------------------------------------------------
    async def requests(self, include_git: bool = False, since: int = 0) -> list[dict]:
        params = {"since": str(since)} | ({"include": "git"} if include_git else {})
        return await self._call("GET", "/_ghsim/requests", params=params)

    async def clear_requests(self) -> None:
        await self._call("DELETE", "/_ghsim/requests")

    async def deliveries(self, event: str | None = None, app_id: int | None = None, since: int = 0) -> list[dict]:
        params = {"since": str(since)}
        if event:
            params["event"] = event
        if app_id is not None:
            params["app_id"] = str(app_id)
        return await self._call("GET", "/_ghsim/deliveries", params=params)

    async def clear_deliveries(self) -> None:
        await self._call("DELETE", "/_ghsim/deliveries")

    async def wait_deliveries_idle(self, timeout: float = 30.0) -> None:
        """Return once every queued webhook delivery has been attempted (TimeoutError if not)."""
        try:
            await self._call("GET", "/_ghsim/deliveries/idle", params={"timeout": str(timeout)})
        except ControlError as exc:
            if exc.status == 504:
                raise TimeoutError(f"webhook deliveries still pending after {timeout}s") from exc
            raise

    async def redeliver(self, delivery_id: int) -> dict:
        return await self._call("POST", f"/_ghsim/deliveries/{delivery_id}/redeliver")

    # -- faults and limits ------------------------------------------------------------------
    async def add_fault(self, **spec: Any) -> dict:
        """Request fault: method, path (regex), status, count, retry_after, latency_ms, hang, hold,
        secondary_rate_limit, body. Delivery fault: mode (drop|duplicate|reorder), event, action, count."""
        return await self._call("POST", "/_ghsim/faults", spec)

    async def faults(self) -> list[dict]:
        """The faults still in force (one with a count is gone once spent)."""
        return await self._call("GET", "/_ghsim/faults")

    async def wait_held(self, fault_id: int, timeout: float = 30.0) -> dict:
        """Return once a request is held by hold fault `fault_id` (TimeoutError if none is)."""
        try:
            return await self._call("GET", f"/_ghsim/faults/{fault_id}/held", params={"timeout": str(timeout)})
        except ControlError as exc:
            if exc.status == 504:
                raise TimeoutError(f"no request held by fault {fault_id} after {timeout}s") from exc
            raise

    async def release_fault(self, fault_id: int) -> None:
        """Let the requests hold fault `fault_id` keeps waiting be carried out."""
        await self._call("POST", f"/_ghsim/faults/{fault_id}/release")

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/_ghsim/faults")

    async def set_rate_limit(
        self,
        *,
        installation_id: int | None = None,
        user: str | None = None,
        limit: int | None = None,
        remaining: int | None = None,
        reset_in: int | None = None,
        default_limit: int | None = None,
    ) -> dict:
        body = {
            k: v
            for k, v in {
                "installation_id": installation_id,
                "user": user,
                "limit": limit,
                "remaining": remaining,
                "reset_in": reset_in,
                "default_limit": default_limit,
            }.items()
            if v is not None
        }
        return await self._call("POST", "/_ghsim/ratelimit", body)

    # -- a person on github.com ---------------------------------------------------------------
    async def press_check_run_action(self, check_run_id: int, identifier: str, user: str) -> None:
        await self._call(
            "POST", f"/_ghsim/check-runs/{check_run_id}/requested-action", {"identifier": identifier, "user": user}
        )

    async def rerequest_check_run(self, check_run_id: int, user: str) -> None:
        await self._call("POST", f"/_ghsim/check-runs/{check_run_id}/rerequest", {"user": user})

    async def comment_on_pull(self, owner: str, repo: str, number: int, user: str, body: str) -> dict:
        return await self._call(
            "POST", f"/_ghsim/repos/{owner}/{repo}/pulls/{number}/comments", {"user": user, "body": body}
        )

    async def merge_pull(
        self, owner: str, repo: str, number: int, user: str, merge_method: str = "merge", sha: str | None = None
    ) -> dict:
        body = {"user": user, "merge_method": merge_method} | ({"sha": sha} if sha else {})
        return await self._call("POST", f"/_ghsim/repos/{owner}/{repo}/pulls/{number}/merge", body)

    async def close_pull(self, owner: str, repo: str, number: int, user: str) -> dict:
        return await self._call("POST", f"/_ghsim/repos/{owner}/{repo}/pulls/{number}/close", {"user": user})

    async def reopen_pull(self, owner: str, repo: str, number: int, user: str) -> dict:
        return await self._call("POST", f"/_ghsim/repos/{owner}/{repo}/pulls/{number}/reopen", {"user": user})

    async def compute_mergeability(self, owner: str, repo: str, number: int) -> dict:
        """Finish GitHub's background mergeability job now -> {"mergeable", "mergeable_state"}."""
        return await self._call("POST", f"/_ghsim/repos/{owner}/{repo}/pulls/{number}/mergeability", {})
