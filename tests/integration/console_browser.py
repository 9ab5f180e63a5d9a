"""Debian's headless Chromium driven by Playwright (never `playwright install`), for the console's tests and bench."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("chromium is not installed: `make chat-deps` as root installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_console(browser: Browser, url: str, problems: list[str], width: int = 1280, height: int = 900) -> Page:
    """The console page, with every page error and console error (CSP violations among them) kept."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    page.on("console", on_console)
    page.on("dialog", lambda dialog: dialog.accept())  # the mode switch's confirm(), answered yes
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    return page


def click_marker(page: Page, explanation_prefix: str) -> None:
    """Click, with the mouse, the timeline marker of the newest decision whose explanation starts so."""
    point = page.evaluate(
        """(prefix) => {
            const chart = Chart.getChart("timeline");
            const index = state.timelineDecisions.findLastIndex((d) => d.explanation.startsWith(prefix));
            if (index < 0) return null;
            const marker = chart.getDatasetMeta(4).data[index];
            const box = chart.canvas.getBoundingClientRect();
            return { x: box.left + marker.x, y: box.top + marker.y };
        }""",
        explanation_prefix,
    )
    assert point is not None, f"no decision on the timeline starts with {explanation_prefix!r}"
    page.mouse.click(point["x"], point["y"])
