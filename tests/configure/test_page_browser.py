"""The configuration page in headless Chromium (Debian's, driven by Playwright; nothing downloads a
browser): a person asks the bot for the link, opens it, adds a weather digest at a time of their
choosing in their zone, previews it with the official renderer, saves it, sees it in `status`,
pauses it and removes it, keyboard only where a person would type (issue 15)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.configure.conftest import link_of
from tests.outgoing.conftest import Bot
from tools.render import CHROMIUM_ARGS, find_chromium

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium: apt-get install chromium, or set CHROMIUM=/path")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, page_host: str) -> Iterator[Any]:
    from tools.configure_assets import copy

    assert copy() == []  # the renderer, as `make configure-assets` puts it
    context = browser.new_context(timezone_id="Asia/Tokyo", viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.set_default_timeout(20_000)
    yield tab
    context.close()
    assert errors == [], errors  # no CSP violation, no script error


def test_a_person_adds_previews_pauses_and_removes_a_digest(
    page: Any, page_bot: Bot, page_host: str, app_store: Any, sink: Any
) -> None:
    channel = page_bot.team + "-ch"
    page.goto(link_of(page_bot.say("configure").card))
    page.get_by_role("button", name="Continue as Ada Lovelace").click()
    page.wait_for_url("**/api/configure/channel")
    assert page.get_by_text("Signed in as").is_visible()
    # The time zone defaults to the browser's.
    assert page.locator("#tz").input_value() == "Asia/Tokyo"

    page.get_by_label("Place", exact=True).fill("Berlin")
    page.locator("#did-you-mean").get_by_text("Did you mean: Berlin, Germany?").wait_for()
    page.get_by_label("Time zone", exact=True).select_option("Europe/Berlin")
    times = page.get_by_label("Times of day (24-hour, comma-separated)")
    times.fill("07:15")
    page.locator("#runs li").first.wait_for()
    page.wait_for_function(
        "() => document.querySelector('#runs').textContent.includes('07:15 Europe/Berlin')"
    )
    assert page.locator("#runs li").count() == 3

    page.get_by_role("button", name="Show me").click()
    page.locator("#preview-card[data-rendered=yes] .ac-adaptiveCard").wait_for()
    assert "Berlin" in page.locator("#preview-card").inner_text()
    assert sink.messages(channel) == []  # previewing posts nothing

    # Keyboard only: focus the save button and press Enter.
    page.locator("#save").focus()
    page.keyboard.press("Enter")
    page.get_by_text("Digest added").wait_for()
    [sub] = app_store.subscriptions.list(channel=channel)
    assert sub.schedule.times == ["07:15"] and sub.schedule.tz == "Europe/Berlin"
    assert page.locator(f"#sub-{sub.id}").is_visible()
    assert "Ada Lovelace added a weather digest at 07:15" in str(sink.messages(channel))

    status = page_bot.say("status")
    assert sub.id in status.card_text and "added a weather digest at 07:15" in status.card_text

    page.locator(f"#sub-{sub.id}").get_by_role("button", name="Pause").click()
    page.get_by_text("Digest paused").wait_for()
    assert app_store.subscriptions.get(sub.id).paused
    page.locator(f"#sub-{sub.id}").get_by_role("button", name="Remove").click()
    page.get_by_text("Digest removed").wait_for()
    assert app_store.subscriptions.find(sub.id) is None


def test_the_page_reads_at_phone_width(page: Any, page_bot: Bot, page_host: str) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(link_of(page_bot.say("configure").card))
    page.get_by_role("button", name="Continue as Ada Lovelace").click()
    page.wait_for_url("**/api/configure/channel")
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    # Every control has a label.
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select')]
              .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
              .map(el => el.name)"""
    )
    assert unlabelled == []
