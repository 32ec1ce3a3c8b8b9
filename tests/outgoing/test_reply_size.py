"""Issue 13 item 18: every reply fits a bot message (about 40 KB), however much the
channel has. `subscriptions` pages, `status` shows the first ones, and a last guard cuts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.outgoing import replies
from shared.store.models import Schedule, Subscription
from tests.outgoing.conftest import Bot

TEAMS_BOT_MESSAGE_BYTES = 40 * 1024  # platform doc §2.3


@pytest.mark.unit
def test_the_last_guard_cuts_the_longest_section_and_says_so() -> None:
    answer = replies.Answer("Big")
    answer.section("Small").lines.extend(["a", "b"])
    answer.section("Huge").lines.extend(f"line {n} " + "x" * 200 for n in range(2_000))
    fitted, body = replies.fit_answer(answer)
    assert len(body) <= replies.MAX_REPLY_BYTES
    huge = fitted.sections[1].lines
    assert huge[-1].startswith("… and ") and huge[-1].endswith(" more not shown here")
    assert int(huge[-1].split()[2]) + len(huge) - 1 == 2_000
    assert fitted.sections[0].lines == ["a", "b"]


@pytest.fixture
def crowded(connected: Bot, app_store: Any) -> tuple[Bot, list[str]]:
    """545 subscriptions in one channel, long targets included (the fuzzing run's 96 KB)."""
    channel = connected.team + "-ch"
    ids: list[str] = []
    for n in range(545):
        target = f"https://example.org/feeds/{n}.xml?" + "q" * (n % 7) * 300
        sub = Subscription(
            channel=channel,
            source="rss",
            target=target,
            schedule=Schedule(times=["08:00", "12:00", "17:30"], tz="Europe/Berlin"),
            next_run=datetime.now(UTC) + timedelta(days=1),
            last_error=("failed " * 60) if n % 5 == 0 else None,
        )
        ids.append(app_store.subscriptions.add(sub).id)
    return connected, ids


def test_545_subscriptions_page_and_status_fit(crowded: tuple[Bot, list[str]]) -> None:
    bot, ids = crowded
    first = bot.say("subscriptions")
    assert first.status == 200 and len(first.body) <= TEAMS_BOT_MESSAGE_BYTES
    assert first.json["text"] == "545 subscription(s)"
    assert "page 1 of 22" in first.everything and "subscriptions page 2" in first.everything
    seen: set[str] = set()
    for page in range(1, 23):
        answer = first if page == 1 else bot.say(f"subscriptions page {page}")
        assert answer.status == 200 and len(answer.body) <= TEAMS_BOT_MESSAGE_BYTES, page
        seen.update(sub_id for sub_id in ids if f"**{sub_id}**" in answer.everything)
    assert seen == set(ids)  # every subscription is on some page
    assert "only 22 page(s)" in bot.say("subscriptions page 23").everything

    status = bot.say("status")
    assert status.status == 200 and len(status.body) <= TEAMS_BOT_MESSAGE_BYTES
    assert "Subscriptions (545)" in status.everything and "and 535 more" in status.everything


@pytest.mark.unit
def test_the_last_guard_also_cuts_titles_paragraphs_and_facts() -> None:
    answer = replies.Answer("t" * 50_000)
    answer.add("p" * 50_000)
    answer.facts.append(("k", "v" * 50_000))
    fitted, body = replies.fit_answer(answer)
    assert len(body) <= replies.MAX_REPLY_BYTES and fitted.title.endswith("…")


def test_an_error_quoting_a_huge_argument_fits(connected: Bot) -> None:
    answer = connected.say("subscribe weather Berlin tz " + "x" * 15_000)
    assert answer.status == 200 and len(answer.body) <= TEAMS_BOT_MESSAGE_BYTES
    assert "unknown time zone" in answer.everything
