"""The write-behind queue: bounded, never blocking, batched per partition, flushable.

The unit tests hold writes with a stand-in table; the last test goes through Azurite.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any, cast

import pytest

from shared.store.behind import WriteBehind
from tests.conftest import unique


class HeldTable:  # the part of `Table` the writer uses
    """A stand-in for `Table` whose batches wait until released."""

    logical = "held"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.batches: list[list[tuple[str, Mapping[str, Any]]]] = []

    def batch(self, operations: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        ops = list(operations)
        self.release.wait(10)
        if any(entity["PartitionKey"] == "broken" for _, entity in ops):
            raise RuntimeError("https://secret.example/?sig=never-logged")
        self.batches.append(ops)
        return len(ops)


def row(partition: str, key: str, **values: Any) -> dict[str, Any]:
    return {"PartitionKey": partition, "RowKey": key, **values}


@pytest.mark.unit
def test_submit_never_blocks_and_refuses_past_capacity(caplog: pytest.LogCaptureFixture) -> None:
    table = cast(Any, HeldTable())
    writer = WriteBehind(capacity=2, linger=0.0)
    accepted = [writer.submit(table, "create", row("p", f"r{i}")) for i in range(6)]  # all writes held
    assert writer.flush(0.2) is False
    # The writer may already hold what was queued (at most `capacity`); at most `capacity` more wait.
    assert 2 <= accepted.count(False) <= 4 and writer.refused == accepted.count(False)
    assert "writes refused" in caplog.text
    table.release.set()
    assert writer.flush(5.0)
    assert sum(len(b) for b in table.batches) == accepted.count(True)


@pytest.mark.unit
def test_a_failing_batch_is_logged_without_its_text(caplog: pytest.LogCaptureFixture) -> None:
    table = cast(Any, HeldTable())
    table.release.set()
    writer = WriteBehind(linger=0.0)
    writer.submit(table, "create", row("broken", "a"))
    assert writer.flush(5.0)
    writer.submit(table, "create", row("fine", "b"))
    assert writer.flush(5.0)
    assert [[entity["RowKey"] for _, entity in ops] for ops in table.batches] == [["b"]]
    assert writer.failed == 1
    assert "RuntimeError" in caplog.text and "sig=" not in caplog.text


@pytest.mark.unit
def test_writes_that_gather_go_out_together_per_partition_in_order() -> None:
    table = cast(Any, HeldTable())
    writer = WriteBehind(linger=5.0)  # flush ends the linger
    for i in range(5):
        writer.submit(table, "create", row("busy", f"k{i}"))
    writer.submit(table, "upsert", row("other", "x"))
    writer.submit(table, "upsert", row("busy", "k1", again=True))  # the same row: a later transaction
    table.release.set()
    assert writer.flush(5.0)
    keys = [[(entity["PartitionKey"], entity["RowKey"]) for _, entity in ops] for ops in table.batches]
    assert keys == [
        [("busy", f"k{i}") for i in range(5)],
        [("other", "x")],
        [("busy", "k1")],
    ]


@pytest.mark.unit
def test_writes_with_one_fold_key_become_one_row_with_a_count() -> None:
    table = cast(Any, HeldTable())
    writer = WriteBehind(linger=5.0)
    for i in range(4):
        writer.submit(table, "create", row("log", f"k{i}", detail="accepted"), fold=("log", "accepted"))
    writer.submit(table, "create", row("log", "k9", detail="dead"), fold=("log", "dead"))
    table.release.set()
    assert writer.flush(5.0)
    [ops] = table.batches
    assert [(e["RowKey"], e.get("count")) for _, e in ops] == [("k0", 4), ("k9", None)]


@pytest.mark.unit
def test_flush_with_nothing_queued_returns_at_once() -> None:
    assert WriteBehind().flush(0.0)


def test_completions_and_log_lines_land_in_the_store(store: Any) -> None:
    from shared.idempotency import Scope
    from shared.store import behind

    key, channel = unique("key"), unique("ch")
    keys = Scope(store, unique("scope"))
    assert keys.acquire(key, 60).fresh
    keys.complete_later(key, {"status": "accepted"}, ttl_seconds=600)
    waiting = keys.acquire(key, 60)  # the completion may still be queued: seen all the same
    assert not waiting.held and waiting.holder is not None and waiting.holder.status == "COMPLETED"
    store.deliveries.record_later(channel, True, "accepted")
    store.deliveries.record_later(channel, True, "accepted")
    store.deliveries.record_later(channel, False, "queued: throttled")
    assert behind.flush(10)
    record = keys.find(key)
    assert record is not None and record.status == "COMPLETED" and record.data == {"status": "accepted"}
    assert [(r.ok, r.detail, r.count) for r in store.deliveries.recent(channel)] == [
        (False, "queued: throttled", 1),
        (True, "accepted", 2),
    ]
    again = keys.acquire(key, 60)
    assert not again.held and again.holder is not None and again.holder.status == "COMPLETED"
