"""The status page in a real browser (Debian's headless Chromium): sign in as a person would,
then look at the page. Skipped, with the reason, where Chromium is absent."""

from __future__ import annotations

import struct

from tests.operator.chromium import Browser, chromium_binary
from tests.operator.helpers import TOKEN, running_bot
from tests.operator.test_status_page import seed


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


async def test_an_operator_signs_in_and_sees_fabrics_counts_conflicts_and_drift(pool, tmp_path):
    binary = chromium_binary()
    await seed(pool)
    async with running_bot(pool) as bot, Browser(binary) as browser:
        await browser.goto(f"{bot.url}/", "/login")  # no session yet: sent to the form
        # The field asks for focus; a headless window may not grant it, so click it as a person would.
        assert await browser.evaluate("document.getElementById('token').autofocus") is True
        await browser.evaluate("document.getElementById('token').focus()")
        assert await browser.evaluate("document.activeElement && document.activeElement.id") == "token"
        await browser.type_text(TOKEN)
        await browser.press_enter()
        await browser.loaded("/")
        dom = await browser.dom()
        # The session cookie is HttpOnly: page scripts cannot read it.
        assert await browser.evaluate("document.cookie") == ""
        shot = await browser.screenshot(tmp_path / "status.png")

    assert "lab-east" in dom and "lab-west" in dom
    assert "in_sync 5" in dom and "drifted 1" in dom and "conflict 1" in dom
    assert 'href="https://github.example/acme/wiring/pull/42"' in dom
    assert "3/12" in dom  # the running operation's progress
    assert TOKEN not in dom
    width, height = png_size(shot)
    assert width >= 1000 and height >= 600, (width, height)
    assert len(shot) > 20_000, "the screenshot is suspiciously small (a blank page?)"
    assert (tmp_path / "status.png").stat().st_size == len(shot)


async def test_a_wrong_token_typed_into_the_form_shows_the_error_and_no_data(pool, tmp_path):
    binary = chromium_binary()
    await seed(pool)
    async with running_bot(pool) as bot, Browser(binary) as browser:
        await browser.goto(f"{bot.url}/login", "/login")
        await browser.evaluate("document.getElementById('token').focus()")
        await browser.type_text("not-the-token")
        await browser.press_enter()

        async def answered():
            return await browser.poll("document.readyState === 'complete' && !!document.querySelector('.error')")

        from tests.conftest import wait_for

        await wait_for(answered, timeout=15, message="the sign-in error")
        dom = await browser.dom()
    assert "That token is not right." in dom
    assert "lab-east" not in dom
