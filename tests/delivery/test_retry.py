"""Pure retry arithmetic: full-jitter backoff, Retry-After as a floor, settings that cannot break a POST."""

from __future__ import annotations

import pytest

from shared.delivery import retry
from shared.delivery.classify import Answer, Kind
from shared.delivery.config import Config
from shared.delivery.parts import Part, split_part
from shared.delivery.ratelimit import LIMITER, parse_windows

pytestmark = pytest.mark.unit


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    for attempt, cap in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (10, 4.0), (10**6, 4.0)]:
        draws = [retry.backoff(attempt, 0.5, 4.0) for _ in range(300)]
        assert all(0.0 <= d <= cap for d in draws)
        assert min(draws) < cap / 4 and max(draws) > cap * 3 / 4  # spread over the whole range


def test_retry_after_is_a_floor_and_429_holds_the_destination() -> None:
    LIMITER.reset()
    url = "https://prod-1.westeurope.logic.azure.com/workflows/retry-test"
    unavailable = Answer(Kind.TRANSIENT, 503, "HTTP 503", retry_after=30.0)
    assert retry.retry_delay(url, unavailable, 1, 0.5, 4.0) == 30.0
    assert LIMITER.peek(url, parse_windows("100/1")) == 0.0  # a 503 does not hold the destination
    throttled = Answer(Kind.THROTTLED, 429, "HTTP 429", retry_after=20.0)
    assert retry.retry_delay(url, throttled, 1, 0.5, 4.0) == 20.0
    assert LIMITER.peek(url, parse_windows("100/1")) > 19.0
    bare = Answer(Kind.THROTTLED, 429, "HTTP 429")
    assert retry.retry_delay(url + "x", bare, 1, 0.5, 4.0) == retry.DEFAULT_THROTTLE_SECONDS
    LIMITER.reset()


def test_settings_are_clamped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELIVERY_TIMEOUT_SECONDS", "0")
    monkeypatch.setenv("DELIVERY_BUDGET_SECONDS", "-5")
    monkeypatch.setenv("DELIVERY_MAX_ATTEMPTS", "0")
    cfg = Config.load()
    assert cfg.timeout == 0.5 and cfg.connect_timeout == 0.5  # requests refuses 0 with a ValueError
    assert cfg.budget_seconds == 0.0 and cfg.max_attempts == 1


def test_unreadable_part_cannot_be_split() -> None:
    assert split_part(Part("1/1", b"not json"), 20000) is None
