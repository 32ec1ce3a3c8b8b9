"""The delivery log (`store.deliveries`), written by one background thread, off the answer path.

The log only feeds the bot's `status` ("recent deliveries"). Writing it inline cost every
delivery one more store round trip before the caller could answer, for a record nobody waits
for. So `record` only queues the entry; a single daemon thread writes it. What makes delivery safe
(the idempotency records that say a part was accepted, the outbox) is written inline as before and
never goes through here.

Bounded on purpose: at most `CAPACITY` entries wait; past that new entries are dropped (counted and
logged) rather than growing memory while the store is slow. Entries still waiting when the process
ends are written for up to `EXIT_FLUSH_SECONDS` at exit and lost after that: acceptable for a log,
which is why nothing else may depend on it.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from typing import Any

log = logging.getLogger("shared.delivery")

CAPACITY = 1000
EXIT_FLUSH_SECONDS = 2.0

Entry = tuple[Any, str, bool, str]


class LogWriter:
    """A bounded queue of log entries and the one thread that writes them."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.dropped = 0
        self._entries: deque[Entry] = deque()
        self._writing = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._exit_hook = False

    def submit(self, store: Any, channel: str, ok: bool, detail: str) -> None:
        """Queue one entry; never blocks and never raises."""
        with self._cond:
            full = len(self._entries) >= self.capacity
            if full:
                self.dropped += 1
                dropped = self.dropped
            else:
                self._entries.append((store, channel, ok, detail))
                self._start()
                self._cond.notify_all()
        if full and (dropped == 1 or dropped % 100 == 0):
            log.warning("delivery log: %d entries dropped so far (the store is too slow)", dropped)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued entry is written; False when `timeout` ran out first."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._entries or self._writing:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def _start(self) -> None:
        # Called under the lock. Also restarts after a fork, where the thread did not come along.
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._run, name="delivery-log", daemon=True)
        self._thread.start()
        if not self._exit_hook:
            atexit.register(self.flush, EXIT_FLUSH_SECONDS)
            self._exit_hook = True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._entries:
                    self._cond.wait()
                store, channel, ok, detail = self._entries.popleft()
                self._writing += 1
            try:
                store.deliveries.record(channel, ok, detail)
            except Exception as exc:  # the type only: a store error's text may quote a key
                log.warning("delivery log: could not record for channel %s (%s)", channel, type(exc).__name__)
            finally:
                with self._cond:
                    self._writing -= 1
                    self._cond.notify_all()


WRITER = LogWriter()


def record(store: Any, channel: str, ok: bool, detail: str) -> None:
    """Note a delivery outcome in the channel's log, in the background. `detail` must hold no URL."""
    WRITER.submit(store, channel, ok, detail)


def flush(timeout: float = 5.0) -> bool:
    """Wait for queued log entries to be written (tests, benchmarks, a clean shutdown)."""
    return WRITER.flush(timeout)
