"""Injection and template bombs through the real dev host, store and sink (issue 13, items 8, 9).

A generic sender's fact keys, values and title carrying a phishing link and a forged mention reach
the channel as literal text; a route template's output escapes the data it interpolates; a
template that would allocate gigabytes or spin (repetition, powers, ranges, nested loops) is
answered at once with a 400 naming the template field and the bound, and nothing is posted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.cards.envelopes import cards_of
from tests.incoming.test_incoming_http import delivered, make_route, post
from tests.support.injection import EVIL_LINK, FORGED, INJECTED, SCRIPT_LINK, assert_no_injection, links


@pytest.fixture
def env(sink: Any) -> Iterator[None]:
    sink.reset()
    sink.set_limits(windows=[])
    yield
    sink.reset()


def test_generic_post_shows_sender_links_and_mentions_literally(
    devhost: str, app_store: Any, sink: Any, env: None
) -> None:
    route, (channel,) = make_route(app_store, sink, "generic")
    body = {"title": INJECTED, "message": INJECTED, EVIL_LINK: 1, "owner": FORGED, "note": SCRIPT_LINK}
    reply = post(devhost, route, json.dumps(body).encode())
    assert reply.status_code == 202, reply.text
    (message,) = delivered(sink, channel)
    (card,) = cards_of(message)
    assert_no_injection(card)
    assert "Re-login" in json.dumps(card, ensure_ascii=False)


def test_template_output_escapes_the_data(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    template = {
        "title": "{{ service }}",
        "text": "Deploy of **{{ service }}**",
        "facts": {"Who": "{{ who }}"},
    }
    route, (channel,) = make_route(app_store, sink, "generic", settings={"template": json.dumps(template)})
    reply = post(devhost, route, json.dumps({"service": INJECTED, "who": FORGED}).encode())
    assert reply.status_code == 202, reply.text
    (message,) = delivered(sink, channel)
    (card,) = cards_of(message)
    assert_no_injection(card)
    assert links(card) == []


BOMBS = [
    ("{{ 'x' * 1000000000 }}", "repeating"),
    ("{{ 2 ** 1000000000 }}", "power"),
    ("{{ range(1000000000)|list|length }}", "range"),
    (
        "{% for a in data.n %}{% for b in data.n %}{% for c in data.n %}{% endfor %}{% endfor %}{% endfor %}",
        "loop",
    ),
    ("{{ data.s|indent(99999999) }}", "indent"),
    ("{{ data.s|replace('', 'x' * 9999) }}", "replace"),
    ("{{ '%0999999999d' % 1 }}", "format"),
    (
        "{% set ns = namespace(s='ab') %}{% for i in data.n %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "characters",
    ),
]


@pytest.mark.parametrize(("source", "bound"), BOMBS, ids=[b for _, b in BOMBS])
def test_template_bombs_fail_fast_with_a_400(
    devhost: str, app_store: Any, sink: Any, env: None, source: str, bound: str
) -> None:
    route, (channel,) = make_route(
        app_store, sink, "generic", settings={"template": json.dumps({"text": source})}
    )
    started = time.monotonic()
    reply = post(devhost, route, json.dumps({"n": list(range(1000)), "s": "line\n" * 50_000}).encode())
    assert time.monotonic() - started < 5.0
    assert reply.status_code == 400, reply.text
    answer = reply.json()
    assert answer["error"] in ("route template went over a limit", "route template failed on this payload")
    assert answer["detail"][0].startswith("template.text: "), answer
    assert sink.messages(channel) == []


def test_a_long_template_output_is_cut_while_rendering(
    devhost: str, app_store: Any, sink: Any, env: None
) -> None:
    template = {"text": "{% for i in data.n %}{{ 'word ' * 1000 }}{% endfor %}"}
    route, (channel,) = make_route(app_store, sink, "generic", settings={"template": json.dumps(template)})
    reply = post(devhost, route, json.dumps({"n": list(range(5000))}).encode())
    assert reply.status_code == 202, reply.text
    (message,) = delivered(sink, channel)
    text = json.dumps(cards_of(message)[0])
    assert "word word" in text and len(text) < 10_000
