"""Envelopes and the one serialiser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.cards import envelopes
from shared.cards.adaptive import AdaptiveCard
from shared.cards.builders import CardBuilder
from tests.support.cardschema import assert_valid_message

pytestmark = pytest.mark.unit
TEAMS = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "teams"


def test_workflows_message_shape() -> None:
    card = CardBuilder("hi").build()
    msg = envelopes.workflows_message(card)
    assert msg == {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
    assert_valid_message(msg)
    assert envelopes.cards_of(msg) == [card]


def test_models_are_accepted_everywhere() -> None:
    data = CardBuilder("hi").build()
    model = AdaptiveCard.parse(data)
    assert envelopes.workflows_message(model) == envelopes.workflows_message(data)
    # Same JSON and the same byte count (key order follows the model's fields).
    assert json.loads(envelopes.dumps(model)) == data
    assert len(envelopes.dumps(model)) == len(envelopes.dumps(data))


def test_reply_text_card_or_both() -> None:
    assert envelopes.reply(text="This is a reply!") == {"type": "message", "text": "This is a reply!"}
    card = CardBuilder("c").build()
    both = envelopes.reply(text="t", card=card)
    assert both["text"] == "t" and envelopes.cards_of(both) == [card]
    assert_valid_message(both)
    with pytest.raises(ValueError):
        envelopes.reply()


def test_reply_matches_teams_doc_example() -> None:
    path = TEAMS / "outgoing_webhook_reply_text_msteams_docs.json"
    if not path.exists():
        pytest.skip(f"{path} is absent: third-party examples live in ../shared/fixtures beside the repo")
    assert envelopes.reply(text="This is a reply!") == json.loads(path.read_text(encoding="utf-8"))


def test_dumps_is_compact_utf8() -> None:
    raw = envelopes.dumps({"a": "é 🚀", "b": [1, None]})
    assert raw == '{"a":"é 🚀","b":[1,null]}'.encode()
    with pytest.raises(TypeError):
        envelopes.dumps({"x": object()})
