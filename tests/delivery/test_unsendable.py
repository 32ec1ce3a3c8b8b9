"""Issue 13, item 16: a card delivery cannot fit or serialise is kept as a dead letter, never dropped.

The incoming proxy refuses such cards before it answers; anything else that hands one to `deliver`
(a digest, a bot answer posted later) still leaves a trace an operator can see and requeue.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import shared.delivery as delivery
from tests.delivery.conftest import card


@pytest.mark.parametrize(
    "broken",
    [
        card(title="lone \ud800 surrogate"),
        {**card(), "actions": [{"type": "Action.OpenUrl", "title": "T" * 30_000, "url": "https://example.org"}]},
    ],
    ids=["lone-surrogate", "30KB-action-title"],
)
def test_unsendable_card_is_a_dead_letter(store: Any, sink: Any, channel: str, broken: dict[str, Any]) -> None:
    result = delivery.deliver(store, channel, broken)
    assert result.state == "dead" and result.parts == 1
    assert result.detail.startswith("the card cannot be sent: ")
    assert sink.messages(channel) == []
    [dead] = store.outbox.list(dead=True)
    assert dead.channel == channel and dead.reason == result.detail
    message = json.loads(dead.message)  # stored, readable: what it was can be seen
    assert message["type"] == "message" and message["attachments"][0]["content"]["type"] == "AdaptiveCard"
    assert store.outbox.backlog(channel) == 0
