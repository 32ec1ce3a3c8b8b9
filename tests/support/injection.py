"""What a card shows as links and mentions, read the way Teams reads its Markdown (markdown-it,
CommonMark): the oracle of the injection tests (security issue item 8)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

#: a phishing link and a forged mention, as a sender would put them anywhere in a payload
EVIL_URL = "https://evil.example/login"
EVIL_LINK = f"[Re-login]({EVIL_URL})"
SCRIPT_LINK = "[click](javascript:alert(1))"
FORGED = "<at>Ops</at>"
INJECTED = f"{EVIL_LINK} {SCRIPT_LINK} {FORGED}"

_HREF_RE = re.compile(r'<a href="([^"]*)"')


def _markdown_texts(element: Any) -> Iterator[str]:
    if isinstance(element, list):
        for item in element:
            yield from _markdown_texts(item)
    elif isinstance(element, dict):
        if element.get("type") == "TextBlock" and isinstance(element.get("text"), str):
            yield element["text"]
        if element.get("type") == "FactSet":
            for fact in element.get("facts") or []:
                yield str(fact.get("title", ""))
                yield str(fact.get("value", ""))
        for key, value in element.items():
            if key not in ("text", "facts", "msteams"):
                yield from _markdown_texts(value)


def links(card: dict[str, Any]) -> list[str]:
    """Every link destination the card's Markdown renders (TextBlocks and facts)."""
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py is a dev-only oracle")
    md = markdown_it.MarkdownIt("commonmark")
    found: list[str] = []
    for text in _markdown_texts(card.get("body") or []):
        found += _HREF_RE.findall(md.render(text))
    return found


def forged_mentions(card: dict[str, Any]) -> list[str]:
    """`<at>...</at>` markup in the card's text that is not one of its own mention entities."""
    own = {str(e.get("text")) for e in (card.get("msteams") or {}).get("entities") or []}
    found: list[str] = []
    for text in _markdown_texts(card.get("body") or []):
        found += [m for m in re.findall(r"<at>[^<]*</at>", text, re.IGNORECASE) if m not in own]
    return found


def assert_no_injection(card: dict[str, Any], *, http_links_allowed: bool = False) -> None:
    """No link to the sender's URLs (or, where the sender's Markdown is kept, none but http(s))
    and no mention the card did not make."""
    shown = links(card)
    if http_links_allowed:
        assert all(url.startswith(("https://", "http://")) for url in shown), shown
    else:
        assert EVIL_URL not in shown, shown
    assert not any(url.startswith("javascript:") for url in shown), shown
    assert not forged_mentions(card), forged_mentions(card)
