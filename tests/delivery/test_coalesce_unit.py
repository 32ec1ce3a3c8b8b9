"""Combined cards and fair shares (no process): summaries, size cuts, 1.4 rules, max-min shares."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.cards import envelopes, limits, versions
from shared.cards.builders import CardBuilder, Status
from shared.delivery import coalesce
from shared.delivery.coalesce import Entry, build_card, combined_cards, summarize, summarize_card
from shared.delivery.config import TEAMS_MAX_BYTES
from shared.delivery.sweep import _Message, _shares, _split_share
from shared.store.models import OutboxItem, OutboxSummary

pytestmark = pytest.mark.unit

MAX = TEAMS_MAX_BYTES - 2048


def test_summary_of_a_built_card() -> None:
    card = CardBuilder("Disk full on db-1", Status.ATTENTION).text("92 %").button("Open", "https://x.example/a").build()
    assert summarize_card(card) == OutboxSummary(
        title="Disk full on db-1", status="attention", url="https://x.example/a"
    )
    body = envelopes.dumps(envelopes.workflows_message(card))
    assert summarize(body).title == "Disk full on db-1"
    assert summarize(b"not json").title


def test_long_titles_are_cut_and_bad_links_dropped() -> None:
    card = {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": "x" * 500}],
            "actions": [{"type": "Action.OpenUrl", "title": "o", "url": "javascript:alert(1)"}]}
    found = summarize_card(card)
    assert len(found.title) == coalesce.MAX_TITLE_CHARS and found.url is None


def entries(n: int, title: str = "Alert") -> list[Entry]:
    return [
        Entry(OutboxSummary(title=f"{title} {i} " + "x" * 150, status="warning", url=f"https://x.example/{i}"), i)
        for i in range(n)
    ]


def test_a_combined_card_lists_every_title_and_is_14_links_only() -> None:
    card = build_card(entries(5), "owner-a")
    text = json.dumps(card)
    assert all(f"Alert {i} " in text for i in range(5)) and "5 updates" in text
    assert versions.lowest(card) <= (1, 4)
    limits.check_webhook(card)


def test_combined_cards_stay_under_the_cap_and_split_only_when_needed() -> None:
    assert len(combined_cards(entries(20), "c", MAX)) == 1
    many = combined_cards(entries(400), "c", MAX)
    assert len(many) > 1
    assert sum(len(chunk) for _, chunk in many) == 400
    assert [e.ref for _, chunk in many for e in chunk] == list(range(400))  # in order, none lost
    for card, _ in many:
        assert limits.message_size(envelopes.workflows_message(card)) <= TEAMS_MAX_BYTES


def test_max_min_fair_shares() -> None:
    assert _shares({"a": 10, "b": 10}, 5) == {"a": 3, "b": 2}
    assert _shares({"a": 1, "b": 10, "c": 10}, 9) == {"a": 1, "b": 4, "c": 4}
    assert _shares({"a": 2, "b": 2}, 10) == {"a": 2, "b": 2}
    assert _shares({"a": 5, "b": 5, "c": 5}, 2) == {"a": 1, "b": 1}  # the oldest first
    assert _shares({"a": 5}, 0) == {}


def message(i: int, origin: str) -> _Message:
    item = OutboxItem(
        id=str(i), channel="ch", message="{}", idempotency_key=f"k{i}#1/1", origin=origin,
        created=datetime.now(UTC) + timedelta(seconds=i), summary=OutboxSummary(title=f"m{i}"),
    )
    return _Message("ch", f"k{i}", [item])


def test_a_short_share_posts_some_alone_routes_taking_turns_and_combines_the_rest() -> None:
    waiting = [message(i, "loud") for i in range(10)] + [message(10, "calm")]
    single, cards = _split_share(waiting, 3, "c", MAX)
    assert [m.origin for m in single] == ["loud", "calm"]  # the quiet route gets its turn at once
    assert len(cards) == 1 and len(cards[0][1]) == 9
    single, cards = _split_share(waiting, 1, "c", MAX)
    assert single == [] and len(cards[0][1]) == 11
