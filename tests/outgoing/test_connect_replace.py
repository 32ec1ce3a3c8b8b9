"""Issue 13 item 13: a channel's Workflows link is not replaced silently.

`connect` on a connected channel needs `--replace`, the channel is told through its old link who
replaced it, and an admin can lock the link. Through the dev host, the sink and the real store.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import unique
from tests.outgoing.conftest import Bot


def _channel(app_store: Any, bot: Bot) -> Any:
    return app_store.channels.find_by_teams_channel(bot.channel_id)


def test_connect_on_a_connected_channel_needs_replace(connected: Bot, app_store: Any, sink: Any) -> None:
    old = _channel(app_store, connected).url
    new = sink.workflow_url(unique("new"))
    refused = connected.say(f"connect {new}")
    assert "Channel connected" not in refused.everything
    assert "connect --replace" in refused.everything and "connected already" in refused.everything
    assert _channel(app_store, connected).url == old
    # The same URL again is harmless: no --replace needed.
    assert "Channel connected" in connected.say(f"connect {old}").everything


def test_replacing_tells_the_channel_who_did_it(connected: Bot, app_store: Any, sink: Any) -> None:
    before = len(sink.messages(connected.team))  # the old link's sink channel
    new_channel = unique("new")
    answer = connected.say(f"connect --replace {sink.workflow_url(new_channel)}")
    assert answer.json["text"] == "Channel connected", answer.everything
    assert "Replaced by" in answer.everything and "Ada Lovelace" in answer.everything
    assert _channel(app_store, connected).url == sink.workflow_url(new_channel)
    notices = sink.wait_for_messages(connected.team, before + 1, timeout=10)[before:]
    text = json.dumps(notices, ensure_ascii=False)
    assert "Workflows link replaced" in text and "Ada Lovelace" in text
    assert sink.messages(new_channel) == []  # told through the link that reaches the channel


def test_a_locked_channel_cannot_be_relinked(connected: Bot, app_store: Any, sink: Any) -> None:
    channel = _channel(app_store, connected)
    stored = app_store.channels.get(channel.name)
    stored.locked = True
    app_store.channels.save(stored)
    answer = connected.say(f"connect --replace {sink.workflow_url(unique('x'))}")
    assert "Channel connected" not in answer.everything and "locked" in answer.everything
    assert _channel(app_store, connected).url == channel.url
