"""A post that fails half way (one channel got it, the store failed for the next) and its retries.

In process, through the real store (Azurite) and the real sink: the retry must post only what is
missing, also when the dedupe window's number has moved on, and also after failing again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.delivery.ratelimit import LIMITER
from shared.incoming import pipeline
from shared.store import behind
from shared.store.errors import StoreUnavailable
from tests.conftest import unique
from tests.incoming.helpers import alertmanager_notification

SECRET = "Tok" + "en-" + "half-done"
HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"}


@pytest.fixture
def route(store: Any, sink: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, str]]:
    from shared.store.models import Channel, Route

    monkeypatch.setenv("DELIVERY_EXTRA_ALLOWED_URLS", sink.url + "/")
    monkeypatch.setenv("DELIVERY_RATE_WORKFLOWS", "1000/1")
    LIMITER.reset()
    sink.set_limits(windows=[])
    first, second, name = unique("a"), unique("b"), unique("r")
    for channel in (first, second):
        store.channels.save(Channel(name=channel, url=sink.workflow_url(channel)))
    store.routes.save(
        Route(
            name=name,
            source="alertmanager",
            auth="bearer",
            secret=SECRET,
            channels=[first, second],
            settings={"dedupe_window_seconds": 1},
        )
    )
    yield name, first, second
    behind.flush()
    LIMITER.reset()
    sink.reset()


def fail_channel(store: Any, monkeypatch: pytest.MonkeyPatch, channel: str) -> None:
    real = store.channels.find_recent

    def find_recent(name: str, *args: Any) -> Any:
        if name == channel:
            raise StoreUnavailable("read channels: table storage did not answer in time")
        return real(name, *args)

    monkeypatch.setattr(store.channels, "find_recent", find_recent)


def test_a_retry_posts_only_what_is_missing(
    store: Any, sink: Any, route: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, first, second = route
    body = json.dumps(alertmanager_notification(2)).encode()
    with monkeypatch.context() as patch:
        fail_channel(store, patch, second)
        failed = pipeline.handle(name, HEADERS, body, store=store)
    assert failed.status == 503 and failed.headers.get("Retry-After")
    assert len(sink.messages(first)) == 1 and sink.messages(second) == []

    time.sleep(1.1)  # the 1 s window's number moves on: the retry keeps the first attempt's key
    with monkeypatch.context() as patch:
        fail_channel(store, patch, first)  # fails again, now on the channel that has the card
        again = pipeline.handle(name, HEADERS, body, store=store)
    assert again.status == 503

    retry = pipeline.handle(name, HEADERS, body, store=store)
    assert retry.status == 202, retry.body
    assert retry.json()["channels"] == ["accepted", "accepted"]
    assert len(sink.messages(first)) == 1 and len(sink.messages(second)) == 1  # nothing twice

    assert behind.flush()
    duplicate = pipeline.handle(name, HEADERS, body, store=store)
    assert duplicate.status == 202 and duplicate.json() == {"status": "duplicate"}
    assert len(sink.messages(first)) == 1 and len(sink.messages(second)) == 1


def test_a_retry_after_a_split_posts_no_piece_twice(
    store: Any, sink: Any, route: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, first, second = route
    body = json.dumps(alertmanager_notification(12)).encode()
    sink.fault(first, count=1, status=413)  # Teams refuses the card as too large: it goes in pieces
    with monkeypatch.context() as patch:
        fail_channel(store, patch, second)
        failed = pipeline.handle(name, HEADERS, body, store=store)
    assert failed.status == 503
    pieces = len(sink.messages(first))
    assert pieces >= 2

    retry = pipeline.handle(name, HEADERS, body, store=store)
    assert retry.status == 202 and retry.json()["channels"] == ["accepted", "accepted"]
    assert len(sink.messages(first)) == pieces  # the retry split the same way and skipped each piece
    assert len(sink.messages(second)) == 1
