"""`unsubscribe` through the dev host deletes the subscription's buffered events (issue 13, item 7);
ids of the old 24-bit form still work."""

from __future__ import annotations

from typing import Any

from shared.store.models import Subscription
from tests.outgoing.conftest import Bot
from tests.outgoing.test_http_commands import card_of, subscribe


def test_unsubscribe_deletes_buffered_events_and_new_ids_are_long(connected: Bot, app_store: Any) -> None:
    sub_id = subscribe(connected, "rss https://example.com/a.xml")
    assert len(sub_id) == 13 and sub_id.startswith("s")
    for i in range(3):
        app_store.events.append(sub_id, {"title": f"event {i}"})
    assert "Unsubscribed" in card_of(connected.say(f"unsubscribe {sub_id}"))
    assert app_store.subscriptions.find(sub_id) is None
    assert app_store.events.pending(sub_id) == []


def test_an_old_short_id_is_found_and_removed(connected: Bot, app_store: Any) -> None:
    old = app_store.subscriptions.add(
        Subscription(
            id="s0ab12c", channel=connected.team + "-ch", source="rss", target="https://example.com/b"
        )
    )
    app_store.events.append(old.id, {"title": "left over"})
    assert "s0ab12c" in card_of(connected.say("subscriptions"))
    assert "Unsubscribed" in card_of(connected.say("unsubscribe s0ab12c"))
    assert app_store.subscriptions.find("s0ab12c") is None
    assert app_store.events.pending("s0ab12c") == []
