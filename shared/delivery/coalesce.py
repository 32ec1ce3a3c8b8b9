"""Combining waiting posts into "N updates" cards when a connection has less budget than posts.

At queue time each outbox item gets a small `OutboxSummary` of its card (title, status, link:
`summarize`), so the sweep builds a combined card from those alone, without parsing cards. A
combined card lists each original's title in its status colour with a link when it had one; it
is built with `cards.builders` (1.4 rules: the Workflows form) and cut into as few cards as the
28 KB cap needs (`combined_cards`), each of which is one post and stands for its originals only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.store.models import OutboxSummary

MAX_TITLE_CHARS = 200
_STATUSES = ("good", "warning", "attention", "accent", "default")
# How far the status of a combined card goes: the most urgent of its entries.
_URGENCY = {"attention": 4, "warning": 3, "accent": 2, "good": 1, "default": 0}


def _walk(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _short(text: str) -> str:
    line = " ".join(text.split())
    if len(line) > MAX_TITLE_CHARS:
        line = line[: MAX_TITLE_CHARS - 1].rstrip("\\") + "…"
    return line


def summarize_card(card: Mapping[str, Any]) -> OutboxSummary:
    """Title (the first text), status (the first coloured container) and link (the first
    Action.OpenUrl) of a card, as the sender's card had them. Titles are already card markdown."""
    from shared.cards.links import http_url

    title = status = url = None
    for node in _walk(card):
        kind = node.get("type")
        text = node.get("text")
        if title is None and kind == "TextBlock" and isinstance(text, str) and text.strip():
            title = _short(text)
        elif status is None and kind == "Container" and node.get("style") in _STATUSES:
            status = str(node["style"])
        elif url is None and kind == "Action.OpenUrl" and isinstance(node.get("url"), str):
            url = http_url(node["url"])
        if title is not None and status is not None and url is not None:
            break
    return OutboxSummary(title=title or "(a card without a title)", status=status or "default", url=url)


def summarize(body: bytes) -> OutboxSummary:
    """The summary of a part's body (a Workflows message: its first card)."""
    from shared.cards.envelopes import cards_of

    try:
        cards = cards_of(json.loads(body))
    except (ValueError, TypeError):
        cards = []
    first = cards[0] if cards else None
    return summarize_card(first) if isinstance(first, Mapping) else OutboxSummary(title="(a message)")


@dataclass(frozen=True)
class Entry:
    """One original message in a combined card; `ref` is the caller's handle on it."""

    summary: OutboxSummary
    ref: object


def _line(summary: OutboxSummary) -> dict[str, Any]:
    from shared.cards.builders import Status, text_block

    text = f"**{summary.title}**"
    if summary.url:
        text += f" · [Open]({summary.url})"
    status = Status(summary.status) if summary.status in _STATUSES else Status.DEFAULT
    props: dict[str, Any] = {"spacing": "Small"}
    if status is not Status.DEFAULT:
        props["color"] = status.color
    return text_block(text, **props)


def build_card(entries: Sequence[Entry], connection: str, total: int | None = None) -> dict[str, Any]:
    """The "N updates" card of `entries` (of `total` combined in this round, when cut in several)."""
    from shared.cards.builders import CardBuilder, Status

    worst = max((e.summary.status for e in entries), key=lambda s: _URGENCY.get(s, 0), default="default")
    status = Status(worst) if worst in _STATUSES else Status.DEFAULT
    n = len(entries)
    note = f"Sent together while connection {connection} was at its posting budget"
    if total is not None and total > n:
        note += f" ({n} of {total})"
    builder = CardBuilder(f"{n} updates" if n != 1 else "1 update", status, note)
    for entry in entries:
        builder.element(_line(entry.summary))
    return builder.build()


def combined_cards(
    entries: Sequence[Entry], connection: str, max_bytes: int
) -> list[tuple[dict[str, Any], list[Entry]]]:
    """The entries as few combined cards as fit under `max_bytes` each (in order), with their entries.

    Each card is one post, so a card is accepted or not as a whole with its own entries.
    """
    from shared.delivery.parts import make_parts

    out: list[tuple[dict[str, Any], list[Entry]]] = []

    def fits(chunk: Sequence[Entry]) -> dict[str, Any] | None:
        card = build_card(chunk, connection, len(entries))
        parts = make_parts(card, max_bytes)
        return card if len(parts) == 1 else None

    def place(chunk: list[Entry]) -> None:
        card = fits(chunk)
        if card is not None or len(chunk) == 1:
            out.append((card if card is not None else build_card(chunk, connection), chunk))
            return
        half = len(chunk) // 2
        place(chunk[:half])
        place(chunk[half:])

    # Greedy by estimated size first (each line's JSON plus a little), then checked exactly.
    budget = max(1024, max_bytes - 2048)
    chunk: list[Entry] = []
    size = 0
    for entry in entries:
        cost = len(json.dumps(_line(entry.summary), ensure_ascii=False).encode("utf-8")) + 8
        if chunk and size + cost > budget:
            place(chunk)
            chunk, size = [], 0
        chunk.append(entry)
        size += cost
    if chunk:
        place(chunk)
    return out
