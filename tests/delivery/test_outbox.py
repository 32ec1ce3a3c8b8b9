"""The outbox sweep against the real store and sink: retries, give-up rules, order, crash healing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import shared.delivery as delivery
from shared.delivery.handoff import queue_parts
from shared.delivery.parts import Part, make_parts
from shared.delivery.records import PartRecords
from shared.delivery.sweep import SweepStats, sweep
from shared.store import behind
from shared.store.models import Channel, OutboxItem
from tests.conftest import unique
from tests.delivery.conftest import SECRET_SIG, card, secret_url, with_actions


def later(seconds: float = 3600) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def queue(store: Any, channel: str, key: str, cards: list[dict[str, Any]], **fields: Any) -> None:
    parts = [
        Part(f"{i}/{len(cards)}", make_parts(c, 20000)[0].body) for i, c in enumerate(cards, 1)
    ]
    queue_parts(store, channel, key, parts, 0, "test")
    if fields:
        for item in store.outbox.list():
            again = item.model_copy(update=fields)
            store.outbox.table.upsert(store.outbox._entity(again))


class Crash(RuntimeError):
    pass


def test_crash_after_acceptance_is_never_sent_twice(
    store: Any, sink: Any, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue(store, channel, "crash-1", [card("only once")])
    real_complete = store.outbox.complete

    def crash(item: OutboxItem) -> None:
        raise Crash("the process died after Teams accepted the post")

    # The store fails exactly where a crash would hurt: after the POST, before the item is removed.
    monkeypatch.setattr(store.outbox, "complete", crash)
    with pytest.raises(Crash):
        sweep(store, now=later(1))
    assert len(sink.messages(channel)) == 1
    assert store.outbox.backlog() == 1  # still queued: its removal never happened

    monkeypatch.setattr(store.outbox, "complete", real_complete)
    stats = sweep(store, now=later(7200))  # past the crashed sweep's lease
    assert stats == SweepStats(sent=0, requeued=0, dead=0, skipped=1)
    assert store.outbox.backlog() == 0
    assert len(sink.messages(channel)) == 1


def test_attempt_limit_makes_a_dead_letter(
    store: Any, sink: Any, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_MAX_ATTEMPTS", "2")
    queue(store, channel, "k", [card()])
    sink.fault(channel, 5, status=500)
    assert sweep(store, now=later(1)).requeued == 1
    [item] = store.outbox.list()
    assert item.attempts == 1 and "HTTP 500" in (item.last_error or "")
    stats = sweep(store, now=later(86000))
    assert stats.dead == 1
    [dead] = store.outbox.list(dead=True)
    assert "gave up after 2 attempts" in (dead.reason or "") and "HTTP 500" in (dead.reason or "")
    assert behind.flush()
    assert not store.deliveries.recent(channel)[0].ok


def test_24_hours_makes_a_dead_letter(store: Any, sink: Any, channel: str) -> None:
    queue(store, channel, "old", [card()], attempts=1, last_error="HTTP 503 from Teams")
    stats = sweep(store, now=later(25 * 3600))
    assert stats.dead == 1 and stats.sent == 0
    [dead] = store.outbox.list(dead=True)
    assert "gave up after 25 h" in (dead.reason or "") and "503" in (dead.reason or "")
    assert sink.requests(channel) == []


def test_requeued_dead_letter_gets_another_try(store: Any, sink: Any, channel: str) -> None:
    queue(store, channel, "old", [card()], attempts=1)
    sweep(store, now=later(25 * 3600))
    [dead] = store.outbox.list(dead=True)
    store.outbox.requeue(dead.id)
    assert sweep(store, now=later(25 * 3600)).sent == 1
    assert len(sink.messages(channel)) == 1


def test_requeued_dead_letter_gets_a_full_retry_window(store: Any, sink: Any, channel: str) -> None:
    """Its age counts from the requeue: one failed try after it is not the end."""
    queue(store, channel, "old", [card()], attempts=1, created=datetime.now(UTC) - timedelta(hours=30))
    assert sweep(store, now=later(1)).dead == 1
    [dead] = store.outbox.list(dead=True)
    store.outbox.requeue(dead.id)
    sink.fault(channel, 1, status=503)
    assert sweep(store, now=later(1)).requeued == 1
    stats = sweep(store, now=later(3 * 3600))
    assert (stats.sent, stats.dead) == (1, 0)
    assert len(sink.messages(channel)) == 1
    assert store.outbox.list(dead=True) == [] and store.outbox.backlog() == 0


def test_permanent_error_in_sweep_is_dead(store: Any, sink: Any, channel: str) -> None:
    queue(store, channel, "k", [card()])
    sink.fault(channel, 1, status=403)
    assert sweep(store, now=later(1)).dead == 1
    assert "HTTP 403" in (store.outbox.list(dead=True)[0].reason or "")


def test_sweep_splits_on_413(store: Any, sink: Any, channel: str) -> None:
    queue(store, channel, "big", [card(facts=150)])
    sink.fault(channel, 1, status=413)
    stats = sweep(store, now=later(1))
    assert stats.requeued == 1 and stats.sent == 0
    keys = sorted(i.idempotency_key for i in store.outbox.list())
    assert len(keys) >= 2 and all(k.startswith("big#1/1.") for k in keys)
    stats = sweep(store, now=later(2))
    assert stats.sent == len(keys)
    assert len(sink.messages(channel)) == len(keys)


def test_sweep_queues_the_pieces_of_a_part_split_by_a_run_that_died(
    store: Any, sink: Any, channel: str
) -> None:
    queue(store, channel, "died", [card(facts=150)])
    # Another run posted this part, got a 413, split it, and died before sending any piece.
    PartRecords(store, channel, "died").split("1/1", 2)
    stats = sweep(store, now=later(1))
    assert stats.requeued == 1 and stats.sent == 0
    keys = sorted(i.idempotency_key for i in store.outbox.list())
    assert len(keys) >= 2 and all(k.startswith("died#1/1.") for k in keys)
    stats = sweep(store, now=later(2))
    assert stats.sent == len(keys) and len(sink.messages(channel)) == len(keys)
    assert store.outbox.backlog() == 0


def test_sweep_413_that_cannot_be_split_is_dead(store: Any, sink: Any, channel: str) -> None:
    queue(store, channel, "big", [with_actions(card(facts=20))])
    sink.fault(channel, 1, status=413)
    stats = sweep(store, now=later(1))
    assert (stats.sent, stats.requeued, stats.dead) == (0, 0, 1)
    [dead] = store.outbox.list(dead=True)
    assert "cannot be split further" in (dead.reason or "") and "413" in (dead.reason or "")
    assert store.outbox.backlog() == 0


def test_429_in_the_sweep_honours_retry_after_and_holds_the_destination(
    store: Any, sink: Any, channel: str
) -> None:
    queue(store, channel, "a", [card("first")])
    queue(store, channel, "b", [card("second")])
    sink.fault(channel, 1, status=429)  # Retry-After: 1
    now = later(1)
    stats = sweep(store, now=now)
    # "b" is not posted into the throttled destination: the limiter holds it back as well.
    assert (stats.sent, stats.requeued, stats.skipped) == (0, 1, 1)
    assert [r["status"] for r in sink.requests(channel)] == [429]
    first = next(i for i in store.outbox.list() if i.idempotency_key == "a#1/1")
    assert first.attempts == 1 and first.next_attempt >= now + timedelta(seconds=1)
    assert first.next_attempt <= now + timedelta(seconds=61)  # full jitter over [0, 60] s, at least 1 s


def test_parts_go_out_in_order(store: Any, sink: Any, channel: str) -> None:
    queue(store, channel, "m", [card(f"part {i}") for i in range(1, 4)])
    sink.fault(channel, 1, status=503)  # part 1 fails this round: 2 and 3 must wait for it
    stats = sweep(store, now=later(1))
    assert (stats.sent, stats.requeued, stats.skipped) == (0, 1, 2)
    assert sink.messages(channel) == []
    stats = sweep(store, now=later(7200))
    assert stats.sent == 3
    titles = [m["attachments"][0]["content"]["body"][0]["text"] for m in sink.messages(channel)]
    assert titles == ["part 1", "part 2", "part 3"]


def test_removed_channel_is_dead(store: Any, sink: Any, channel: str) -> None:
    queue(store, channel, "k", [card()])
    store.channels.remove(channel)
    assert sweep(store, now=later(1)).dead == 1
    assert "no longer exists" in (store.outbox.list(dead=True)[0].reason or "")


def test_claimed_items_are_skipped(store: Any, sink: Any, channel: str) -> None:
    queue(store, channel, "k", [card()])
    [item] = store.outbox.due(later(1))
    assert store.outbox.claim(item, later(600)) is not None  # another sweep holds it
    assert sweep(store, now=later(1)) == SweepStats(0, 0, 0, 0)
    assert sink.requests(channel) == []


def test_urls_never_in_logs_or_details(
    store: Any, sink: Any, env: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("DELIVERY_INLINE_ATTEMPTS", "1")
    monkeypatch.setenv("DELIVERY_TIMEOUT_SECONDS", "1")
    names = [unique("sec") for _ in range(6)]
    for name in names:
        store.channels.add(Channel(name=name, url=secret_url(sink, name, legacy=name == names[5])))
    evil = unique("ev")
    store.channels.add(Channel(name=evil, url=f"https://internal.invalid/hook?sig={SECRET_SIG}"))
    sink.fault(names[1], 1, status=404)
    sink.fault(names[2], 1, drop=True)
    sink.fault(names[3], 1, status=429)
    sink.fault(names[4], 1, status=202, delay=2.0)
    sink.fault(names[5], 1, status=500)
    results = delivery.deliver_many(store, [*names, evil], card())
    sweep(store, now=later(7200))
    assert behind.flush()
    texts = [r.detail for r in results.values()]
    texts += [d.detail for n in [*names, evil] for d in store.deliveries.recent(n)]
    texts += [
        (i.reason or "") + (i.last_error or "") for i in store.outbox.list() + store.outbox.list(dead=True)
    ]
    texts.append(caplog.text)
    assert caplog.text  # something was logged
    for text in texts:
        assert SECRET_SIG not in text
        assert "/triggers/manual" not in text
        assert "internal.invalid/hook" not in text
        for name in names:
            assert sink.workflow_url(name) not in text and sink.legacy_url(name) not in text


def test_parts_queued_before_the_workflows_form_are_posted_in_it(store: Any, sink: Any, channel: str) -> None:
    """The outbox outlives a deploy: a part stored as a 1.5 card (before delivery converted cards)
    goes out as 1.4; one with no Workflows form (a Submit button) becomes a dead letter, unposted."""
    import json

    from shared.cards import envelopes

    old = {**card("queued before"), "actions": [{"type": "Action.OpenUrl", "title": "o", "url": "https://x.example", "tooltip": "t"}]}
    form = {**card("a form"), "actions": [{"type": "Action.Submit", "title": "Approve"}]}
    for key, content in (("old-1", old), ("form-1", form)):
        body = envelopes.dumps(envelopes.workflows_message(content))  # stored as it was, unconverted
        queue_parts(store, channel, key, [Part("1/1", body)], 0, "test")
    stats = sweep(store, now=later(1))
    assert (stats.sent, stats.dead) == (1, 1), stats
    [message] = sink.messages(channel)
    posted = message["attachments"][0]["content"]
    assert posted["version"] == "1.4" and "tooltip" not in json.dumps(posted)
    assert "queued before" in json.dumps(posted)
    [dead] = store.outbox.list(dead=True)
    assert "actions[0] (Action.Submit)" in (dead.reason or "")
