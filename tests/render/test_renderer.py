"""The render harness catches what Teams would not show: each check on a card made to trip it."""

from __future__ import annotations

from typing import Any


def card(body: list[dict[str, Any]], version: str = "1.4", **extra: Any) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "version": version, "body": body, **extra}


TEXT = {"type": "TextBlock", "text": "Deploy **finished**", "wrap": True}
OPEN = {"type": "Action.OpenUrl", "title": "Open", "url": "https://example.org/"}


def test_a_card_within_1_4_is_shown_as_built(renderer: Any) -> None:
    shown = renderer.render(
        card([TEXT, {"type": "FactSet", "facts": [{"title": "a", "value": "b"}]}], actions=[OPEN])
    )
    assert shown.problems() == [] and shown.png.startswith(b"\x89PNG")
    assert shown.elements == 3 and shown.host_config == "microsoft-teams-light.json"
    assert "<strong>finished</strong>" in shown.html  # Markdown, as Teams renders it
    dark = renderer.render(card([TEXT]), theme="dark")
    assert dark.problems() == [] and dark.host_config == "microsoft-teams-dark.json" and dark.png != shown.png


def test_newer_elements_properties_and_versions_are_reported(renderer: Any) -> None:
    table = {"type": "Table", "columns": [{"width": 1}], "rows": []}  # 1.5
    heading = {**TEXT, "style": "heading"}  # a 1.5 property
    shown = renderer.render(card([heading, table], version="1.5"), png=False)
    assert any('"style" is supported in version 1.5' in w for w in shown.warnings)
    assert any('Unknown element type "Table"' in w for w in shown.warnings)
    assert shown.dropped == ["card.body[1] (Table) was dropped"]
    assert shown.too_new and any("above 1.4" in p for p in shown.problems())


def test_dropped_and_empty_elements_are_reported_where_they_are(renderer: Any) -> None:
    body: list[dict[str, Any]] = [
        {
            "type": "Container",
            "items": [TEXT, {"type": "TextBlock", "text": ""}, {"type": "Rating", "value": 3}],
        },
        {"type": "Widget", "fallback": {"type": "TextBlock", "text": "instead"}},
    ]
    actions = [{**OPEN, "title": f"Open {i}"} for i in range(7)] + [{"type": "Action.Popover", "title": "p"}]
    shown = renderer.render(card(body, actions=actions), png=False)
    assert "card.body[0].items[2] (Rating) was dropped" in shown.dropped
    assert "card.body[0].items[1] (TextBlock) rendered nothing" in shown.dropped
    assert "card.body[1] (Widget) was replaced by its fallback TextBlock" in shown.dropped
    assert "card.actions[7] (Action.Popover) was dropped" in shown.dropped
    assert any(d.startswith('card.actions[6] (Action.OpenUrl, "Open 6") is not shown') for d in shown.dropped)
    assert any("too many actions" in w for w in shown.warnings)


def test_an_empty_card_is_reported(renderer: Any) -> None:
    for empty in (
        card([]),
        {"type": "AdaptiveCard", "version": "1.4"},
        card([{"type": "TextBlock", "text": " "}]),
    ):
        assert renderer.render(empty, png=False).empty, empty
    assert renderer.render([], png=False).warnings == ["the card is not a JSON object"]


def test_images_are_never_fetched(renderer: Any) -> None:
    image = {"type": "Image", "url": "https://images.example.org/a.png", "altText": "chart"}
    shown = renderer.render(card([image]))
    assert shown.problems() == [] and shown.png is not None
