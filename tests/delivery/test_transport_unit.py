"""Delivery logic with a fake transport: no sockets, no sink; Teams' answers are scripted.

The tests marked `unit` need nothing else; the others use the real store (Azurite) for the
channel, the part records and the outbox.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import shared.delivery as delivery
from shared.delivery import client, transport
from shared.delivery.budget import TAKEN
from shared.delivery.classify import Answer, Kind
from shared.delivery.config import Config
from shared.delivery.ratelimit import LIMITER
from shared.delivery.records import PartRecords, is_accepted, split_count
from shared.delivery.sweep import sweep
from shared.store import behind
from shared.store.models import Channel
from tests.conftest import unique
from tests.delivery.conftest import card


def FREE() -> Any:
    return TAKEN

ACCEPTED = Answer(Kind.ACCEPTED, 202, "HTTP 202 accepted")
TOO_LARGE = Answer(Kind.TOO_LARGE, 413, "HTTP 413 from Teams")
UNAVAILABLE = Answer(Kind.TRANSIENT, 503, "HTTP 503 from Teams")
REFUSED = Answer(Kind.PERMANENT, 400, "HTTP 400 from Teams: bad card")
GONE = Answer(Kind.PERMANENT, 404, "HTTP 404 from Teams")


class FakeTransport:
    """Answers from a script, then `otherwise`; records every POST."""

    def __init__(self, *script: Answer, otherwise: Answer = ACCEPTED) -> None:
        self.script = list(script)
        self.otherwise = otherwise
        self.posts: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, timeout: float, connect_timeout: float | None = None) -> Answer:
        with self._lock:
            self.posts.append((url, body))
            return self.script.pop(0) if self.script else self.otherwise


def url_for(name: str) -> str:
    """A Workflows URL the allowlist passes; nothing listens there, and nothing needs to."""
    return f"https://prod-1.westeurope.logic.azure.com/workflows/{name}/triggers/manual/paths/invoke?sig=x"


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DELIVERY_RATE_WORKFLOWS", "1000/1")
    monkeypatch.setenv("DELIVERY_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("DELIVERY_BUDGET_SECONDS", "5")
    for name in ("DELIVERY_INLINE_ATTEMPTS", "DELIVERY_MAX_ATTEMPTS", "DELIVERY_MARGIN_BYTES"):
        monkeypatch.delenv(name, raising=False)
    LIMITER.reset()
    yield
    behind.flush()
    LIMITER.reset()


@pytest.fixture
def channel(store: Any, limits: None) -> str:
    name = unique("fk")
    store.channels.add(Channel(name=name, url=url_for(name)))
    return name


# --- no store ---------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("answer", "state", "posts"),
    [(ACCEPTED, "accepted", 1), (TOO_LARGE, "split", 1), (REFUSED, "dead", 1)],
)
def test_one_inline_attempt_follows_the_answer(limits: None, answer: Answer, state: str, posts: int) -> None:
    fake = FakeTransport(answer)
    attempt = client._send_inline(url_for("u"), b"{}", Config.load(), time.monotonic() + 5, fake, FREE)
    assert (attempt.state, attempt.answer, len(fake.posts)) == (state, answer, posts)


@pytest.mark.unit
def test_transient_answers_are_retried_a_bounded_number_of_times(
    limits: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_INLINE_ATTEMPTS", "2")
    fake = FakeTransport(otherwise=UNAVAILABLE)
    attempt = client._send_inline(url_for("u"), b"{}", Config.load(), time.monotonic() + 5, fake, FREE)
    assert attempt.state == "queued" and attempt.answer == UNAVAILABLE and attempt.wait >= 0
    assert len(fake.posts) == 2
    fake = FakeTransport(UNAVAILABLE)
    assert client._send_inline(url_for("u"), b"{}", Config.load(), time.monotonic() + 5, fake, FREE).state == "accepted"


@pytest.mark.unit
def test_the_default_transport_can_be_replaced_and_restored() -> None:
    fake = FakeTransport()
    previous = transport.set_default(fake)
    try:
        assert previous is transport.HTTP and transport.default() is fake
    finally:
        assert transport.set_default(None) is fake
    assert transport.default() is transport.HTTP


# --- with the store ---------------------------------------------------------------------------


def test_a_413_splits_the_part_and_a_retry_posts_nothing(store: Any, channel: str) -> None:
    fake = FakeTransport(TOO_LARGE)
    result = delivery.deliver(store, channel, card(facts=150), key="big", transport=fake)
    assert result.state == "accepted" and result.parts >= 2, result
    assert len(fake.posts) == 1 + result.parts  # the refused whole, then each piece
    record = PartRecords(store, channel, "big").find("1/1")
    assert split_count(record) == result.parts and not is_accepted(record)
    states = list(delivery.part_states(store, channel, "big", 1))
    assert [n for n, _ in states] == [f"1/1.{i}/{result.parts}" for i in range(1, result.parts + 1)]
    assert {s for _, s in states} == {"accepted"}

    again = FakeTransport()
    assert delivery.deliver(store, channel, card(facts=150), key="big", transport=again).ok
    assert again.posts == []


def test_transient_errors_queue_the_part_and_the_sweep_sends_it(
    store: Any, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_INLINE_ATTEMPTS", "2")
    down = FakeTransport(otherwise=UNAVAILABLE)
    result = delivery.deliver(store, channel, card(), key="later", transport=down)
    assert result.state == "queued" and len(down.posts) == 2, result
    [item] = store.outbox.list()
    assert item.idempotency_key == "later#1/1" and item.last_error == UNAVAILABLE.reason
    assert list(delivery.part_states(store, channel, "later", 1)) == [("1/1", "queued")]
    assert PartRecords(store, channel, "later").find("1/1") is None  # released: nothing went out

    up = FakeTransport()
    stats = sweep(store, now=datetime.now(UTC) + timedelta(hours=1), transport=up)
    assert (stats.sent, stats.requeued, stats.dead) == (1, 0, 0)
    assert len(up.posts) == 1 and store.outbox.backlog() == 0
    assert list(delivery.part_states(store, channel, "later", 1)) == [("1/1", "accepted")]


def test_a_permanent_refusal_is_a_dead_letter(store: Any, channel: str) -> None:
    result = delivery.deliver(store, channel, card(), key="bad", transport=FakeTransport(REFUSED))
    assert result.state == "dead" and "HTTP 400" in result.detail
    [dead] = store.outbox.list(dead=True)
    assert dead.idempotency_key == "bad#1/1" and "HTTP 400" in (dead.reason or "")
    assert list(delivery.part_states(store, channel, "bad", 1)) == [("1/1", "missing")]


def test_a_url_gone_dead_letters_the_other_parts_unsent(store: Any, channel: str) -> None:
    fake = FakeTransport(GONE)
    result = delivery.deliver(store, channel, card(facts=700), key="gone", transport=fake)
    assert result.state == "dead" and result.parts >= 2, result
    assert len(fake.posts) == 1
    dead = store.outbox.list(dead=True)
    assert len(dead) == result.parts
    assert sum("refused part 1/" in (d.reason or "") for d in dead) == result.parts - 1


def test_under_a_ledger_the_part_records_wait_for_a_give_up(store: Any, channel: str) -> None:
    ledger = delivery.Acceptances()
    assert delivery.deliver(store, channel, card(), key="led", ledger=ledger, transport=FakeTransport()).ok
    records = PartRecords(store, channel, "led")
    assert records.find("1/1") is None
    ledger.write(store)  # what a caller that gives up half done does before expiring its claim
    assert is_accepted(records.find("1/1"))
