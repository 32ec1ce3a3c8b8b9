"""Sinks built for one test each, so every rule can be tested with its own limits."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tools.teams_sink import TeamsSink

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
ADAPTIVE = "application/vnd.microsoft.card.adaptive"


def card(version: str = "1.4", text: str = "hello") -> dict[str, Any]:
    return {
        "type": "AdaptiveCard",
        "version": version,
        "body": [{"type": "TextBlock", "text": text, "wrap": True}],
    }


def envelope(content: Any = None, content_type: str = ADAPTIVE) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [{"contentType": content_type, "contentUrl": None, "content": content or card()}],
    }


def envelope_of(*contents: Any) -> dict[str, Any]:
    """An envelope with one Adaptive Card attachment per content, as the template loops over them."""
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE, "contentUrl": None, "content": c} for c in contents],
    }


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def shared_json(*parts: str) -> Any:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the third-party fixtures live in ../shared beside the repo")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def make_sink() -> Iterator[Callable[..., TeamsSink]]:
    """Start sinks with the given options; all are stopped after the test. No per-URL windows and no
    Flow bot budget unless asked for. The version rule is Teams' (1.4) unless asked otherwise, whatever $TEAMS_SINK_MAX_VERSION says (`max_version=None` reads it)."""
    started: list[TeamsSink] = []

    def make(**options: Any) -> TeamsSink:
        options.setdefault("windows", [])
        options.setdefault("budget", "off")
        options.setdefault("max_version", (1, 4))
        sink = TeamsSink(**options).start()
        started.append(sink)
        return sink

    yield make
    for sink in started:
        sink.stop()


@pytest.fixture
def quiet_sink(make_sink: Callable[..., TeamsSink]) -> TeamsSink:
    """A sink without throttling, for the rules that are not about rates."""
    return make_sink()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
