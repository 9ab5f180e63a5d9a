"""Debian's headless Chromium driven by Playwright (never `playwright install`), for the console's tests and bench."""

from __future__ import annotations

from playwright.sync_api import Browser, ConsoleMessage, Page

from marea_local.browser import chromium

__all__ = ["chromium", "click_marker", "open_console"]


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
