"""Small builders for the cards this project generates.

`CardBuilder.build()` returns a plain dict (JSON data), not an `adaptive.AdaptiveCard`: the
outgoing bot builds reply cards on a cold start inside Teams' 5 s deadline, and importing the
full pydantic model set costs ~150 ms plus ~70 ms on the first validation, while this module
imports in a couple of milliseconds. Everything downstream (`limits`, `envelopes`) takes either
form. Text arguments are Markdown and are rewritten into Teams' subset (`markdown.to_teams`);
put user data through `markdown.escape` first when it must show literally. With
`literal_facts=True` (every card of sender data) fact names and values that are not already
`markdown.Markdown` are escaped here. Whatever the caller did, `build()` keeps only http(s)
links and only the card's own `<at>` mentions in every TextBlock and fact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

from shared.cards.envelopes import SCHEMA_URL
from shared.cards.links import http_url
from shared.cards.markdown import Markdown, escape, http_links_only, only_mentions, to_teams
from shared.cards.versions import WORKFLOWS_MAX, label, lowest_version

#: the highest version a card we build may declare: what the Workflows Flow bot displays. Each
#: card declares the lowest version its content needs (`build()`), never more than this.
CARD_VERSION = label(WORKFLOWS_MAX)
HEADER_ID = "header"

_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_UPN_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


class Status(Enum):
    """How a card signals its state: a coloured header band (`style`), the title in the default
    colour on it. Status-coloured text on its own band is unreadable in Teams' host configs
    (warning yellow on light orange about 1.2:1, good green 1.9:1; default text over 10:1), so the
    colour is the band's and `color` stays for text on a plain background."""

    GOOD = "good"
    WARNING = "warning"
    ATTENTION = "attention"
    ACCENT = "accent"
    DEFAULT = "default"

    @property
    def color(self) -> str:
        """TextBlock `color` value."""
        return self.value.capitalize()

    @property
    def style(self) -> str:
        """Container `style` value (the same names in the Adaptive Card schema)."""
        return self.value

    @property
    def hex(self) -> str:
        """RGB hex, as MessageCard `themeColor` used it."""
        return _HEX[self]


_HEX = {
    Status.GOOD: "2EB886",
    Status.WARNING: "DAA038",
    Status.ATTENTION: "A30200",
    Status.ACCENT: "0078D7",
    Status.DEFAULT: "808080",
}


def text_block(text: str, **props: Any) -> dict[str, Any]:
    """A wrapping TextBlock (unwrapped text is cut at one line in Teams)."""
    block: dict[str, Any] = {"type": "TextBlock", "text": text, "wrap": True}
    block.update(props)
    return block


def fact_set(pairs: Mapping[str, Any] | Iterable[tuple[Any, Any]]) -> dict[str, Any] | None:
    """A FactSet from (title, value) pairs; None when there are none."""
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    facts = [{"title": str(title), "value": "" if value is None else str(value)} for title, value in items]
    return {"type": "FactSet", "facts": facts} if facts else None


def open_url(title: str, url: str) -> dict[str, Any]:
    """The only action Teams allows in every delivery path."""
    link = http_url(url)
    if link is None:
        raise ValueError("button url must be an absolute http(s) URL")
    return {"type": "Action.OpenUrl", "title": title, "url": link}


class CardBuilder:
    """Accumulates a card; each adder returns the builder so calls chain."""

    def __init__(
        self,
        title: str,
        status: Status = Status.DEFAULT,
        subtitle: str | None = None,
        *,
        full_width: bool = True,
        literal_facts: bool = False,
    ) -> None:
        self.status = status
        self._literal_facts = literal_facts
        header_items = [text_block(to_teams(title), size="Large", weight="Bolder")]
        if subtitle:
            header_items.append(text_block(to_teams(subtitle), isSubtle=True, spacing="None"))
        header: dict[str, Any] = {"type": "Container", "id": HEADER_ID, "items": header_items}
        if status is not Status.DEFAULT:
            header["style"] = status.style
            header["bleed"] = True
        self._body: list[dict[str, Any]] = [header]
        self._actions: list[dict[str, Any]] = []
        self._entities: list[dict[str, Any]] = []
        self._full_width = full_width

    def text(self, md: str) -> CardBuilder:
        if md:
            self._body.append(text_block(to_teams(md)))
        return self

    def facts(self, pairs: Mapping[str, Any] | Iterable[tuple[Any, Any]]) -> CardBuilder:
        if self._literal_facts:
            items = pairs.items() if isinstance(pairs, Mapping) else pairs
            pairs = [(_literal(title), _literal(value)) for title, value in items]
        element = fact_set(pairs)
        if element is not None:
            self._body.append(element)
        return self

    def section(self, title: str) -> CardBuilder:
        """A bold sub-heading with a separator line above it."""
        self._body.append(
            text_block(to_teams(title), weight="Bolder", size="Medium", separator=True, spacing="Medium")
        )
        return self

    def bullets(self, items: Iterable[Any]) -> CardBuilder:
        lines = ["- " + " ".join(str(item).split("\n")) for item in items if str(item).strip()]
        if lines:
            self._body.append(text_block("\n".join(lines)))
        return self

    def button(self, title: str, url: str | None) -> CardBuilder:
        """Add an Action.OpenUrl. A missing or non-http(s) URL adds nothing (payloads from
        other tools often carry empty or relative links, and a button Teams cannot open is not
        content); use `open_url` directly to get a ValueError instead."""
        link = http_url(url)
        if link is not None:
            self._actions.append(open_url((title or "").strip() or "Open", link))
        return self

    def element(self, element: dict[str, Any]) -> CardBuilder:
        """Escape hatch for any other Adaptive Card element, given as data."""
        self._body.append(element)
        return self

    def mention(self, id_or_upn: str, name: str) -> str:
        """Register a user mention and return the `<at>` markup to put in text or facts.

        Workflows/incoming webhooks accept user mentions by UPN or Entra object id only.
        """
        user = (id_or_upn or "").strip()
        if not (_GUID_RE.match(user) or _UPN_RE.match(user)):
            raise ValueError("mention id must be a UPN (user@domain) or an Entra object id (GUID)")
        display = re.sub(r"[<>]", "", name or "").strip() or user
        for entity in self._entities:
            if entity["mentioned"]["id"].lower() == user.lower():
                return str(entity["text"])
        texts = {entity["text"] for entity in self._entities}
        markup = f"<at>{display}</at>"
        n = 2
        while markup in texts:
            markup = f"<at>{display} ({n})</at>"
            n += 1
        self._entities.append({"type": "mention", "text": markup, "mentioned": {"id": user, "name": display}})
        return markup

    def build(self) -> dict[str, Any]:
        """The card as a plain dict (see the module docstring for why not a model), declaring the
        lowest version its content needs (1.2 with a status band; `element` may add more)."""
        card: dict[str, Any] = {
            "type": "AdaptiveCard",
            "$schema": SCHEMA_URL,
            "version": "1.0",
            "body": list(self._body),
        }
        if self._actions:
            card["actions"] = list(self._actions)
        msteams: dict[str, Any] = {}
        if self._full_width:
            msteams["width"] = "Full"
        if self._entities:
            msteams["entities"] = [dict(entity) for entity in self._entities]
        if msteams:
            card["msteams"] = msteams
        card["version"] = lowest_version(card)
        _guard(card["body"], frozenset(str(entity["text"]) for entity in self._entities))
        return card


def _literal(value: Any) -> Any:
    """A fact part as given when it is already Markdown (or no text), else escaped."""
    if value is None or isinstance(value, Markdown):
        return value
    return escape(str(value))


def _guarded(text: str, mentions: frozenset[str]) -> str:
    if "](" in text or "]:" in text or "<" in text:
        return only_mentions(http_links_only(text), mentions)
    return text


def _guard(elements: list[Any], mentions: frozenset[str]) -> None:
    """The last line of defence, whatever a caller composed: in every TextBlock and fact, links
    only to http(s) URLs and mentions only of the card's own entities (in place)."""
    for element in elements:
        if not isinstance(element, dict):
            continue
        kind = element.get("type")
        if kind == "TextBlock" and isinstance(element.get("text"), str):
            element["text"] = _guarded(element["text"], mentions)
        elif kind == "FactSet":
            for fact in element.get("facts") or []:
                for key in ("title", "value"):
                    if isinstance(fact, dict) and isinstance(fact.get(key), str):
                        fact[key] = _guarded(fact[key], mentions)
        for key in ("items", "columns", "body"):
            nested = element.get(key)
            if isinstance(nested, list):
                _guard(nested, mentions)
