"""MessageCard -> Adaptive Card (1.4 at most, what Workflows shows): everything visible, nothing
silently dropped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.cards import limits
from shared.cards.adaptive import AdaptiveCard
from shared.cards.messagecard import MessageCard, looks_like_message_card, to_adaptive, to_adaptive_dict
from tests.support.cardschema import assert_valid_card, assert_workflows_card

pytestmark = pytest.mark.unit
TEAMS = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "teams"

FULL: dict[str, Any] = {
    "@type": "MessageCard",
    "@context": "https://schema.org/extensions",
    "summary": "Build 42 failed on main",
    "title": "CI **build** failed",
    "text": "The <b>nightly</b> build broke.\nSee below.",
    "themeColor": "#D70000",
    "correlationId": "abc",
    "x-vendor": {"kept": True},
    "sections": [
        {
            "activityTitle": "Jenkins",
            "activitySubtitle": "job nightly",
            "activityImage": "https://ci.example/logo.png",
            "activityText": "triggered by *timer*",
            "facts": [{"name": "Branch", "value": "main"}, {"name": "Duration", "value": 372}],
            "markdown": True,
        },
        {
            "title": "Artifacts *list*",
            "text": "file_name_with_underscores.tar",
            "markdown": False,
            "startGroup": True,
            "heroImage": {"image": "https://ci.example/graph.png", "title": "Build time graph"},
            "images": [
                {"image": "https://ci.example/1.png", "title": "shot one"},
                {"image": "https://ci.example/2.png"},
            ],
            "potentialAction": [
                {
                    "@type": "OpenUri",
                    "name": "Console",
                    "targets": [{"os": "default", "uri": "https://ci.example/console"}],
                }
            ],
        },
    ],
    "potentialAction": [
        {
            "@type": "OpenUri",
            "name": "Open build",
            "targets": [{"os": "iOS", "uri": "ci://42"}, {"os": "default", "uri": "https://ci.example/42"}],
        },
        {
            "@type": "HttpPOST",
            "name": "Retry",
            "target": "https://ci.example/api/retry?code=s3cr3t-key#frag",
            "body": "{}",
        },
        {
            "@type": "ActionCard",
            "name": "Comment",
            "inputs": [{"@type": "TextInput", "id": "c", "title": "Comment"}],
            "actions": [
                {"@type": "HttpPOST", "name": "Save", "target": "https://ci.example/api/comment"},
                {
                    "@type": "OpenUri",
                    "name": "Docs",
                    "targets": [{"os": "default", "uri": "https://ci.example/docs"}],
                },
            ],
        },
        {"@type": "InvokeAddInCommand", "name": "Add-in"},
    ],
}


def visible_text(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


def test_everything_stays_visible() -> None:
    card = to_adaptive_dict(FULL)
    assert_valid_card(card)
    limits.check_webhook(card)
    text = visible_text(card)
    for fragment in [
        "CI **build** failed",
        "Build 42 failed on main",
        "The **nightly** build broke.",
        "See below.",
        "Jenkins",
        "job nightly",
        "https://ci.example/logo.png",
        "triggered by *timer*",
        '"title": "Branch", "value": "main"',
        '"title": "Duration", "value": "372"',
        "Artifacts \\\\*list\\\\*",  # markdown: false -> what would format is escaped
        '"file_name_with_underscores.tar"',  # ... and nothing else
        "https://ci.example/graph.png",
        "Build time graph",
        "https://ci.example/1.png",
        "https://ci.example/2.png",
        "shot one",
        "https://ci.example/console",
        "“Retry”",
        "https://ci.example/api/retry",
        "“Comment”",
        "Save",
        "Add-in",
    ]:
        assert fragment in text, fragment
    assert "s3cr3t" not in text and "frag" not in text  # a POST target's key is not shown
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open build", "url": "https://ci.example/42"},
        {"type": "Action.OpenUrl", "title": "Docs", "url": "https://ci.example/docs"},
    ]
    header = card["body"][0]
    # the colour is the band's; the title keeps the default colour, readable on it
    assert header["style"] == "attention" and "color" not in header["items"][0]
    assert card["version"] == "1.2" and card["msteams"] == {"width": "Full"}  # what it needs
    assert_workflows_card(card)


def test_to_adaptive_returns_a_model() -> None:
    model = to_adaptive(MessageCard.parse(FULL))
    assert isinstance(model, AdaptiveCard)
    assert model.to_dict() == to_adaptive_dict(FULL)


@pytest.mark.parametrize(
    "sloppy",
    [
        {"@type": "MessageCard", "@context": "http://schema.org/extensions", "text": "no summary"},
        {"@type": "messagecard", "summary": "only summary"},
        {
            "@type": "MessageCard",
            "title": 12,
            "text": ["a", "b"],
            "sections": [{"facts": [{"name": "n", "value": None}]}],
        },
        {
            "@type": "MessageCard",
            "sections": [{"activityTitle": "x"}],
            "themeColor": "not-a-colour",
            "extra": [1, 2],
        },
        {
            "@type": "MessageCard",
            "sections": [{"heroImage": "https://x/y.png", "markdown": "false", "text": "a_b"}],
        },
        {
            "@type": "MessageCard",
            "sections": [],
            "potentialAction": [
                {"@type": "OpenUri", "name": "bad", "targets": [{"os": "default", "uri": "javascript:1"}]}
            ],
        },
        {"@type": "MessageCard"},
    ],
)
def test_sloppy_inputs_are_accepted(sloppy: dict[str, Any]) -> None:
    assert looks_like_message_card(sloppy)
    card = to_adaptive_dict(sloppy)
    assert_valid_card(card)
    limits.check_webhook(card)
    assert card["body"], "a converted card always shows something"


def test_unusable_open_uri_becomes_a_note() -> None:
    card = to_adaptive_dict(
        {
            "@type": "MessageCard",
            "text": "t",
            "potentialAction": [
                {"@type": "OpenUri", "name": "App", "targets": [{"os": "default", "uri": "app://x"}]}
            ],
        }
    )
    assert "actions" not in card
    assert "App" in visible_text(card) and "app://x" in visible_text(card)


@pytest.mark.parametrize(
    ("colour", "style"),
    [
        ("2EB886", "good"),
        ("#00FF00", "good"),
        ("A30200", "attention"),
        ("FFA500", "warning"),
        ("0076D7", "accent"),
        ("808080", None),
        ("fff", None),
    ],
)
def test_theme_colour_maps_to_a_card_style(colour: str, style: str | None) -> None:
    header = to_adaptive_dict({"@type": "MessageCard", "title": "t", "themeColor": colour})["body"][0]
    assert header.get("style") == style


def test_sender_mention_markup_is_defused() -> None:
    card = to_adaptive_dict(
        {
            "@type": "MessageCard",
            "title": "<at>Ops</at> look",
            "summary": "s <at>Ops</at>",
            "text": "ping <at>Ops</at> &lt;at&gt;Ops&lt;/at&gt;",
            "sections": [
                {"activityTitle": "<at>Ops</at>", "facts": [{"name": "<at>Ops</at>", "value": "v"}]},
                {"text": "<at>Ops</at>", "markdown": False},
            ],
            "potentialAction": [{"@type": "<at>Ops</at>", "name": "<at>Ops</at>"}],
        }
    )
    assert_valid_card(card)
    text = visible_text(card)
    assert "<at>" not in text and "</at>" not in text
    assert text.count("Ops") == 10 and "look" in text and "ping" in text


def test_teams_doc_example_converts() -> None:
    path = TEAMS / "incoming_webhook_messagecard_msteams_docs.json"
    if not path.exists():
        pytest.skip(f"{path} is absent: third-party examples live in ../shared/fixtures beside the repo")
    source = json.loads(path.read_text(encoding="utf-8"))
    card = to_adaptive_dict(source)
    assert_valid_card(card)
    limits.check_webhook(card)
    text = visible_text(card)
    for fragment in [
        "Larry Bryant created a new task",
        "On Project Tango",
        "image5.png",
        "Assigned to",
        "Unassigned",
        "Due date",
        "Not started",
        "Add a comment",
        "Set due date",
        "Change status",
        "Learn More",
    ]:
        assert fragment in text, fragment
