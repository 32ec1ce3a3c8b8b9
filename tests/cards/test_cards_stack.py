"""Cards through the real pieces: POSTed over HTTP to the local Teams sink, kept in Azurite.

The sink applies Teams' rules (28 KB, version, envelope shape), so a card that passes here is
one Teams would take; the outbox round trip shows a serialised message survives Table Storage.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import requests

from shared.cards import envelopes, limits
from shared.cards.builders import CardBuilder, Status
from shared.cards.messagecard import to_adaptive_dict
from tests.support.cardschema import assert_valid_message


def _digest(n: int) -> dict[str, Any]:
    b = CardBuilder("Weekly digest", Status.GOOD, subtitle="from the stack test")
    who = b.mention("ops@contoso.com", "Ops")
    b.text(f"For {who}: **{n}** items")
    b.facts([(f"item {i}", "détail 🚀 " * 6 + str(i)) for i in range(n)])
    b.button("Open all", "https://example.com/all")
    return b.build()


def _post_all(sink: Any, channel: str, bodies: list[bytes]) -> None:
    for body in bodies:
        response = requests.post(
            sink.workflow_url(channel), data=body, headers={"Content-Type": "application/json"}, timeout=10
        )
        assert response.status_code == 202, response.text
        time.sleep(0.3)  # stay inside Teams' 4 requests/second window


@pytest.mark.undisplayed_ok  # the oversized card, on purpose; the parts are checked below
def test_split_digest_is_accepted_by_the_sink_in_order(sink: Any) -> None:
    channel = "cards-" + uuid.uuid4().hex[:8]
    card = _digest(350)
    oversized = envelopes.dumps(envelopes.workflows_message(card))
    assert len(oversized) > limits.MAX_MESSAGE_BYTES
    # Workflows takes it (202) and the flow then fails on it: what fit() exists to avoid.
    assert requests.post(sink.workflow_url(channel), data=oversized, timeout=10).status_code == 202
    [too_big] = sink.not_displayed(channel)
    assert "MessageSizeExceeded" in too_big["codes"]

    parts = limits.fit(card)
    assert 1 < len(parts) <= 4
    bodies = [envelopes.dumps(envelopes.workflows_message(p)) for p in parts]
    _post_all(sink, channel, bodies)

    received = sink.messages(channel)[1:]
    assert received == [json.loads(b) for b in bodies]
    assert len(sink.not_displayed(channel)) == 1, [p["reasons"] for p in sink.not_displayed(channel)[1:]]
    for message in received:
        assert_valid_message(message)
    titles = [
        f["title"]
        for m in received
        for c in envelopes.cards_of(m)
        for e in c["body"]
        if e["type"] == "FactSet"
        for f in e["facts"]
    ]
    assert titles == [f"item {i}" for i in range(350)]


def test_converted_message_card_is_accepted(sink: Any) -> None:
    channel = "cards-" + uuid.uuid4().hex[:8]
    card = to_adaptive_dict(
        {
            "@type": "MessageCard",
            "@context": "http://schema.org/extensions",
            "title": "Deploy done",
            "themeColor": "2EB886",
            "sections": [{"facts": [{"name": "env", "value": "prod"}]}],
            "potentialAction": [{"@type": "HttpPOST", "name": "Rollback", "target": "https://x/rollback"}],
        }
    )
    limits.check_webhook(card)
    _post_all(sink, channel, [envelopes.dumps(envelopes.workflows_message(p)) for p in limits.fit(card)])
    [message] = sink.messages(channel)
    assert_valid_message(message)
    assert "Rollback" in json.dumps(message)


def test_serialised_message_survives_the_outbox_table(store: Any) -> None:
    from shared.store.models import OutboxItem

    message = envelopes.workflows_message(limits.fit(_digest(300))[0])
    raw = envelopes.dumps(message).decode("utf-8")
    saved = store.outbox.add(OutboxItem(channel="c1", message=raw))
    loaded = store.outbox.get(saved.id)
    assert loaded.message == raw
    assert_valid_message(json.loads(loaded.message))


def test_sender_mention_markup_does_not_ride_on_a_route_mention(
    devhost: str, app_store: Any, sink: Any
) -> None:
    """A MessageCard carrying `<at>Ops</at>` through a route that mentions Ops: Teams gets one
    real mention (the route's `cc` line); the sender's copy is defused text."""
    from shared.store.models import Channel, Route

    channel = "cards-" + uuid.uuid4().hex[:8]
    app_store.channels.save(Channel(name=channel, url=sink.workflow_url(channel)))
    route = Route(
        name="cards-" + uuid.uuid4().hex[:8],
        source="messagecard",
        channels=[channel],
        settings={"mentions": [{"id": "ops@contoso.com", "name": "Ops"}]},
    )
    app_store.routes.save(route)
    body = {
        "@type": "MessageCard",
        "title": "<at>Ops</at> please approve",
        "text": "urgent &lt;at&gt;Ops&lt;/at&gt;",
        "sections": [{"facts": [{"name": "<at>Ops</at>", "value": "now"}], "markdown": False}],
    }
    response = requests.post(f"{devhost}/api/incoming/{route.name}", json=body, timeout=30)
    assert response.status_code == 200 and response.text == "1"  # the old connector's answer
    [message] = sink.wait_for_messages(channel, 1, timeout=10)
    assert_valid_message(message)
    [card] = envelopes.cards_of(message)
    shown = json.dumps(card["body"], ensure_ascii=False)
    assert shown.count("<at>Ops</at>") == 1 and "cc <at>Ops</at>" in shown
    assert "please approve" in shown and "urgent" in shown
    assert [e["text"] for e in card["msteams"]["entities"]] == ["<at>Ops</at>"]
