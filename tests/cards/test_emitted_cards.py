"""Cards other modules build with shared.cards validate against the official 1.5 schema too.

(Incoming sources and bot replies are validated in their own suites; digests are checked here.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.cards import limits
from shared.digest.card import build_digest_card
from shared.digest.feeds.base import Gathered
from tests.support.cardschema import assert_valid_card
from tests.support.emitted import events_gathered

pytestmark = pytest.mark.unit


def test_digest_cards_are_valid_and_show_titles_as_typed() -> None:
    gathered = events_gathered()  # the enumeration the render test uses too
    card = build_digest_card(gathered, when=datetime(2025, 3, 30, 8, 0, tzinfo=UTC))
    assert_valid_card(card)
    limits.check_webhook(card)
    text = json.dumps(card, ensure_ascii=False)
    assert "[FIRING:1] HighErrorRate on api_1" in text and "Alerts [prod]" in text
    assert "\\\\*all\\\\*" in text  # the one thing that would have formatted
    assert "<at>Ops</at>" not in text  # user text cannot carry mention markup
    for part in limits.fit(card, max_bytes=4096):
        assert_valid_card(part)


@pytest.mark.parametrize("source", ["events", "rss", "weather", "json"])
def test_empty_digest_cards_are_valid(source: str) -> None:
    card = build_digest_card(Gathered(source=source, title="Nothing"))
    assert_valid_card(card)
    limits.check_webhook(card)
