"""Slots taken ahead of a post (`Budget.reserve`, `budget.prefetch`) and posts counted again when
their answer never came (`Budget.late`, `budget.unanswered`): fake persistence, hand-driven clock."""

from __future__ import annotations

from typing import Any

import pytest

from shared.delivery import budget
from shared.delivery.classify import Answer, Kind
from shared.delivery.ratelimit import padded
from tests.delivery.test_budget_unit import Clock, make

pytestmark = pytest.mark.unit


@pytest.fixture
def tight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELIVERY_BUDGET_WORKFLOWS", "5/10")


def test_a_reserved_slot_serves_the_next_take_without_a_round_trip(tight: None) -> None:
    clock = Clock()
    gauge, rows = make(clock)
    assert gauge.reserve("a")
    writes = rows.writes
    assert gauge.take("a").taken
    assert rows.writes == writes  # the reservation's write was the post's
    assert rows.rows["a"].posts == 1


def test_a_stale_reservation_is_a_spent_slot_never_reused(tight: None) -> None:
    clock = Clock()
    gauge, rows = make(clock)
    assert gauge.reserve("a")
    clock.now += budget.RESERVE_SECONDS + 0.01  # its stamp is too early for a post now
    assert gauge.take("a").taken
    assert rows.rows["a"].posts == 2 and len(rows.rows["a"].sent) == 2


def test_no_reservation_when_room_is_short_or_the_connection_held(tight: None) -> None:
    clock = Clock()
    gauge, rows = make(clock)
    for _ in range(5 - budget.RESERVE_ROOM + 1):
        assert gauge.take("a").taken
    assert not gauge.reserve("a")  # a lost slot would cost a short connection
    assert rows.rows["a"].posts == 5 - budget.RESERVE_ROOM + 1
    gauge.hold("b", clock.now + 30)
    assert not gauge.reserve("b")


def test_a_late_post_counts_again_where_it_may_land(tight: None) -> None:
    clock = Clock()
    gauge, rows = make(clock)
    for _ in range(5):
        assert gauge.take("a").taken
    gauge.late("a", clock.now + 3.0)  # over the budget: a fact, written all the same
    assert len(rows.rows["a"].sent) == 6
    clock.now += padded(10.0) + 0.01  # the five age out; the late one is still inside
    assert gauge.usage("a").room == 4


class _Gauge:
    def __init__(self) -> None:
        self.late: list[tuple[str | None, float]] = []

    def late_at(self, name: str | None, at: float) -> None:
        self.late.append((name, at))


@pytest.mark.parametrize(
    ("answer", "counted"),
    [
        (Answer(Kind.TRANSIENT, None, "timed out (TimeoutError)"), True),
        (Answer(Kind.TRANSIENT, None, "connection failed or dropped (RemoteDisconnected)"), True),
        (Answer(Kind.TRANSIENT, 503, "HTTP 503"), False),
        (Answer(Kind.THROTTLED, 429, "HTTP 429", 1.0), False),
        (Answer(Kind.ACCEPTED, 202, "HTTP 202 accepted"), False),
    ],
)
def test_only_an_answer_that_never_came_is_counted_again(
    monkeypatch: pytest.MonkeyPatch, answer: Answer, counted: bool
) -> None:
    gauge = _Gauge()
    monkeypatch.setattr(budget, "for_store", lambda store: type("G", (), {"late": lambda s, n, at: gauge.late_at(n, at)})())
    store: Any = object()
    budget.unanswered(store, "https://example.com/workflows/x", "owner", answer, 2.0)
    assert bool(gauge.late) is counted
    if counted:
        assert gauge.late[0][0] == "owner"


def test_a_busy_process_takes_a_batch_ahead_in_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELIVERY_BUDGET_WORKFLOWS", "1000/10")
    clock = Clock()
    gauge, rows = make(clock)
    for _ in range(budget.MAX_AHEAD):  # a flow of posts, each with its slot ready
        assert gauge.reserve("a") and gauge.take("a").taken
        clock.now += 0.001
    writes = rows.writes
    assert gauge.reserve("a")  # takes as many as were used lately, in one write
    assert rows.writes == writes + 1
    for _ in range(budget.MAX_AHEAD):
        assert gauge.reserve("a") and gauge.take("a").taken
    assert rows.writes == writes + 1
    assert rows.rows["a"].posts == 2 * budget.MAX_AHEAD


def test_a_quiet_process_takes_one_at_a_time(tight: None) -> None:
    clock = Clock()
    gauge, rows = make(clock)
    for _ in range(3):
        assert gauge.reserve("a") and gauge.take("a").taken
        clock.now += 1.0  # far apart: nothing taken ahead is ever wasted
    assert rows.rows["a"].posts == 3
