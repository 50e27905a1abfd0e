"""`hnp-gitops setup` registers the GitHub App through GitHub's manifest flow, end to end against
the emulator: the local page posts app.yml to the "new app from manifest" form, a person signs
in and confirms, GitHub sends the browser back with a code, the code is exchanged once, and the
app's id, key and webhook secret land in a 0600 env file that `serve`'s configuration reads."""

from __future__ import annotations

import asyncio
import re
import stat
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import aiohttp
import pytest
import yaml

from bot.config import Config
from bot.github.pages import api_url_for, new_app_url
from bot.registration import Registration, SetupError, register
from ghsim.testing import GhSim

ROOT = Path(__file__).resolve().parents[2]
FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
FORM = re.compile(r'<form method="post" action="([^"]+)"')


def form_of(page: str, url: object, holding: str) -> tuple[str, dict[str, str]]:
    """The action (resolved against the page's URL) and hidden fields of the form that holds
    `holding`, as a browser would post them."""
    form = next(chunk for chunk in page.split("<form")[1:] if holding in chunk.split("</form>")[0])
    form = "<form" + form.split("</form>")[0]
    action = urljoin(str(url), unescape(FORM.search(form).group(1)))
    return action, {name: unescape(value) for name, value in FIELD.findall(form)}


async def walk_through(session: aiohttp.ClientSession, local_url: str, user_token: str) -> tuple[str, str]:
    """What a person does in the browser; returns the last page and the code GitHub sent back."""
    async with session.get(f"{local_url}/") as response:
        action, fields = form_of(await response.text(), response.url, 'id="register"')
    async with session.post(action, data=fields) as response:  # not signed in: GitHub asks first
        page = await response.text()
        assert response.status == 200 and 'name="token"' in page
        sign_in_action, fields = form_of(page, response.url, 'name="token"')
    async with session.post(sign_in_action, data={**fields, "token": user_token}) as response:
        page = await response.text()
        assert response.status == 200 and 'id="create-app"' in page, page
        confirm_action, fields = form_of(page, response.url, 'id="create-app"')
    async with session.post(confirm_action, data=fields) as response:  # GitHub redirects back to the local page
        assert str(response.url).startswith(f"{local_url}/callback?code=")
        return await response.text(), response.url.query["code"]


@pytest.mark.parametrize("organization", [None, "acme"])
async def test_setup_registers_the_app_from_app_yml_and_writes_a_private_env_file(tmp_path, organization):
    env_file = tmp_path / "hnp-gitops.env"
    async with GhSim.start(tmp_path / "ghsim") as sim:
        token = await sim.create_user("alice", "admin", [])
        registration_done = asyncio.get_running_loop().create_future()
        registration = Registration(
            github_url=sim.base_url,
            api_url=sim.base_url,
            organization=organization,
            app_yml=ROOT / "app.yml",
            env_file=env_file,
            webhook_url="https://bot.example/webhook",
            name=f"hnp-gitops-test-{organization or 'mine'}",
        )
        task = asyncio.create_task(register(registration, ready=registration_done.set_result))
        async with asyncio.timeout(10):
            local_url = await registration_done
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            page, code = await walk_through(session, local_url, token)
        async with asyncio.timeout(10):
            registered = await task

        assert "is registered" in page and f'id="app-id">{registered.app_id}<' in page
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        config = Config.from_env({"HNP_GITOPS_ENV_FILE": str(env_file)})
        assert config.github_app_id == registered.app_id and config.github_api_url == sim.base_url
        assert config.github_webhook_secret is not None and config.hnp_api_token is not None
        text = env_file.read_text()
        assert "BEGIN" in text and "\n-----END" not in text  # the key is on one line

        # The key in the file is the app's: its JWT gets GET /app, with what app.yml asks for.
        signed = GhSim.app_jwt(registered.app_id, config.github_private_key.reveal())
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{sim.base_url}/app", headers={"Authorization": f"Bearer {signed}"}) as response:
                app = await response.json()
            manifest = yaml.safe_load((ROOT / "app.yml").read_text())
            assert response.status == 200 and app["permissions"] == manifest["default_permissions"]
            assert app["owner"]["login"] == (organization or "alice")
            assert set(app["events"]) == set(manifest["default_events"]) - {"installation", "installation_repositories"}
            async with session.post(f"{sim.base_url}/app-manifests/{code}/conversions") as response:
                assert response.status == 404  # a code is good once
        deliveries = await sim.deliveries(event="ping")
        assert deliveries and deliveries[0]["url"] == "https://bot.example/webhook"


async def test_a_wrong_state_or_a_spent_code_is_refused_and_nothing_is_written(tmp_path):
    env_file = tmp_path / "out.env"
    async with GhSim.start(tmp_path / "ghsim") as sim:
        ready = asyncio.get_running_loop().create_future()
        registration = Registration(
            github_url=sim.base_url,
            api_url=sim.base_url,
            organization=None,
            app_yml=ROOT / "app.yml",
            env_file=env_file,
        )
        task = asyncio.create_task(register(registration, ready=ready.set_result))
        async with asyncio.timeout(10):
            local_url = await ready
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{local_url}/callback?code=abc&state=not-this-one") as response:
                assert response.status == 400 and "not for this registration" in await response.text()
            async with session.get(f"{local_url}/callback?code=spent&state={registration.state}") as response:
                assert response.status == 502 and "404" in await response.text()
        with pytest.raises(SetupError, match="404"):
            async with asyncio.timeout(10):
                await task
    assert not env_file.exists()


def test_the_new_app_form_and_api_addresses_for_github_an_organisation_and_enterprise_server():
    assert new_app_url("https://github.com", None) == "https://github.com/settings/apps/new"
    assert new_app_url("https://github.com/", "acme") == "https://github.com/organizations/acme/settings/apps/new"
    assert api_url_for("https://github.com") == "https://api.github.com"
    assert api_url_for("https://ghe.example.com/") == "https://ghe.example.com/api/v3"
