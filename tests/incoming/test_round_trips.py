"""Store round trips of one incoming post (in process, real store and sink): the hot path's budget.

A new alert to one channel reads one entity (the channel; the route is cached) and writes four
before it answers: the post's dedupe claim and completion, the part's claim and acceptance. The
delivery log line is a fifth write, made in the background (`shared.delivery.history`); the test
flushes it so that it is counted all the same.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from shared import ingest
from shared.delivery import history
from shared.delivery.ratelimit import LIMITER
from tests.conftest import unique
from tests.incoming.helpers import alertmanager_notification

SECRET = "Tok" + "en-" + "round-trips"


@pytest.fixture
def sent(store: Any, sink: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Table requests by method and table, counted at the SDK's transport."""
    from azure.core.pipeline.transport import RequestsTransport

    monkeypatch.setenv("DELIVERY_EXTRA_ALLOWED_URLS", sink.url + "/")
    monkeypatch.setenv("DELIVERY_RATE_WORKFLOWS", "1000/1")
    LIMITER.reset()
    sink.reset()
    sink.set_limits(windows=[])
    counts: Counter[str] = Counter()
    real_send = RequestsTransport.send

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        table = request.url.split("?")[0].rsplit("/", 1)[-1].split("(")[0].removeprefix(store.prefix)
        counts[f"{request.method} {table}"] += 1
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(RequestsTransport, "send", send)
    yield counts
    LIMITER.reset()
    sink.reset()


def test_one_post_to_one_channel_costs_six_round_trips(store: Any, sink: Any, sent: Counter[str]) -> None:
    from shared.store.models import Channel, Route

    channel, route = unique("ch"), unique("r")
    store.channels.save(Channel(name=channel, url=sink.workflow_url(channel)))
    store.routes.save(
        Route(name=route, source="alertmanager", auth="bearer", secret=SECRET, channels=[channel])
    )
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"}
    note = alertmanager_notification(3)

    def post(group: str) -> Any:
        note["groupKey"] = group
        reply = ingest.handle(route, headers, json.dumps(note).encode(), store=store)
        assert history.flush()  # the background log line lands inside this post's count
        return reply

    assert post("warm").status == 202  # creates the tables and caches the route
    sent.clear()
    store.reads.clear()
    reply = post("first")
    assert reply.status == 202 and reply.json()["channels"] == {channel: "accepted"}
    assert sum(sent.values()) == 6, sent
    assert store.reads == Counter({"channels": 1})

    sent.clear()
    store.reads.clear()
    again = post("first")  # the sender's retry: one claim that fails, and the read of its holder
    assert again.status == 202 and again.json() == {"status": "duplicate"}
    assert sum(sent.values()) == 2, sent
    assert len(sink.messages(channel)) == 2
