"""The bot's `status` shows the channel's connection: budget use, waiting posts, combined, oldest wait."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.delivery.handoff import queue_parts
from shared.delivery.parts import Part
from shared.store.models import ConnectionState
from tests.conftest import unique
from tests.outgoing.cards import check_reply
from tests.outgoing.conftest import Bot


def card_of(answer: Any) -> str:
    assert answer.status == 200, answer.body
    return json.dumps(check_reply(answer.json), ensure_ascii=False)


def test_status_shows_the_connection_and_its_backlog(connected: Bot, app_store: Any) -> None:
    channel_name = connected.team + "-ch"
    connection = unique("owner")
    channel = app_store.channels.get(channel_name)
    channel.connection = connection
    app_store.channels.save(channel)
    now_ms = int(time.time() * 1000)
    app_store.budgets.write(
        ConnectionState(name=connection, sent=[now_ms - 1000, now_ms], budget="2/600", posts=9, combined=5)
    )
    body = b'{"type":"message","attachments":[]}'
    queue_parts(app_store, channel_name, unique("k"), [Part("1/1", body)], 0, "waiting for its budget")
    [item] = [i for i in app_store.outbox.list() if i.channel == channel_name]
    older = item.model_copy(update={"created": datetime.now(UTC) - timedelta(minutes=7)})
    app_store.outbox.table.upsert(app_store.outbox._entity(older))

    try:
        text = card_of(connected.say("status"))
    finally:
        app_store.outbox.complete(item)  # no sweep of another test may post it
    assert connection in text
    assert "2 of 2 posts in 600 s used" in text and "waiting posts are combined" in text
    assert "5 combined so far" in text
    assert "Oldest wait" in text and "7 min" in text
    assert "Outbox backlog" in text


def test_status_of_a_default_channel_with_room(connected: Bot) -> None:
    text = card_of(connected.say("status"))
    assert "**default**" in text or "default" in text
    assert "posts in" in text and "Oldest wait" not in text


def test_connect_replace_keeps_the_channel_on_its_connection(connected: Bot, app_store: Any, sink: Any) -> None:
    channel_name = connected.team + "-ch"
    channel = app_store.channels.get(channel_name)
    channel.connection = "second-owner"
    app_store.channels.save(channel)
    answer = connected.say(f"connect --replace {sink.workflow_url(unique('new'))}")
    assert "Channel connected" in answer.everything, answer.everything
    assert app_store.channels.get(channel_name).connection == "second-owner"
