"""The connection budget on Azurite: threads and separate processes racing for one connection's slots."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from typing import Any

import pytest

from shared.delivery.budget import Budget
from shared.delivery.ratelimit import padded
from shared.store.models import ConnectionState


def _race(connection: str, prefix: str, seconds: float, out: Any) -> None:
    """One process: take slots of connection "c" for `seconds`, report the times it got one."""
    os.environ["DELIVERY_BUDGET_WORKFLOWS"] = "6/2"
    from shared import settings
    from shared.delivery.budget import Budget
    from shared.store import open_store

    settings.reload()
    gauge = Budget(open_store(connection=connection, prefix=prefix).budgets)
    got: list[float] = []
    end = time.time() + seconds
    while time.time() < end:
        slot = gauge.take("c")
        if slot.taken:
            got.append(time.time())
        else:
            time.sleep(min(slot.wait, 0.05))
    out.put(got)


def _over(times: list[float], count: int, seconds: float) -> int:
    """Posts beyond `count` in any window of `seconds` (0: the budget held)."""
    times = sorted(times)
    worst = 0
    for i, t in enumerate(times):
        inside = sum(1 for u in times[i:] if u < t + seconds)
        worst = max(worst, inside - count)
    return worst


def test_rows_round_trip(store: Any) -> None:
    repo = store.budgets
    assert repo.read("c") is None
    saved = repo.write(ConnectionState(name="c", sent=[1, 2], posts=2))
    again = repo.read("c")
    assert again is not None and again.sent == [1, 2] and again.etag == saved.etag
    from shared.store.errors import Conflict

    with pytest.raises(Conflict):
        repo.write(ConnectionState(name="c"))  # exists: an insert loses
    repo.set_budget("c", "50/300")
    with pytest.raises(Conflict):
        repo.write(saved)  # the override changed the row's ETag
    row = repo.read("c")
    assert row is not None and row.budget == "50/300" and row.sent == [1, 2]
    assert [r.name for r in repo.list()] == ["c"]


def test_threads_of_several_budgets_share_one_window(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELIVERY_BUDGET_WORKFLOWS", "5/30")
    gauges = [Budget(store.budgets) for _ in range(3)]  # as three processes: their own caches
    results: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(12)

    def one(i: int) -> None:
        barrier.wait()
        ok = gauges[i % 3].take("c").taken
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    row = store.budgets.read("c")
    assert row is not None and len(row.sent) == sum(results) <= 5
    assert sum(results) >= 1


def test_one_round_trip_per_post_with_room(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELIVERY_BUDGET_WORKFLOWS", "3/60")
    gauge = Budget(store.budgets)
    assert gauge.take("c").taken  # warm: the first read
    store.reads.clear()
    calls: list[str] = []
    real = store.budgets.write

    def write(state: ConnectionState) -> ConnectionState:
        calls.append("write")
        saved: ConnectionState = real(state)
        return saved

    monkeypatch.setattr(store.budgets, "write", write)
    assert gauge.take("c").taken and gauge.take("c").taken
    assert calls == ["write", "write"] and store.reads["budgets"] == 0
    assert not gauge.take("c").taken  # full: no round trip at all
    assert calls == ["write", "write"] and store.reads["budgets"] == 0


def test_three_processes_never_exceed_the_window(store: Any, azurite: str) -> None:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    seconds = 6.0
    workers = [
        context.Process(target=_race, args=(azurite, store.prefix, seconds, out)) for _ in range(3)
    ]
    for w in workers:
        w.start()
    got: list[float] = []
    for _ in workers:
        got.extend(out.get(timeout=60))
    for w in workers:
        w.join(timeout=30)
    # 6 posts in any 2 s (counted padded: 2.54 s); at the sink's side, no 2-s window holds more.
    assert _over(got, 6, 2.0) == 0, sorted(got)
    # ...and the budget was used: about 6 per padded window over the run.
    assert len(got) >= 6 * int(seconds / padded(2.0)), len(got)
