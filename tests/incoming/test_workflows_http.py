"""Cards a Workflows channel can show, through the real dev host, store and sink.

An Adaptive Card sender's 1.5 card is converted to its 1.4 form and delivered; one with an
Action.Submit (nothing behind a Workflows post can receive its data) is refused with a 400 that
names the element and its path, and nothing reaches the channel. (Delivery applies the same form
to every card it posts: tests/delivery/test_deliver.py.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.incoming.test_incoming_http import delivered, make_route, post

URL = "https://example.org/changelog"


@pytest.fixture
def env(sink: Any) -> Iterator[None]:
    sink.reset()
    sink.set_limits(windows=[])
    yield
    sink.reset()


def release_card(*actions: dict[str, Any], extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A sender's 1.5 card: heading, table, a ShowCard and a toggled detail."""
    return {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": "Release 2.4 is live", "style": "heading", "wrap": True},
            {
                "type": "Table",
                "columns": [{"width": 1}, {"width": 1}, {"width": 1}],
                "rows": [
                    {"type": "TableRow", "cells": [cell("Region"), cell("Version"), cell("Status")]},
                    {"type": "TableRow", "cells": [cell("eu-west"), cell("2.4.0"), cell("live")]},
                    {"type": "TableRow", "cells": [cell("us-east"), cell("2.4.0"), cell("rolling")]},
                ],
            },
            {"type": "TextBlock", "text": "Rollback plan: redeploy 2.3.9", "id": "plan", "isVisible": False},
            *(extra or []),
        ],
        "actions": [
            {
                "type": "Action.OpenUrl",
                "title": "Changelog",
                "url": URL,
                "mode": "primary",
                "tooltip": "What changed",
            },
            {"type": "Action.ToggleVisibility", "title": "Rollback plan", "targetElements": ["plan"]},
            {
                "type": "Action.ShowCard",
                "title": "Known issues",
                "card": {
                    "type": "AdaptiveCard",
                    "body": [{"type": "TextBlock", "text": "Search reindex is slow"}],
                },
            },
            *actions,
        ],
    }


def cell(text: str) -> dict[str, Any]:
    return {"type": "TableCell", "items": [{"type": "TextBlock", "text": text, "wrap": True}]}


def envelope(content: dict[str, Any]) -> bytes:
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": content,
    }
    return json.dumps({"type": "message", "attachments": [attachment]}).encode()


def test_a_15_card_is_delivered_in_its_14_form(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    route, (channel,) = make_route(app_store, sink, "adaptivecard")
    reply = post(devhost, route, envelope(release_card()))
    assert reply.status_code == 202, reply.text
    [message] = delivered(sink, channel)  # checked against the 1.4 schema, links only
    card = message["attachments"][0]["content"]
    text = json.dumps(card)
    assert card["version"] == "1.4"
    assert card["body"][0]["weight"] == "Bolder" and "style" not in card["body"][0]
    assert '"Table"' not in text and "us-east" in text and "rolling" in text  # the grid
    assert "Rollback plan: redeploy 2.3.9" in text and '"isVisible": false' not in text
    assert "Search reindex is slow" in text and "Known issues" in text
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Changelog", "url": URL}]


def test_a_card_with_submit_is_refused_naming_it_and_nothing_is_posted(
    devhost: str, app_store: Any, sink: Any, env: None
) -> None:
    route, (channel,) = make_route(app_store, sink, "adaptivecard")
    form = {
        "type": "ActionSet",
        "actions": [{"type": "Action.Submit", "title": "Approve", "data": {"ok": 1}}],
    }
    box = {"type": "ColumnSet", "columns": [{"items": [{"type": "TextBlock", "text": "Approve?"}, form]}]}
    reply = post(devhost, route, envelope(release_card(extra=[box])))
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert body["error"] == "card cannot be shown in a Teams channel"
    assert body["detail"][0].startswith(
        "attachments[0].content.body[3].columns[0].items[1].actions[0] (Action.Submit): only Action.OpenUrl"
    )
    bare = release_card({"type": "Action.Execute", "title": "Roll back", "verb": "rollback"})
    reply = post(devhost, route, json.dumps(bare).encode())
    assert reply.status_code == 400 and reply.json()["detail"][0].startswith(
        "body.actions[3] (Action.Execute)"
    )
    assert sink.requests(channel) == []  # refused before anything was accepted or posted


def test_a_card_with_nothing_to_show_is_refused(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    route, (channel,) = make_route(app_store, sink, "adaptivecard")
    for card in ({"type": "AdaptiveCard", "version": "1.4"}, {"type": "AdaptiveCard", "version": "1.4", "body": []}):
        reply = post(devhost, route, envelope(card))
        assert reply.status_code == 400, reply.text
        assert reply.json() == {
            "error": "card has nothing to show",
            "detail": ["attachments[0].content.body: at least one element is required"],
        }
    assert sink.requests(channel) == []
