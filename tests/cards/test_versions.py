"""The lowest Adaptive Card version a card needs: the table agrees with the official schemas, and
the walk finds what it lists wherever it sits (body, actions, selectActions, columns, table cells,
ShowCard cards, fallbacks)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import pytest

from shared.cards import versions
from shared.cards.builders import CardBuilder, Status
from tests.cards.samples import EDGE_CARDS, KITCHEN_SINK
from tests.conftest import shared_path

pytestmark = pytest.mark.unit

Version = tuple[int, int]
SCHEMAS = {
    (1, 4): "adaptive-card-1.4.0.json",
    (1, 5): "adaptive-card-1.5.0.json",
    (1, 6): "adaptive-card-1.6.0.json",
}


@lru_cache(maxsize=4)
def _definitions(version: Version) -> dict[str, Any]:
    data = json.loads(shared_path("schemas", SCHEMAS[version]).read_text(encoding="utf-8"))
    definitions: dict[str, Any] = data["definitions"]
    return definitions


def _v(text: str | None) -> Version:
    return versions.parse_version(text) or (1, 0) if text else (1, 0)


def _refs(prop: dict[str, Any]) -> list[str]:
    found = [prop["$ref"]] if "$ref" in prop else []
    found += [alt["$ref"] for alt in prop.get("anyOf", []) if "$ref" in alt]
    return [ref.rsplit("/", 1)[-1] for ref in found]


def _properties(defs: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """A definition's properties with those of its `Extendable.*` parents (the schema's allOf)."""
    own = defs[name]
    merged: dict[str, dict[str, Any]] = {}
    for parent in own.get("allOf", []):
        if "$ref" in parent:
            merged.update(_properties(defs, parent["$ref"].rsplit("/", 1)[-1]))
    for key, value in own.get("properties", {}).items():
        merged[key.rstrip("?")] = {**merged.get(key.rstrip("?"), {}), **value}  # 1.5's "rtl?" typo
    return merged


def schema_versions() -> dict[tuple[str, str], Version]:
    """(type, property) -> the version the schemas say it needs: its own `version` annotation or
    that of the definition it refers to (TextBlockStyle, ActionMode), and at least the first schema
    that has it for that type when that is after 1.4 (actions' `id` is only in 1.5)."""
    result: dict[tuple[str, str], Version] = {}
    for schema_version in sorted(SCHEMAS):  # 1.4 first: the first schema with a property decides
        defs = _definitions(schema_version)
        for name in versions.PROPERTY_VERSIONS:
            if name not in defs:
                continue
            for prop, spec in _properties(defs, name).items():
                if prop in ("type", "$schema") or (name, prop) in result:
                    continue
                annotated = [_v(spec.get("version"))] + [_v(defs[ref].get("version")) for ref in _refs(spec)]
                first = schema_version if schema_version > (1, 4) else (1, 0)
                result[(name, prop)] = max([first, *annotated])
    return result


def _type_version(name: str) -> Version:
    """What the type itself needs: its definition's `version` (Table 1.5, Refresh 1.4)."""
    return max(_v(_definitions(v).get(name, {}).get("version")) for v in SCHEMAS)


def test_property_table_is_the_schemas() -> None:
    """Every property newer than the type that holds it, and only those, with the same version."""
    expected = {key: v for key, v in schema_versions().items() if v > _type_version(key[0])}
    ours = {
        (name, prop): version
        for name, props in versions.PROPERTY_VERSIONS.items()
        for prop, version in props.items()
        if version > _type_version(name)
    }
    missing = {k: v for k, v in expected.items() if ours.get(k) != v}
    assert not missing, f"the schemas say (type, property) -> version: {missing}"
    unexplained = {k: v for k, v in ours.items() if expected.get(k) != v}
    assert not unexplained, f"not what the schemas say: {unexplained}"


def test_type_table_is_the_schemas() -> None:
    expected: dict[str, Version] = {}
    for schema_version in sorted(SCHEMAS):
        defs = _definitions(schema_version)
        for name, spec in defs.items():
            typed = spec.get("properties", {}).get("type", {}).get("enum") == [name]
            is_object = "properties" in spec or any("properties" in alt for alt in spec.get("anyOf", []))
            if name in expected or not is_object or not (typed or "version" in spec):
                continue  # enums (TextBlockStyle, ActionMode) are properties' versions
            first = schema_version if schema_version > (1, 4) else (1, 0)
            expected[name] = max(_v(spec.get("version")), first)
    newer = {name: v for name, v in expected.items() if v > (1, 0)}
    assert newer == versions.TYPE_VERSIONS
    assert _implementations("ImplementationsOf.Element") == versions.ELEMENT_TYPES
    assert _implementations("ImplementationsOf.Action") == versions.ACTION_TYPES


def _implementations(name: str) -> set[str]:
    """The types the 1.6 schema accepts there (`{"allOf": [{"$ref": ...}]}` alternatives)."""
    alternatives = _definitions((1, 6))[name]["anyOf"]
    return {alt["allOf"][0]["$ref"].rsplit("/", 1)[-1] for alt in alternatives}


def test_enum_values_newer_than_their_property() -> None:
    """Values the 1.4 schema's enums lack (password) or the 1.5 schema's (filtered)."""

    def values(defs: dict[str, Any], name: str) -> set[str]:
        return {v for alt in defs[name].get("anyOf", []) for v in alt.get("enum", [])}

    assert "password" not in values(_definitions((1, 4)), "TextInputStyle")
    assert "password" in values(_definitions((1, 5)), "TextInputStyle")
    assert "filtered" not in values(_definitions((1, 5)), "ChoiceInputStyle")
    assert "filtered" in values(_definitions((1, 6)), "ChoiceInputStyle")
    assert versions.VALUE_VERSIONS == {
        ("Input.Text", "style", "password"): (1, 5),
        ("Input.ChoiceSet", "style", "filtered"): (1, 6),
    }


# --- the walk ------------------------------------------------------------------------------------


def card(*body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "version": "1.0", "body": list(body), **extra}


TEXT = {"type": "TextBlock", "text": "x"}


@pytest.mark.parametrize(
    ("content", "version", "path"),
    [
        (card(TEXT), "1.0", None),
        (card({**TEXT, "style": "heading"}), "1.5", "body[0].style"),
        (card({**TEXT, "style": "default"}), "1.5", "body[0].style"),  # the 1.4 schema has no style
        (card({**TEXT, "style": None}), "1.0", None),  # null: not set
        (card({**TEXT, "fontType": "Monospace"}), "1.2", "body[0].fontType"),
        (card({"type": "Table", "rows": []}), "1.5", "body[0]"),
        (card({"type": "RichTextBlock", "inlines": ["a"]}), "1.2", "body[0]"),
        (card({"type": "Input.Text", "id": "a", "label": "A"}), "1.3", "body[0].label"),
        (card({"type": "Input.Text", "id": "a", "isRequired": True}), "1.3", "body[0].isRequired"),
        (card({"type": "Input.Text", "id": "a", "style": "Password"}), "1.5", "body[0].style"),
        (card({"type": "Input.Text", "id": "a", "style": "email"}), "1.0", None),
        (
            card({"type": "Input.ChoiceSet", "id": "a", "choices": [], "style": "filtered"}),
            "1.6",
            "body[0].style",
        ),
        (
            card({"type": "Input.Number", "id": "a", "labelPosition": "inline"}),
            "1.6",
            "body[0].labelPosition",
        ),
        (card({"type": "Image", "url": "data:image/png;base64,AA"}), "1.2", "body[0].url"),
        (card(TEXT, actions=[{"type": "Action.Execute", "verb": "v"}]), "1.4", "actions[0]"),
        (
            card(TEXT, actions=[{"type": "Action.OpenUrl", "url": "u", "mode": "secondary"}]),
            "1.5",
            "actions[0].mode",
        ),
        (
            card(TEXT, actions=[{"type": "Action.OpenUrl", "url": "u", "tooltip": "t"}]),
            "1.5",
            "actions[0].tooltip",
        ),
        (
            card(TEXT, actions=[{"type": "Action.OpenUrl", "url": "u", "isEnabled": True}]),
            "1.5",
            "actions[0].isEnabled",
        ),
        (card(TEXT, actions=[{"type": "Action.OpenUrl", "url": "u", "id": "a"}]), "1.5", "actions[0].id"),
        (
            card(TEXT, actions=[{"type": "Action.ToggleVisibility", "targetElements": []}]),
            "1.2",
            "actions[0]",
        ),
        (
            card(TEXT, actions=[{"type": "Action.Submit", "associatedInputs": "none"}]),
            "1.3",
            "actions[0].associatedInputs",
        ),
        (card(TEXT, rtl=True), "1.5", "rtl"),
        (
            card(TEXT, refresh={"action": {"type": "Action.Execute"}, "expires": "x"}),
            "1.6",
            "refresh.expires",
        ),
        (card(TEXT, metadata={"webUrl": "u"}), "1.6", "metadata"),
        (
            card({"type": "ColumnSet", "columns": [{"items": [{**TEXT, "style": "heading"}]}]}),
            "1.5",
            "body[0].columns[0].items[0].style",
        ),
        (
            card({"type": "ColumnSet", "columns": [{"width": "40px", "items": []}]}),
            "1.1",
            "body[0].columns[0].width",
        ),
        (card({"type": "Container", "items": [], "rtl": False}), "1.5", "body[0].rtl"),
        (
            card(
                {
                    "type": "Container",
                    "items": [],
                    "selectAction": {"type": "Action.OpenUrl", "url": "u", "mode": "primary"},
                }
            ),
            "1.5",
            "body[0].selectAction.mode",
        ),
        (
            card(
                TEXT,
                actions=[
                    {"type": "Action.ShowCard", "card": {"type": "AdaptiveCard", "body": [{"type": "Table"}]}}
                ],
            ),
            "1.5",
            "actions[0].card.body[0]",
        ),
        (
            card({"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "url": "u", "tooltip": "t"}]}),
            "1.5",
            "body[0].actions[0].tooltip",
        ),
        (
            card(
                {
                    "type": "Table",
                    "rows": [{"type": "TableRow", "cells": [{"items": [{**TEXT, "fontType": "x"}]}]}],
                }
            ),
            "1.5",
            "body[0].rows[0].cells[0].items[0].fontType",
        ),
        (
            card({**TEXT, "fallback": {"type": "TextBlock", "text": "y", "style": "heading"}}),
            "1.5",
            "body[0].fallback.style",
        ),
        (
            card({"type": "Input.Text", "id": "a", "inlineAction": {"type": "Action.Execute"}}),
            "1.4",
            "body[0].inlineAction",
        ),
        (
            card(
                {
                    "type": "RichTextBlock",
                    "inlines": [
                        {
                            "type": "TextRun",
                            "text": "a",
                            "selectAction": {"type": "Action.OpenUrl", "url": "u", "id": "i"},
                        }
                    ],
                }
            ),
            "1.5",
            "body[0].inlines[0].selectAction.id",
        ),
    ],
)
def test_lowest_version_and_where_it_comes_from(
    content: dict[str, Any], version: str, path: str | None
) -> None:
    assert versions.lowest_version(content) == version
    if path is not None:
        assert path in {need.path for need in versions.needs(content)}, versions.needs(content)


def test_data_in_actions_is_not_card_structure() -> None:
    content = card(TEXT, actions=[{"type": "Action.Submit", "data": {"type": "Table", "style": "heading"}}])
    assert versions.lowest_version(content) == "1.0"
    assert versions.lowest_version({**content, "msteams": {"width": "Full", "entities": []}}) == "1.0"


def test_samples() -> None:
    assert versions.lowest_version(KITCHEN_SINK) == "1.5"
    assert versions.lowest_version(EDGE_CARDS["minimal"]) == "1.0"
    assert (
        str(versions.needs(card({**TEXT, "style": "heading"}))[0])
        == "body[0].style: TextBlock.style needs 1.5"
    )


def test_parse_version() -> None:
    assert versions.parse_version("1.4") == (1, 4) and versions.parse_version("1.5.0") == (1, 5)
    for bad in ("1", "one", "", None, 1.5, "1.x", "1.2.3.4"):
        assert versions.parse_version(bad) is None


def test_builders_declare_what_they_use() -> None:
    assert CardBuilder("t").build()["version"] == "1.0"
    assert CardBuilder("t", Status.GOOD).build()["version"] == "1.2"  # the band bleeds
