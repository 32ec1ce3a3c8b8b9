"""Issue 13 item 17: activities the bot cannot serve get a 400 naming the field,
not a 200 "Something went wrong" with a traceback in the log. Over HTTP, signed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.outgoing.conftest import Bot
from tests.outgoing.helpers import activity, sign


def _post(bot: Bot, data: dict[str, Any]) -> Any:
    body = json.dumps(data).encode("ascii")  # \\ud800 stays an escape, as a sender can write it
    return bot.post(body, sign(bot.token, body))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "1" * 600}, "id"),
        ({"text": "<at>Bot</at> status \ud800"}, "text"),
        ({"from": {"id": "29:u", "name": "Ada \udfff"}}, "from.name"),
        (
            {"channelData": {"channel": {"id": "19:" + "x" * 40_000}, "team": {"id": "19:t"}}},
            "channelData.channel.id",
        ),
        (
            {"conversation": {"id": "19:" + "c" * 40_000}, "channelData": {"team": {"id": "19:t"}}},
            "conversation.id",
        ),
        (
            {"channelData": {"team": {"id": "19:" + "t" * 5_000}, "tenant": {"id": "x"}}},
            "channelData.team.id",
        ),
        ({"entities": [{"type": "clientInfo", "timezone": "Europe/\ud800"}]}, "entities.0.timezone"),
    ],
)
def test_unservable_activities_are_400_naming_the_field(bot: Bot, change: dict[str, Any], field: str) -> None:
    data = activity("status", channel_id=bot.channel_id)
    data.update(change)
    answer = _post(bot, data)
    assert answer.status == 400, answer.body
    assert field in answer.json["error"], answer.json
    assert "Something went wrong" not in answer.everything
