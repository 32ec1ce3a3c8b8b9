"""Fixtures for digest tests: the loopback feed/Open-Meteo stand-in and settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unique
from tools.feed_stub import FeedStub


@pytest.fixture(scope="session")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeedStub]:
    folder: Path = tmp_path_factory.mktemp("feeds")
    with FeedStub(folder=folder) as stub:
        yield stub


@pytest.fixture
def digest_env(monkeypatch: pytest.MonkeyPatch, sink: Any, feeds: FeedStub) -> FeedStub:
    """In-process settings: loopback feeds allowed, the sink allowed, Open-Meteo -> the stand-in."""
    monkeypatch.setenv("FEEDS_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("DELIVERY_EXTRA_ALLOWED_URLS", sink.url + "/")
    monkeypatch.setenv("OPEN_METEO_FORECAST_URL", feeds.forecast_url)
    monkeypatch.setenv("OPEN_METEO_GEOCODING_URL", feeds.geocoding_url)
    monkeypatch.setenv("DELIVERY_BUDGET_SECONDS", "2")
    return feeds


NOW = datetime(2025, 1, 15, 8, 0, 5, tzinfo=UTC)


def make_channel(store: Any, sink: Any, name: str | None = None) -> str:
    from shared.store.models import Channel

    name = name or unique("ch")
    store.channels.save(Channel(name=name, url=sink.workflow_url(name)))
    return name


def make_sub(
    store: Any,
    channel: str,
    source: str,
    target: str,
    *,
    due: datetime | None = None,
    times: list[str] | None = None,
    tz: str = "UTC",
    post_empty: bool = False,
    settings: dict[str, Any] | None = None,
) -> Any:
    from shared.store.models import Schedule, Subscription

    sub = Subscription(
        channel=channel,
        source=source,
        target=target,
        settings=settings or {},
        schedule=Schedule(times=times or ["08:00"], days=list(range(7)), tz=tz),
        next_run=due or (NOW - timedelta(minutes=1)),
        post_empty=post_empty,
    )
    return store.subscriptions.add(sub)

