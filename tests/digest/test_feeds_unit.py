"""Helpers the feeds share to turn source data into card text: no process needed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

import pytest

from shared.cards.links import http_url
from shared.digest.feeds.base import parse_time, short_text

if TYPE_CHECKING:
    from shared.store import Store

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


class _Event:
    def __init__(self, i: int, data: dict[str, object]) -> None:
        self.id, self.data, self.created = str(i), data, utc(2025, 1, 15)


class _Events:
    def __init__(self, rows: list[dict[str, object]]) -> None:
        self.rows = [_Event(i, row) for i, row in enumerate(rows)]

    def pending(self, subscription_id: str, limit: int) -> list[_Event]:
        return self.rows[:limit]


def _digest(rows: list[dict[str, object]]) -> tuple[str | None, dict[str, object]]:
    from types import SimpleNamespace

    from shared.digest.card import build_digest_card
    from shared.digest.feeds.base import FeedContext
    from shared.digest.feeds.events import EventsFeed

    store = cast("Store", SimpleNamespace(events=_Events(rows)))  # a unit test: only `events` is read
    ctx = FeedContext(store=store, now=utc(2025, 1, 15, 8))
    sub = SimpleNamespace(id="s1", channel="ops", source="events", target="alerts", settings={}, cursor={})
    gathered = EventsFeed().gather(sub, ctx)
    return gathered.headline, build_digest_card(gathered)


def test_events_digest_reads_severity_and_state_and_old_rows() -> None:
    import json

    rows: list[dict[str, object]] = [
        {"title": "CPU high", "severity": "attention", "state": "firing"},
        {"title": "CPU high", "severity": "good", "state": "resolved"},
        {"title": "PR 7 merged", "severity": "good", "state": "merged"},
        {"title": "Build 12 failed", "severity": "attention", "state": "failed"},
        {"title": "Forced push", "severity": "warning", "state": None},
        {"title": "New comment", "severity": "default", "state": None},
        # buffered before severity and state existed: one "status", a state or a severity
        {"title": "Disk full", "status": "firing"},
        {"title": "Disk ok", "status": "resolved"},
        {"title": "Run failed", "status": "attention"},
    ]
    headline, card = _digest(rows)
    assert headline == "9 events: 2 resolved, 2 still firing, 1 merged, 1 failed, 2 need attention, 1 other"
    text = json.dumps(card, ensure_ascii=False)
    assert "merged: **PR 7 merged**" in text and "firing: **Disk full**" in text
    assert "**New comment**" in text and ": **New comment**" not in text
    assert card["body"][0]["style"] == "warning"  # type: ignore[index]

    headline, card = _digest([{"title": "PR 8", "severity": "good", "state": "merged"}, {"title": "x", "status": "good"}])
    assert headline == "2 events: 1 merged, 1 other"
    assert card["body"][0]["style"] == "good"  # type: ignore[index]
