"""CardBuilder output: cards Workflows displays (1.4 schema, lowest version), mentions, status colours."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared.cards import limits
from shared.cards.builders import CardBuilder, Status, open_url
from shared.cards.markdown import escape
from tests.support.cardschema import assert_valid_card, assert_workflows_card

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def full_card() -> dict:
    b = CardBuilder("Disk *almost* full", Status.WARNING, subtitle="db-1 · prod")
    who = b.mention("adele@contoso.onmicrosoft.com", "Adele Vance")
    b.text(f"# Heads up\n{who} please look.\n<b>HTML</b> too")
    b.facts({"Used": "91 %", "Free": None, "Count": 3})
    b.section("Largest files")
    b.bullets(["/var/log/a.log", "/data/b\nwith newline", ""])
    b.button("Open dashboard", "https://grafana.example.com/d/1")
    return b.build()


def test_full_card_is_valid_and_passes_teams_rules() -> None:
    card = full_card()
    assert_valid_card(card)
    assert_workflows_card(card)
    limits.check_webhook(card)
    limits.check_reply(card)
    # the lowest version its content needs: the status band's `bleed` is 1.2
    assert card["version"] == "1.2" and card["msteams"]["width"] == "Full"
    assert CardBuilder("plain").text("x").build()["version"] == "1.0"
    table = {"type": "Table", "rows": []}
    assert CardBuilder("t").element(table).build()["version"] == "1.5"  # the escape hatch says so too


def test_header_carries_status_colour_on_the_band_with_readable_title() -> None:
    for status in Status:
        card = CardBuilder("t", status).build()
        header = card["body"][0]
        title = header["items"][0]
        assert "color" not in title  # status-coloured text on its own band is unreadable
        if status is Status.DEFAULT:
            assert "style" not in header
        else:
            assert header["style"] == status.value and header["bleed"] is True
        assert_workflows_card(card)
    assert {s.name for s in Status} == {"GOOD", "WARNING", "ATTENTION", "ACCENT", "DEFAULT"}
    assert Status.ATTENTION.hex == "A30200"


def test_markdown_is_rewritten_into_teams_subset() -> None:
    text = json.dumps(full_card()["body"])
    assert "# Heads up" not in text and "**Heads up**" in text
    assert "<b>" not in text and "**HTML**" in text


def test_facts_and_bullets() -> None:
    card = full_card()
    facts = next(e for e in card["body"] if e["type"] == "FactSet")["facts"]
    assert facts == [
        {"title": "Used", "value": "91 %"},
        {"title": "Free", "value": ""},
        {"title": "Count", "value": "3"},
    ]
    bullets = card["body"][-1]["text"]
    assert bullets == "- /var/log/a.log\n- /data/b with newline"
    pairs = CardBuilder("t").facts([("a", 1), ("b", 2)]).facts([]).build()
    assert [e["type"] for e in pairs["body"]] == ["Container", "FactSet"]


def test_mentions_by_upn_or_object_id() -> None:
    b = CardBuilder("t")
    first = b.mention("adele@contoso.com", "Adele")
    again = b.mention("ADELE@contoso.com", "Adele V")
    other = b.mention("6f2d8a1c-1c7e-4c38-9a8d-3f7b2d6e9a10", "Adele")
    assert first == again == "<at>Adele</at>"
    assert other == "<at>Adele (2)</at>"
    b.text(f"{first} and {other}")
    card = b.build()
    assert card["msteams"]["entities"] == [
        {
            "type": "mention",
            "text": "<at>Adele</at>",
            "mentioned": {"id": "adele@contoso.com", "name": "Adele"},
        },
        {
            "type": "mention",
            "text": "<at>Adele (2)</at>",
            "mentioned": {"id": "6f2d8a1c-1c7e-4c38-9a8d-3f7b2d6e9a10", "name": "Adele"},
        },
    ]
    assert_valid_card(card)


@pytest.mark.parametrize("bad", ["", "29:abc", "not an id", "a@b", "<at>x</at>@y.z"])
def test_mention_refuses_other_ids(bad: str) -> None:
    with pytest.raises(ValueError, match="UPN"):
        CardBuilder("t").mention(bad, "X")


def test_buttons_only_for_http_links() -> None:
    card = (
        CardBuilder("t")
        .button("ok", "https://a.example")
        .button("empty", "")
        .button("js", "javascript:alert(1)")
        .build()
    )
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "ok", "url": "https://a.example"}]
    with pytest.raises(ValueError):
        open_url("x", "ftp://a")


def test_escape_keeps_user_data_literal_in_a_card() -> None:
    card = CardBuilder(escape("fix_*all*_bugs")).text(escape("# not a header\n- not a list")).build()
    title = card["body"][0]["items"][0]["text"]
    assert title == "fix_\\*all\\*_bugs"  # CommonMark: only the `*` pair would format
    assert card["body"][1]["text"].startswith("\\# not a header")
    assert_valid_card(card)


def test_builders_import_does_not_load_pydantic_models() -> None:
    """The outgoing bot's cold start: builders, limits and envelopes stay off pydantic."""
    code = (
        "import sys; import shared.cards.builders, shared.cards.limits, shared.cards.envelopes, shared.cards.markdown;"
        "print(sorted(m for m in ('pydantic', 'shared.cards.adaptive') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
