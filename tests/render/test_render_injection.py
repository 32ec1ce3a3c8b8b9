"""Injected links and mentions, rendered by the official Adaptive Cards renderer (issue 13, item 8):
cards built from sender text that carries them show neither."""

from __future__ import annotations

import json
from typing import Any

from tests.cards.test_injection_unit import card_of
from tests.support.injection import EVIL_LINK, EVIL_URL, FORGED, INJECTED, SCRIPT_LINK


def test_rendered_cards_have_no_injected_link(renderer: Any) -> None:
    cards = [
        card_of(
            "generic",
            {"title": INJECTED, "message": INJECTED, EVIL_LINK: 1, "owner": FORGED, "x": SCRIPT_LINK},
        ),
        card_of(
            "generic",
            {"service": INJECTED, "who": FORGED},
            settings={
                "template": json.dumps({"text": "Deploy of **{{ service }}**", "facts": {"Who": "{{ who }}"}})
            },
        ),
    ]
    for card in cards:
        shown = renderer.render(card, theme="light", png=False)
        assert f'href="{EVIL_URL}"' not in shown.html
        assert 'href="javascript:' not in shown.html
        assert "<at>" not in shown.html
        assert "Re-login" in shown.html  # the words are shown, as text
