"""Adaptive Card senders: a Workflows-style envelope (``{"type": "message", "attachments": [...]}``)
or a bare ``AdaptiveCard``. Each card is checked (shape, a version we know) and passed through in
the form the Workflows Flow bot displays (``shared.cards.workflows``: version 1.4, links only), so
senders who already build good cards keep control of what shows. What has no such form (an
``Action.Submit``, a 1.5 element without a 1.4 equivalent, ...) is refused here with a 400 naming
the element and its path, before anything is accepted: posted, it would be a 202 and then "this
card couldn't be displayed" or a button that fails.
"""

from __future__ import annotations

from typing import Any

from shared.incoming.sources.base import (
    BuildContext,
    Card,
    Incoming,
    Notice,
    SourceError,
    Summary,
    content_hash,
    first_line,
    short,
)

ADAPTIVE = "application/vnd.microsoft.card.adaptive"
MAX_VERSION = (1, 6)  # the newest schema we know; anything older is converted if it must be


def _version(value: Any) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in str(value).split("."))
    except ValueError:
        return None


#: what the 1.5 schema requires of the common types (our card model keeps foreign cards as they
#: came, so these are checked here); unknown types pass, the renderer drops them (the spec's fallback)
REQUIRED: dict[str, tuple[tuple[str, type], ...]] = {
    "TextBlock": (("text", str),),
    "Image": (("url", str),),
    "FactSet": (("facts", list),),
    "Container": (("items", list),),
    "ActionSet": (("actions", list),),
    "ImageSet": (("images", list),),
    "RichTextBlock": (("inlines", list),),
    "Action.OpenUrl": (("url", str),),
    "Action.ToggleVisibility": (("targetElements", list),),
}
FACT_KEYS = ("title", "value")
#: where child elements and actions sit: property -> what it holds (a column's `type` is optional)
CHILDREN = {"body": "element", "items": "element", "columns": "column", "actions": "action"}


def _shape_problems(node: dict[str, Any], where: str, kind: str = "card") -> list[str]:
    """Structural errors of a card, named by path (iterative: the JSON depth is bounded already)."""
    problems: list[str] = []
    stack: list[tuple[dict[str, Any], str, str]] = [(node, where, kind)]
    while stack and len(problems) < 10:
        item, path, what = stack.pop()
        if what in ("element", "action"):
            kind_name = item.get("type")
            if not isinstance(kind_name, str) or not kind_name.strip():
                problems.append(f"{path}.type: must be a non-empty string")
                continue
            for name, expected in REQUIRED.get(kind_name, ()):
                if not isinstance(item.get(name), expected):
                    wanted = "a string" if expected is str else "a list"
                    problems.append(f"{path}.{name}: {wanted} is required")
            if kind_name == "FactSet" and isinstance(item.get("facts"), list):
                for i, fact in enumerate(item["facts"]):
                    if not (isinstance(fact, dict) and all(isinstance(fact.get(k), str) for k in FACT_KEYS)):
                        problems.append(f"{path}.facts[{i}]: title and value must be strings")
            card = item.get("card") if kind_name == "Action.ShowCard" else None
            if isinstance(card, dict):
                stack.append((card, f"{path}.card", "card"))
        for prop, child in CHILDREN.items():
            if prop not in item:
                continue
            children = item[prop]
            if not isinstance(children, list):
                problems.append(f"{path}.{prop}: must be a list")
                continue
            for i, sub in enumerate(children):
                if isinstance(sub, dict):
                    stack.append((sub, f"{path}.{prop}[{i}]", child))
                else:
                    problems.append(f"{path}.{prop}[{i}]: must be an object")
    return problems


def check_card(content: Any, where: str) -> Card:
    """The card if it is one Teams will take; SourceError naming the field otherwise."""
    from pydantic import ValidationError

    from shared.cards.adaptive import AdaptiveCard
    from shared.incoming.sources.base import validation_detail

    if not isinstance(content, dict):
        raise SourceError("not a valid Adaptive Card", [f"{where}: must be an object"])
    if content.get("type") != "AdaptiveCard":
        raise SourceError("not a valid Adaptive Card", [f"{where}.type: must be AdaptiveCard"])
    version = _version(content.get("version"))
    if version is None:
        raise SourceError("not a valid Adaptive Card", [f'{where}.version: field required (e.g. "1.4")'])
    if version[:2] > MAX_VERSION:
        raise SourceError(
            "unsupported Adaptive Card version", [f"{where}.version: 1.6 is the newest version we know"]
        )
    try:
        AdaptiveCard.parse(content)
    except ValidationError as exc:
        detail = [f"{where}.{line}" for line in validation_detail(exc)]
        raise SourceError("not a valid Adaptive Card", detail) from None
    problems = _shape_problems(content, where)
    if problems:
        raise SourceError("not a valid Adaptive Card", problems)
    from shared.cards import limits, workflows

    try:
        shown = workflows.for_workflows(content)
        limits.check_webhook(shown)
    except limits.CardRuleError as exc:  # no form a Workflows channel shows (Action.Submit, ...)
        message = short(exc, 300)
        named = exc.path and message.startswith(exc.path)  # "body[2].actions[0] (Action.Submit): ..."
        problem = f"{where}.{message}" if named else f"{where}: {message}"
        raise SourceError("card cannot be shown in a Teams channel", [problem]) from None
    if not shown.get("body") and not shown.get("actions"):
        # Accepted, it would be posted as an empty card: refuse it so the sender can fix it.
        raise SourceError("card has nothing to show", [f"{where}.body: at least one element is required"])
    return shown


def _title(card: Card) -> str:
    for element in card.get("body") or []:
        if isinstance(element, dict) and element.get("type") == "TextBlock":
            line = first_line(str(element.get("text") or ""))
            if line:
                return line
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
            summary=Summary(title=_title(cards[0]), severity="default", source=self.name),
            dedupe_id=f"ac:{content_hash(req.body)}",
        )


SOURCES = {"adaptivecard": AdaptiveCardSource()}
