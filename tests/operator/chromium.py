"""Headless Debian Chromium driven over the DevTools protocol (a websocket, through aiohttp).

Tests use it to do what a person does: open /login, type the token, press Enter, look at the
page. The protocol's own answers tell when a step is done; waits poll a condition against a
deadline, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import wait_for

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--window-size=1280,900",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]


def chromium_binary() -> str:
    """Debian's chromium, or a skip that says how to get it."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip(
        "Debian's chromium is not installed (`apt-get install -y chromium`); the status page's browser test needs it"
    )


class Browser:
    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.profile = Path(tempfile.mkdtemp(prefix="hnp-chromium-"))
        self.proc: asyncio.subprocess.Process | None = None
        self.session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.ids = itertools.count(1)

    async def __aenter__(self) -> Browser:
        self.proc = await asyncio.create_subprocess_exec(
            self.binary,
            *FLAGS,
            f"--user-data-dir={self.profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        port_file = self.profile / "DevToolsActivePort"
        await wait_for(
            lambda: port_file.exists() and port_file.read_text().strip(),
            timeout=30,
            message="chromium to open its DevTools port",
        )
        port = int(port_file.read_text().split()[0])
        self.session = aiohttp.ClientSession()

        async def page_target():
            async with self.session.get(f"http://127.0.0.1:{port}/json/list") as response:
                pages = [t for t in await response.json() if t.get("type") == "page"]
            return pages[0]["webSocketDebuggerUrl"] if pages else None

        url = await wait_for(page_target, timeout=15, message="chromium's page target")
        self.ws = await self.session.ws_connect(url, max_msg_size=64 * 1024 * 1024)
        await self.send("Page.enable")
        return self

    async def __aexit__(self, *exc) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.session is not None:
            await self.session.close()
        if self.proc is not None and self.proc.returncode is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # chromium's own helper processes too
            try:
                async with asyncio.timeout(10):
                    await self.proc.wait()
            except TimeoutError:
                os.killpg(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    async def send(self, method: str, **params: Any) -> dict:
        message_id = next(self.ids)
        await self.ws.send_str(json.dumps({"id": message_id, "method": method, "params": params}))
        async with asyncio.timeout(30):
            while True:
                message = await self.ws.receive()
                if message.type != aiohttp.WSMsgType.TEXT:
                    raise AssertionError(f"chromium closed the DevTools connection during {method}")
                data = json.loads(message.data)
                if data.get("id") == message_id:
                    if "error" in data:
                        raise AssertionError(f"{method}: {data['error']}")
                    return data.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def poll(self, expression: str) -> Any:
        """`evaluate` for a condition polled while the page may be navigating (a form was just
        submitted): an answer lost to the navigation means "not yet", not a failure."""
        try:
            return await self.evaluate(expression)
        except AssertionError as error:
            if "navigated or closed" in str(error) or "context was destroyed" in str(error):
                return None
            raise

    async def goto(self, url: str, path: str) -> None:
        await self.send("Page.navigate", url=url)
        await self.loaded(path)

    async def loaded(self, path: str, timeout: float = 15) -> None:
        async def ready():
            return await self.poll(f"location.pathname === {json.dumps(path)} && document.readyState === 'complete'")

        await wait_for(ready, timeout=timeout, message=f"the page {path} to load")

    async def type_text(self, text: str) -> None:
        await self.send("Input.insertText", text=text)

    async def press_enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            await self.send(
                "Input.dispatchKeyEvent",
                type=kind,
                key="Enter",
                code="Enter",
                windowsVirtualKeyCode=13,
                nativeVirtualKeyCode=13,
                **({"text": "\r"} if kind == "keyDown" else {}),
            )

    async def click(self, selector: str) -> None:
        """Press the element's middle with the mouse, as a person does (scrolled into view first)."""
        found = json.dumps(selector)
        box = await self.evaluate(
            f"(() => {{ const el = document.querySelector({found}); if (!el) return null;"
            " el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
        )
        if box is None:
            raise AssertionError(f"nothing on the page matches {selector}")
        for kind in ("mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1)

    async def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode((await self.send("Page.captureScreenshot", format="png"))["data"])
        path.write_bytes(data)
        return data

    async def dom(self) -> str:
        return await self.evaluate("document.documentElement.outerHTML")
