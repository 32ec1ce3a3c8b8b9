"""The Teams sink's page draws each message as the card Teams would show, in a real browser."""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.conftest import unique
from tools.teams_sink import TeamsSink


def _message(text: str, version: str) -> dict[str, Any]:
    card = {
        "type": "AdaptiveCard",
        "version": version,
        "body": [{"type": "TextBlock", "text": text, "wrap": True}],
        "actions": [{"type": "Action.OpenUrl", "title": "Open the run", "url": "https://example.org/run"}],
    }
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


def test_sink_page_renders_cards_with_their_json(renderer: Any) -> None:
    with TeamsSink(windows=[]) as sink:  # its own: the page shows every channel of a sink
        _check_page(renderer, sink)


def _check_page(renderer: Any, sink: TeamsSink) -> None:
    channel = unique("page")
    for text, version in (("Deploy **finished** <script>alert(1)</script>", "1.4"), ("Too new", "1.5")):
        answer = requests.post(sink.workflow_url(channel), json=_message(text, version), timeout=10)
        assert answer.status_code == 202
    html = requests.get(sink.url + "/", timeout=10).text
    sources = re.findall(r'<script src="([^"]+)"', html)
    assert sources and all(src.startswith("/assets/") for src in sources)  # served by the sink, no CDN
    for src in sources:
        assert requests.get(sink.url + src, timeout=10).status_code == 200, src
    assert requests.get(sink.url + "/assets/../../etc/passwd", timeout=10).status_code == 404

    shown = renderer.visit(
        sink.url + "/", "() => document.querySelectorAll('.card .ac-adaptiveCard').length >= 2"
    )
    assert "Deploy finished <script>alert(1)</script>" in shown.text  # Markdown rendered, HTML shown as text
    assert "Open the run" in shown.text
    assert "card version '1.5' is above 1.4" in shown.text  # the sink's verdict on the 1.5 card
    assert shown.text.count("is above 1.4") == 1  # the 1.4 one is not flagged
    assert "JSON" in shown.text and shown.png.startswith(b"\x89PNG")
