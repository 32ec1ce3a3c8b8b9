"""Issue 13 item 6: one member cannot starve the bot for everyone.

Slow work (`digest ID now`) runs in a small pool of its own; subscriptions per channel and times
per subscription are capped; a malformed `Authorization` costs no table read, and registrations
are kept briefly in process, so floods cost none either.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.outgoing.handler import OutgoingBot, StoreGate
from shared.store.models import Schedule, Subscription, Team
from tests.conftest import unique
from tests.outgoing.conftest import Bot
from tests.outgoing.helpers import activity, encode, new_token, sign
from tools.feed_stub import FeedStub


@pytest.fixture(scope="module")
def slow_feeds() -> Iterator[FeedStub]:
    with FeedStub() as stub:
        yield stub


def _reads(store: Any) -> int:
    return sum(store.reads.values())


def test_malformed_authorization_and_floods_cost_no_table_reads(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = new_token()
    team = unique("team")
    store.teams.add(Team(key=team, tokens=[token]))
    lookups: list[str] = []
    find = store.teams.find

    def counted(name: str) -> Any:
        lookups.append(name)
        return find(name)

    monkeypatch.setattr(store.teams, "find", counted)
    bot = OutgoingBot(StoreGate(lambda: store, cache_seconds=30), lambda: store, deadline_seconds=4)
    body = encode(activity("help"))
    before = _reads(store)
    for header in (None, "", "HMAC", "HMAC ###", "Basic dXNlcjpwYXNz", "HMAC " + "A" * 40, "hmac x y"):
        assert bot.handle(team, header, body).status == 401
    # Not one table read for a header that cannot be genuine.
    assert lookups == [] and _reads(store) == before

    # Well-formed but wrong, for a known and an unknown team: one lookup each, then none.
    wrong = sign(new_token(), body)
    for _ in range(20):
        assert bot.handle(team, wrong, body).status == 401
        assert bot.handle("no" + team, wrong, body).status == 401
    assert sorted(lookups) == sorted([team, "no" + team])
    assert bot.handle(team, sign(token, body), body).status == 200


def _subs(app_store: Any, channel: str, count: int) -> None:
    for n in range(count):
        app_store.subscriptions.add(
            Subscription(
                channel=channel,
                source="rss",
                target=f"https://example.org/{n}.xml",
                schedule=Schedule(times=["08:00"]),
                next_run=datetime.now(UTC) + timedelta(days=1),
            )
        )


def test_subscriptions_per_channel_and_times_are_capped(connected: Bot, app_store: Any) -> None:
    times = ",".join(f"{h:02d}:{m:02d}" for h in range(13) for m in (0, 30))  # 26 times
    answer = connected.say(f"subscribe rss https://example.org/feed.xml at {times}")
    assert "at most 24 times a day" in answer.everything
    _subs(app_store, connected.team + "-ch", 50)
    answer = connected.say("subscribe rss https://example.org/feed.xml")
    assert "50 subscriptions, the most it may have" in answer.everything
    assert len(app_store.subscriptions.list(channel=connected.team + "-ch")) == 50


def test_slow_digests_run_beside_the_command_pool(
    connected: Bot, app_store: Any, sink: Any, slow_feeds: FeedStub
) -> None:
    """Two slow `digest now` answer "on its way" in time; a third is told to wait; others go on."""
    channel = connected.team + "-ch"
    ids = []
    for _n in range(3):
        url = slow_feeds.drip(unique("slow"), size=60, interval=0.5)  # 30 s; the fetch gives up at 10 s
        sub = Subscription(channel=channel, source="rss", target=url, schedule=Schedule(times=["08:00"]))
        ids.append(app_store.subscriptions.add(sub).id)
    before = len(sink.messages(connected.team))
    answers: dict[str, Any] = {}

    def ask(sub_id: str) -> None:
        answers[sub_id] = connected.say(f"digest {sub_id} now")

    threads = [threading.Thread(target=ask, args=(sub_id,)) for sub_id in ids[:2]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    for sub_id in ids[:2]:
        assert answers[sub_id].json["text"] == "Digest on its way", answers[sub_id].everything
    busy = connected.say(f"digest {ids[2]} now")
    assert busy.json["text"] == "Busy" and "try again in a minute" in busy.everything
    assert connected.say("help").json["text"] == "What I can do"
    # The outcomes are posted in the channel when the runs end.
    messages = sink.wait_for_messages(connected.team, before + 2, timeout=30)
    late = [m for m in messages[before:] if "Digest not sent" in str(m)]
    assert len(late) == 2
