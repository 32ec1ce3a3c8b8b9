"""The connection budget's rules with a fake persistence and a hand-driven clock (no process)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from shared.delivery import budget
from shared.delivery.budget import Budget, room_in, wait_for
from shared.delivery.ratelimit import padded, parse_windows
from shared.store.errors import Conflict
from shared.store.models import ConnectionState

pytestmark = pytest.mark.unit


class FakeRows:
    """`Persistence` in memory, with ETags, round trips counted, and writers that can cut in."""

    def __init__(self) -> None:
        self.rows: dict[str, ConnectionState] = {}
        self.reads = 0
        self.writes = 0
        self.version = 0
        self.lock = threading.Lock()
        self.cut_in: list[str] = []  # names whose next write another writer beats

    def read(self, name: str) -> ConnectionState | None:
        with self.lock:
            self.reads += 1
            row = self.rows.get(name)
            return None if row is None else row.model_copy()

    def write(self, state: ConnectionState) -> ConnectionState:
        with self.lock:
            self.writes += 1
            current = self.rows.get(state.name)
            if state.name in self.cut_in:
                self.cut_in.remove(state.name)
                self.version += 1
                base = current or ConnectionState(name=state.name)
                self.rows[state.name] = base.model_copy(update={"etag": f"v{self.version}"})
                raise Conflict("another writer came first")
            if (current is None) != (state.etag is None) or (current and current.etag != state.etag):
                raise Conflict("etag")
            self.version += 1
            saved = state.model_copy(update={"etag": f"v{self.version}"})
            self.rows[state.name] = saved
            return saved.model_copy()


class Clock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELIVERY_BUDGET_WORKFLOWS", "5/10")


def make(clock: Clock, rows: FakeRows | None = None) -> tuple[Budget, FakeRows]:
    rows = rows or FakeRows()
    return Budget(rows, clock=clock, monotonic=clock), rows


def test_default_budget_is_the_flow_bots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DELIVERY_BUDGET_WORKFLOWS", raising=False)
    assert budget.windows_of(None) == ((25, 300.0),)
    assert budget.windows_of("50/300,4/1") == ((4, 1.0), (50, 300.0))


@pytest.mark.parametrize("bad", ["lots", ",", " , "])
def test_a_bad_budget_setting_falls_back_to_the_flow_bots_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    """Every post would fail on an unusable setting (`","` named no window: an IndexError, a 500)."""
    monkeypatch.setenv("DELIVERY_BUDGET_WORKFLOWS", bad)
    budget._warned.clear()
    assert budget.windows_of(None) == ((25, 300.0),)
    assert "DELIVERY_BUDGET_WORKFLOWS" in caplog.text


@pytest.mark.parametrize("bad", ["lots", ","])
def test_a_bad_connection_budget_names_itself(bad: str) -> None:
    with pytest.raises(ValueError, match="the budget of connection x"):
        budget.windows_of(bad, "the budget of connection x")


def test_wait_and_room_count_padded_windows() -> None:
    windows = parse_windows("2/10")
    span = padded(10.0)
    sent = [(100_000 * 1000), (100_001 * 1000)]
    assert room_in(sent, windows, 100_002.0) == 0
    assert wait_for(sent, windows, 100_002.0) == pytest.approx(100_000 + span - 100_002.0)
    assert wait_for(sent, windows, 100_000 + span + 0.01) == 0.0
    assert room_in(sent, windows, 100_001 + span + 0.01) == 2
    with pytest.raises(ValueError):
        wait_for([], windows, 0.0, count=3)


def test_takes_until_full_then_refuses_without_a_round_trip(tight: None) -> None:
    clock = Clock()
    gauge, rows = make(clock)
    assert all(gauge.take("a").taken for _ in range(5))
    assert (rows.reads, rows.writes) == (1, 5)  # the first read, then one write per post
    refused = gauge.take("a")
    assert refused.why == "budget" and refused.wait == pytest.approx(padded(10.0))
    assert (rows.reads, rows.writes) == (1, 5)  # the cached row already shows the window full
    assert budget.SHORT["a"] >= 1
    clock.now += padded(10.0) + 0.001
    assert gauge.take("a").taken
    assert rows.rows["a"].posts == 6 and len(rows.rows["a"].sent) == 1  # aged-out entries dropped


def test_a_stale_full_cache_is_read_again(tight: None) -> None:
    clock = Clock()
    gauge, rows = make(clock)
    for _ in range(5):
        gauge.take("a")
    rows.rows["a"] = rows.rows["a"].model_copy(update={"budget": "10/10", "etag": "raised"})
    assert not gauge.take("a").taken  # within CACHE_SECONDS the cached "full" stands
    clock.now += budget.CACHE_SECONDS + 0.1  # still inside the 10-s window, but the cache is stale
    assert gauge.take("a").taken  # read again: the override raised the budget


def test_a_lost_race_reads_again_and_retries(tight: None) -> None:
    clock = Clock()
    gauge, rows = make(clock)
    assert gauge.take("a").taken
    rows.cut_in.append("a")
    assert gauge.take("a").taken
    assert rows.reads == 2 and rows.writes == 3


def test_processes_sharing_the_rows_never_exceed_the_window(tight: None) -> None:
    clock = Clock()
    rows = FakeRows()
    gauges = [make(clock, rows)[0] for _ in range(3)]  # three processes, one table
    taken = 0
    for _ in range(40):
        clock.now += 0.5
        for gauge in gauges:
            taken += gauge.take("a").taken
        sent = rows.rows["a"].sent
        for t in sent:  # no padded window holds more than its budget
            assert sum(1 for u in sent if t <= u < t + padded(10.0) * 1000) <= 5
    assert 5 <= taken <= 5 * (20 // padded(10.0) + 1)


def test_threads_racing_take_exactly_the_budget(tight: None) -> None:
    clock = Clock()
    rows = FakeRows()
    gauges = [make(clock, rows)[0] for _ in range(4)]
    results: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def one(gauge: Budget) -> None:
        barrier.wait()
        ok = gauge.take("a").taken
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=one, args=(gauges[i % 4],)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) <= 5
    assert len(rows.rows["a"].sent) == sum(results)


def test_hold_keeps_others_off_but_not_the_sweep(tight: None) -> None:
    clock = Clock()
    gauge, _ = make(clock)
    gauge.hold("a", clock.now + 30)
    held = gauge.take("a")
    assert held.why == "held" and held.wait == pytest.approx(30.0)
    assert gauge.take("a", hold_ok=True).taken
    gauge.hold("a", 0)
    assert gauge.take("a").taken


def test_a_hold_is_only_raised_and_ended_by_its_own_sweep(tight: None) -> None:
    """Review: the digest run's short sweep overwrote the outbox sweep's hold, then ended it."""
    clock = Clock()
    rows = FakeRows()
    outbox_sweep, _ = make(clock, rows)
    other_sweep, _ = make(clock, rows)  # another process, same rows
    outbox_sweep.hold("a", clock.now + 30)
    other_sweep.hold("a", clock.now + 5)  # shorter: the longer hold stands
    other_sweep.hold("a", 0)  # not its hold to end
    assert other_sweep.take("a").why == "held"
    outbox_sweep.hold("a", 0)
    clock.now += budget.CACHE_SECONDS + 1  # what the other process cached of the hold ages out
    assert other_sweep.take("a").taken


def test_connections_are_independent_and_combined_posts_are_counted(tight: None) -> None:
    clock = Clock()
    gauge, _ = make(clock)
    for _ in range(5):
        assert gauge.take("a").taken
    assert not gauge.take("a").taken
    assert gauge.take("b").taken
    gauge.combined("b", 7)  # an accepted combined card: counted with the next write, once
    assert gauge.usage("b").combined == 0
    assert gauge.take("b").taken
    usage = gauge.usage("b")
    assert (usage.used, usage.room, usage.posts, usage.combined) == (2, 3, 2, 7)
    assert gauge.take("b").taken and gauge.usage("b").combined == 7
    assert gauge.usage("a").next_free > 0 and gauge.usage("a").budget == "5/10"


def test_connection_override(tight: None) -> None:
    clock = Clock()
    gauge, rows = make(clock)
    rows.rows["a"] = ConnectionState(name="a", budget="2/10", etag="v0")
    assert [gauge.take("a").taken for _ in range(3)] == [True, True, False]
    assert gauge.usage("a", read=False).overridden


def test_store_outage_propagates(tight: None) -> None:
    from shared.store.errors import StoreUnavailable

    class Down:
        def read(self, name: str) -> Any:
            raise StoreUnavailable("down")

        def write(self, state: ConnectionState) -> ConnectionState:
            raise StoreUnavailable("down")

    with pytest.raises(StoreUnavailable):
        Budget(Down()).take("a")


def test_an_unreadable_override_falls_back_to_the_setting(tight: None) -> None:
    clock = Clock()
    gauge, rows = make(clock)
    rows.rows["a"] = ConnectionState(name="a", budget="lots", etag="v0")
    assert [gauge.take("a").taken for _ in range(6)] == [True] * 5 + [False]  # the setting's 5/10
