"""Signed requests over real HTTP through the dev host and Azurite: authentication and body rules."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.outgoing.cards import check_reply
from tests.outgoing.conftest import Bot, register_team
from tests.outgoing.helpers import COMMANDS, activity, encode, new_token, sign, stale

GENERIC_401 = {"error": "unauthorized"}


def test_valid_help(bot: Bot) -> None:
    answer = bot.say("help")
    assert answer.status == 200, answer.body
    card = check_reply(answer.json)
    for word in COMMANDS:
        assert f"**{word}" in json.dumps(card), word


def test_unknown_team_missing_malformed_and_wrong_signature_look_the_same(bot: Bot) -> None:
    body = bot.body("help")
    good = sign(bot.token, body)
    answers = [
        bot.post(body, good, team="noteam" + bot.team),  # unknown team, otherwise perfect
        bot.post(body, None),  # no header
        bot.post(body, "HMAC"),  # malformed
        bot.post(body, "Basic dXNlcjpwYXNz"),
        bot.post(body, "HMAC ###"),
        bot.post(body, sign(new_token(), body)),  # wrong key
        bot.post(body + b" ", good),  # body changed after signing
    ]
    for answer in answers:
        assert answer.status == 401
        assert answer.json == GENERIC_401
        assert good.split(" ", 1)[1].encode() not in answer.body


def test_rotated_tokens(bot: Bot, app_store: Any) -> None:
    new = new_token()
    team = app_store.teams.get(bot.team)
    team.tokens = [bot.token, new]
    app_store.teams.save(team)
    assert bot.say("help", token=bot.token).status == 200
    assert bot.say("help", token=new).status == 200
    team = app_store.teams.get(bot.team)
    team.tokens = [new]
    app_store.teams.save(team)
    assert bot.say("help", token=new).status == 200
    retired = bot.say("help", token=bot.token)
    assert retired.status == 401 and retired.json == GENERIC_401


def test_replayed_activity_is_not_run_again(bot: Bot) -> None:
    body = bot.body("help")
    first = bot.post(body, sign(bot.token, body))
    again = bot.post(body, sign(bot.token, body))
    assert first.status == 200
    assert again.status == 409
    assert "already handled" in again.json["error"]


def test_same_activity_id_in_another_team_is_independent(bot: Bot, app_store: Any) -> None:
    other_team = "o" + bot.team
    register_team(app_store, other_team, [bot.token])
    body = bot.body("help", activity_id="1485983408511")
    assert bot.post(body, sign(bot.token, body)).status == 200
    assert bot.post(body, sign(bot.token, body), team=other_team).status == 200


@pytest.mark.parametrize("minutes_ago", [6, -6])
def test_stale_or_future_timestamp(bot: Bot, minutes_ago: int) -> None:
    # Computed when the test runs, not when it is collected: the suite can take longer than the window.
    answer = bot.say("help", timestamp=stale(minutes_ago))
    assert answer.status == 401
    assert "timestamp" in answer.json["error"]


def test_timestamp_inside_the_window_is_fine(bot: Bot) -> None:
    assert bot.say("help", timestamp=stale(4)).status == 200


def test_missing_timestamp_is_rejected(bot: Bot) -> None:
    data = activity("help", channel_id=bot.channel_id)
    del data["timestamp"]
    body = encode(data)
    answer = bot.post(body, sign(bot.token, body))
    assert answer.status == 401 and "timestamp" in answer.json["error"]


def test_oversize_body_is_413_before_any_work(bot: Bot) -> None:
    body = b'{"type":"message","text":"' + b"x" * (1024 * 1024) + b'"}'
    answer = bot.post(body, None, team="whatever")
    assert answer.status == 413
    assert "limit" in answer.json["error"]


def test_just_under_the_limit_is_read(bot: Bot) -> None:
    data = activity("help", channel_id=bot.channel_id)
    data["attachments"][0]["content"] = "y" * (1024 * 1024 - 3000)
    body = encode(data)
    assert len(body) <= 1024 * 1024
    assert bot.post(body, sign(bot.token, body)).status == 200


@pytest.mark.parametrize("body", [b"", b"   \n"])
def test_empty_body(bot: Bot, body: bytes) -> None:
    answer = bot.post(body, sign(bot.token, body))
    assert answer.status == 400
    assert "empty" in answer.json["error"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json at all", "not valid JSON"),
        (b'{"type": "message", ', "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[1, 2, 3]", "JSON object"),
        (b'{"type":"message","id":"1","timestamp":"not a time"}', "timestamp"),
        (b'{"type":"message","timestamp":"2026-01-01T00:00:00Z","text":"x"}', "no id"),
        (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
        (b'{"type":"message","id":"1","from":"Ada"}', "invalid activity field from"),
    ],
)
def test_signed_malformed_bodies_are_400(bot: Bot, body: bytes, reason: str) -> None:
    answer = bot.post(body, sign(bot.token, body))
    assert answer.status == 400, answer.body
    assert reason in answer.json["error"]


def test_unsigned_malformed_body_is_401_not_400(bot: Bot) -> None:
    answer = bot.post(b"not json at all", "HMAC AAAA")
    assert answer.status == 401 and answer.json == GENERIC_401


def test_other_activity_types_get_an_empty_200(bot: Bot) -> None:
    body = encode(activity("", channel_id=bot.channel_id, type="conversationUpdate"))
    answer = bot.post(body, sign(bot.token, body))
    assert answer.status == 200
    assert answer.json == {"type": "message"}


def test_official_sample_shape_is_understood(bot: Bot) -> None:
    """The documented activity (deprecated channelData fields only, another user mentioned)."""
    data = activity(
        "hlp <at>Larry Brown</at>",
        channel_id=bot.channel_id,
        legacy=True,
        mentions=[("29:larry", "Larry Brown")],
    )
    body = encode(data)
    answer = bot.post(body, sign(bot.token, body))
    assert answer.status == 200
    card = check_reply(answer.json)
    assert "Did you mean **help**?" in json.dumps(card)


def test_entities_markup_and_unicode(bot: Bot) -> None:
    data = activity("", channel_id=bot.channel_id)
    data["text"] = "<p><at>Bot</at>&nbsp;HELP&nbsp;<b>subscribe</b></p>"
    body = encode(data)
    answer = bot.post(body, sign(bot.token, body))
    assert answer.status == 200
    assert "help subscribe" in answer.json["text"]

    answer = bot.say("مرحبا 👋🏽 שלום")
    assert answer.status == 200
    card = check_reply(answer.json)
    assert "مرحبا" in json.dumps(card, ensure_ascii=False)


def test_secrets_are_not_in_the_reply(bot: Bot) -> None:
    answer = bot.say("help")
    assert bot.token.encode() not in answer.body
    assert base64.b64decode(bot.token) not in answer.body


def test_text_longer_than_any_command_gets_a_readable_answer(bot: Bot) -> None:
    answer = bot.say("help " + "<at>x</at>" * 5000)
    assert answer.status == 200
    assert "too long for a command" in answer.json["text"]
