"""A reviewer's day on GitHub, in a real browser (Debian's headless Chromium) against the demo:
open the demo's pull request in the GitHub emulator, see the conflict annotation on the VLAN
line, press "GUI wins", see the check turn green, merge, and see the draft cleared on the
status page. Skipped, with the reason, where Chromium is absent."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import aiohttp

from bot.demo import GUI_VLAN, VPC, Demo
from tests.conftest import wait_for
from tests.operator.chromium import Browser, chromium_binary

CONFLICTS = '.check-run[data-name="hnp-gitops/conflicts"]'


async def sign_in(browser: Browser, token: str) -> None:
    await browser.evaluate("document.getElementById('token').focus()")
    await browser.type_text(token)
    await browser.press_enter()


async def test_a_reviewer_resolves_the_conflict_and_merges_in_the_browser(tmp_path):
    binary = chromium_binary()
    demo = Demo()
    try:
        async with aiohttp.ClientSession() as session:
            demo.session = session
            await demo.start_everything()
            await demo.push_the_fabric()
            await demo.draft_and_open_a_pull_request()
            await demo.push_a_conflicting_change()
            pull_page = urlsplit(demo.pr_url).path

            async with Browser(binary) as browser:
                await browser.goto(demo.pr_url, "/login")  # not signed in to the emulator: its sign-in form
                await sign_in(browser, demo.alice)
                await browser.loaded(pull_page)
                assert await browser.evaluate("document.getElementById('signed-in-as').textContent") == "alice"
                assert await browser.evaluate(f"document.querySelector('{CONFLICTS}').dataset.conclusion") == (
                    "action_required"
                )
                # The conflict annotation sits right under the diff line that sets the GUI's VLAN.
                line = await browser.evaluate(
                    """(() => {
                      const box = document.querySelector('.file .annotation-box[data-path$="vpcs.yaml"]');
                      if (!box) return null;
                      let row = box.closest('tr').previousElementSibling;
                      while (row && row.classList.contains('annotation')) row = row.previousElementSibling;
                      return {text: row.textContent, line: row.dataset.newLine, at: box.dataset.line,
                              message: box.textContent};
                    })()"""
                )
                assert line is not None, "no annotation on vpcs.yaml in the diff"
                assert f"vlan: {GUI_VLAN}" in line["text"] and line["line"] == line["at"], line
                assert "spec.subnets.default.vlan" in line["message"] or "vlan" in line["message"], line
                await browser.screenshot(tmp_path / "conflict.png")

                await browser.click(f'{CONFLICTS} button[data-identifier="gui_wins"]')

                async def green() -> bool:
                    await browser.goto(demo.pr_url, pull_page)
                    return await browser.poll(f"document.querySelector('{CONFLICTS}').dataset.conclusion") == "success"

                await wait_for(green, timeout=60, message="the conflicts check to turn green on the page")
                assert await browser.evaluate("document.getElementById('merge-button').disabled") is False
                await browser.click("#merge-button")

                async def merged() -> bool:  # the form posts, then the page comes back merged
                    state = "document.getElementById('pull-state') && document.getElementById('pull-state').textContent"
                    return await browser.poll(state) == "Merged"

                await wait_for(merged, timeout=30, message="the page to say Merged")
                await browser.screenshot(tmp_path / "merged.png")

                await browser.goto(f"{demo.bot_url}/", "/login")
                await sign_in(browser, demo.api_token)
                await browser.loaded("/")
                resource_page = f"/fabrics/lab/resources/VPC/{VPC}"

                async def cleared() -> dict | None:
                    await browser.goto(f"{demo.bot_url}{resource_page}", resource_page)
                    facts = await browser.poll(
                        "JSON.stringify({state: document.getElementById('state').textContent,"
                        " draft: !!document.getElementById('draft-spec')})"
                    )
                    found = json.loads(facts) if facts else None
                    return found if found and found["state"] == "in_sync" and not found["draft"] else None

                await wait_for(cleared, timeout=60, message=f"VPC/{VPC} in sync with its draft cleared")
                page = await browser.dom()
                await browser.screenshot(tmp_path / "status.png")

                # The status page's links work: the resource's file and line on GitHub, the validate check run.
                file_link = await browser.evaluate("document.querySelector('#file a').href")
                target = urlsplit(file_link)
                await browser.goto(file_link, target.path)
                line = await browser.evaluate(f"document.getElementById('{target.fragment}').textContent")
                assert VPC in line, (file_link, line)  # the line of the resource's document
                assert f"vlan: {GUI_VLAN}" in await browser.evaluate("document.getElementById('file').textContent")
                await browser.goto(f"{demo.bot_url}/", "/")
                run_link = await browser.evaluate("document.querySelector('tr[data-fabric=\"lab\"] .validate a').href")
                await browser.goto(run_link, urlsplit(run_link).path)
                assert await browser.evaluate("document.querySelector('h1').textContent") == "hnp-gitops/validate"
    finally:
        await demo.clean_up()
    assert f"vlan: {GUI_VLAN}" in page or str(GUI_VLAN) in page
