"""The per-destination limiter: windows, blocking after a 429, and sharing between threads."""

from __future__ import annotations

import threading

import pytest

from shared import settings
from shared.delivery import ratelimit
from shared.delivery.ratelimit import RateLimiter, parse_windows

pytestmark = pytest.mark.unit


def test_parse_windows() -> None:
    assert parse_windows("60/30, 4/1") == ((4, 1.0), (60, 30.0))
    for bad in ("4", "x/1", "0/1", "4/0", "4/-1"):
        with pytest.raises(settings.SettingError, match="COUNT/SECONDS"):
            parse_windows(bad)


def test_defaults_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ratelimit.LEGACY_SETTING, raising=False)
    monkeypatch.delenv(ratelimit.WORKFLOWS_SETTING, raising=False)
    assert ratelimit.windows_for(True) == (
        (4, 1.0),
        (60, 30.0),
        (100, 3600.0),
        (150, 7200.0),
        (1800, 86400.0),
    )
    # Workflows URLs: no per-URL cap by default; their connection's budget rules (shared.delivery.budget).
    assert ratelimit.windows_for(False) == ()
    monkeypatch.setenv(ratelimit.WORKFLOWS_SETTING, "2/1")
    assert ratelimit.windows_for(False) == ((2, 1.0),)


def test_every_window_counts() -> None:
    limiter = RateLimiter(clock=lambda: 0.0)
    windows = parse_windows("4/1,6/30")
    one, thirty = ratelimit.padded(1.0), ratelimit.padded(30.0)
    assert one == pytest.approx(1.52) and thirty == pytest.approx(31.1)
    assert [limiter.acquire("a", windows, now=0.0) for _ in range(4)] == [0.0] * 4
    assert limiter.acquire("a", windows, now=0.5) == pytest.approx(one - 0.5)
    assert limiter.acquire("b", windows, now=0.5) == 0.0  # per destination
    assert limiter.acquire("a", windows, now=one) == 0.0
    assert limiter.acquire("a", windows, now=one + 0.1) == 0.0
    # 6 in 30 s used: the next slot opens when the first send leaves the 30 s window.
    assert limiter.acquire("a", windows, now=2.5) == pytest.approx(thirty - 2.5)
    assert limiter.acquire("a", windows, now=thirty) == 0.0


def test_block_after_429() -> None:
    limiter = RateLimiter()
    windows = parse_windows("100/1")
    limiter.block("a", 5.0, now=10.0)
    assert limiter.acquire("a", windows, now=11.0) == pytest.approx(4.0)
    assert limiter.peek("a", windows, now=15.0) == 0.0
    assert limiter.acquire("a", windows, now=15.0) == 0.0


def test_threads_share_one_budget() -> None:
    limiter = RateLimiter(clock=lambda: 100.0)
    windows = parse_windows("4/1,60/30")
    granted: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def worker() -> None:
        barrier.wait()
        for _ in range(10):
            wait = limiter.acquire("same-url", windows)
            with lock:
                granted.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for w in granted if w == 0.0) == 4
    assert len(granted) == 160
