"""The project's own Adaptive Card samples: together they use every 1.5 element, input and action.

Written for these tests (not copied from anywhere); each is valid against the 1.5 schema.
"""

from __future__ import annotations

from typing import Any

URL = "https://example.com/x"
IMG = "https://example.com/a.png"


def _card(body: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "version": "1.5", "body": body, **extra}


KITCHEN_SINK: dict[str, Any] = _card(
    [
        {
            "type": "TextBlock",
            "text": "Title **bold** _it_",
            "size": "large",
            "weight": "Bolder",
            "color": "Attention",
            "isSubtle": False,
            "wrap": True,
            "maxLines": 3,
            "fontType": "Monospace",
            "horizontalAlignment": "center",
            "style": "heading",
            "id": "t1",
            "spacing": "Medium",
            "separator": True,
            "height": "auto",
            "isVisible": True,
            "requires": {"adaptiveCards": "1.2"},
            "fallback": "drop",
        },
        {
            "type": "RichTextBlock",
            "horizontalAlignment": "Left",
            "inlines": [
                "plain run",
                {
                    "type": "TextRun",
                    "text": "styled",
                    "italic": True,
                    "strikethrough": True,
                    "underline": True,
                    "highlight": True,
                    "color": "good",
                    "size": "Small",
                    "weight": "Lighter",
                    "fontType": "Default",
                    "isSubtle": None,
                    "selectAction": {"type": "Action.OpenUrl", "url": URL},
                },
            ],
        },
        {
            "type": "Image",
            "url": IMG,
            "altText": "alt",
            "backgroundColor": "#DDDDDD",
            "size": "Small",
            "style": "Person",
            "width": "40px",
            "height": "40px",
            "horizontalAlignment": "Right",
            "selectAction": {"type": "Action.ToggleVisibility", "targetElements": ["t1"]},
        },
        {"type": "ImageSet", "imageSize": "medium", "images": [{"type": "Image", "url": IMG}, {"url": IMG}]},
        {
            "type": "Media",
            "poster": IMG,
            "altText": "video",
            "sources": [{"mimeType": "video/mp4", "url": "https://example.com/v.mp4"}],
        },
        {
            "type": "Container",
            "style": "emphasis",
            "bleed": True,
            "minHeight": "50px",
            "verticalContentAlignment": "Center",
            "backgroundImage": {
                "url": IMG,
                "fillMode": "RepeatHorizontally",
                "horizontalAlignment": "Center",
                "verticalAlignment": "Top",
            },
            "selectAction": {"type": "Action.OpenUrl", "url": URL, "title": "open"},
            "items": [{"type": "TextBlock", "text": "in container"}],
        },
        {
            "type": "ColumnSet",
            "style": "accent",
            "bleed": False,
            "minHeight": "20px",
            "horizontalAlignment": "Left",
            "columns": [
                {
                    "type": "Column",
                    "width": "auto",
                    "items": [{"type": "Image", "url": IMG, "size": "Small"}],
                    "backgroundImage": IMG,
                    "separator": True,
                    "spacing": "Small",
                    "verticalContentAlignment": "Bottom",
                    "fallback": "drop",
                },
                {"type": "Column", "width": 2, "items": [{"type": "TextBlock", "text": "weighted"}]},
                {"width": "50px", "items": []},
            ],
        },
        {
            "type": "FactSet",
            "facts": [{"title": "Status", "value": "Firing"}, {"title": "Host", "value": "db-1"}],
        },
        {
            "type": "Table",
            "gridStyle": "accent",
            "firstRowAsHeader": True,
            "showGridLines": False,
            "horizontalCellContentAlignment": "Center",
            "verticalCellContentAlignment": "Center",
            "columns": [{"width": 1}, {"width": "2", "horizontalCellContentAlignment": "Left"}],
            "rows": [
                {
                    "type": "TableRow",
                    "style": "emphasis",
                    "cells": [
                        {"type": "TableCell", "items": [{"type": "TextBlock", "text": "h1"}]},
                        {
                            "type": "TableCell",
                            "items": [{"type": "TextBlock", "text": "h2"}],
                            "style": "good",
                        },
                    ],
                },
                {
                    "type": "TableRow",
                    "cells": [
                        {"type": "TableCell", "items": [{"type": "TextBlock", "text": "a"}]},
                        {
                            "type": "TableCell",
                            "items": [{"type": "TextBlock", "text": "b"}],
                            "selectAction": {"type": "Action.OpenUrl", "url": URL},
                            "minHeight": "10px",
                            "verticalContentAlignment": "Top",
                        },
                    ],
                },
            ],
        },
        {
            "type": "ActionSet",
            "actions": [
                {"type": "Action.OpenUrl", "title": "Go", "url": URL, "iconUrl": IMG, "style": "positive"},
                {
                    "type": "Action.ShowCard",
                    "title": "More",
                    "card": {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "inner"}]},
                },
            ],
        },
        {
            "type": "Container",
            "items": [
                {
                    "type": "Input.Text",
                    "id": "txt",
                    "label": "Comment",
                    "placeholder": "type",
                    "isMultiline": True,
                    "maxLength": 200,
                    "regex": "^.*$",
                    "style": "Email",
                    "value": "hello",
                    "isRequired": True,
                    "errorMessage": "required",
                    "inlineAction": {"type": "Action.Submit", "title": "send"},
                },
                {"type": "Input.Number", "id": "num", "min": 0, "max": 10.5, "value": 3, "placeholder": "n"},
                {
                    "type": "Input.Date",
                    "id": "date",
                    "min": "2024-01-01",
                    "max": "2025-01-01",
                    "value": "2024-06-01",
                },
                {"type": "Input.Time", "id": "time", "min": "09:00", "max": "17:00", "value": "12:00"},
                {
                    "type": "Input.Toggle",
                    "id": "tog",
                    "title": "Agree",
                    "value": "true",
                    "valueOn": "true",
                    "valueOff": "false",
                    "wrap": True,
                },
                {
                    "type": "Input.ChoiceSet",
                    "id": "choice",
                    "style": "expanded",
                    "isMultiSelect": True,
                    "value": "a,b",
                    "wrap": False,
                    "choices": [{"title": "A", "value": "a"}, {"title": "B", "value": "b"}],
                },
            ],
        },
    ],
    actions=[
        {
            "type": "Action.OpenUrl",
            "title": "Open",
            "url": URL,
            "tooltip": "tip",
            "isEnabled": True,
            "mode": "primary",
        },
        {
            "type": "Action.ToggleVisibility",
            "title": "Toggle",
            "targetElements": ["t1", {"type": "TargetElement", "elementId": "t1", "isVisible": False}],
        },
        {
            "type": "Action.Submit",
            "title": "Submit",
            "data": {"x": 1, "type": "not-an-element"},
            "associatedInputs": "auto",
        },
        {
            "type": "Action.Execute",
            "title": "Exec",
            "verb": "doIt",
            "data": {"y": [1, 2]},
            "mode": "secondary",
            "fallback": {"type": "Action.Submit", "title": "fallback submit"},
        },
    ],
    selectAction={"type": "Action.OpenUrl", "url": URL},
    fallbackText="fallback",
    backgroundImage=IMG,
    minHeight="100px",
    rtl=False,
    speak="hello",
    lang="en",
    verticalContentAlignment="Top",
    refresh={"action": {"type": "Action.Execute", "verb": "refresh"}, "userIds": ["u1"]},
    authentication={
        "text": "sign in",
        "connectionName": "conn",
        "tokenExchangeResource": {"id": "i", "uri": "api://x", "providerId": "p"},
        "buttons": [{"type": "signin", "title": "Sign in", "image": IMG, "value": URL}],
    },
    msteams={
        "width": "Full",
        "entities": [
            {
                "type": "mention",
                "text": "<at>Adele</at>",
                "mentioned": {"id": "adele@contoso.onmicrosoft.com", "name": "Adele"},
            }
        ],
    },
    **{"$schema": "http://adaptivecards.io/schemas/adaptive-card.json"},
)

# Shapes that must survive a round trip exactly as they came.
EDGE_CARDS: dict[str, dict[str, Any]] = {
    "minimal": {"type": "AdaptiveCard", "version": "1.0"},
    "empty-body": _card([]),
    "nulls-kept": _card([{"type": "TextBlock", "text": "x", "color": None, "isSubtle": None}]),
    "unknown-element": _card(
        [
            {"type": "Carousel", "pages": [{"type": "CarouselPage", "items": []}], "fallback": "drop"},
            {"type": "TextBlock", "text": "y", "fallback": {"type": "Rating", "value": 3}},
        ]
    ),
    "unknown-action": _card([], actions=[{"type": "Action.Popover", "title": "p", "card": {"x": 1}}]),
    "unknown-inline": _card([{"type": "RichTextBlock", "inlines": [{"type": "CitationRun", "text": "[1]"}]}]),
    "extra-properties": _card(
        [{"type": "TextBlock", "text": "z", "targetWidth": "atLeast:narrow", "x-custom": {"a": [1, None]}}],
        **{"x-top": True},
    ),
    "case-variants": _card([{"type": "TextBlock", "text": "c", "weight": "bolder", "size": "EXTRALARGE"}]),
    "nested-showcard": _card(
        [],
        actions=[
            {
                "type": "Action.ShowCard",
                "title": "1",
                "card": {
                    "type": "AdaptiveCard",
                    "actions": [
                        {
                            "type": "Action.ShowCard",
                            "title": "2",
                            "card": {"type": "AdaptiveCard", "body": []},
                        }
                    ],
                },
            }
        ],
    ),
    "float-and-int": _card([{"type": "Input.Number", "id": "n", "value": 1.0, "min": -3, "max": 2.5}]),
    "alias-lookalike": {
        "type": "AdaptiveCard",
        "version": "1.5",
        "schema_": 1,
        "$schema": "x",
        "to_dict": "not a method",
    },
    "unicode": _card([{"type": "TextBlock", "text": "Grüße 🚀 ✓ \u00e9\u0301"}]),
}
