"""Which Adaptive Card version a card's content needs.

The Workflows Flow bot displays cards up to version 1.4 only: a card labelled 1.5 is accepted
(202) and then shown as "We're sorry, this card couldn't be displayed", even when nothing in it is
newer than 1.4. So a card must declare the lowest version its content needs, and that version
must be known exactly: `lowest_version(card)` walks the whole card (body, actions, selectActions,
containers, columns, table rows and cells, ShowCard cards, fallbacks) and `needs(card)` says what
asks for more than 1.0, by JSON path.

The table below is the `version` annotations of the official schemas (1.4, 1.5, 1.6), plus what
the schemas say without an annotation: a property missing from the 1.4 schema needs 1.5 (actions'
`id`, Input.Text `style: "password"`), a value added to an enum in 1.6 needs 1.6 (ChoiceSet
`style: "filtered"`), a data URI in an image URL needs 1.2 and a Column width in pixels 1.1
(the schemas' descriptions).
`tests/cards/test_versions.py` compares it with the schema files. Pure Python: the bot's cold
start builds cards through here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Version = tuple[int, int]

V1_0: Version = (1, 0)
#: the highest version the Workflows Flow bot displays (teams-platform.md §2.2)
WORKFLOWS_MAX: Version = (1, 4)
#: the highest version whose schema we know; a card declaring more is refused
KNOWN_MAX: Version = (1, 6)

#: element, action, inline and part types newer than 1.0
TYPE_VERSIONS: dict[str, Version] = {
    "Media": (1, 1),
    "MediaSource": (1, 1),
    "ActionSet": (1, 2),
    "RichTextBlock": (1, 2),
    "TextRun": (1, 2),
    "Action.ToggleVisibility": (1, 2),
    "Action.Execute": (1, 4),
    "Table": (1, 5),
    "TableRow": (1, 5),
    "TableCell": (1, 5),
    "TableColumnDefinition": (1, 5),
    # parts of a card, each under a property of the same version
    "BackgroundImage": (1, 2),
    "Refresh": (1, 4),
    "Authentication": (1, 4),
    "AuthCardButton": (1, 4),
    "TokenExchangeResource": (1, 4),
    "Metadata": (1, 6),
    "CaptionSource": (1, 6),
    "Data.Query": (1, 6),
}

ELEMENT_TYPES = frozenset(
    {
        "TextBlock",
        "Image",
        "Media",
        "RichTextBlock",
        "ActionSet",
        "Container",
        "ColumnSet",
        "FactSet",
        "ImageSet",
        "Table",
        "Input.Text",
        "Input.Number",
        "Input.Date",
        "Input.Time",
        "Input.Toggle",
        "Input.ChoiceSet",
    }
)
ACTION_TYPES = frozenset(
    {"Action.OpenUrl", "Action.ShowCard", "Action.Submit", "Action.ToggleVisibility", "Action.Execute"}
)
INPUT_TYPES = frozenset(t for t in ELEMENT_TYPES if t.startswith("Input."))

_ITEM: dict[str, Version] = {"requires": (1, 2)}
_ELEMENT: dict[str, Version] = {**_ITEM, "isVisible": (1, 2), "fallback": (1, 2), "height": (1, 1)}
_INPUT: dict[str, Version] = {
    **_ELEMENT,
    "errorMessage": (1, 3),
    "isRequired": (1, 3),
    "label": (1, 3),
    "labelPosition": (1, 6),
    "labelWidth": (1, 6),
    "inputStyle": (1, 6),
}
_ACTION: dict[str, Version] = {
    **_ITEM,
    "iconUrl": (1, 1),
    "style": (1, 2),
    "fallback": (1, 2),
    "tooltip": (1, 5),
    "isEnabled": (1, 5),
    "mode": (1, 5),
    "id": (1, 5),  # not in the 1.4 schema's actions
}
_CONTAINER_LIKE: dict[str, Version] = {
    "selectAction": (1, 1),
    "verticalContentAlignment": (1, 1),
    "bleed": (1, 2),
    "backgroundImage": (1, 2),
    "minHeight": (1, 2),
    "rtl": (1, 5),  # spelled "rtl?" in the 1.5 and 1.6 schemas' Container
}

#: property -> version, by the type that holds it (only properties newer than 1.0)
PROPERTY_VERSIONS: dict[str, dict[str, Version]] = {
    "AdaptiveCard": {
        "refresh": (1, 4),
        "authentication": (1, 4),
        "selectAction": (1, 1),
        "backgroundImage": (1, 2),
        "minHeight": (1, 2),
        "rtl": (1, 5),
        "verticalContentAlignment": (1, 1),
        "metadata": (1, 6),
    },
    "Container": {**_ELEMENT, **_CONTAINER_LIKE},
    "Column": {**_ITEM, "isVisible": (1, 2), "fallback": (1, 2), **_CONTAINER_LIKE},
    "TableCell": dict(_CONTAINER_LIKE),
    "ColumnSet": {**_ELEMENT, "selectAction": (1, 1), "style": (1, 2), "bleed": (1, 2), "minHeight": (1, 2)},
    "Image": {**_ELEMENT, "backgroundColor": (1, 1), "selectAction": (1, 1), "width": (1, 1)},
    "TextBlock": {**_ELEMENT, "fontType": (1, 2), "style": (1, 5)},
    "RichTextBlock": dict(_ELEMENT),
    "FactSet": dict(_ELEMENT),
    "ImageSet": dict(_ELEMENT),
    "ActionSet": dict(_ELEMENT),
    "Table": dict(_ELEMENT),
    "Media": {**_ELEMENT, "captionSources": (1, 6)},
    "Input.Text": {**_INPUT, "regex": (1, 3), "inlineAction": (1, 2)},
    "Input.Number": dict(_INPUT),
    "Input.Date": dict(_INPUT),
    "Input.Time": dict(_INPUT),
    "Input.Toggle": {**_INPUT, "wrap": (1, 2)},
    "Input.ChoiceSet": {**_INPUT, "wrap": (1, 2), "choices.data": (1, 6)},
    "Action.OpenUrl": dict(_ACTION),
    "Action.ShowCard": dict(_ACTION),
    "Action.Submit": {**_ACTION, "associatedInputs": (1, 3)},
    "Action.ToggleVisibility": dict(_ACTION),
    "Action.Execute": dict(_ACTION),
    "Refresh": {"expires": (1, 6)},
}

#: (type, property, lower-cased value) -> version, for enum values newer than their property
VALUE_VERSIONS: dict[tuple[str, str, str], Version] = {
    ("Input.Text", "style", "password"): (1, 5),
    ("Input.ChoiceSet", "style", "filtered"): (1, 6),
}

#: where a data URI needs 1.2 ("Supports data URI in version 1.2+")
_DATA_URI_PROPS = {"Image": "url", "BackgroundImage": "url"}


def parse_version(value: Any) -> Version | None:
    """`"1.4"` -> (1, 4); None for anything that is not MAJOR.MINOR[.PATCH] digits."""
    if not isinstance(value, str):
        return None
    parts = value.strip().split(".")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def label(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


@dataclass(frozen=True)
class Node:
    """One object of a card: its JSON path, what it is (`kind`), and its type name."""

    path: str
    kind: str  # card | element | action | inline | column | row | cell | part
    type: str
    data: dict[str, Any]


_BOX: dict[str, tuple[str, str]] = {
    "items": ("element", ""),
    "selectAction": ("action", ""),
    "backgroundImage": ("part", "BackgroundImage"),
}
#: where children sit, by type name: property -> (kind, type name when the child has no `type`)
_CHILDREN: dict[str, dict[str, tuple[str, str]]] = {
    "AdaptiveCard": {
        "body": ("element", ""),
        "actions": ("action", ""),
        "selectAction": ("action", ""),
        "refresh": ("part", "Refresh"),
        "backgroundImage": ("part", "BackgroundImage"),
    },
    "Container": _BOX,
    "Column": _BOX,
    "TableCell": _BOX,
    "ColumnSet": {"columns": ("column", "Column"), "selectAction": ("action", "")},
    "Table": {"columns": ("part", "TableColumnDefinition"), "rows": ("row", "TableRow")},
    "TableRow": {"cells": ("cell", "TableCell")},
    "ActionSet": {"actions": ("action", "")},
    "ImageSet": {"images": ("element", "Image")},
    "Image": {"selectAction": ("action", "")},
    "RichTextBlock": {"inlines": ("inline", "TextRun")},
    "TextRun": {"selectAction": ("action", "")},
    "Input.Text": {"inlineAction": ("action", "")},
    "Input.ChoiceSet": {"choices": ("part", "Input.Choice")},
    "Media": {"sources": ("part", "MediaSource"), "captionSources": ("part", "CaptionSource")},
    "Action.ShowCard": {"card": ("card", "AdaptiveCard")},
    "Refresh": {"action": ("action", "")},
}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def walk(card: Mapping[str, Any], path: str = "") -> Iterator[Node]:
    """Every object of a card that can need a version, parents before children (iterative)."""
    stack: list[Node] = [Node(path, "card", "AdaptiveCard", dict(card))]
    while stack:
        node = stack.pop()
        yield node
        children: list[Node] = []
        for key, (kind, default_type) in _CHILDREN.get(node.type, {}).items():
            value = node.data.get(key)
            where = _join(node.path, key)
            items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            for index, item in items:
                if not isinstance(item, dict):
                    continue
                type_name = item.get("type") if isinstance(item.get("type"), str) else None
                child_path = where if index is None else f"{where}[{index}]"
                children.append(Node(child_path, kind, type_name or default_type, item))
        fallback = node.data.get("fallback")
        if node.kind in ("element", "action", "column") and isinstance(fallback, dict):
            given = fallback.get("type")
            kind_type = given if isinstance(given, str) else node.type
            children.append(Node(_join(node.path, "fallback"), node.kind, kind_type, fallback))
        stack.extend(reversed(children))


@dataclass(frozen=True)
class Need:
    """Something in a card that needs `version`: at `path`, `what` (a type or `Type.property`)."""

    path: str
    version: Version
    what: str

    def __str__(self) -> str:
        return f"{self.path or 'card'}: {self.what} needs {label(self.version)}"


def _node_needs(node: Node) -> Iterator[Need]:
    data = node.data
    type_version = TYPE_VERSIONS.get(node.type)
    if type_version is not None:
        yield Need(node.path, type_version, node.type)
    for prop, version in PROPERTY_VERSIONS.get(node.type, {}).items():
        if data.get(prop) is not None:
            yield Need(_join(node.path, prop), version, f"{node.type}.{prop}")
    for (type_name, prop, value), version in VALUE_VERSIONS.items():
        held = data.get(prop)
        if node.type == type_name and isinstance(held, str) and held.strip().lower() == value:
            yield Need(_join(node.path, prop), version, f'{type_name}.{prop} "{value}"')
    if node.kind == "action" and str(data.get("iconUrl") or "").startswith("data:"):
        yield Need(_join(node.path, "iconUrl"), (1, 2), "data URI")
    prop_name = _DATA_URI_PROPS.get(node.type)
    if prop_name and str(data.get(prop_name) or "").startswith("data:"):
        yield Need(_join(node.path, prop_name), (1, 2), "data URI")
    width = data.get("width")
    if node.type == "Column" and isinstance(width, str) and width.strip().lower().endswith("px"):
        yield Need(_join(node.path, "width"), (1, 1), "Column.width in pixels")
    if node.type in ("AdaptiveCard", "Container", "Column", "TableCell"):
        background = data.get("backgroundImage")
        if isinstance(background, str) and background.startswith("data:"):
            yield Need(_join(node.path, "backgroundImage"), (1, 2), "data URI")


def needs(card: Mapping[str, Any]) -> list[Need]:
    """What in the card needs more than 1.0, in document order (empty for a 1.0 card)."""
    return [need for node in walk(card) for need in _node_needs(node)]


def lowest(card: Mapping[str, Any]) -> Version:
    """The lowest version whose schema has everything the card uses."""
    return max((need.version for need in needs(card)), default=V1_0)


def lowest_version(card: Mapping[str, Any]) -> str:
    """`lowest(card)` as the card's `version` string, e.g. "1.2"."""
    return label(lowest(card))
