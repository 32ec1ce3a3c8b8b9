"""Lossless round trip of Adaptive Cards through the pydantic models."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.cards import adaptive
from shared.cards.adaptive import AdaptiveCard
from tests.cards.samples import EDGE_CARDS, KITCHEN_SINK
from tests.support.cardschema import assert_valid_card

pytestmark = pytest.mark.unit

TEAMS_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "teams"


def roundtrip(card: dict[str, Any]) -> dict[str, Any]:
    return AdaptiveCard.parse(copy.deepcopy(card)).to_dict()


def test_kitchen_sink_uses_every_element_and_action_and_validates() -> None:
    text = json.dumps(KITCHEN_SINK)
    for kind in [*adaptive.ELEMENT_TYPES, *adaptive.ACTION_TYPES, "TextRun", "TableRow", "TableCell"]:
        assert f'"type": "{kind}"' in text, kind
    for prop in (
        "selectAction",
        "backgroundImage",
        "fallback",
        "requires",
        "refresh",
        "authentication",
        "msteams",
    ):
        assert f'"{prop}"' in text, prop
    assert_valid_card(KITCHEN_SINK)


def test_kitchen_sink_round_trips() -> None:
    assert roundtrip(KITCHEN_SINK) == KITCHEN_SINK


def test_parsed_models_are_typed() -> None:
    card = AdaptiveCard.parse(KITCHEN_SINK)
    assert card.body is not None and card.actions is not None
    assert [type(e).__name__ for e in card.body[:5]] == [
        "TextBlock",
        "RichTextBlock",
        "Image",
        "ImageSet",
        "Media",
    ]
    assert isinstance(card.actions[3], adaptive.ActionExecute)
    assert card.msteams is not None and card.msteams.width == "Full"
    assert card.msteams.entities and card.msteams.entities[0].mentioned
    assert card.msteams.entities[0].mentioned.id == "adele@contoso.onmicrosoft.com"
    submit = card.actions[2]
    assert isinstance(submit, adaptive.ActionSubmit) and submit.data == {"x": 1, "type": "not-an-element"}


@pytest.mark.parametrize("name", sorted(EDGE_CARDS))
def test_edge_cards_round_trip(name: str) -> None:
    assert roundtrip(EDGE_CARDS[name]) == EDGE_CARDS[name]


def test_unknown_types_are_kept_as_they_came() -> None:
    card = AdaptiveCard.parse(EDGE_CARDS["unknown-element"])
    assert card.body is not None
    carousel = card.body[0]
    assert isinstance(carousel, adaptive.UnknownElement)
    assert carousel.to_dict() == EDGE_CARDS["unknown-element"]["body"][0]
    action = AdaptiveCard.parse(EDGE_CARDS["unknown-action"]).actions
    assert action is not None and isinstance(action[0], adaptive.UnknownAction)


def test_no_defaults_are_invented() -> None:
    out = roundtrip({"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "x"}]})
    assert out == {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "x"}]}


def test_any_json_number_and_card_level_types_round_trip() -> None:
    card = {
        "type": "AdaptiveCard",
        "version": "1.5",
        "refresh": {"type": "Refresh", "action": {"type": "Action.Execute", "verb": "r"}, "userIds": []},
        "authentication": {
            "type": "Authentication",
            "text": "sign in",
            "tokenExchangeResource": {
                "type": "TokenExchangeResource",
                "id": "i",
                "uri": "u",
                "providerId": "p",
            },
        },
        "body": [
            {"type": "TextBlock", "text": "x", "maxLines": 2.0},
            {"type": "Input.Number", "id": "n", "value": 1e3},
        ],
    }
    assert_valid_card(card)
    assert roundtrip(card) == card
    parsed = AdaptiveCard.parse(card)
    assert parsed.refresh is not None and parsed.refresh.type == "Refresh"
    assert parsed.authentication is not None and parsed.authentication.type == "Authentication"


def test_serialised_json_is_identical_modulo_key_order() -> None:
    out = AdaptiveCard.parse(KITCHEN_SINK).to_dict()
    assert json.dumps(out, sort_keys=True) == json.dumps(KITCHEN_SINK, sort_keys=True)


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "AdaptiveCard", "version": "1.5", "body": {"type": "TextBlock"}},
        {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": 5}]},
        {
            "type": "AdaptiveCard",
            "version": "1.5",
            "body": [{"type": "TextBlock", "text": "x", "wrap": "yes"}],
        },
        {"type": "AdaptiveCard", "version": 1.5},
    ],
)
def test_wrong_types_are_refused_not_coerced(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        AdaptiveCard.parse(bad)


def _teams_fixture_cards() -> list[tuple[str, dict[str, Any]]]:
    if not TEAMS_FIXTURES.exists():
        return []
    cards = []
    for path in sorted(TEAMS_FIXTURES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for index, item in enumerate(data.get("attachments") or [] if isinstance(data, dict) else []):
            content = item.get("content") if isinstance(item, dict) else None
            if isinstance(content, dict) and content.get("type") == "AdaptiveCard":
                cards.append((f"{path.name}#{index}", content))
    return cards


def test_teams_doc_examples_round_trip() -> None:
    cards = _teams_fixture_cards()
    if not cards:
        pytest.skip(
            f"{TEAMS_FIXTURES} is absent: third-party examples live in ../shared/fixtures beside the repo"
        )
    for name, card in cards:
        assert roundtrip(card) == card, name
        assert_valid_card(card)


# --- generated cards: many random shapes, same guarantee -------------------------------------------


def _text(rng: random.Random) -> str:
    return rng.choice(["a", "**b**", "ü ✓ 🚀", 'quote " and \\ slash', "line\nbreak", ""])


def _action(rng: random.Random, depth: int) -> dict[str, Any]:
    kind = rng.choice(
        [
            "Action.OpenUrl",
            "Action.Submit",
            "Action.ToggleVisibility",
            "Action.Execute",
            "Action.ShowCard",
            "Action.Future",
        ]
    )
    action: dict[str, Any] = {"type": kind, "title": _text(rng)}
    if kind == "Action.OpenUrl":
        action["url"] = "https://example.com/" + str(rng.randint(0, 99))
    elif kind == "Action.ToggleVisibility":
        action["targetElements"] = [
            "a",
            {"type": "TargetElement", "elementId": "b", "isVisible": rng.choice([True, False, None])},
        ]
    elif kind in ("Action.Submit", "Action.Execute"):
        action["data"] = {"n": rng.randint(0, 9), "nested": [None, {"type": "x"}]}
    elif kind == "Action.ShowCard":
        action["card"] = {"type": "AdaptiveCard", "body": [_element(rng, depth + 1)]}
    if rng.random() < 0.2:
        action["fallback"] = rng.choice(["drop", {"type": "Action.OpenUrl", "url": "https://e.x"}])
    return action


def _element(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    kinds = ["TextBlock", "FactSet", "Image", "RichTextBlock", "Input.Text", "Input.Number", "Unknown.Thing"]
    if depth < 3:
        kinds += ["Container", "ColumnSet", "ActionSet", "Table", "ImageSet"]
    kind = rng.choice(kinds)
    el: dict[str, Any] = {"type": kind}
    if kind == "TextBlock":
        el["text"] = _text(rng)
        options: tuple[tuple[str, list[Any]], ...] = (
            ("wrap", [True, False]),
            ("size", ["small", "Large", None]),
            ("maxLines", [1, 5]),
        )
        for key, values in options:
            if rng.random() < 0.5:
                el[key] = rng.choice(values)
    elif kind == "FactSet":
        el["facts"] = [{"title": _text(rng), "value": _text(rng)} for _ in range(rng.randint(0, 4))]
    elif kind == "Image":
        el["url"] = "https://example.com/i.png"
        if rng.random() < 0.5:
            el["selectAction"] = _action(rng, depth)
    elif kind == "ImageSet":
        el["images"] = [
            {"type": "Image", "url": "https://example.com/i.png"} for _ in range(rng.randint(1, 3))
        ]
    elif kind == "RichTextBlock":
        el["inlines"] = [
            rng.choice(
                [_text(rng), {"type": "TextRun", "text": _text(rng), "italic": True}, {"type": "Other"}]
            )
        ]
    elif kind == "Input.Text":
        el.update(id="t", value=_text(rng), isMultiline=rng.choice([True, False]))
    elif kind == "Input.Number":
        el.update(id="n", value=rng.choice([1, 2.5, -3]))
    elif kind == "Unknown.Thing":
        el["payload"] = {"anything": [1, "two", None]}
    elif kind == "Container":
        el["items"] = [_element(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    elif kind == "ColumnSet":
        el["columns"] = [
            {
                "type": "Column",
                "width": rng.choice(["auto", "stretch", 1, "30px"]),
                "items": [_element(rng, depth + 1)],
            }
            for _ in range(rng.randint(1, 3))
        ]
    elif kind == "ActionSet":
        el["actions"] = [_action(rng, depth) for _ in range(rng.randint(1, 3))]
    elif kind == "Table":
        el["columns"] = [{"width": 1}]
        el["rows"] = [
            {"type": "TableRow", "cells": [{"type": "TableCell", "items": [_element(rng, depth + 1)]}]}
        ]
    for key, values in (
        ("id", ["x", "y"]),
        ("isVisible", [True, False]),
        ("separator", [True]),
        ("spacing", ["None", "large"]),
    ):
        if rng.random() < 0.15:
            el[key] = rng.choice(values)
    if rng.random() < 0.1:
        el["fallback"] = rng.choice(["drop", {"type": "TextBlock", "text": "fb"}, {"type": "NewThing"}])
    if rng.random() < 0.1:
        el["x-extra"] = {"k": [1, None, "v"]}
    return el


@pytest.mark.parametrize("seed", range(200))
def test_generated_cards_round_trip(seed: int) -> None:
    rng = random.Random(seed)
    card: dict[str, Any] = {"type": "AdaptiveCard", "version": rng.choice(["1.0", "1.2", "1.5"])}
    card["body"] = [_element(rng) for _ in range(rng.randint(0, 6))]
    if rng.random() < 0.5:
        card["actions"] = [_action(rng, 0) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.3:
        card["msteams"] = {"width": "Full"}
    assert roundtrip(card) == card
