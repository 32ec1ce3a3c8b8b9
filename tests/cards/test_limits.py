"""Teams' rules (version, actions) and the 28 KB cap: split, shorten, truncate, never drop."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from shared.cards import envelopes, limits, workflows
from shared.cards.adaptive import AdaptiveCard
from shared.cards.builders import CardBuilder, Status
from shared.cards.limits import CardRuleError
from tests.cards.samples import KITCHEN_SINK
from tests.support.cardschema import assert_valid_card, assert_valid_message

pytestmark = pytest.mark.unit


def big_card(n: int = 400, value: str = "value ü 🚀 " * 4) -> dict[str, Any]:
    b = CardBuilder("Nightly digest", Status.ACCENT, subtitle="all the things")
    who = b.mention("ops@contoso.com", "Ops")
    b.text(f"Hello {who}")
    b.facts([(f"fact-{i:04d}", f"{value}{i}") for i in range(n)])
    b.button("Open", "https://example.com/all")
    return b.build()


def all_text(cards: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(c, ensure_ascii=False) for c in cards)


def assert_deliverable(parts: list[dict[str, Any]], max_bytes: int) -> None:
    """Each part fits and is a valid card; the Workflows form (delivery makes it before fitting)
    is checked where the card is in it (`fit` itself keeps any version)."""
    for part in parts:
        msg = envelopes.workflows_message(part)
        assert len(envelopes.dumps(msg)) <= max_bytes
        assert_valid_card(part)
        limits.check_reply(part)
        if part["version"] <= "1.4":
            assert_valid_message(msg, max_bytes=max_bytes)
            limits.check_webhook(part)


# --- rules -------------------------------------------------------------------------------------


def test_webhook_rule_names_the_element_and_the_rule() -> None:
    card = {**KITCHEN_SINK, "version": "1.4"}
    with pytest.raises(CardRuleError) as err:
        limits.check_webhook(card)
    text = str(err.value)
    assert "body[2].selectAction" in text and "Action.ToggleVisibility" in text and "Workflows" in text
    assert err.value.rule == "webhook-actions" and err.value.path == "body[2].selectAction"
    with pytest.raises(CardRuleError, match=r"above 1\.4") as err:
        limits.check_webhook(KITCHEN_SINK)  # labelled 1.5: the Flow bot would not display it
    assert err.value.rule == "version"


def test_webhook_rule_sees_refresh_and_showcard_contents() -> None:
    card = {
        "type": "AdaptiveCard",
        "version": "1.4",
        "refresh": {"action": {"type": "Action.Execute", "verb": "r"}},
    }
    with pytest.raises(CardRuleError, match=r"refresh\.action.*Action\.Execute"):
        limits.check_webhook(card)
    nested = {
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [],
        "actions": [{"type": "Action.OpenUrl", "url": "https://x"}],
        "selectAction": {"type": "Action.OpenUrl", "url": "https://x"},
    }
    nested["body"] = [
        {"type": "Container", "items": [{"type": "ActionSet", "actions": [{"type": "action.submit", "title": "Go"}]}]}
    ]
    with pytest.raises(CardRuleError, match=r"body\[0\]\.items\[0\]\.actions\[0\] \(action.submit 'Go'\)"):
        limits.check_webhook(nested)


def test_webhook_allows_only_openurl_and_ignores_lookalikes_in_data() -> None:
    card = {
        "type": "AdaptiveCard",
        "version": "1.4",
        "actions": [{"type": "Action.OpenUrl", "url": "https://x", "data": {"type": "Action.Submit"}}],
        "msteams": {"entities": [{"type": "Action.Submit"}]},
    }
    limits.check_webhook(card)
    for other in (
        {"type": "Action.ShowCard", "card": {"type": "AdaptiveCard"}},
        {"type": "Action.ToggleVisibility", "targetElements": ["a"]},
    ):
        # `workflows.for_workflows` turns these into what they would show; as they are, refused
        with pytest.raises(CardRuleError, match=r"actions\[1\]"):
            limits.check_webhook({**card, "actions": [*card["actions"], other]})
        limits.check_webhook(workflows.for_workflows({**card, "actions": [*card["actions"], other]}))


@pytest.mark.parametrize(
    ("card", "fragment"),
    [
        ({"type": "AdaptiveCard", "version": "1.6"}, r"above 1\.[45]"),
        ({"type": "AdaptiveCard"}, "version is required"),
        ({"type": "AdaptiveCard", "version": "one"}, "not a version"),
        ({"type": "Card", "version": "1.0"}, "AdaptiveCard"),
        ({"type": "AdaptiveCard", "version": "1.4", "body": {}}, "body must be a list"),
    ],
)
def test_version_and_shape_rules(card: dict[str, Any], fragment: str) -> None:
    for check in (limits.check_webhook, limits.check_reply):
        with pytest.raises(CardRuleError, match=fragment):
            check(card)
    limits.check_reply({"type": "AdaptiveCard", "version": "1.5"})  # bot replies may be 1.5
    with pytest.raises(CardRuleError, match=r"above 1\.4"):
        limits.check_webhook({"type": "AdaptiveCard", "version": "1.5"})


def test_reply_allows_only_openurl() -> None:
    limits.check_reply(big_card(3))
    for action in (
        {"type": "Action.ShowCard", "card": {"type": "AdaptiveCard"}},
        {"type": "Action.ToggleVisibility", "targetElements": []},
    ):
        card = {
            "type": "AdaptiveCard",
            "version": "1.5",
            "body": [{"type": "ActionSet", "actions": [action]}],
        }
        with pytest.raises(
            CardRuleError, match=rf"body\[0\]\.actions\[0\].*{action['type']}.*only Action.OpenUrl"
        ):
            limits.check_reply(card)
    image = {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [{"type": "Image", "url": "u", "selectAction": {"type": "Action.Submit"}}],
    }
    with pytest.raises(CardRuleError, match=r"body\[0\]\.selectAction"):
        limits.check_reply(image)


def test_rules_accept_models() -> None:
    with pytest.raises(CardRuleError):
        limits.check_webhook(AdaptiveCard.parse(KITCHEN_SINK))


# --- size --------------------------------------------------------------------------------------


def test_small_card_comes_back_unchanged() -> None:
    card = big_card(5)
    assert limits.fit(card) == [card]
    assert limits.fit(card)[0] is card


def test_margin_setting_sets_the_default_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DELIVERY_MARGIN_BYTES", raising=False)
    assert limits.max_message_bytes() == 28672 - 2048
    monkeypatch.setenv("DELIVERY_MARGIN_BYTES", "8672")
    assert limits.max_message_bytes() == 20000
    card = big_card(300)
    parts = limits.fit(card)
    assert len(parts) > 1
    assert_deliverable(parts, 20000)
    assert max(limits.message_size(p) for p in parts) > 15000  # parts are used, not wasted


def test_split_keeps_every_fact_in_order_with_labels() -> None:
    card = big_card(400)
    assert limits.message_size(card) > 28672
    parts = limits.fit(card)
    n = len(parts)
    assert n >= 2
    assert_deliverable(parts, limits.max_message_bytes())
    facts = [f["title"] for p in parts for e in p["body"] if e["type"] == "FactSet" for f in e["facts"]]
    assert facts == [f"fact-{i:04d}" for i in range(400)]
    for k, part in enumerate(parts, start=1):
        header = part["body"][0]
        assert header["id"] == "header" and header["style"] == "accent"
        assert header["items"][0]["text"] == f"Nightly digest ({k}/{n})"
        assert part["actions"] == card["actions"]
        assert part["msteams"]["width"] == "Full"
    # the mention is only in the first part, and so is its entity
    assert "entities" in parts[0]["msteams"] and all("entities" not in p["msteams"] for p in parts[1:])


def test_mention_entities_follow_their_text_even_with_quotes() -> None:
    b = CardBuilder("t")
    who = b.mention("ann@contoso.com", 'Ann "the" \\ Admin')
    b.text(f"cc {who}")
    b.facts([(f"f{i}", "v" * 100) for i in range(400)])
    parts = limits.fit(b.build())
    assert len(parts) > 1
    assert parts[0]["msteams"]["entities"] == b.build()["msteams"]["entities"]
    assert all("entities" not in p["msteams"] for p in parts[1:])
    assert_deliverable(parts, limits.max_message_bytes())


def test_shorten_with_more_link() -> None:
    card = big_card(400)
    parts = limits.fit(card, more_url="https://app.example/digest/1")
    assert len(parts) == 1
    assert_deliverable(parts, limits.max_message_bytes())
    body = parts[0]["body"]
    shown = sum(len(e["facts"]) for e in body if e["type"] == "FactSet")
    note = body[-1]
    assert note["text"] == f"+{400 - shown} more: [see everything](https://app.example/digest/1)"
    assert "(1/1)" not in json.dumps(parts)


def test_part_limit_without_link_still_says_how_many_are_left() -> None:
    parts = limits.fit(big_card(600), max_parts=2)
    assert len(parts) == 2
    assert parts[1]["body"][-1]["text"].startswith("+") and parts[1]["body"][-1]["text"].endswith(" more")
    assert "(2/2)" in parts[1]["body"][0]["items"][0]["text"]


def test_single_huge_text_is_truncated_with_marker() -> None:
    card = CardBuilder("t").text("x" * 60000).build()
    parts = limits.fit(card)
    assert len(parts) == 1
    assert_deliverable(parts, limits.max_message_bytes())
    assert parts[0]["body"][1]["text"].endswith(limits.TRUNCATED_MARKER)


def test_long_list_text_is_split_by_lines() -> None:
    lines = [f"- item {i} " + "é" * 80 for i in range(600)]
    card = CardBuilder("t").bullets(lines[i][2:] for i in range(600)).build()
    parts = limits.fit(card, max_bytes=12000)
    assert len(parts) > 2
    assert_deliverable(parts, 12000)
    got = [line for p in parts for e in p["body"][1:] for line in e["text"].split("\n")]
    assert got == lines


def test_oversized_image_becomes_a_visible_placeholder() -> None:
    card = CardBuilder("t").element({"type": "Image", "url": "data:image/png;base64," + "A" * 40000}).build()
    parts = limits.fit(card)
    assert_deliverable(parts, limits.max_message_bytes())
    assert "Image too large to show" in parts[0]["body"][1]["text"]


def test_container_and_table_split_keep_their_shape() -> None:
    rows = [
        {
            "type": "TableRow",
            "cells": [{"type": "TableCell", "items": [{"type": "TextBlock", "text": f"r{i} " + "z" * 100}]}],
        }
        for i in range(300)
    ]
    header_row = {
        "type": "TableRow",
        "style": "accent",
        "cells": [{"type": "TableCell", "items": [{"type": "TextBlock", "text": "HEAD"}]}],
    }
    card = {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": "Title", "weight": "Bolder"},
            {
                "type": "Container",
                "id": "c1",
                "style": "emphasis",
                "items": [{"type": "TextBlock", "text": f"c{i} " + "y" * 100} for i in range(300)],
            },
            {"type": "Table", "columns": [{"width": 1}], "rows": [header_row, *rows]},
        ],
    }
    parts = limits.fit(card, max_bytes=10000)
    assert_deliverable(parts, 10000)
    # what delivery posts: the Workflows form (the table as a grid of rows), then split
    shown = limits.fit(workflows.for_workflows(card), max_bytes=10000)
    assert_deliverable(shown, 10000)
    assert "HEAD" in all_text(shown) and all_text(shown).count('"ColumnSet"') == 301
    containers = [e for p in parts for e in p["body"] if e["type"] == "Container"]
    assert all(c["style"] == "emphasis" for c in containers)
    assert [c.get("id") for c in containers].count("c1") == 1  # no duplicate ids
    assert sum(len(c["items"]) for c in containers) == 300
    tables = [e for p in parts for e in p["body"] if e["type"] == "Table"]
    assert len(tables) > 1 and all(t["rows"][0] == header_row for t in tables)
    assert sum(len(t["rows"]) - 1 for t in tables) == 300
    assert parts[0]["body"][0]["text"] == f"Title (1/{len(parts)})"


def test_card_without_header_gets_part_numbers() -> None:
    card = {
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [{"type": "FactSet", "facts": [{"title": f"t{i}", "value": "v" * 200} for i in range(300)]}],
    }
    parts = limits.fit(card)
    assert_deliverable(parts, limits.max_message_bytes())
    assert [p["body"][0]["text"] for p in parts] == [f"{k}/{len(parts)}" for k in range(1, len(parts) + 1)]


def test_reply_envelope_is_what_is_measured() -> None:
    card = big_card(120)
    size = limits.message_size(card, for_reply=True)
    assert size == len(envelopes.dumps(envelopes.reply(card=card)))
    parts = limits.fit(card, max_bytes=size - 1, for_reply=True)
    assert len(parts) == 2
    assert all(limits.message_size(p, for_reply=True) <= size - 1 for p in parts)


def test_models_in_models_out() -> None:
    model = AdaptiveCard.parse(big_card(400))
    parts = limits.fit(model)
    assert len(parts) > 1 and all(isinstance(p, AdaptiveCard) for p in parts)
    assert_deliverable([p.to_dict() for p in parts], limits.max_message_bytes())


def test_impossible_card_level_content_is_refused_not_sent() -> None:
    card = big_card(1)
    card["actions"] = [{"type": "Action.OpenUrl", "title": "x" * 30000, "url": "https://x"}]
    with pytest.raises(CardRuleError, match="card-level"):
        limits.fit(card)


@pytest.mark.parametrize("seed", range(40))
def test_random_large_cards_always_fit(seed: int) -> None:
    rng = random.Random(seed)
    b = CardBuilder("T" * rng.randint(1, 300), rng.choice(list(Status)))
    words = ["alpha", "β", "🚀", '"q"', "back\\slash", "<tag>", "x" * 50]
    expected_titles = []
    for s in range(rng.randint(1, 12)):
        kind = rng.random()
        if kind < 0.4:
            pairs = [
                (f"s{s}f{i}", " ".join(rng.choices(words, k=rng.randint(1, 40))))
                for i in range(rng.randint(1, 120))
            ]
            expected_titles += [t for t, _ in pairs]
            b.facts(pairs)
        elif kind < 0.7:
            b.bullets(" ".join(rng.choices(words, k=rng.randint(1, 30))) for _ in range(rng.randint(1, 80)))
        elif kind < 0.9:
            b.text(" ".join(rng.choices(words, k=rng.randint(1, 3000))))
        else:
            b.section(" ".join(rng.choices(words, k=5)))
    card = b.build()
    max_bytes = rng.choice([4096, 8000, 16000, 26624])
    parts = limits.fit(card, max_bytes=max_bytes)
    assert_deliverable(parts, max_bytes)
    text = all_text(parts)
    for title in expected_titles:
        assert f'"title": "{title}"' in text
    for part in parts:
        assert_valid_card(part)


def test_long_fallback_text_is_shortened_not_repeated_in_full() -> None:
    card = big_card(400)
    card["fallbackText"] = "full text " * 3000
    parts = limits.fit(card, for_reply=True)
    assert len(parts) > 1
    for part in parts:
        assert part["fallbackText"].endswith(limits.TRUNCATED_MARKER)
        assert len(part["fallbackText"].encode()) < 1100
        assert limits.message_size(part, for_reply=True) <= limits.max_message_bytes()


def test_tight_caps_still_work() -> None:
    parts = limits.fit(big_card(40), max_bytes=1500)
    assert len(parts) > 3
    assert_deliverable(parts, 1500)
