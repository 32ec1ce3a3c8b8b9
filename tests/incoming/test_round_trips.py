"""Store round trips of one incoming post (in process, real store and sink): the hot path's budget.

A new alert to one channel writes twice before it answers: the post's dedupe claim, and its slot of
the connection's budget (`shared.delivery.budget`: one conditional write while there is room, taken
beside the claim, `budget.prefetch`, so the post waits on one of them). The
route and the channel were read by an earlier post and are kept for seconds (`find_recent`); the part needs
no records of its own under the post's fresh claim (`shared.delivery.Acceptances`). The claim's
completion and the delivery log line are written in the background, batched with those of other
posts (`shared.store.behind`); the test flushes them so that they are counted all the same.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from shared.delivery.ratelimit import LIMITER
from shared.incoming import pipeline
from shared.store import behind
from tests.conftest import unique
from tests.incoming.helpers import alertmanager_notification

SECRET = "Tok" + "en-" + "round-trips"


@pytest.fixture
def sent(store: Any, sink: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Table requests by method and table, counted at the SDK's transport."""
    from shared.store.transport import HttpClientTransport

    monkeypatch.setenv("DELIVERY_EXTRA_ALLOWED_URLS", sink.url + "/")
    monkeypatch.setenv("DELIVERY_RATE_WORKFLOWS", "1000/1")
    LIMITER.reset()
    sink.reset()
    sink.set_limits(windows=[])
    counts: Counter[str] = Counter()
    real_send = HttpClientTransport.send

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        table = request.url.split("?")[0].rsplit("/", 1)[-1].split("(")[0].removeprefix(store.prefix)
        counts[f"{request.method} {table}"] += 1
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(HttpClientTransport, "send", send)
    yield counts
    LIMITER.reset()
    sink.reset()


HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"}


def make_route(store: Any, sink: Any) -> tuple[str, str]:
    """A new Alertmanager route to a new channel: (route, channel)."""
    from shared.store.models import Channel, Route

    channel, route = unique("ch"), unique("r")
    store.channels.save(Channel(name=channel, url=sink.workflow_url(channel)))
    store.routes.save(
        Route(name=route, source="alertmanager", auth="bearer", secret=SECRET, channels=[channel])
    )
    return route, channel


def test_one_post_to_one_channel_costs_four_round_trips(store: Any, sink: Any, sent: Counter[str]) -> None:
    route, channel = make_route(store, sink)
    headers = HEADERS
    note = alertmanager_notification(3)

    def post(group: str) -> Any:
        note["groupKey"] = group
        reply = pipeline.handle(route, headers, json.dumps(note).encode(), store=store)
        assert behind.flush()  # the background log line lands inside this post's count
        return reply

    assert post("warm").status == 202  # creates the tables, reads the route and the channel
    sent.clear()
    store.reads.clear()
    reply = post("first")
    assert reply.status == 202 and reply.json()["channels"] == ["accepted"]
    assert sum(sent.values()) == 4, sent
    assert sent["POST dedupe"] == 1 and sent["POST $batch"] == 2, sent  # completion, log line
    # The post's slot of its connection's budget, shared by every instance: one conditional write.
    assert sent["PUT budgets"] == 1, sent
    assert store.reads == Counter()

    sent.clear()
    store.reads.clear()
    again = post("first")  # the sender's retry: one claim that fails, and the read of its holder
    assert again.status == 202 and again.json() == {"status": "duplicate"}
    # The budget slot is taken ahead, beside the claim (`budget.prefetch`): for a duplicate it is
    # a lost slot (or the next post's), never a wait of its own.
    assert sum(n for k, n in sent.items() if k != "PUT budgets") == 2 and sent["PUT budgets"] <= 1, sent
    assert len(sink.messages(channel)) == 2


def test_busy_senders_share_the_background_writes(store: Any, sink: Any, sent: Counter[str]) -> None:
    route, channel = make_route(store, sink)
    headers = HEADERS
    note = alertmanager_notification(1)
    note["groupKey"] = "warm"
    assert pipeline.handle(route, headers, json.dumps(note).encode(), store=store).status == 202
    assert behind.flush()
    sent.clear()
    for i in range(10):
        note["groupKey"] = f"busy-{i}"
        assert pipeline.handle(route, headers, json.dumps(note).encode(), store=store).status == 202
    assert behind.flush()
    assert sent["POST dedupe"] == 10, sent  # the claims, one each before the answer
    # 20 background writes (completions, log lines) in far fewer transactions.
    assert sent["POST $batch"] < 10, sent
    assert len(sink.messages(channel)) == 11
    note["groupKey"] = "busy-3"  # its completion has landed: a retry is a duplicate
    again = pipeline.handle(route, headers, json.dumps(note).encode(), store=store)
    assert again.status == 202 and again.json() == {"status": "duplicate"}
