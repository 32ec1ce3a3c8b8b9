"""Activity parsing and text cleaning: mentions, entities, links, unicode."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.outgoing.activity import (
    MAX_TEXT_CHARS,
    ActivityError,
    TextTooLong,
    clean_text,
    parse_activity,
    split_command,
)
from tests.conftest import shared_path
from tests.outgoing.helpers import activity

pytestmark = pytest.mark.unit


def test_official_sample_activity() -> None:
    data = json.loads(
        shared_path("fixtures", "teams", "outgoing_webhook_inbound_msteams_docs.json").read_text()
    )
    act = parse_activity(data)
    assert act.type == "message"
    assert act.team_id == "19:712c61d0ef384e5fa681ba90ca943398@thread.skype"
    assert act.channel_id == "19:253b1f341670408fb6fe51050b6e5ceb@thread.skype"
    assert act.sender_name == "Tim Jones"
    command = act.command()
    assert command.name == "hello"
    assert command.args == ["@Larry Brown"]


def test_new_channel_data_wins_over_deprecated_fields() -> None:
    data = activity("help", channel_id="19:new@thread.tacv2")
    data["channelData"]["teamsChannelId"] = "19:old@thread.tacv2"
    act = parse_activity(data)
    assert act.channel_id == "19:new@thread.tacv2"
    assert act.tenant_id == "tenant-1"


def test_deprecated_fields_and_conversation_fallback() -> None:
    act = parse_activity(activity("help", channel_id="19:c@thread.skype", legacy=True))
    assert act.channel_id == "19:c@thread.skype"
    assert act.tenant_id is None
    data = activity("help", channel_id="19:c@thread.skype")
    del data["channelData"]
    assert parse_activity(data).channel_id == "19:c@thread.skype"


def test_unknown_fields_and_odd_entities_are_tolerated() -> None:
    data = activity("help", futureField={"x": 1})
    data["entities"].append("not-an-object")
    act = parse_activity(data)
    assert act.command().name == "help"


def test_client_timezone() -> None:
    assert parse_activity(activity("x", timezone="Europe/Berlin")).client_timezone == "Europe/Berlin"
    assert parse_activity(activity("x")).client_timezone is None


@pytest.mark.parametrize("bad", [[], "text", 3])
def test_non_object_is_rejected(bad: Any) -> None:
    with pytest.raises(ActivityError):
        parse_activity(bad)


def test_wrong_field_type_names_the_field() -> None:
    with pytest.raises(ActivityError, match="timestamp"):
        parse_activity({"type": "message", "timestamp": "yesterday"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<at>Bot</at> help", "help"),
        ("<at>Bot</at>&nbsp;status", "status"),
        ("<p><at>Bot</at> subscribe weather São&nbsp;Paulo</p>", "subscribe weather São Paulo"),
        ("<at>Bot</at> subscribe rss &lt;x&gt; &amp; y", "subscribe rss <x> & y"),
        ("<div><at>Bot</at> help</div><div>subscribe</div>", "help subscribe"),
        ("<at>Bot</at> ping <at>Larry Brown</at> now", "ping @Larry\u00a0Brown now"),
        ("<at>Bot</at>\u200b help \ufeff", "help"),
        ("<at>Bot</at> weather القاهرة 🌤️", "weather القاهرة 🌤️"),
        (
            '<at>Bot</at> subscribe rss <a href="https://ex.com/feed?a=1&amp;b=2">https://ex.com/fe…</a>',
            "subscribe rss https://ex.com/feed?a=1&b=2",
        ),
        ("  <at>Bot</at>   HELP   me  ", "HELP me"),
        ("<at>Bot</at> Cafe\u0301", "Café"),
        ("<at>Bot</at> he\x00lp\x07 me\tnow\nplease", "help me now please"),
        ("<at>Bot</at> <a href='https://ex.com/x'>ex.com</a>", "https://ex.com/x"),
    ],
)
def test_clean_text(text: str, expected: str) -> None:
    assert clean_text(text) == expected


def test_bot_mention_not_first_is_removed_by_entity() -> None:
    data = activity("")
    data["text"] = "please <at>Bot</at> status"
    assert parse_activity(data).command().name == "please"
    assert parse_activity(data).command().args == ["status"]


def test_split_command() -> None:
    command = split_command("Subscribe weather New York at 08:00")
    assert command.name == "subscribe"
    assert command.args == ["weather", "New", "York", "at", "08:00"]
    assert command.rest == "weather New York at 08:00"
    assert split_command("").name == ""


@pytest.mark.timeout(30)  # a guard against quadratic or worse regex work, not a speed target
@pytest.mark.parametrize(
    "filler",
    ["<at>x</at>", "<at>x", '<a href="x">', "<a href='", "<", "<p>", "&amp;"],
)
def test_hostile_markup_up_to_the_limit_is_cleaned(filler: str) -> None:
    text = "<at>Bot</at> help " + filler * ((MAX_TEXT_CHARS - 20) // len(filler))
    assert len(text) <= MAX_TEXT_CHARS
    data = activity("")
    data["text"] = text
    assert parse_activity(data).command().name == "help"


def test_text_over_the_limit_is_refused_not_cleaned() -> None:
    data = activity("")
    data["text"] = "<at>Bot</at> help " + "<at>x</at>" * MAX_TEXT_CHARS
    with pytest.raises(TextTooLong, match="too long"):
        parse_activity(data).command()
