"""Delivery tests run against the real sink (HTTP on 127.0.0.1) and the real store (Azurite)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from shared.delivery.ratelimit import LIMITER
from shared.store import behind
from tests.conftest import unique

SECRET_SIG = "Sig" + secrets.token_urlsafe(24)


def card(title: str = "Deploy finished", facts: int = 2) -> dict[str, Any]:
    """A small card built as data, labelled 1.5 (delivery posts it relabelled 1.4, its content's
    form for Workflows); `facts` makes it as large as a test needs."""
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": title, "weight": "Bolder", "wrap": True},
            {
                "type": "FactSet",
                "facts": [{"title": f"key {i}", "value": f"value {i} " + "x" * 40} for i in range(facts)],
            },
        ],
    }


def with_actions(base: dict[str, Any], count: int = 5) -> dict[str, Any]:
    """`base` with long-titled link buttons: card-level content that every split part must repeat."""
    actions = [
        {
            "type": "Action.OpenUrl",
            "title": f"Open dashboard number {i} for the whole team",
            "url": f"https://example.com/{'d' * 180}{i}",
        }
        for i in range(count)
    ]
    return {**base, "actions": actions}


def secret_url(sink: Any, channel: str, legacy: bool = False) -> str:
    """A sink URL shaped like a real Workflows URL, with a secret `sig` that must never leak."""
    base = sink.legacy_url(channel) if legacy else sink.workflow_url(channel)
    return f"{base}/triggers/manual/paths/invoke?api-version=2016-06-01&sv=1.0&sig={SECRET_SIG}"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, sink: Any) -> Iterator[None]:
    """Sink allowed, generous client limits (tests that need tight ones set them), fresh limiter."""
    monkeypatch.setenv("DELIVERY_EXTRA_ALLOWED_URLS", sink.url + "/")
    monkeypatch.setenv("DELIVERY_RATE_WORKFLOWS", "1000/1")
    monkeypatch.setenv("DELIVERY_RATE_LEGACY", "1000/1")
    monkeypatch.setenv("DELIVERY_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("DELIVERY_BUDGET_SECONDS", "5")
    for name in ("DELIVERY_INLINE_ATTEMPTS", "DELIVERY_MAX_ATTEMPTS", "DELIVERY_MAX_AGE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    LIMITER.reset()
    sink.reset()
    sink.set_limits(windows=[])
    yield
    behind.flush()  # no log write of this test may land in the next one
    LIMITER.reset()
    sink.reset()


@pytest.fixture
def channel(store: Any, sink: Any, env: None) -> str:
    """A channel in the store whose URL points at the sink."""
    from shared.store.models import Channel

    name = unique("ch")
    store.channels.add(Channel(name=name, url=secret_url(sink, name)))
    return name
