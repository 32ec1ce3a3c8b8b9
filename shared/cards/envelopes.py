"""The JSON wrappers Teams expects around a card, and the one serialiser.

Everything POSTed or returned goes through `dumps`, so that the bytes measured against the 28 KB
cap are exactly the bytes sent. Cards may be plain dicts (what builders produce) or
`adaptive.AdaptiveCard` models (anything with `to_dict()`); this module never imports the models,
to stay cheap on the outgoing bot's cold-start path.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

ADAPTIVE_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"


class _HasToDict(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


CardLike = dict[str, Any] | _HasToDict


def card_dict(card: CardLike) -> dict[str, Any]:
    """The card as JSON-ready data, whatever form it came in."""
    if isinstance(card, dict):
        return card
    to_dict = getattr(card, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        if isinstance(data, dict):
            return data
    raise TypeError(f"expected a card dict or AdaptiveCard, got {type(card).__name__}")


def _default(obj: Any) -> Any:
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (no ASCII escaping: `é` costs 2 bytes, not 6)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_default).encode("utf-8")


def attachment(card: CardLike) -> dict[str, Any]:
    """One Adaptive Card attachment, shaped like Teams' own examples."""
    return {"contentType": ADAPTIVE_CONTENT_TYPE, "contentUrl": None, "content": card_dict(card)}


def workflows_message(card: CardLike) -> dict[str, Any]:
    """The body a Workflows "when a Teams webhook request is received" flow expects."""
    return {"type": "message", "attachments": [attachment(card)]}


def reply(text: str | None = None, card: CardLike | None = None) -> dict[str, Any]:
    """An outgoing-webhook reply: text, a card, or both (Teams shows the text above the card)."""
    if text is None and card is None:
        raise ValueError("a reply needs text, a card or both")
    message: dict[str, Any] = {"type": "message"}
    if text is not None:
        message["text"] = text
    if card is not None:
        message["attachments"] = [attachment(card)]
    return message


def cards_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The Adaptive Cards inside a message envelope (for checks and tests)."""
    found: list[dict[str, Any]] = []
    for item in message.get("attachments") or []:
        if isinstance(item, dict) and item.get("contentType") == ADAPTIVE_CONTENT_TYPE:
            content = item.get("content")
            if isinstance(content, dict):
                found.append(content)
    return found
