"""Every command's happy and unhappy paths, over real HTTP through the dev host and Azurite."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from shared.store import behind
from tests.conftest import unique
from tests.outgoing.cards import check_reply
from tests.outgoing.conftest import Bot
from tools import stack


def card_of(answer: Any) -> str:
    assert answer.status == 200, answer.body
    return json.dumps(check_reply(answer.json), ensure_ascii=False)


def subscribe(bot: Bot, spec: str, **kwargs: Any) -> str:
    """Subscribe and return the new subscription's id."""
    answer = bot.say("subscribe " + spec, **kwargs)
    text = card_of(answer)
    assert answer.json["text"] == "Subscribed", text
    fallback = answer.card["fallbackText"]
    match = re.search(r"^Id: (\S+)$", fallback, re.MULTILINE)
    assert match, fallback
    return match.group(1)


# --- help and unknown ------------------------------------------------------------------------------


def test_help_for_one_command(bot: Bot) -> None:
    text = card_of(bot.say("help subscribe"))
    assert "weather PLACE" in text and "Europe/Berlin" in text


def test_help_for_an_unknown_command_suggests(bot: Bot) -> None:
    text = card_of(bot.say("help subscibe"))
    assert "Did you mean **subscribe**" in text


def test_unknown_command_gets_did_you_mean_and_help(bot: Bot) -> None:
    answer = bot.say("stauts")
    text = card_of(answer)
    assert "Did you mean **status**" in text
    assert "**connect" in text


def test_bare_mention_shows_help(bot: Bot) -> None:
    text = card_of(bot.say(""))
    assert "**subscribe" in text


# --- connect -------------------------------------------------------------------------------------


def test_connect_links_the_channel_and_masks_the_url(bot: Bot, app_store: Any, sink: Any) -> None:
    url = sink.workflow_url(unique("wf")) + "?sig=s3cr3tSignature"
    answer = bot.say(f"connect {url}")
    text = card_of(answer)
    assert answer.json["text"] == "Channel connected"
    assert "s3cr3tSignature" not in answer.everything and url not in answer.everything
    assert "delete your message" in text
    linked = app_store.channels.find_by_teams_channel(bot.channel_id)
    assert linked is not None and linked.url == url and linked.team_key == bot.team
    # Connecting again replaces the link of the same channel (with --replace: issue 13 item 13).
    url2 = sink.workflow_url(unique("wf"))
    card_of(bot.say(f"connect --replace {url2}"))
    again = app_store.channels.find_by_teams_channel(bot.channel_id)
    assert again.name == linked.name and again.url == url2


def test_connect_accepts_the_url_as_teams_links_it(bot: Bot, app_store: Any, sink: Any) -> None:
    url = sink.workflow_url(unique("wf")) + "?a=1&sig=abc"
    data_text = f'connect <a href="{url.replace("&", "&amp;")}">{url[:30]}…</a>'
    card_of(bot.say(data_text))
    assert app_store.channels.find_by_teams_channel(bot.channel_id).url == url


@pytest.mark.parametrize(
    ("arg", "reason"),
    [
        ("https://evil.example.com/hook?sig=topsecret", "not a Teams Workflows host"),
        ("https://contoso.webhook.office.com/webhookb2/x@y/IncomingWebhook/a/b", "legacy"),
        ("ftp://prod-01.westeurope.logic.azure.com/x", "https"),
        ("", "exactly one"),
    ],
)
def test_connect_rejects_bad_urls(bot: Bot, app_store: Any, arg: str, reason: str) -> None:
    answer = bot.say(f"connect {arg}".strip())
    text = card_of(answer)
    assert answer.card["body"][0]["style"] == "warning"
    assert reason in text
    assert "topsecret" not in answer.everything
    assert app_store.channels.find_by_teams_channel(bot.channel_id) is None


# --- subscribe and friends -----------------------------------------------------------------------


def test_subscribe_needs_a_connected_channel(bot: Bot) -> None:
    text = card_of(bot.say("subscribe rss https://example.com/feed.xml"))
    assert "not connected" in text and "connect WORKFLOWS-URL" in text


def test_subscribe_rss_defaults_to_the_client_time_zone(connected: Bot, app_store: Any) -> None:
    sub_id = subscribe(connected, "rss https://example.com/feed.xml", timezone="America/Los_Angeles")
    sub = app_store.subscriptions.get(sub_id)
    assert sub.source == "rss" and sub.target == "https://example.com/feed.xml"
    assert sub.schedule.tz == "America/Los_Angeles"
    assert sub.schedule.times == ["08:00"] and sub.schedule.days == list(range(7))
    assert sub.channel == connected.team + "-ch"
    assert sub.next_run is not None
    assert sub.created_by == "Ada Lovelace"


def test_subscribe_weather_with_options_and_unicode(connected: Bot, app_store: Any) -> None:
    sub_id = subscribe(connected, "weather São Paulo 🌴 at 17:00,7:30 on mon-fri tz Europe/Berlin")
    sub = app_store.subscriptions.get(sub_id)
    assert sub.target == "São Paulo 🌴"
    assert sub.schedule.times == ["07:30", "17:00"]
    assert sub.schedule.days == [0, 1, 2, 3, 4]
    assert sub.schedule.tz == "Europe/Berlin"


def test_subscribe_with_a_bogus_client_time_zone_falls_back_to_utc(connected: Bot, app_store: Any) -> None:
    sub_id = subscribe(connected, "weather Oslo", timezone="Not/AZone")
    assert app_store.subscriptions.get(sub_id).schedule.tz == "UTC"


def test_subscribe_right_to_left_place(connected: Bot, app_store: Any) -> None:
    sub_id = subscribe(connected, "weather القاهرة")
    assert app_store.subscriptions.get(sub_id).target == "القاهرة"
    assert app_store.subscriptions.get(sub_id).schedule.tz == "UTC"


def test_subscribe_events_needs_an_existing_route(connected: Bot, app_store: Any) -> None:
    from shared.store.models import Route

    text = card_of(connected.say("subscribe events nosuchroute"))
    assert "no incoming route" in text
    route = unique("r")
    app_store.routes.add(
        Route(name=route, source="generic", channels=[connected.team + "-ch"], mode="digest")
    )
    sub_id = subscribe(connected, f"events {route} at 09:00")
    assert app_store.subscriptions.get(sub_id).target == route


def test_subscribe_events_only_to_routes_of_this_channel(connected: Bot, app_store: Any) -> None:
    from shared.store.models import Route

    elsewhere, immediate = unique("r"), unique("r")
    app_store.routes.add(Route(name=elsewhere, source="generic", channels=["someone-else"], mode="digest"))
    app_store.routes.add(Route(name=immediate, source="generic", channels=[connected.team + "-ch"]))
    text = card_of(connected.say(f"subscribe events {elsewhere}"))
    assert "no incoming route" in text
    assert app_store.subscriptions.list(channel=connected.team + "-ch") == []
    answer = connected.say(f"subscribe events {immediate}")
    assert answer.json["text"] == "Subscribed"
    assert "stays empty" in card_of(answer)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("", "say what to subscribe to"),
        ("podcast https://x", "say what to subscribe to"),
        ("rss", "needs a target"),
        ("rss not-a-url", "http(s) URL"),
        ("weather Paris at 25:00", "invalid time"),
        ("weather Paris on someday", "unknown day"),
        ("weather Paris tz Mars/Olympus", "unknown time zone"),
        ("weather Paris at", "needs a value"),
        ("weather Paris at 08:00 at 09:00", "given twice"),
    ],
)
def test_subscribe_errors(connected: Bot, app_store: Any, spec: str, reason: str) -> None:
    answer = connected.say(f"subscribe {spec}".strip())
    text = card_of(answer)
    assert reason in text, text
    assert answer.card["body"][0]["style"] == "warning"
    assert app_store.subscriptions.list(channel=connected.team + "-ch") == []


def test_subscriptions_list_pause_resume_unsubscribe(connected: Bot, app_store: Any) -> None:
    empty = card_of(connected.say("subscriptions"))
    assert "No subscriptions yet" in empty
    first = subscribe(connected, "rss https://example.com/a.xml")
    second = subscribe(connected, "weather Oslo")

    listed = card_of(connected.say("list"))
    assert first in listed and second in listed and "2 subscription(s)" in listed

    assert "Paused" in card_of(connected.say(f"pause {first}"))
    assert app_store.subscriptions.get(first).paused is True
    assert "Already paused" in card_of(connected.say(f"pause {first}"))
    assert "(paused)" in card_of(connected.say("subscriptions"))
    assert "Resumed" in card_of(connected.say(f"resume {first}"))
    assert app_store.subscriptions.get(first).paused is False
    assert "Already running" in card_of(connected.say(f"resume {first}"))

    assert "Unsubscribed" in card_of(connected.say(f"unsubscribe {first}"))
    assert app_store.subscriptions.find(first) is None
    listed = card_of(connected.say("subscriptions"))
    assert first not in listed and second in listed


@pytest.mark.parametrize("word", ["unsubscribe", "pause", "resume"])
def test_id_commands_unhappy(connected: Bot, word: str) -> None:
    assert "give the subscription id" in card_of(connected.say(word))
    assert "no subscription" in card_of(connected.say(f"{word} nosuchid"))


def test_other_channels_subscriptions_are_invisible(connected: Bot, app_store: Any, sink: Any) -> None:
    theirs = subscribe(connected, "weather Rome")
    stranger = Bot(connected.base_url, connected.team, connected.token, "19:other@thread.tacv2")
    card_of(stranger.say(f"connect {sink.workflow_url(unique('wf'))}"))
    for word in ("pause", "unsubscribe"):
        assert "no subscription" in card_of(stranger.say(f"{word} {theirs}"))
    assert app_store.subscriptions.get(theirs).paused is False


def test_another_teams_registration_cannot_use_or_take_over_a_link(
    connected: Bot, app_store: Any, sink: Any
) -> None:
    """Team B's token holder signs activities naming team A's channel id: nothing of A's shows."""
    from tests.outgoing.conftest import register_team

    sub_id = subscribe(connected, "weather Madrid")
    intruder_team = "x" + connected.team
    register_team(app_store, intruder_team, [connected.token])
    intruder = Bot(connected.base_url, intruder_team, connected.token, connected.channel_id)
    assert "not connected" in card_of(intruder.say("subscriptions"))
    assert "not connected" in card_of(intruder.say(f"pause {sub_id}"))
    assert "another team" in card_of(intruder.say(f"connect {sink.workflow_url('evil')}"))
    assert app_store.channels.find_by_teams_channel(connected.channel_id).team_key == connected.team
    assert app_store.subscriptions.get(sub_id).paused is False


def test_id_commands_need_a_link(bot: Bot) -> None:
    assert "not connected" in card_of(bot.say("pause abc"))
    assert "not connected" in card_of(bot.say("subscriptions"))


# --- digest now ------------------------------------------------------------------------------------


def test_digest_now_posts_to_the_channel(connected: Bot, app_store: Any, sink: Any) -> None:
    from shared.store.models import Route

    route = unique("r")
    app_store.routes.add(
        Route(name=route, source="generic", channels=[connected.team + "-ch"], mode="digest")
    )
    sub_id = subscribe(connected, f"events {route}")
    app_store.events.append(sub_id, {"title": "Deploy finished", "text": "v1.2.3 is live"})
    before = len(sink.messages(connected.team))
    answer = connected.say(f"digest {sub_id} now")
    text = card_of(answer)
    assert answer.json["text"] == "Digest sent", text
    messages = sink.wait_for_messages(connected.team, before + 1, timeout=10)
    assert len(messages) >= before + 1


def test_digest_now_while_the_timer_posts_it_does_not_say_sent(
    connected: Bot, app_store: Any, sink: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A timer run holds the subscription (it is posting this digest) when someone asks for it."""
    import time
    from datetime import UTC, datetime

    from shared.digest import run as digest
    from shared.store.models import Route
    from tests.support.hooks import after_delivery

    route = unique("r")
    app_store.routes.add(
        Route(name=route, source="generic", channels=[connected.team + "-ch"], mode="digest")
    )
    sub_id = subscribe(connected, f"events {route}")
    app_store.events.append(sub_id, {"title": "Deploy finished", "text": "v1.2.3 is live"})
    before = len(sink.messages(connected.team))
    monkeypatch.setenv("DELIVERY_EXTRA_ALLOWED_URLS", sink.url + "/")  # this process's run posts too
    answers: list[Any] = []

    def asked_meanwhile(_claimed: Any, _result: Any) -> None:
        answers.append(connected.say(f"digest {sub_id} now"))

    timer = digest.Runner(app_store, datetime.now(UTC), time.monotonic() + 60, digest.RunStats())
    with after_delivery(asked_meanwhile):
        assert timer.process(app_store.subscriptions.get(sub_id)) is digest.Outcome.SENT
    [answer] = answers
    text = card_of(answer)
    assert answer.json["text"] == "Digest already on its way", text
    assert "sent" not in answer.json["text"].lower() and "held until" in text
    assert len(sink.messages(connected.team)) == before + 1  # the timer's post only

    answer = connected.say(f"digest {sub_id} now")  # the run is over: free again
    assert answer.json["text"] == "Digest sent", card_of(answer)


def test_digest_now_unhappy(connected: Bot) -> None:
    assert "digest ID now" in card_of(connected.say("digest"))
    assert "digest ID now" in card_of(connected.say("digest abc later"))
    assert "no subscription" in card_of(connected.say("digest nosuch now"))


# --- routes and status -----------------------------------------------------------------------------


def test_routes_lists_urls_without_secrets(connected: Bot, app_store: Any, devhost: str) -> None:
    from shared.store.models import Route

    assert "No routes feed this channel" in card_of(connected.say("routes"))
    route = unique("r")
    app_store.routes.add(
        Route(
            name=route, source="github", auth="github", secret="hushhush", channels=[connected.team + "-ch"]
        )
    )
    answer = connected.say("routes")
    text = card_of(answer)
    assert f"{devhost}/api/incoming/{route}" in text
    assert "hushhush" not in answer.everything


def test_routes_needs_a_link(bot: Bot) -> None:
    assert "not connected" in card_of(bot.say("routes"))


def test_status_when_not_connected(bot: Bot) -> None:
    answer = bot.say("status")
    assert "Status: not connected" in card_of(answer)


def test_status_shows_link_subscriptions_routes_deliveries(connected: Bot, app_store: Any, sink: Any) -> None:
    from shared.store.models import Route

    channel = connected.team + "-ch"
    sub_id = subscribe(connected, "weather Lisbon")
    sub = app_store.subscriptions.get(sub_id)
    sub.last_error = "geocoding failed for Lisbon"
    app_store.subscriptions.save(sub)
    route = unique("r")
    app_store.routes.add(Route(name=route, source="generic", channels=[channel]))
    app_store.deliveries.record(channel, True, "202 accepted")
    for _ in range(3):  # a busy sender: one row with a count
        app_store.deliveries.record_later(channel, True, "accepted (from a busy route)")
    assert behind.flush()
    answer = connected.say("status")
    text = card_of(answer)
    assert channel in text
    assert sink.workflow_url(connected.team) not in answer.everything
    assert sub_id in text and "geocoding failed" in text
    assert route in text
    assert "202 accepted" in text
    assert "accepted (from a busy route) (3 times)" in text
    assert "Outbox backlog" in text


def test_digest_now_says_when_the_feed_cannot_be_read(connected: Bot) -> None:
    sub_id = subscribe(connected, f"rss http://127.0.0.1:{stack.free_port()}/feed.xml")  # nobody listens
    answer = connected.say(f"digest {sub_id} now")
    text = card_of(answer)
    assert answer.json["text"] == "Digest not sent", text
    assert answer.card["body"][0]["style"] == "warning"
