"""`hnp-gitops setup`: register the GitHub App from app.yml in one step, with GitHub's manifest
flow (as probot does).

1. A page on loopback (`http://127.0.0.1:PORT/`) holds a form that posts the manifest to
   GitHub's "new app from manifest" page: `{github}/settings/apps/new` for your account,
   `{github}/organizations/{org}/settings/apps/new` for an organisation, the same paths on a
   GitHub Enterprise Server.
2. You confirm on GitHub; GitHub sends the browser back to `/callback?code=...&state=...`.
3. The code is exchanged once through `POST {api}/app-manifests/{code}/conversions`, which
   answers the app's id, private key and webhook secret.
4. These go to an env file, mode 0600, that `serve` reads: `hnp-gitops --env-file PATH serve`
   (or HNP_GITOPS_ENV_FILE=PATH). Nothing secret is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import jinja2
import yaml
from aiohttp import web

from bot.config import DEFAULT_API_URL, DEFAULT_WEB_URL
from bot.github.client import convert_app_manifest
from bot.github.errors import GitHubError
from bot.github.pages import api_url_for, install_app_url, new_app_url

DEFAULT_ENV_FILE = Path("hnp-gitops.env")
TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("bot", "templates/setup"), autoescape=True, undefined=jinja2.StrictUndefined
)
# GitHub sends these to every app; a manifest's default_events may not name them.
ALWAYS_SENT = ("installation", "installation_repositories")


class SetupError(Exception):
    """The registration did not happen; the message says why."""


def manifest_from(app_yml: Path, redirect_url: str, webhook_url: str | None, name: str | None) -> dict[str, Any]:
    """app.yml as the JSON manifest GitHub takes, with this run's redirect (and, if given, the
    webhook URL and app name)."""
    try:
        manifest = yaml.safe_load(app_yml.read_text(encoding="utf-8"))
    except OSError as error:
        raise SetupError(f"cannot read the manifest {app_yml}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise SetupError(f"the manifest {app_yml} is not valid YAML: {error}") from None
    if not isinstance(manifest, dict) or not manifest.get("url"):
        raise SetupError(f"the manifest {app_yml} needs at least a url")
    manifest["redirect_url"] = redirect_url
    manifest["default_events"] = [e for e in manifest.get("default_events") or [] if e not in ALWAYS_SENT]
    if webhook_url:
        manifest["hook_attributes"] = {**(manifest.get("hook_attributes") or {}), "url": webhook_url}
    if name:
        manifest["name"] = name
    return manifest


def env_file_text(app: dict[str, Any], api_url: str, when: datetime) -> str:
    """The settings `serve` needs, one NAME=value a line; the key on one line with literal \\n."""
    key = str(app["pem"]).strip().replace("\n", "\\n")
    lines = [
        f"# hnp-gitops: GitHub App {app.get('slug')} (id {app['id']}), registered {when:%Y-%m-%d %H:%M}Z",
        "# Use it with: hnp-gitops --env-file THIS_FILE serve   (or HNP_GITOPS_ENV_FILE=THIS_FILE)",
        f"GITHUB_APP_ID={app['id']}",
        f"GITHUB_WEBHOOK_SECRET={app['webhook_secret']}",
        f'GITHUB_PRIVATE_KEY="{key}"',
    ]
    if api_url != DEFAULT_API_URL:
        lines.append(f"GITHUB_API_URL={api_url}")
    lines += [
        "# The token for the HNP API and the status page (made here; change it if you like).",
        f"HNP_API_TOKEN={secrets.token_urlsafe(32)}",
    ]
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str, *, overwrite: bool) -> None:
    """Write `text` to a file only its owner may read (0600), never through a wider mode."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise SetupError(f"{path} exists; pass --force to replace it") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)  # an existing file keeps its mode through O_TRUNC
        out.write(text)


@dataclass
class Registered:
    app_id: int
    slug: str
    html_url: str
    env_file: Path

    @property
    def install_url(self) -> str:
        """GitHub's page that installs the app on repositories."""
        return install_app_url(self.html_url)


class Registration:
    """The loopback server of one registration: `/` posts the manifest, `/callback` finishes."""

    def __init__(
        self,
        *,
        github_url: str,
        api_url: str,
        organization: str | None,
        app_yml: Path,
        env_file: Path,
        webhook_url: str | None = None,
        name: str | None = None,
        overwrite: bool = False,
    ) -> None:
        self.github_url, self.api_url, self.organization = github_url.rstrip("/"), api_url.rstrip("/"), organization
        self.app_yml, self.env_file, self.webhook_url, self.name = app_yml, env_file, webhook_url, name
        self.overwrite = overwrite
        self.state = secrets.token_urlsafe(24)
        self.done: asyncio.Future[Registered] = asyncio.get_running_loop().create_future()
        self.local_url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.start_page)
        app.router.add_get("/callback", self.callback)
        return app

    def _page(self, template: str, status: int = 200, **context: Any) -> web.Response:
        text = TEMPLATES.get_template(template).render(**context)
        return web.Response(
            text=text,
            status=status,
            content_type="text/html",
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"},
        )

    async def start_page(self, request: web.Request) -> web.Response:
        manifest = manifest_from(self.app_yml, f"{self.local_url}/callback", self.webhook_url, self.name)
        return self._page(
            "start.html",
            action=f"{new_app_url(self.github_url, self.organization)}?state={quote(self.state)}",
            manifest=json.dumps(manifest),
            app=manifest,
            owner=self.organization or "your account",
            github_url=self.github_url,
        )

    async def callback(self, request: web.Request) -> web.Response:
        code, state = request.query.get("code", ""), request.query.get("state", "")
        if not code or not secrets.compare_digest(state, self.state):
            return self._page("failed.html", status=400, reason="This answer is not for this registration.")
        if self.done.done():
            return self._page("failed.html", status=409, reason="This registration is already finished.")
        try:
            registered = await self.exchange(code)
        except SetupError as error:
            self.done.set_exception(error)
            return self._page("failed.html", status=502, reason=str(error))
        self.done.set_result(registered)
        return self._page("done.html", registered=registered)

    async def exchange(self, code: str) -> Registered:
        try:
            body = await convert_app_manifest(self.api_url, code)
        except GitHubError as error:
            raise SetupError(f"GitHub answered {int(error.status_code)} to the code exchange: {error}") from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise SetupError(f"the code exchange with {self.api_url} failed: {error}") from None
        write_private(self.env_file, env_file_text(body, self.api_url, datetime.now(UTC)), overwrite=self.overwrite)
        return Registered(int(body["id"]), str(body.get("slug", "")), str(body.get("html_url", "")), self.env_file)


async def register(
    registration: Registration,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ready: Callable[[str], None] | None = None,
) -> Registered:
    """Serve the registration on loopback until GitHub has sent the browser back; `ready` is
    called with the local URL once it listens."""
    runner = web.AppRunner(registration.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    bound = server.sockets[0].getsockname()[1]  # the port the kernel picked
    registration.local_url = f"http://{host}:{bound}"
    try:
        if ready is not None:
            ready(registration.local_url)
        return await registration.done
    finally:
        await runner.cleanup()


def run_setup(config: Any, args: argparse.Namespace) -> int:
    github_url = args.github_url.rstrip("/")
    registration_args = dict(
        github_url=github_url,
        api_url=args.api_url or api_url_for(github_url),
        organization=args.org,
        app_yml=args.manifest,
        env_file=args.output,
        webhook_url=args.webhook_url,
        name=args.name,
        overwrite=args.force,
    )
    if args.output.exists() and not args.force:
        print(f"hnp-gitops: error: {args.output} exists; pass --force to replace it", file=sys.stderr)
        return 2

    def ready(url: str) -> None:
        where = f"the organisation {args.org}" if args.org else "your account"
        print(f"Open {url}/ in your browser to register the GitHub App on {github_url} for {where}.", flush=True)
        print("Waiting for GitHub to send you back (Ctrl-C to give up)...", flush=True)
        if not args.no_browser:
            webbrowser.open(f"{url}/")

    async def go() -> Registered:
        return await register(Registration(**registration_args), port=args.port, ready=ready)

    try:
        registered = asyncio.run(go())
    except SetupError as error:
        print(f"hnp-gitops: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(f"Registered GitHub App {registered.slug} (id {registered.app_id}): {registered.html_url}")
    print(f"Its id, private key and webhook secret are in {registered.env_file} (mode 0600).")
    print(f"Next: install it on your fabric's repository ({registered.install_url}), then run")
    print(f"  hnp-gitops --env-file {registered.env_file} serve --migrate")
    return 0


def add_commands(subparsers: Any) -> None:
    setup = subparsers.add_parser(
        "setup",
        help="register the GitHub App from app.yml in one step (GitHub's manifest flow)",
        description="Serve a page on loopback that sends app.yml to GitHub's 'new app from manifest' form; when "
        "GitHub sends you back, exchange the code for the app's id, private key and webhook secret and write them "
        "to an env file (mode 0600) that `hnp-gitops --env-file FILE serve` reads.",
    )
    setup.add_argument(
        "--github-url",
        default=DEFAULT_WEB_URL,
        metavar="URL",
        help="GitHub's web address: https://github.com (default) or your GitHub Enterprise Server's",
    )
    setup.add_argument("--org", metavar="NAME", help="register the app for this organisation (default: your account)")
    setup.add_argument(
        "--api-url",
        metavar="URL",
        help="GitHub's API address (default: derived from --github-url: api.github.com, or URL/api/v3)",
    )
    setup.add_argument(
        "--manifest", type=Path, default=Path("app.yml"), metavar="PATH", help="the app manifest (default: app.yml)"
    )
    setup.add_argument(
        "--webhook-url", metavar="URL", help="where GitHub sends webhooks: your serve's public URL + /webhook"
    )
    setup.add_argument("--name", help="the app's name on GitHub (default: the manifest's; names are unique there)")
    setup.add_argument(
        "--output",
        "-o",
        type=Path,
        default=DEFAULT_ENV_FILE,
        metavar="PATH",
        help=f"the env file to write the app's settings to (default: {DEFAULT_ENV_FILE})",
    )
    setup.add_argument("--force", action="store_true", help="replace the env file if it exists")
    setup.add_argument(
        "--port", type=int, default=0, help="loopback port of the local page (default: one the system picks)"
    )
    setup.add_argument("--no-browser", action="store_true", help="only print the local page's address")
    setup.set_defaults(run=run_setup)
