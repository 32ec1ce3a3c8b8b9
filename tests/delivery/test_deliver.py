"""deliver / deliver_many through the real store (Azurite) and real HTTP (the Teams sink)."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import shared.delivery as delivery
from shared.delivery import transport
from shared.delivery.ratelimit import LIMITER
from shared.delivery.retry import DEFAULT_THROTTLE_SECONDS
from shared.delivery.sweep import sweep
from shared.store import behind
from shared.store.errors import StoreUnavailable
from shared.store.models import Channel
from tests.conftest import unique
from tests.delivery.conftest import card, secret_url, with_actions
from tests.support.cardschema import assert_valid_message


def later(seconds: float = 3600) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_accepted_once_and_recorded(store: Any, sink: Any, channel: str) -> None:
    result = delivery.deliver(store, channel, card())
    assert result == delivery.Result("accepted", 1, "accepted")
    [message] = sink.messages(channel)
    assert message["type"] == "message"
    assert message["attachments"][0]["content"]["body"][0]["text"] == "Deploy finished"
    assert behind.flush()
    [record] = store.deliveries.recent(channel)
    assert record.ok and "accepted" in record.detail
    assert store.outbox.backlog(channel) == 0


def test_model_cards_are_accepted(store: Any, sink: Any, channel: str) -> None:
    from shared.cards.adaptive import AdaptiveCard

    assert delivery.deliver(store, channel, AdaptiveCard.parse(card("as a model"))).ok
    assert sink.messages(channel)[0]["attachments"][0]["content"]["body"][0]["text"] == "as a model"


def test_legacy_url_success_body_is_1(store: Any, sink: Any, env: None) -> None:
    name = unique("lg")
    store.channels.add(Channel(name=name, url=secret_url(sink, name, legacy=True)))
    assert delivery.deliver(store, name, card()).state == "accepted"
    assert len(sink.messages(name)) == 1


def test_same_key_is_never_sent_twice(store: Any, sink: Any, channel: str) -> None:
    first = delivery.deliver(store, channel, card(), key="alert-42")
    second = delivery.deliver(store, channel, card(), key="alert-42")
    assert first.ok and second.ok
    assert len(sink.messages(channel)) == 1
    assert delivery.deliver(store, channel, card(), key="alert-43").ok
    assert len(sink.messages(channel)) == 2


def test_wrapped_legacy_error_is_that_error(store: Any, sink: Any, env: None) -> None:
    name = unique("lg")
    store.channels.add(Channel(name=name, url=secret_url(sink, name, legacy=True)))
    sink.fault(name, 1, status=400)  # the sink wraps it: 200 "...returned HTTP error 400..."
    result = delivery.deliver(store, name, card())
    assert result.state == "dead" and "HTTP 400 inside a 200 answer" in result.detail
    [dead] = store.outbox.list(dead=True)
    assert "400" in (dead.reason or "")


def test_wrapped_legacy_429_is_throttling(
    store: Any, sink: Any, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_BUDGET_SECONDS", "1")
    name = unique("lg")
    store.channels.add(Channel(name=name, url=secret_url(sink, name, legacy=True)))
    sink.fault(name, 1, status=429)
    result = delivery.deliver(store, name, card())
    assert result.state == "queued" and "429" in result.detail
    [item] = store.outbox.list()
    # No Retry-After in a wrapped 429: the default cool-down applies, also to the limiter.
    assert item.next_attempt >= datetime.now(UTC) + timedelta(seconds=DEFAULT_THROTTLE_SECONDS - 2)


def test_429_retry_after_is_honoured_inline(store: Any, sink: Any, channel: str) -> None:
    sink.fault(channel, 1, status=429)  # answers Retry-After: 1
    started = time.monotonic()
    result = delivery.deliver(store, channel, card())
    assert result.ok
    assert time.monotonic() - started >= 1.0
    statuses = [r["status"] for r in sink.requests(channel)]
    assert statuses == [429, 202]


def test_429_longer_than_the_budget_goes_to_the_outbox(store: Any, sink: Any, channel: str) -> None:
    sink.set_limits(windows=[[60, 1]])  # Teams-side window: one post a minute
    assert delivery.deliver(store, channel, card("first")).ok
    result = delivery.deliver(store, channel, card("second"))
    assert result.state == "queued"
    [item] = store.outbox.list()
    assert item.next_attempt >= datetime.now(UTC) + timedelta(seconds=50)
    # The limiter holds the destination back too, so a sweep does not hammer it.
    sink.set_limits(windows=[])
    stats = sweep(store, now=later())
    assert stats.sent == 0 and stats.skipped == 1
    assert len(sink.messages(channel)) == 1


@pytest.mark.parametrize("fault", [{"drop": True}, {"status": 503}, {"delay": 3.0}])
def test_transient_goes_to_outbox_then_sweep_delivers(
    store: Any, sink: Any, channel: str, monkeypatch: pytest.MonkeyPatch, fault: dict[str, Any]
) -> None:
    monkeypatch.setenv("DELIVERY_INLINE_ATTEMPTS", "2")
    monkeypatch.setenv("DELIVERY_TIMEOUT_SECONDS", "1")
    if "delay" in fault:
        fault = {**fault, "status": 202}  # answered too late: a read timeout
    sink.fault(channel, 2, **fault)
    result = delivery.deliver(store, channel, card(), key="k-transient")
    assert result.state == "queued", result
    [item] = store.outbox.list()
    assert item.idempotency_key == "k-transient#1/1" and item.attempts == 0
    LIMITER.reset()
    stats = sweep(store, now=later())
    assert (stats.sent, stats.requeued, stats.dead) == (1, 0, 0)
    assert store.outbox.backlog() == 0
    if "drop" in fault or fault.get("status") == 503:
        assert len(sink.messages(channel)) == 1
    else:
        # Both inline posts did arrive, only their answers came too late: the one gap Teams leaves
        # open (no idempotency key on its side). We post again rather than lose the message
        # (at-least-once), so the channel shows it three times; the module docstring says so.
        sink.wait_for_messages(channel, count=3, timeout=8)
        assert len(sink.messages(channel)) == 3
    assert behind.flush()
    assert store.deliveries.recent(channel)[0].ok


def test_permanent_4xx_is_a_dead_letter_with_reason(store: Any, sink: Any, channel: str) -> None:
    sink.fault(channel, 1, status=404)
    result = delivery.deliver(store, channel, card())
    assert result.state == "dead" and "HTTP 404" in result.detail
    assert store.outbox.backlog() == 0
    [dead] = store.outbox.list(dead=True)
    assert dead.dead and "404" in (dead.reason or "")
    assert len(sink.requests(channel)) == 1  # not retried
    assert behind.flush()
    assert not store.deliveries.recent(channel)[0].ok


def test_card_teams_would_refuse_is_dead_before_posting(store: Any, sink: Any, channel: str) -> None:
    bad = {**card(), "version": "1.7"}
    result = delivery.deliver(store, channel, bad)
    assert result.state == "dead" and "1.6" in result.detail
    form = {**card(), "actions": [{"type": "Action.Submit", "title": "Approve"}]}
    result = delivery.deliver(store, channel, form)  # nothing behind a Workflows post gets its data
    assert result.state == "dead" and "actions[0] (Action.Submit)" in result.detail
    assert sink.requests(channel) == []


def test_every_card_and_every_part_is_posted_in_the_workflows_form(store: Any, sink: Any, channel: str) -> None:
    """The Flow bot shows 1.4 at most: a 1.5 card is converted before it is split, so each part is 1.4."""

    def cell(text: str) -> dict[str, Any]:
        return {"type": "TableCell", "items": [{"type": "TextBlock", "text": text, "wrap": True}]}

    rows = [{"type": "TableRow", "cells": [cell(f"host-{i:03d}"), cell("ok " * 20), cell("eu")]} for i in range(300)]
    big = {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": "Fleet", "style": "heading"},
            {"type": "Table", "columns": [{"width": 1}] * 3, "rows": rows},
        ],
    }
    result = delivery.deliver(store, channel, big)
    assert result.ok and result.parts > 1, result
    messages = sink.messages(channel)
    assert len(messages) == result.parts
    for message in messages:
        assert_valid_message(message)  # the 1.4 schema, version <= 1.4, links only
    text = json.dumps(messages)
    assert '"Table"' not in text and all(f"host-{i:03d}" in text for i in range(300))  # nothing dropped
    assert delivery.count_parts(big) == result.parts
    [small] = [delivery.deliver(store, channel, card())]  # labelled 1.5, content 1.0: relabelled
    assert small.ok and sink.messages(channel)[-1]["attachments"][0]["content"]["version"] == "1.4"


def test_413_splits_instead_of_retrying_as_is(store: Any, sink: Any, channel: str) -> None:
    big = card(facts=150)  # ~11 KB: fits our cap, but this channel refuses it once
    sink.fault(channel, 1, status=413)
    result = delivery.deliver(store, channel, big, key="split-once")
    assert result.ok and result.parts >= 2, result
    messages = sink.messages(channel)
    assert len(messages) == result.parts
    again = delivery.deliver(store, channel, big, key="split-once")  # a retry: the pieces went out
    assert again.ok and len(sink.messages(channel)) == result.parts
    facts = [
        f
        for m in messages
        for b in m["attachments"][0]["content"]["body"]
        if b["type"] == "FactSet"
        for f in b["facts"]
    ]
    assert len(facts) == 150


def test_large_card_is_split_by_the_cap(store: Any, sink: Any, channel: str) -> None:
    result = delivery.deliver(store, channel, card(facts=700))  # ~50 KB
    assert result.ok and result.parts >= 2
    assert len(sink.messages(channel)) == result.parts
    assert all(r["size"] <= 28672 for r in sink.requests(channel))


def test_destination_not_allowed_makes_no_request(store: Any, sink: Any, env: None) -> None:
    name = unique("ev")
    store.channels.add(Channel(name=name, url=f"https://evil.example/hook?sig={secret_url(sink, 'x')}"))
    result = delivery.deliver(store, name, card())
    assert result.state == "dead" and "not a Teams Workflows host" in result.detail
    [dead] = store.outbox.list(dead=True)
    assert dead.channel == name


def test_sink_under_another_name_is_refused_before_any_request(store: Any, sink: Any, env: None) -> None:
    """The sink itself, reached as `localhost` instead of the allowed prefix: it must see nothing."""
    name = unique("lh")
    store.channels.add(Channel(name=name, url=secret_url(sink, name).replace("127.0.0.1", "localhost")))
    result = delivery.deliver(store, name, card())
    assert result.state == "dead" and "destination refused" in result.detail
    assert sink.requests(name) == []
    assert sweep(store, now=later()).sent == 0
    assert sink.requests(name) == []


def test_one_pool_with_connect_and_read_timeouts(
    store: Any, sink: Any, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = transport.pool()
    assert transport.pool() is pool
    connects: list[float] = []
    reads: list[float] = []
    opened: list[Any] = []
    real_checkout, real_exchange = pool.checkout, pool.exchange

    def checkout(origin: Any, connect_timeout: float) -> Any:
        connects.append(connect_timeout)
        conn = real_checkout(origin, connect_timeout)
        if all(conn is not seen for seen in opened):
            opened.append(conn)
        return conn

    def exchange(*args: Any, **kwargs: Any) -> Any:
        reads.append(args[6])
        return real_exchange(*args, **kwargs)

    monkeypatch.setattr(pool, "checkout", checkout)
    monkeypatch.setattr(pool, "exchange", exchange)
    assert delivery.deliver(store, channel, card("one")).ok
    assert delivery.deliver(store, channel, card("two")).ok
    assert connects == [2.0, 2.0] and reads == [2.0, 2.0]  # from DELIVERY_TIMEOUT_SECONDS=2
    assert len(opened) == 1  # the second post reused the first one's connection


def test_refused_connection_is_transient(
    store: Any, sink: Any, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = f"http://127.0.0.1:{port}/"
    monkeypatch.setenv("DELIVERY_EXTRA_ALLOWED_URLS", f"{sink.url}/,{closed}")
    monkeypatch.setenv("DELIVERY_INLINE_ATTEMPTS", "1")
    name = unique("cl")
    store.channels.add(Channel(name=name, url=f"{closed}workflows/{name}?sig=secret-sig-value"))
    result = delivery.deliver(store, name, card())
    assert result.state == "queued" and "connection failed" in result.detail
    assert "secret-sig-value" not in result.detail
    [item] = store.outbox.list()
    assert item.channel == name and not item.dead


def test_log_write_is_off_the_answer_path(
    store: Any, sink: Any, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deliver answers while the delivery log write is still held back; the write lands later."""
    release = threading.Event()
    real_record = store.deliveries.record

    def held(name: str, ok: bool, detail: str = "") -> None:
        release.wait(10)
        real_record(name, ok, detail)

    monkeypatch.setattr(store.deliveries, "record", held)
    try:
        result = delivery.deliver(store, channel, card())
        assert result.ok and not release.is_set()
        assert store.deliveries.recent(channel) == []
    finally:
        release.set()
    assert behind.flush()
    [record] = store.deliveries.recent(channel)
    assert record.ok


def test_log_failure_changes_nothing(
    store: Any, sink: Any, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The acceptance guarantee lives in the dedupe records, not in the log: losing the log is harmless."""

    def broken(name: str, ok: bool, detail: str = "") -> None:
        raise StoreUnavailable("the log table is down")

    monkeypatch.setattr(store.deliveries, "record", broken)
    assert delivery.deliver(store, channel, card(), key="log-down").ok
    assert behind.flush()
    assert delivery.deliver(store, channel, card(), key="log-down").ok
    assert len(sink.messages(channel)) == 1


def test_size_error_in_a_400_splits(store: Any, sink: Any, channel: str) -> None:
    body = '{"error":{"code":"MessageSizeExceeded","message":"Request Entity too large"}}'
    sink.fault(channel, 1, status=400, body=body)
    result = delivery.deliver(store, channel, card(facts=150))
    assert result.ok and result.parts >= 2, result
    assert sink.requests(channel)[0]["status"] == 400
    assert len(sink.messages(channel)) == result.parts


def test_413_that_cannot_be_split_is_a_dead_letter(store: Any, sink: Any, channel: str) -> None:
    """Header and buttons alone fill half the refused size: a dead letter with the reason, no error."""
    sink.fault(channel, 1, status=413)
    result = delivery.deliver(store, channel, with_actions(card(facts=20)))
    assert result.state == "dead" and "cannot be split further" in result.detail, result
    [dead] = store.outbox.list(dead=True)
    assert "413" in (dead.reason or "")
    assert len(sink.requests(channel)) == 1


def test_retired_legacy_url_explains(store: Any, env: None) -> None:
    name = unique("old")
    store.channels.add(
        Channel(name=name, url="https://contoso.webhook.office.com/webhookb2/g@t/IncomingWebhook/abc/def")
    )
    result = delivery.deliver(store, name, card())
    assert result.state == "dead" and "retired" in result.detail and "Workflows" in result.detail


def test_unknown_channel(store: Any, env: None) -> None:
    result = delivery.deliver(store, "nope", card())
    assert result.state == "dead" and "nope" in result.detail


def test_rate_limit_across_threads(
    store: Any, sink: Any, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_RATE_WORKFLOWS", "3/60")
    results: list[delivery.Result] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def send(i: int) -> None:
        barrier.wait()
        r = delivery.deliver(store, channel, card(f"message {i}"))
        with lock:
            results.append(r)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Over budget means "wait in the outbox", not "block until the 60-s window has room".
    assert time.monotonic() - started < 30
    states = sorted(r.state for r in results)
    assert states == ["accepted"] * 3 + ["queued"] * 5
    assert len(sink.messages(channel)) == 3
    assert store.outbox.backlog(channel) == 5
    # Teams never saw more than the budget, so it never throttled us.
    assert all(r["status"] == 202 for r in sink.requests(channel))


def test_deliver_many_fans_out(store: Any, sink: Any, env: None) -> None:
    names = [unique("fan") for _ in range(5)]
    for name in names:
        store.channels.add(Channel(name=name, url=secret_url(sink, name)))
    sink.fault(names[2], 1, status=404)
    results = delivery.deliver_many(store, [*names, names[0]], card(), key="fan-1")
    assert list(results) == names
    assert [results[n].state for n in names] == ["accepted", "accepted", "dead", "accepted", "accepted"]
    assert [len(sink.messages(n)) for n in names] == [1, 1, 0, 1, 1]
    # The same fan-out again (a caller's retry): nothing accepted is posted twice.
    again = delivery.deliver_many(store, names, card(), key="fan-1")
    assert again[names[0]].ok
    assert [len(sink.messages(n)) for n in names] == [1, 1, 1, 1, 1]
