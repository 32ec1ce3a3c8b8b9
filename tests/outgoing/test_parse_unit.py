"""Parsing of the subscribe command's arguments."""

from __future__ import annotations

import pytest

from shared.outgoing.commands import CommandError, _parse_subscribe, channel_name_for

pytestmark = pytest.mark.unit


def test_target_and_options() -> None:
    assert _parse_subscribe(
        ["weather", "New", "York", "at", "08:00,17:00", "on", "mon-fri", "tz", "America/New_York"]
    ) == (
        "weather",
        "New York",
        {"at": "08:00,17:00", "on": "mon-fri", "tz": "America/New_York"},
    )
    assert _parse_subscribe(["RSS", "https://x/feed"]) == ("rss", "https://x/feed", {})
    assert _parse_subscribe(["events", "deploys", "AT", "9:00"]) == ("events", "deploys", {"at": "9:00"})


@pytest.mark.parametrize(
    "args", [[], ["json", "x"], ["rss"], ["weather", "x", "at"], ["weather", "x", "at", "1", "at", "2"]]
)
def test_errors(args: list[str]) -> None:
    with pytest.raises(CommandError):
        _parse_subscribe(args)


def test_channel_name_is_stable_and_short() -> None:
    a = channel_name_for("contoso", "19:abc@thread.tacv2")
    assert a == channel_name_for("contoso", "19:abc@thread.tacv2")
    assert a != channel_name_for("contoso", "19:abd@thread.tacv2")
    assert a.startswith("contoso-") and len(a) == len("contoso-") + 8
