"""The Workflows form of a card: every conversion, every refusal (with its path), and that what
comes out is a card the Flow bot displays (the 1.4 schema, version <= 1.4, Action.OpenUrl only)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from shared.cards import versions
from shared.cards.adaptive import AdaptiveCard
from shared.cards.limits import CardRuleError
from shared.cards.workflows import for_workflows, mention_counts
from tests.cards.samples import EDGE_CARDS, KITCHEN_SINK
from tests.support.cardschema import assert_workflows_card, card_errors

pytestmark = pytest.mark.unit

URL = "https://example.com/x"
TEXT = {"type": "TextBlock", "text": "hello", "wrap": True}


def card(*body: Any, version: str = "1.5", **extra: Any) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "version": version, "body": list(body), **extra}


def shown(content: dict[str, Any]) -> dict[str, Any]:
    """for_workflows, checked: displayable, idempotent, the input left alone."""
    before = copy.deepcopy(content)
    out = for_workflows(content)
    assert content == before, "the caller's card must not change"
    assert_workflows_card(out)
    assert for_workflows(out) == out, "a card in the Workflows form stays as it is"
    assert versions.lowest(out) <= versions.WORKFLOWS_MAX
    return out


def refused(content: dict[str, Any]) -> CardRuleError:
    with pytest.raises(CardRuleError) as info:
        for_workflows(content)
    return info.value


# --- labels --------------------------------------------------------------------------------------


def test_a_15_label_on_14_content_is_relabelled() -> None:
    out = shown(card(TEXT, actions=[{"type": "Action.OpenUrl", "title": "Open", "url": URL}]))
    assert out["version"] == "1.4"
    assert out["body"] == [TEXT] and out["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open", "url": URL}
    ]
    assert shown(card(TEXT, version="1.6"))["version"] == "1.4"


def test_a_lower_label_is_kept_or_raised_to_what_the_content_needs() -> None:
    assert shown(card(TEXT, version="1.2"))["version"] == "1.2"
    assert shown(card(TEXT, version="1.0"))["version"] == "1.0"
    action_set = {"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "title": "o", "url": URL}]}
    assert shown(card(action_set, version="1.0"))["version"] == "1.2"  # ActionSet is 1.2


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ({"type": "AdaptiveCard", "version": "1.7"}, "newer than 1.6"),
        ({"type": "AdaptiveCard", "version": "one"}, "not a version number"),
        ({"type": "AdaptiveCard"}, "not a version number"),
        ({"type": "Card", "version": "1.4"}, "AdaptiveCard"),
        ({"type": "AdaptiveCard", "version": "1.4", "body": {}}, "body must be a list"),
    ],
)
def test_labels_and_shapes_refused(content: dict[str, Any], fragment: str) -> None:
    error = refused(content)
    assert fragment in str(error) and error.rule in ("version", "type", "body")


def test_models_are_accepted() -> None:
    out = for_workflows(AdaptiveCard.parse(card(TEXT)))
    assert isinstance(out, dict) and out["version"] == "1.4"


# --- 1.5 content -----------------------------------------------------------------------------------


def test_heading_becomes_bold_and_large_keeping_what_the_sender_set() -> None:
    out = shown(
        card(
            {**TEXT, "style": "heading"},
            {**TEXT, "style": "heading", "size": "Medium"},
            {**TEXT, "style": "default"},
        )
    )
    first, second, third = out["body"]
    assert first == {**TEXT, "weight": "Bolder", "size": "Large"}
    assert second == {**TEXT, "weight": "Bolder", "size": "Medium"}
    assert third == TEXT


def cell(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TableCell", "items": [{"type": "TextBlock", "text": text, "wrap": True}], **extra}


def table(*rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "Table", "rows": [{"type": "TableRow", "cells": list(r)} for r in rows], **extra}


def test_two_column_text_table_becomes_a_factset_with_a_bold_header() -> None:
    content = table([cell("Host"), cell("State")], [cell("db-1"), cell("down")], [cell("db-2"), cell("up")])
    out = shown(card({**content, "id": "t", "separator": True}))
    assert out["body"] == [
        {
            "type": "FactSet",
            "facts": [
                {"title": "**Host**", "value": "**State**"},
                {"title": "db-1", "value": "down"},
                {"title": "db-2", "value": "up"},
            ],
            "id": "t",
            "separator": True,
        }
    ]
    no_header = shown(card({**content, "firstRowAsHeader": False}))["body"][0]
    assert no_header["facts"][0] == {"title": "Host", "value": "State"}


def test_other_tables_become_a_grid_of_columnsets() -> None:
    content = table(
        [cell("Host"), cell("State"), cell("Since")],
        [cell("db-1", style="attention"), cell("down"), cell("09:00")],
        [cell("db-2"), cell("up")],  # a short row keeps its place
        columns=[{"width": 2}, {"width": "1"}, {"width": "80px"}],
        horizontalCellContentAlignment="Center",
    )
    out = shown(card(content))
    [grid] = out["body"]
    assert grid["type"] == "Container" and [r["type"] for r in grid["items"]] == ["ColumnSet"] * 3
    head, first, short = grid["items"]
    assert [c["width"] for c in head["columns"]] == [2, 1, "80px"]
    assert all(c["items"][0]["weight"] == "Bolder" for c in head["columns"])  # the header row
    assert "weight" not in first["columns"][0]["items"][0]
    assert first["columns"][0]["style"] == "attention"
    assert first["columns"][0]["items"][0]["horizontalAlignment"] == "Center"
    assert "separator" not in head and first["separator"] is True  # grid lines between rows
    assert short["columns"][2]["items"] == []
    assert "db-2" in json.dumps(short)


def test_a_table_with_rich_cells_keeps_them_in_columns() -> None:
    image = {"type": "Image", "url": "https://example.com/a.png", "altText": "a"}
    content = table([cell("a"), {"type": "TableCell", "items": [image]}], showGridLines=False)
    [grid] = shown(card(content))["body"]
    assert grid["items"][0]["columns"][1]["items"][0]["url"] == image["url"]
    assert all("separator" not in r for r in grid["items"])


def test_an_empty_table_shows_nothing_and_its_own_fallback_wins() -> None:
    assert shown(card({"type": "Table", "rows": []}, TEXT))["body"] == [TEXT]
    fallback = {"type": "TextBlock", "text": "see the dashboard"}
    out = shown(card({**table([cell("a"), cell("b")]), "fallback": fallback}))
    assert out["body"] == [fallback]
    assert shown(card({**table([cell("a")]), "fallback": "drop"}))["body"] == []


def test_action_mode_tooltip_id_dropped_secondary_kept_disabled_removed() -> None:
    actions = [
        {
            "type": "Action.OpenUrl",
            "title": "Open",
            "url": URL,
            "mode": "primary",
            "tooltip": "go there",
            "id": "a1",
        },
        {"type": "Action.OpenUrl", "title": "Docs", "url": URL, "mode": "secondary"},
        {"type": "Action.OpenUrl", "title": "Soon", "url": URL, "isEnabled": False},
        {"type": "Action.OpenUrl", "title": "Now", "url": URL, "isEnabled": True},
        {"type": "Action.Submit", "title": "Off", "isEnabled": False},  # disabled: removed, not refused
    ]
    out = shown(card(TEXT, actions=actions))
    assert out["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open", "url": URL},
        {"type": "Action.OpenUrl", "title": "Docs", "url": URL},
        {"type": "Action.OpenUrl", "title": "Now", "url": URL},
    ]


def test_newer_properties_without_meaning_in_a_channel_are_dropped() -> None:
    content = card(
        {"type": "Container", "rtl": True, "items": [TEXT]},
        {
            "type": "Input.Text",
            "id": "p",
            "style": "password",
            "label": "Key",
            "labelPosition": "inline",
            "labelWidth": 30,
        },
        {
            "type": "Input.ChoiceSet",
            "id": "c",
            "style": "filtered",
            "choices": [{"title": "A", "value": "a"}],
            "choices.data": {"type": "Data.Query", "dataset": "x"},
            "inputStyle": "revealOnHover",
        },
        {**TEXT, "color": None, "isSubtle": None},
        rtl=False,
        metadata={"webUrl": URL},
        refresh={"action": {"type": "Action.Execute", "verb": "r"}, "userIds": []},
        authentication={"text": "sign in", "connectionName": "c"},
        version="1.6",
    )
    out = shown(content)
    box, password, choice, text = out["body"]
    assert box == {"type": "Container", "items": [TEXT]}
    assert password == {"type": "Input.Text", "id": "p", "label": "Key"}
    assert choice == {
        "type": "Input.ChoiceSet",
        "id": "c",
        "style": "compact",
        "choices": [{"title": "A", "value": "a"}],
    }
    assert text == TEXT
    assert not {"rtl", "metadata", "refresh", "authentication"} & set(out)


# --- actions -------------------------------------------------------------------------------------


def test_showcard_content_follows_its_actionset_under_its_title() -> None:
    inner = {
        "type": "AdaptiveCard",
        "body": [{"type": "TextBlock", "text": "details", "style": "heading"}],
        "actions": [{"type": "Action.OpenUrl", "title": "Logs", "url": URL}],
    }
    actions = {
        "type": "ActionSet",
        "actions": [
            {"type": "Action.OpenUrl", "title": "Open", "url": URL},
            {"type": "Action.ShowCard", "title": "More", "card": inner},
        ],
    }
    out = shown(card(TEXT, actions, TEXT))
    first, buttons, block, last = out["body"]
    assert buttons == {
        "type": "ActionSet",
        "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": URL}],
    }
    assert block["type"] == "Container" and block["separator"] is True
    title, details, links = block["items"]
    assert title["text"] == "More" and title["weight"] == "Bolder"
    assert details == {"type": "TextBlock", "text": "details", "weight": "Bolder", "size": "Large"}
    assert links == {
        "type": "ActionSet",
        "actions": [{"type": "Action.OpenUrl", "title": "Logs", "url": URL}],
    }
    assert first == last == TEXT


def test_card_level_showcard_goes_to_the_end_of_the_body_and_an_empty_actionset_goes() -> None:
    show = {"type": "Action.ShowCard", "title": "Why", "card": {"type": "AdaptiveCard", "body": [TEXT]}}
    out = shown(
        card({"type": "ActionSet", "actions": [show]}, {"type": "TextBlock", "text": "end"}, actions=[show])
    )
    kinds = [e["type"] for e in out["body"]]
    assert kinds == ["Container", "TextBlock", "Container"] and "actions" not in out
    assert out["body"][-1]["items"][0]["text"] == "Why"


def test_toggle_visibility_shows_its_targets_and_goes() -> None:
    hidden = {"type": "TextBlock", "text": "secret plan", "id": "plan", "isVisible": False}
    other = {"type": "TextBlock", "text": "hidden on purpose", "id": "other", "isVisible": False}
    nested = {"type": "Container", "id": "box", "isVisible": False, "items": [TEXT]}
    toggle = {
        "type": "Action.ToggleVisibility",
        "title": "Show",
        "targetElements": ["plan", {"elementId": "box", "isVisible": True}],
    }
    out = shown(
        card(hidden, other, nested, actions=[toggle, {"type": "Action.OpenUrl", "title": "o", "url": URL}])
    )
    plan, kept_hidden, box = out["body"]
    assert "isVisible" not in plan and "isVisible" not in box
    assert kept_hidden["isVisible"] is False  # no action would have shown it
    assert [a["type"] for a in out["actions"]] == ["Action.OpenUrl"]


def test_select_actions_other_than_openurl_are_removed() -> None:
    target = {"type": "TextBlock", "text": "t", "id": "t", "isVisible": False}
    out = shown(
        card(
            {"type": "Container", "items": [TEXT], "selectAction": {"type": "Action.Submit", "data": {}}},
            {
                "type": "Image",
                "url": "https://example.com/a.png",
                "selectAction": {"type": "Action.ToggleVisibility", "targetElements": ["t"]},
            },
            {
                "type": "ColumnSet",
                "columns": [{"items": [TEXT], "selectAction": {"type": "Action.Execute", "verb": "v"}}],
            },
            {
                "type": "Container",
                "items": [TEXT],
                "selectAction": {"type": "Action.OpenUrl", "url": URL, "tooltip": "t"},
            },
            target,
            selectAction={"type": "Action.Submit"},
        )
    )
    box, image, columns, link, revealed = out["body"]
    assert (
        "selectAction" not in box
        and "selectAction" not in image
        and "selectAction" not in columns["columns"][0]
    )
    assert link["selectAction"] == {"type": "Action.OpenUrl", "url": URL}
    assert "isVisible" not in revealed and "selectAction" not in out


@pytest.mark.parametrize(
    ("content", "path", "kind"),
    [
        (card(TEXT, actions=[{"type": "Action.Submit", "title": "Go"}]), "actions[0]", "Action.Submit"),
        (
            card(
                TEXT,
                actions=[{"type": "Action.OpenUrl", "url": URL}, {"type": "Action.Execute", "verb": "v"}],
            ),
            "actions[1]",
            "Action.Execute",
        ),
        (
            card(
                {
                    "type": "ColumnSet",
                    "columns": [
                        {"items": [TEXT, {"type": "ActionSet", "actions": [{"type": "Action.Submit"}]}]}
                    ],
                },
                TEXT,
                TEXT,
            ),
            "body[0].columns[0].items[1].actions[0]",
            "Action.Submit",
        ),
        (
            card(
                TEXT,
                TEXT,
                {
                    "type": "ColumnSet",
                    "columns": [
                        {"items": [TEXT, {"type": "ActionSet", "actions": [{"type": "Action.Submit"}]}]}
                    ],
                },
            ),
            "body[2].columns[0].items[1].actions[0]",
            "Action.Submit",
        ),
        (
            card(
                TEXT,
                actions=[
                    {
                        "type": "Action.ShowCard",
                        "title": "s",
                        "card": {
                            "type": "AdaptiveCard",
                            "actions": [{"type": "Action.Submit", "title": "Send"}],
                        },
                    }
                ],
            ),
            "actions[0].card.actions[0]",
            "Action.Submit",
        ),
        (
            card(
                {"type": "Input.Text", "id": "c", "inlineAction": {"type": "Action.Submit", "title": "send"}}
            ),
            "body[0].inlineAction",
            "Action.Submit",
        ),
        (
            card(
                {
                    "type": "Table",
                    "rows": [
                        {
                            "type": "TableRow",
                            "cells": [
                                {
                                    "type": "TableCell",
                                    "items": [{"type": "ActionSet", "actions": [{"type": "Action.Execute"}]}],
                                }
                            ],
                        }
                    ],
                }
            ),
            "body[0].rows[0].cells[0].items[0].actions[0]",
            "Action.Execute",
        ),
        (card(TEXT, actions=[{"type": "Action.Popover", "title": "p"}]), "actions[0]", "Action.Popover"),
        (card({"type": "Carousel", "pages": []}), "body[0]", "Carousel"),
        (
            card({"type": "RichTextBlock", "inlines": [{"type": "CitationRun", "text": "[1]"}]}),
            "body[0].inlines[0]",
            "CitationRun",
        ),
        (
            card({"type": "Carousel", "fallback": {"type": "Rating", "value": 3}}),
            "body[0].fallback",
            "Rating",
        ),
    ],
)
def test_what_has_no_workflows_form_is_refused_naming_type_and_path(
    content: dict[str, Any], path: str, kind: str
) -> None:
    error = refused(content)
    assert error.path == path
    assert str(error).startswith(f"{path} ({kind}): ")
    assert error.rule in ("workflows-actions", "workflows-version")


def test_unknown_types_use_their_own_fallback() -> None:
    out = shown(
        card(
            {"type": "Carousel", "fallback": "drop"},
            {"type": "Rating", "fallback": TEXT},
            actions=[
                {"type": "Action.Popover", "fallback": {"type": "Action.OpenUrl", "title": "o", "url": URL}},
                {"type": "Action.Popover", "fallback": "drop"},
            ],
        )
    )
    assert out["body"] == [TEXT] and out["actions"] == [{"type": "Action.OpenUrl", "title": "o", "url": URL}]


def test_a_supported_element_keeps_its_fallback_in_14_form_or_loses_it() -> None:
    keep = {**TEXT, "fallback": {"type": "TextBlock", "text": "old", "style": "heading"}}
    assert shown(card(keep))["body"][0]["fallback"] == {
        "type": "TextBlock",
        "text": "old",
        "weight": "Bolder",
        "size": "Large",
    }
    lose = {**TEXT, "fallback": {"type": "ActionSet", "actions": [{"type": "Action.Submit"}]}}
    assert "fallback" not in shown(card(lose))["body"][0]  # never shown where TextBlock renders


# --- mentions ------------------------------------------------------------------------------------


def mentions(users: int, tags: int = 0) -> dict[str, Any]:
    entities = [
        {
            "type": "mention",
            "text": f"<at>u{i}</at>",
            "mentioned": {"id": f"u{i}@example.com", "name": f"u{i}"},
        }
        for i in range(users)
    ]
    entities += [
        {
            "type": "mention",
            "text": f"<at>t{i}</at>",
            "mentioned": {"id": f"tag{i}", "name": f"t{i}", "type": "tag"},
        }
        for i in range(tags)
    ]
    return {"width": "Full", "entities": entities}


def test_mentions_up_to_20_users_and_20_tags() -> None:
    ok = card(TEXT, msteams=mentions(20, 20))
    assert mention_counts(ok) == (20, 20)
    assert shown(ok)["msteams"] == ok["msteams"]
    for over in (mentions(21), mentions(3, 21)):
        error = refused(card(TEXT, msteams=over))
        assert error.path == "msteams.entities" and error.rule == "mentions"
        assert "at most 20 users and 20 tags" in str(error)


# --- the project's samples -----------------------------------------------------------------------


def test_kitchen_sink_without_what_cannot_work_is_displayable() -> None:
    error = refused(KITCHEN_SINK)
    assert error.path == "body[10].items[0].inlineAction"
    sink = copy.deepcopy(KITCHEN_SINK)
    del sink["body"][10]["items"][0]["inlineAction"]
    error = refused(sink)
    assert (error.path, str(error).split(":")[0]) == ("actions[2]", "actions[2] (Action.Submit)")
    sink["actions"] = [a for a in sink["actions"] if a["type"] not in ("Action.Submit", "Action.Execute")]
    out = shown(sink)
    text = json.dumps(out)
    assert "inner" in text and '"h1"' in text and "Action.ShowCard" not in text and '"Table"' not in text
    assert out["msteams"] == KITCHEN_SINK["msteams"]


@pytest.mark.parametrize("name", sorted(EDGE_CARDS))
def test_edge_cards_are_displayable_or_refused_by_name(name: str) -> None:
    content = EDGE_CARDS[name]
    try:
        out = for_workflows(content)
    except CardRuleError as error:
        assert name in ("unknown-action", "unknown-inline") and error.path
        return
    assert versions.lowest(out) <= versions.WORKFLOWS_MAX and out["version"] <= "1.4"
    assert for_workflows(out) == out
    if not card_errors(content):  # valid 1.5 in, valid 1.4 out (extra properties stay extra)
        shown(content)
