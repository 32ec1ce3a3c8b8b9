"""Adaptive Card senders: a Workflows-style envelope (``{"type": "message", "attachments": [...]}``)
or a bare ``AdaptiveCard``. Each card is checked (shape, version <= 1.5, Teams' webhook rules) and
passed through unchanged, so senders who already build good cards keep full control.
"""

from __future__ import annotations

from typing import Any

from shared.sources.base import (
    BuildContext,
    Card,
    Incoming,
    Notice,
    SourceError,
    Summary,
    content_hash,
    short,
)

ADAPTIVE = "application/vnd.microsoft.card.adaptive"
MAX_VERSION = (1, 5)


def _version(value: Any) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in str(value).split("."))
    except ValueError:
        return None


def check_card(content: Any, where: str) -> Card:
    """The card if it is one Teams will take; SourceError naming the field otherwise."""
    from pydantic import ValidationError

    from shared.cards.adaptive import AdaptiveCard
    from shared.sources.base import validation_detail

    if not isinstance(content, dict):
        raise SourceError("not a valid Adaptive Card", [f"{where}: must be an object"])
    if content.get("type") != "AdaptiveCard":
        raise SourceError("not a valid Adaptive Card", [f"{where}.type: must be AdaptiveCard"])
    version = _version(content.get("version"))
    if version is None:
        raise SourceError("not a valid Adaptive Card", [f'{where}.version: field required (e.g. "1.5")'])
    if version > MAX_VERSION:
        raise SourceError(
            "unsupported Adaptive Card version", [f"{where}.version: Teams renders 1.5 or lower"]
        )
    try:
        AdaptiveCard.parse(content)
    except ValidationError as exc:
        detail = [f"{where}.{line}" for line in validation_detail(exc)]
        raise SourceError("not a valid Adaptive Card", detail) from None
    from shared.cards import limits

    try:
        limits.check_webhook(content)
    except limits.CardRuleError as exc:  # a rule Teams enforces (Action.Submit, version, ...)
        raise SourceError("card breaks a Teams rule", [f"{where}: {short(exc, 300)}"]) from None
    return content


def _title(card: Card) -> str:
    for element in card.get("body") or []:
        if isinstance(element, dict) and element.get("type") == "TextBlock" and element.get("text"):
            return short(str(element["text"]).strip().splitlines()[0], 150)
    return "Adaptive Card"


class AdaptiveCardSource:
    name = "adaptivecard"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = ()

    def detect(self, req: Incoming) -> bool:
        data = req.data
        if not isinstance(data, dict):
            return False
        if data.get("type") == "AdaptiveCard":
            return True
        attachments = data.get("attachments")
        return isinstance(attachments, list) and any(
            isinstance(a, dict) and a.get("contentType") == ADAPTIVE for a in attachments
        )

    def parse(self, req: Incoming) -> list[Card]:
        data = req.data
        if not isinstance(data, dict):
            raise SourceError("not a valid Adaptive Card message", ["body: must be a JSON object"])
        if data.get("type") == "AdaptiveCard":
            return [check_card(data, "body")]
        if data.get("type") != "message":
            raise SourceError(
                "not a valid Adaptive Card message", ["type: must be message (or AdaptiveCard)"]
            )
        attachments = data.get("attachments")
        if not isinstance(attachments, list) or not attachments:
            raise SourceError("not a valid Adaptive Card message", ["attachments: must be a non-empty list"])
        cards = []
        for i, item in enumerate(attachments):
            if not isinstance(item, dict) or item.get("contentType") != ADAPTIVE:
                raise SourceError(
                    "not a valid Adaptive Card message", [f"attachments[{i}].contentType: must be {ADAPTIVE}"]
                )
            cards.append(check_card(item.get("content"), f"attachments[{i}].content"))
        return cards

    def build(self, cards: list[Card], req: Incoming, ctx: BuildContext) -> Notice:
        return Notice(
            cards=cards,
            summary=Summary(title=_title(cards[0]), status="default", source=self.name),
            dedupe_id=f"ac:{content_hash(req.body)}",
        )


SOURCES = {"adaptivecard": AdaptiveCardSource()}
