"""Helpers the feeds share to turn source data into card text: no process needed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.cards.links import http_url
from shared.digest.feeds.base import parse_time, short_text

pytestmark = pytest.mark.unit


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_feed_text_and_time_helpers() -> None:
    assert short_text("  a \n b  ", 10) == "a b"
    assert short_text("abcdef", 4) == "abc…"
    assert short_text({"x": 1}, 10) is None and short_text("", 10) is None
    assert http_url("https://x.org/") == "https://x.org/" and http_url("javascript:x") is None
    assert http_url(42) is None
    assert parse_time("2025-01-15T08:00:00Z") == utc(2025, 1, 15, 8)
    assert parse_time("2025-01-15T08:00:00") == utc(2025, 1, 15, 8)  # naive: UTC
    assert parse_time(1736928000000) == utc(2025, 1, 15, 8)  # epoch ms
    for bad in (1e300, float("nan"), "soon", True, None, [1]):
        assert parse_time(bad) is None
