"""
Test of examples/chat.py in a real browser: headless Chromium, with Playwright.

The browser is Debian's Chromium, which ``python3 tasks.py test`` installs
when it's missing and it can; Playwright only drives it. Without Chromium
the test is skipped, except on CI, where it fails.

"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from examples.chat import create_app
from wsroute.testing import TestServer

from .conftest import TIMEOUT, need

# Keep the browser on the loopback interface and quiet: no sandbox (tests
# may run as root), no GPU, no update checks, no sync, no QUIC.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT = TIMEOUT * 1000  # milliseconds: the bound of every wait in the browser


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = need("chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=FLAGS, timeout=3 * WAIT
        )
        yield browser
        await browser.close()


async def enter(browser: Browser, url: str, room: str, name: str) -> Page:
    """Open the chat page for a room; return it once the page joined."""
    page = await browser.new_page()
    page.set_default_timeout(WAIT)
    await page.goto(f"{url}/?name={name}&room={room}")
    await expect(page.locator("#log li").last).to_have_text(
        f"{name} joined", timeout=WAIT
    )
    return page


async def say(page: Page, text: str) -> None:
    await page.fill("#text", text)
    await page.press("#text", "Enter")


async def test_two_pages_chat_and_another_room_hears_nothing(browser: Browser) -> None:
    """Two pages in a room see each other's messages; a page elsewhere doesn't."""
    async with TestServer(create_app()) as server:
        url = server.url.replace("ws://", "http://")
        alice = await enter(browser, url, "lobby", "alice")
        bob = await enter(browser, url, "lobby", "bob")
        carol = await enter(browser, url, "kitchen", "carol")
        await say(alice, "Hello, <b>Bob</b>!")
        await say(bob, "Hi, Alice.")
        for page in (alice, bob):
            await expect(page.locator("#log li.message")).to_have_text(
                ["aliceHello, <b>Bob</b>!", "bobHi, Alice."], timeout=WAIT
            )
        # Had the lobby's messages reached the kitchen, they'd come first.
        await say(carol, "Only me.")
        await expect(carol.locator("#log li.message")).to_have_text(
            ["carolOnly me."], timeout=WAIT
        )
        await bob.close()
        await expect(alice.locator("#log li").last).to_have_text(
            "bob left", timeout=WAIT
        )
