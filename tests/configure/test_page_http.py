"""The configuration page through the dev host, Azurite and the sink: the link, the session,
CSRF, SSRF and the whole add / preview / status / pause / remove walk (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.configure.conftest import Visitor, link_of
from tests.outgoing.conftest import Bot

WEATHER = {
    "source": "weather",
    "target": "Berlin",
    "times": "07:00",
    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "tz": "Europe/Berlin",
}


def _signed_in(bot: Bot, page_host: str) -> Visitor:
    answer = bot.say("configure")
    assert answer.status == 200, answer.body[:300]
    link = link_of(answer.card)
    assert link.startswith(page_host + "/api/configure/open?t=")
    visitor = Visitor(page_host)
    opened = visitor.open(link)
    assert opened.status_code == 303, opened.text[:300]
    return visitor


def test_the_link_opens_once_for_a_session_cookie(page_bot: Bot, page_host: str) -> None:
    answer = page_bot.say("configure")
    link = link_of(answer.card)
    shown = Visitor(page_host).get(link[len(page_host) :].split("?")[0], t=link.split("?t=")[1])
    assert "Continue as Ada Lovelace" in shown.text
    assert "script-src 'self'" in shown.headers["Content-Security-Policy"]
    assert shown.headers["Referrer-Policy"] == "no-referrer"

    visitor = Visitor(page_host)
    opened = visitor.open(link)
    assert opened.status_code == 303 and opened.headers["Location"] == "/api/configure/channel"
    flags = [part.strip().lower() for part in opened.headers["Set-Cookie"].split(";")]
    assert {"httponly", "secure", "samesite=strict", "max-age=3600", "path=/api/configure"} <= set(flags)

    page = visitor.get("/api/configure/channel")
    assert page.status_code == 200
    assert page_bot.team + "-ch" in page.text and "Ada Lovelace" in page.text
    assert "/workflows/" not in page.text  # the webhook URL is never shown back, only masked

    again = Visitor(page_host).open(link)
    assert again.status_code == 403 and "used already" in again.text

    # `help` carries the page's button too, with a link of its own.
    help_link = link_of(page_bot.say("help").card, "Configure this channel")
    assert help_link.startswith(page_host + "/api/configure/open?t=") and help_link != link


def test_forged_expired_and_foreign_tokens_are_refused(page_bot: Bot, page_host: str, app_store: Any) -> None:
    from shared.configure import tokens

    link = link_of(page_bot.say("configure").card)
    token = link.split("?t=", 1)[1]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    answer = Visitor(page_host).get("/api/configure/open", t=forged)
    assert answer.status_code == 403 and "signature does not match" in answer.text

    key = tokens.signing_key(app_store)
    old = tokens.make_link(
        key,
        team=page_bot.team,
        channel=page_bot.channel_id,
        person="aad-1",
        name="Ada",
        now=datetime.now(UTC) - timedelta(minutes=16),
    )
    answer = Visitor(page_host).get("/api/configure/open", t=old)
    assert answer.status_code == 403 and "expired" in answer.text
    posted = Visitor(page_host).post("/api/configure/open", {"t": old})
    assert posted.status_code == 403 and "Set-Cookie" not in posted.headers

    # A channel given to another team's registration: a link naming it with this team is refused.
    from shared.store.models import Channel

    other = f"19:other-{page_bot.team}@thread.tacv2"
    app_store.channels.save(
        Channel(
            name=page_bot.team + "-other",
            url="https://example.invalid/x",
            teams_channel_id=other,
            team_key="someone-else",
        )
    )
    foreign = tokens.make_link(key, team=page_bot.team, channel=other, person="aad-1", name="Ada")
    answer = Visitor(page_host).get("/api/configure/open", t=foreign)
    assert answer.status_code == 403 and "another team" in answer.text

    # A link signed with another key is not ours.
    alien = tokens.make_link(
        b"k" * 32, team=page_bot.team, channel=page_bot.channel_id, person="", name="Eve"
    )
    assert Visitor(page_host).get("/api/configure/open", t=alien).status_code == 403


def test_a_session_changes_only_its_own_channel(
    page_bot: Bot, page_host: str, app_store: Any, sink: Any
) -> None:
    from shared.store.models import Schedule, Subscription

    foreign = Subscription(
        channel="not-" + page_bot.team, source="weather", target="Bern", schedule=Schedule(times=["08:00"])
    )
    app_store.subscriptions.add(foreign)
    visitor = _signed_in(page_bot, page_host)
    csrf = visitor.csrf()
    answer = visitor.post(f"/api/configure/subscriptions/{foreign.id}", {"csrf": csrf, "action": "remove"})
    assert answer.status_code == 404 and "no subscription" in answer.text
    assert app_store.subscriptions.find(foreign.id) is not None


def test_forms_without_their_csrf_token_are_refused(page_bot: Bot, page_host: str, app_store: Any) -> None:
    visitor = _signed_in(page_bot, page_host)
    for data in (WEATHER, {**WEATHER, "csrf": "not-the-token"}):
        answer = visitor.post("/api/configure/subscriptions", data)
        assert answer.status_code == 403 and "CSRF" in answer.text
    preview = visitor.post("/api/configure/preview", WEATHER)
    assert preview.status_code == 403 and "CSRF" in preview.json()["error"]
    assert app_store.subscriptions.list(channel=page_bot.team + "-ch") == []
    # and without a session, nothing at all
    assert Visitor(page_host).post("/api/configure/subscriptions", WEATHER).status_code == 401


def test_a_private_address_feed_is_refused_with_a_clear_message(page_bot: Bot, page_host: str) -> None:
    visitor = _signed_in(page_bot, page_host)
    data = {**WEATHER, "source": "rss", "target": "http://10.0.0.7/feed.xml", "csrf": visitor.csrf()}
    answer = visitor.post("/api/configure/subscriptions", data)
    assert answer.status_code == 400
    assert "private or reserved addresses are not allowed for feeds" in answer.text
    assert 'aria-invalid="true"' in answer.text  # next to its field
    data["target"] = "http://169.254.169.254/latest/meta-data"
    assert "link-local" in visitor.post("/api/configure/subscriptions", data).text


def test_bad_fields_say_what_is_wrong(page_bot: Bot, page_host: str) -> None:
    visitor = _signed_in(page_bot, page_host)
    csrf = visitor.csrf()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"times": "25:00"}, "invalid time"),
        ({"days": []}, "choose at least one day"),
        ({"tz": "Mars/Olympus"}, "Mars/Olympus"),
        ({"target": "Atlantis"}, "no place called"),
    ]
    for change, words in cases:
        answer = visitor.post("/api/configure/subscriptions", {**WEATHER, "csrf": csrf, **change})
        assert answer.status_code == 400, change
        assert words in answer.text, (change, answer.text[:2000])
    runs = visitor.get("/api/configure/next-runs", times="7:00", days="mon", tz="Europe/Berlin").json()
    assert len(runs["runs"]) == 3 and all(
        r.startswith("Mon ") and "07:00 Europe/Berlin" in r for r in runs["runs"]
    )
    assert "Berlin, Germany" in visitor.get("/api/configure/places", q="berlin").json()["places"]
    too_big = visitor.post("/api/configure/subscriptions", {"csrf": csrf, "target": "x" * 20_000})
    assert too_big.status_code == 413


def test_add_preview_status_pause_remove(page_bot: Bot, page_host: str, app_store: Any, sink: Any) -> None:
    channel = page_bot.team + "-ch"
    visitor = _signed_in(page_bot, page_host)
    csrf = visitor.csrf()

    preview = visitor.post("/api/configure/preview", WEATHER, **{"X-CSRF-Token": csrf})
    assert preview.status_code == 200, preview.text
    assert "Berlin" in str(preview.json()["card"])
    assert sink.messages(channel) == []  # a preview posts nothing

    added = visitor.post("/api/configure/subscriptions", {**WEATHER, "csrf": csrf})
    assert added.status_code == 303 and added.headers["Location"].endswith("done=added")
    [sub] = app_store.subscriptions.list(channel=channel)
    assert (sub.source, sub.target, sub.schedule.times, sub.schedule.tz) == (
        "weather",
        "Berlin",
        ["07:00"],
        "Europe/Berlin",
    )
    assert sub.created_by == "Ada Lovelace"
    assert "Ada Lovelace added a weather digest at 07:00" in str(sink.messages(channel))

    status = page_bot.say("status")
    assert sub.id in status.card_text and "Last changes" in status.card_text
    assert "Ada Lovelace added a weather digest at 07:00" in status.card_text
    assert link_of(status.card, "Configure this channel").startswith(page_host + "/api/configure/open?t=")

    page = visitor.get("/api/configure/channel", done="added")
    assert "Digest added" in page.text and sub.id in page.text and "07:00" in page.text

    paused = visitor.post(f"/api/configure/subscriptions/{sub.id}", {"csrf": csrf, "action": "pause"})
    assert paused.status_code == 303
    assert app_store.subscriptions.get(sub.id).paused
    assert "paused a weather digest" in str(sink.messages(channel))

    edited = visitor.post(
        f"/api/configure/subscriptions/{sub.id}",
        {**WEATHER, "times": "06:30, 18:00", "csrf": csrf, "action": "save"},
    )
    assert edited.status_code == 303, edited.text[:1000]
    assert app_store.subscriptions.get(sub.id).schedule.times == ["06:30", "18:00"]

    removed = visitor.post(f"/api/configure/subscriptions/{sub.id}", {"csrf": csrf, "action": "remove"})
    assert removed.status_code == 303
    assert app_store.subscriptions.find(sub.id) is None
    assert "removed a weather digest" in str(sink.messages(channel))


def test_send_a_test_card_says_what_workflows_answered(page_bot: Bot, page_host: str, sink: Any) -> None:
    visitor = _signed_in(page_bot, page_host)
    answer = visitor.post("/api/configure/test", {**WEATHER, "csrf": visitor.csrf()})
    assert answer.status_code == 200
    assert "Workflows accepted the test card" in answer.text
    assert "Test card from the configuration page" in str(sink.messages(page_bot.team + "-ch"))


def test_relink_never_shows_the_url(page_bot: Bot, page_host: str, app_store: Any, sink: Any) -> None:
    visitor = _signed_in(page_bot, page_host)
    csrf = visitor.csrf()
    new_url = sink.workflow_url(page_bot.team + "-new")
    refused = visitor.post("/api/configure/link", {"csrf": csrf, "url": new_url})
    assert refused.status_code == 400 and "connected already" in refused.text and new_url not in refused.text
    done = visitor.post("/api/configure/link", {"csrf": csrf, "url": new_url, "replace": "yes"})
    assert done.status_code == 303
    assert app_store.channels.get(page_bot.team + "-ch").url == new_url
    assert "replaced this channel's Workflows link with the configuration page" in str(
        sink.messages(page_bot.team + "-ch")
    )
    assert new_url not in visitor.get("/api/configure/channel").text


def test_behind_app_service_authentication_the_link_is_for_its_person(page_bot: Bot, page_host: str) -> None:
    import requests

    link = link_of(page_bot.say("configure").card)
    token = link.split("?t=", 1)[1]
    from urllib.parse import unquote

    headers = {"X-MS-CLIENT-PRINCIPAL-ID": "someone-else"}
    answer = requests.post(
        page_host + "/api/configure/open",
        data={"t": unquote(token)},
        headers=headers,
        timeout=15,
        allow_redirects=False,
    )
    assert answer.status_code == 403 and "made for someone else" in answer.text
    headers = {"X-MS-CLIENT-PRINCIPAL-ID": "aad-1"}  # the activity's from.aadObjectId
    answer = requests.post(
        page_host + "/api/configure/open",
        data={"t": unquote(token)},
        headers=headers,
        timeout=15,
        allow_redirects=False,
    )
    assert answer.status_code == 303
