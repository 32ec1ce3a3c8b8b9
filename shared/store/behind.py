"""Table writes nobody waits for: queued, then written by one background thread, in batches.

Two kinds of write take this path, both off the answer path of a post:

- the delivery log (`DeliveryLog.record_later`), which only feeds the bot's `status`;
- the completion of an incoming post's idempotency record (`DedupeRepository.complete_later`):
  until it lands, a retry of that post is asked to come back later (the claim says "in progress"),
  and if it never lands the claim's short lease runs out and the retry is delivered again.

The thread lets writes gather for up to `LINGER_SECONDS`, then submits them as transactions per
table partition (100 at most each), so under load a write costs a small fraction of a round trip.
Writes given the same `fold` key in one such gathering become one row (the first, with a `count`):
a channel's log then says "accepted" once with a count, not forty times.

A transaction that fails is tried once more after `RETRY_PAUSE_SECONDS`, then logged as lost.
Bounded on purpose: at most `CAPACITY` writes wait. `submit` returns False for one that does not
fit, and the caller decides: the log drops it, a completion is written inline. Writes still waiting
when the process ends are flushed for up to `EXIT_FLUSH_SECONDS` at exit and lost after that.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.store.errors import Conflict
from shared.store.table import BATCH_LIMIT as BATCH

if TYPE_CHECKING:
    from shared.store.table import Table

log = logging.getLogger("shared.store")

CAPACITY = 1000
LINGER_SECONDS = 0.05
EXIT_FLUSH_SECONDS = 2.0
RETRY_PAUSE_SECONDS = 1.0

Write = tuple["Table", str, Mapping[str, Any], Any]


class WriteBehind:
    """A bounded queue of (table, operation, entity) writes and the one thread that makes them."""

    def __init__(self, capacity: int = CAPACITY, linger: float = LINGER_SECONDS) -> None:
        self.capacity = capacity
        self.linger = linger
        self.failed = 0
        self.refused = 0
        self._writes: deque[Write] = deque()
        self._pending: dict[tuple[int, str, str], Mapping[str, Any]] = {}
        self._writing = 0
        self._flushing = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._exit_hook = False

    def submit(self, table: Table, operation: str, entity: Mapping[str, Any], fold: Any = None) -> bool:
        """Queue one write ("create", "upsert" as merge, ...: see `Table.batch`); False when full.

        `fold`: a hashable key; queued writes with the same key are written as the first of them
        with `count` set to how many they were.
        """
        with self._cond:
            full = len(self._writes) >= self.capacity
            if full:
                self.refused += 1
                refused = self.refused
            else:
                self._writes.append((table, operation, entity, fold))
                self._pending[_row(table, entity)] = entity
                self._start()
                self._cond.notify_all()
        if full and (refused == 1 or refused % 100 == 0):
            log.warning("write-behind: queue full, %d writes refused so far (the store is slow)", refused)
        return not full

    def pending(self, table: Table, partition_key: str, row_key: str) -> Mapping[str, Any] | None:
        """The newest queued write of this row, not yet made: what the row will soon hold here."""
        with self._cond:
            return self._pending.get((id(table), partition_key, row_key))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued write is made; False when `timeout` ran out first."""
        end = time.monotonic() + timeout
        with self._cond:
            self._flushing += 1  # the writer stops lingering
            self._cond.notify_all()
            try:
                while self._writes or self._writing:
                    remaining = end - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(remaining)
            finally:
                self._flushing -= 1
        return True

    def _start(self) -> None:
        # Called under the lock. Also restarts after a fork, where the thread did not come along.
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._run, name="write-behind", daemon=True)
        self._thread.start()
        if not self._exit_hook:
            atexit.register(self.flush, EXIT_FLUSH_SECONDS)
            self._exit_hook = True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._writes:
                    self._cond.wait()
                self._cond.wait_for(lambda: len(self._writes) >= BATCH or self._flushing > 0, self.linger)
                writes = list(self._writes)
                self._writes.clear()
                self._writing += 1
            try:
                self._write(writes)
            finally:
                with self._cond:
                    for table, _, entity, _ in writes:
                        where = _row(table, entity)
                        if self._pending.get(where) is entity:  # not overtaken by a newer write
                            del self._pending[where]
                    self._writing -= 1
                    self._cond.notify_all()

    def _write(self, writes: list[Write]) -> None:
        for table, operations in _transactions(_folded(writes)):
            for attempt in (1, 2):  # once more after a pause: a store blip should not lose them
                try:
                    table.batch(operations)
                    break
                except Exception as exc:  # the type only: a store error's text may quote a key
                    if attempt == 1 and not isinstance(exc, Conflict):
                        time.sleep(RETRY_PAUSE_SECONDS)
                        continue
                    self.failed += len(operations)
                    count, kind = len(operations), type(exc).__name__
                    log.warning("write-behind: %d writes to %s lost (%s)", count, table.logical, kind)


def _row(table: Table, entity: Mapping[str, Any]) -> tuple[int, str, str]:
    return (id(table), str(entity["PartitionKey"]), str(entity["RowKey"]))


def _folded(writes: list[Write]) -> list[Write]:
    out: list[Write] = []
    first: dict[Any, int] = {}
    for write in writes:
        key = write[3]
        if key is None:
            out.append(write)
            continue
        index = first.get(key)
        if index is None:
            first[key] = len(out)
            out.append(write)
            continue
        table, operation, entity, _ = out[index]
        folded = dict(entity)
        folded["count"] = int(entity.get("count") or 1) + int(write[2].get("count") or 1)
        out[index] = (table, operation, folded, key)
    return out


def _transactions(writes: list[Write]) -> list[tuple[Table, list[tuple[str, Mapping[str, Any]]]]]:
    """Writes grouped per table and partition, in order; a row written twice starts a new group.

    A transaction may not touch one row twice, and a later write must land after an earlier one.
    """
    groups: list[tuple[Table, list[tuple[str, Mapping[str, Any]]]]] = []
    open_groups: dict[tuple[int, str], tuple[int, set[str]]] = {}
    for table, operation, entity, _ in writes:
        where = (id(table), str(entity["PartitionKey"]))
        row = str(entity["RowKey"])
        current = open_groups.get(where)
        if current is None or row in current[1] or len(groups[current[0]][1]) >= BATCH:
            groups.append((table, []))
            current = (len(groups) - 1, set())
            open_groups[where] = current
        groups[current[0]][1].append((operation, entity))
        current[1].add(row)
    return groups


BEHIND = WriteBehind()


def flush(timeout: float = 5.0) -> bool:
    """Wait for queued writes to land (tests, benchmarks, a clean shutdown)."""
    return BEHIND.flush(timeout)
