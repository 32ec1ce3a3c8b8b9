"""The background writer of the delivery log: bounded, never blocking, flushable."""

from __future__ import annotations

import threading

import pytest

from shared.delivery.history import LogWriter

pytestmark = pytest.mark.unit


class HeldLog:
    """A stand-in for `store.deliveries` whose writes wait until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.written: list[tuple[str, bool, str]] = []

    def record(self, channel: str, ok: bool, detail: str = "") -> None:
        self.release.wait(10)
        if channel == "broken":
            raise RuntimeError("https://secret.example/?sig=never-logged")
        self.written.append((channel, ok, detail))


class FakeStore:
    def __init__(self) -> None:
        self.deliveries = HeldLog()


def test_submit_never_blocks_and_drops_past_capacity(caplog: pytest.LogCaptureFixture) -> None:
    store = FakeStore()
    writer = LogWriter(capacity=2)
    for i in range(6):
        writer.submit(store, f"ch{i}", True, "accepted")  # returns although every write is held
    assert writer.flush(0.2) is False
    # One entry may already be in the writer's hands; at most `capacity` more wait.
    assert writer.dropped in (3, 4)
    assert "entries dropped" in caplog.text
    store.deliveries.release.set()
    assert writer.flush(5.0)
    assert len(store.deliveries.written) == 6 - writer.dropped


def test_a_failing_write_is_logged_without_its_text(caplog: pytest.LogCaptureFixture) -> None:
    store = FakeStore()
    store.deliveries.release.set()
    writer = LogWriter()
    writer.submit(store, "broken", False, "dead")
    writer.submit(store, "fine", True, "accepted")
    assert writer.flush(5.0)
    assert store.deliveries.written == [("fine", True, "accepted")]
    assert "RuntimeError" in caplog.text and "sig=" not in caplog.text


def test_flush_with_nothing_queued_returns_at_once() -> None:
    assert LogWriter().flush(0.0)
