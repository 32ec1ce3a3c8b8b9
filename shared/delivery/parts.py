"""A card as the POST bodies it goes out in: in the form Workflows displays, fitted under Teams' cap,
numbered, split again on a 413.

Parts are numbered "2/3"; a part that Teams refuses as too large is split into pieces numbered
"2/3.1/2", "2/3.2/2", and so on (`split_part`). Each body is serialised once, and what is measured
against the cap is exactly what is sent (`shared.cards.envelopes.dumps`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.cards.envelopes import CardLike


@dataclass
class Part:
    """One POST body of a message; `number` is "2/3" (or "2/3.1/2" after a split on a 413)."""

    number: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def piece_number(number: str, index: int, pieces: int) -> str:
    """The number of piece `index` (from 1) of the `pieces` a part was split into: "2/3" -> "2/3.1/2"."""
    return f"{number}.{index}/{pieces}"


def part_order(number: str) -> tuple[int, ...]:
    """Sort key for part numbers: "10/12" after "2/12", "2/3.1/2" after "2/3"."""
    order: list[int] = []
    for piece in number.split("."):
        head = piece.split("/")[0]
        order.append(int(head) if head.isdigit() else 0)
    return tuple(order)


def make_parts(card: CardLike, max_bytes: int, prefix: str = "") -> list[Part]:
    """Fit the card under the cap (split or shorten, by shared.cards.limits) and serialise each part once."""
    from shared.cards import envelopes, limits, workflows

    # The form the Workflows Flow bot displays (version 1.4, links only), made before fitting so
    # that every part is in it. A card with no such form, or that Teams would refuse, fails here,
    # visibly, instead of as "couldn't be displayed" after a 202 nobody watches.
    shown = workflows.for_workflows(card)
    limits.check_webhook(shown)
    cards = limits.fit(shown, max_bytes=max_bytes)
    n = len(cards)
    return [
        Part(f"{prefix}{i}/{n}", envelopes.dumps(envelopes.workflows_message(c)))
        for i, c in enumerate(cards, start=1)
    ]


#: how much of an unsendable card its dead letter keeps (enough to see what it was)
UNSENDABLE_KEEP_CHARS = 200_000


def unsendable_part(card: CardLike) -> Part:
    """The dead letter's body of a card `make_parts` refused: as near the card as can be stored.

    Text that cannot be encoded (a lone surrogate) becomes "?", and a huge card is cut short.
    """
    from shared.cards import envelopes

    try:
        text = json.dumps(envelopes.workflows_message(card), ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = json.dumps({"type": "message", "attachments": [], "unsendable": True})
    body = text.encode("utf-8", "replace")[: UNSENDABLE_KEEP_CHARS]
    return Part("1/1", body.decode("utf-8", "ignore").encode("utf-8"))


def in_workflows_form(body: bytes) -> bytes:
    """A stored part as it must be posted: the body itself when its cards are in the Workflows
    form (every part made by `make_parts`), else re-made with each card converted. Parts queued
    before cards were converted (the outbox outlives a deploy) would show "couldn't be displayed".

    Raises CardRuleError for a card with no such form (the sweep makes it a dead letter).
    """
    from shared.cards import envelopes, workflows

    try:
        message = json.loads(body)
    except ValueError:
        return body
    attachments = message.get("attachments") if isinstance(message, dict) else None
    changed = False
    for attachment in attachments if isinstance(attachments, list) else []:
        content = attachment.get("content") if isinstance(attachment, dict) else None
        if attachment.get("contentType") == envelopes.ADAPTIVE_CONTENT_TYPE and isinstance(content, dict):
            shown = workflows.for_workflows(content)
            if shown != content:
                attachment["content"] = shown
                changed = True
    return envelopes.dumps(message) if changed else body


def count_parts(card: CardLike) -> int:
    """How many parts `deliver` posts this card in, with the current settings (before any 413).

    Raises what `make_parts` raises for a card that cannot be sent (`CardRuleError`, ...).
    """
    from shared.delivery.config import Config

    return len(make_parts(card, Config.load().max_bytes))


def split_part(part: Part, max_bytes: int) -> list[Part] | None:
    """Split a part that Teams refused as too large into smaller ones; None when it cannot get smaller.

    None also when the card's header, actions and mentions alone fill the smaller cap (`limits.fit`
    raises CardRuleError then): the part becomes a dead letter with that reason instead of an error.
    """
    from shared.cards import envelopes
    from shared.cards.limits import CardRuleError

    try:
        cards = envelopes.cards_of(json.loads(part.body))
    except ValueError:
        return None
    if not cards:
        return None
    smaller = max(1024, min(max_bytes, len(part.body)) // 2)
    pieces: list[Part] = []
    try:
        for card in cards:
            pieces.extend(make_parts(card, smaller))
    except CardRuleError:
        return None
    if len(pieces) <= 1:
        return None
    n = len(pieces)
    return [Part(piece_number(part.number, i, n), p.body) for i, p in enumerate(pieces, start=1)]
