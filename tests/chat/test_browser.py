"""The chat page in a real browser: Debian's headless Chromium, driven by Playwright (never `playwright install`).

Given two pages, each served by and connected to a different chat instance, when one person writes,
then the other sees it; screenshots land in artifacts/chat/ for a human to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from marea_local.browser import chromium
from tests.chat.harness import ROOT, ChatInstance, RedisServer, start_all

ARTIFACTS = ROOT / "artifacts" / "chat"
PAGE_ROOMS = '["general", "random", "help"]'


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def page_pair(redis_server: RedisServer, module_dir: Path) -> Iterator[tuple[ChatInstance, ChatInstance]]:
    env = {"CHAT_ROOMS": PAGE_ROOMS, "CHAT_DRAIN_TIMEOUT_S": "1"}
    a = ChatInstance(redis_server.url, module_dir / "a", env=env)
    b = ChatInstance(redis_server.url, module_dir / "b", env=env)
    try:
        start_all(a, b)
        yield a, b
    finally:
        a.stop()
        b.stop()


def open_page(browser: Browser, url: str, problems: list[str], width: int = 1100, height: int = 680) -> Page:
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.on("pageerror", lambda error: problems.append(f"{url}: {error}"))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":  # CSP violations and failed loads are reported here
            problems.append(f"{url}: {message.text}")

    page.on("console", on_console)
    page.goto(url)
    return page


def enter(page: Page, nick: str, room: str = "general") -> None:
    page.get_by_test_id("nick-input").fill(nick)
    page.get_by_test_id("room-select").select_option(room)
    page.get_by_test_id("nick-submit").click()
    expect(page.get_by_test_id("nick-overlay")).to_be_hidden()
    expect(page.get_by_test_id("status")).to_have_text("Connected")
    expect(page.get_by_test_id("composer-text")).to_be_enabled()


def send(page: Page, text: str) -> None:
    page.get_by_test_id("composer-text").fill(text)
    page.get_by_test_id("composer-text").press("Enter")


def test_two_pages_on_two_instances_talk_and_render_markup_as_text(
    browser: Browser, page_pair: tuple[ChatInstance, ChatInstance]
) -> None:
    a, b = page_pair
    problems: list[str] = []
    ada, grace = open_page(browser, a.url, problems), open_page(browser, b.url, problems)
    enter(ada, "ada")
    enter(grace, "grace")
    for page in (ada, grace):
        expect(page.get_by_test_id("presence").locator("li")).to_have_text(["ada", "grace"])
        expect(page.get_by_test_id("room-title")).to_have_text("# general")

    send(ada, "Hello from instance A! Launch window opens at 09:41.")
    expect(grace.locator(".message .text").last).to_have_text("Hello from instance A! Launch window opens at 09:41.")

    grace.get_by_test_id("composer-text").press_sequentially("On my way")
    expect(ada.get_by_test_id("typing")).to_have_text("grace is typing…")
    grace.get_by_test_id("composer-text").press("Enter")
    expect(ada.locator(".message .text").last).to_have_text("On my way")
    expect(ada.get_by_test_id("typing")).to_have_text("")

    markup = '<img src=x onerror="window.pwned=1"><b>not bold</b>'
    send(ada, markup)
    expect(grace.locator(".message .text").last).to_have_text(markup)
    assert grace.locator(".messages img, .messages b").count() == 0
    assert grace.evaluate("window.pwned") is None

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ada.screenshot(path=ARTIFACTS / "instance-a.png")
    grace.screenshot(path=ARTIFACTS / "instance-b.png")
    assert problems == []


def test_a_newcomer_sees_history_and_the_page_fits_a_phone(
    browser: Browser, page_pair: tuple[ChatInstance, ChatInstance]
) -> None:
    a, b = page_pair
    problems: list[str] = []
    ada = open_page(browser, a.url, problems)
    enter(ada, "ada", room="random")
    send(ada, "Anyone watching the launch stream?")

    phone = open_page(browser, b.url, problems, width=390, height=760)
    enter(phone, "katherine", room="random")
    expect(phone.locator(".message .text")).to_have_text(["Anyone watching the launch stream?"])
    expect(phone.get_by_test_id("presence").locator("li")).to_have_text(["ada", "katherine"])
    scroll_width = phone.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390  # nothing sticks out sideways on a phone

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=ARTIFACTS / "phone.png")
    assert problems == []


def test_the_page_shows_that_it_is_reconnecting_when_its_instance_goes_away(
    browser: Browser, redis_server: RedisServer, module_dir: Path
) -> None:
    lonely = ChatInstance(redis_server.url, module_dir / "lonely", env={"CHAT_ROOMS": PAGE_ROOMS})
    lonely.start()
    try:
        page = open_page(browser, lonely.url, [])
        enter(page, "ada", room="help")
        lonely.terminate()  # no other instance behind this URL: the page keeps trying
        expect(page.get_by_test_id("status")).to_contain_text("Reconnecting", timeout=15_000)
        expect(page.get_by_test_id("composer-text")).to_be_disabled()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "reconnecting.png")
        assert lonely.wait(timeout_s=30) == 0
    finally:
        lonely.stop()
