"""Sender text on every card path shows literally: no link, no mention (security issue item 8).

Each source and the digest card built in process from payloads carrying a phishing link, a
`javascript:` link and a forged `<at>` mention in every text field a sender controls; the card's
Markdown is read as Teams reads it (markdown-it). Where a source deliberately keeps the sender's
own Markdown (a pull request body), links stay but only http(s) ones, and mentions never.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from shared.cards import markdown
from shared.cards.builders import CardBuilder
from shared.incoming import pipeline
from shared.store.models import Route
from tests.incoming.helpers import GRAFANA_LEGACY, payload_json
from tests.support.injection import (
    EVIL_LINK,
    EVIL_URL,
    FORGED,
    INJECTED,
    SCRIPT_LINK,
    assert_no_injection,
    forged_mentions,
    links,
)

pytestmark = pytest.mark.unit


def card_of(source: str, body: Any, headers: dict[str, str] | None = None, **route: Any) -> dict[str, Any]:
    r = Route(name="r1", source=source, **route)
    raw = json.dumps(body).encode()
    prepared = pipeline.prepare(r, {"content-type": "application/json", **(headers or {})}, raw)
    card: dict[str, Any] = prepared.notice.cards[0]
    return card


def test_generic_fact_keys_and_values_show_literally() -> None:
    card = card_of(
        "generic",
        {"title": INJECTED, "message": INJECTED, EVIL_LINK: 1, "owner": FORGED, "note": SCRIPT_LINK},
    )
    assert_no_injection(card)
    assert "Re-login" in json.dumps(card)  # the words stay visible


def test_generic_template_output_escapes_the_data_not_the_template() -> None:
    template = {
        "title": "{{ service }}",
        "text": "**Deploy** of {{ service }}: [details](https://ci.example.org/{{ run }})",
        "facts": {"Who": "{{ who }}", "{{ who }}": "x"},
    }
    card = card_of(
        "generic",
        {"service": INJECTED, "who": f"{FORGED} {EVIL_LINK}", "run": "7"},
        settings={"template": json.dumps(template)},
    )
    assert_no_injection(card)
    assert links(card) == ["https://ci.example.org/7"]  # the template's own link is kept
    assert "**Deploy**" in json.dumps(card)


def test_grafana_message_annotations_and_values() -> None:
    body = copy.deepcopy(payload_json("grafana_firing.json"))
    body["message"] = INJECTED
    alert = body["alerts"][0]
    alert["annotations"]["summary"] = INJECTED
    alert["annotations"]["description"] = INJECTED
    alert["values"] = {EVIL_LINK: 1, "B": FORGED}
    body["alerts"].append(copy.deepcopy(alert))  # two alerts: per-alert link lines are shown
    assert_no_injection(card_of("grafana", body))
    legacy = dict(GRAFANA_LEGACY, message=INJECTED, evalMatches=[{"value": 1, "metric": EVIL_LINK}])
    assert_no_injection(card_of("grafana", legacy))


def test_alertmanager_annotations_and_labels() -> None:
    body = copy.deepcopy(payload_json("alertmanager_firing.json"))
    body["commonAnnotations"].update(summary=INJECTED, description=INJECTED)
    body["commonLabels"][EVIL_LINK] = FORGED
    for alert in body["alerts"]:
        alert["annotations"].update(summary=INJECTED, description=INJECTED + " own")
    assert_no_injection(card_of("alertmanager", body))


def test_azure_devops_values() -> None:
    body = copy.deepcopy(payload_json("ado_build_failed.json"))
    body["resource"]["reason"] = INJECTED
    body["resource"].setdefault("requestedFor", {})["displayName"] = INJECTED
    assert_no_injection(card_of("azure-devops", body))


def test_github_markdown_bodies_keep_http_links_only_and_no_mentions() -> None:
    body = copy.deepcopy(payload_json("github_push.json"))
    body["commits"][0]["message"] = INJECTED
    body["commits"][0]["id"] = "`](https://evil.example/login)"
    card = card_of("github", body, {"x-github-event": "push"})
    assert_no_injection(card)
    pr = {
        "action": "opened",
        "number": 1,
        "repository": {"full_name": "o/r", "html_url": "https://github.com/o/r"},
        "sender": {"login": "u"},
        "pull_request": {
            "number": 1,
            "title": INJECTED,
            "html_url": "https://github.com/o/r/pull/1",
            "user": {"login": "u"},
            "body": f'See {INJECTED} and <a href="javascript:x">this</a>\n\n[r]: javascript:y',
        },
    }
    card = card_of("github", pr, {"x-github-event": "pull_request"})
    assert_no_injection(card, http_links_allowed=True)


def test_messagecard_markdown_keeps_http_links_only() -> None:
    mc = {
        "@type": "MessageCard",
        "summary": "s",
        "title": INJECTED,
        "text": INJECTED,
        "sections": [{"activityTitle": INJECTED, "facts": [{"name": EVIL_LINK, "value": SCRIPT_LINK}]}],
    }
    card = card_of("messagecard", mc)
    assert_no_injection(card, http_links_allowed=True)


def test_digest_card_titles_summaries_and_facts() -> None:
    from shared.digest.card import build_digest_card
    from shared.digest.feeds.base import Entry, Gathered

    entry = Entry(id="1", title=INJECTED, url="https://news.example/a)(b", summary=INJECTED, state=FORGED)
    gathered = Gathered(
        source="rss", title=INJECTED, headline=INJECTED, entries=[entry], facts=[(EVIL_LINK, INJECTED)]
    )
    card = build_digest_card(gathered)
    assert_no_injection(card)
    assert links(card) == ["https://news.example/a%29%28b"]  # the entry's own link, unbroken


def test_the_builder_guards_whatever_a_caller_composed() -> None:
    builder = CardBuilder("t")
    ours = builder.mention("ops@contoso.example", "Ops")
    builder.text(f"{SCRIPT_LINK} {FORGED} cc {ours} <javascript:alert(1)>")
    card = builder.build()
    assert not [url for url in links(card) if not url.startswith("https://")]
    assert forged_mentions(card) == []
    assert ours in card["body"][-1]["text"]  # the card's own mention is kept


@pytest.mark.parametrize(
    "text",
    [
        "[a [b] c](javascript:alert(1))",
        "\\\\[x](javascript:x)",
        "![i](data:text/html,x)",
        "[r]\n\n[r]: javascript:x",
        "- [r]: javascript:y\n\n[r]",
        "<javascript:alert(1)>",
        "<mail@evil.example>",
        '<a href="javascript:x">hi</a>',
        "[x](\njavascript:x)",
        "[x]( <javascript:x> )",
    ],
)
def test_sender_markdown_has_http_links_only(text: str) -> None:
    out = markdown.sender_markdown(text)
    card = {"body": [{"type": "TextBlock", "text": out}]}
    assert links(card) == []
    assert markdown.http_links_only(out) == out  # applying it again changes nothing


def test_pieces_put_side_by_side_make_no_link() -> None:
    text = "x" + markdown.escape_piece("[x]") + markdown.escape_piece(f"({EVIL_URL})")
    assert links({"body": [{"type": "TextBlock", "text": text}]}) == []
    assert markdown.link("a]", "https://x.example/a b)(c") == "[a\\]](https://x.example/a%20b%29%28c)"


def test_linear_on_adversarial_markdown() -> None:
    import time

    for text in ("](" * 200_000, "\\" * 200_000 + "](x", "[" * 200_000 + "]:", "<a:" * 100_000):
        started = time.perf_counter()
        markdown.http_links_only(text)
        assert time.perf_counter() - started < 1.0
