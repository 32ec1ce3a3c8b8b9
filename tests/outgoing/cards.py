"""Reply checks: Teams' rules for outgoing-webhook replies, plus the project's card schema check."""

from __future__ import annotations

from typing import Any

from tests.support.cardschema import assert_valid_card, assert_workflows_card


def _walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(_walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_walk(value))
    return found


def check_reply(message: dict[str, Any]) -> dict[str, Any]:
    """Assert an outgoing-webhook reply follows Teams' rules; return its card."""
    assert message["type"] == "message"
    assert isinstance(message.get("text"), str) and message["text"]
    attachments = message["attachments"]
    assert len(attachments) == 1
    assert attachments[0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    card: dict[str, Any] = attachments[0]["content"]
    assert card["type"] == "AdaptiveCard"
    major, minor = (int(x) for x in card["version"].split("."))
    assert (major, minor) <= (1, 4)  # Teams shows 1.5 in replies; ours need no more than 1.4
    assert card["msteams"]["width"] == "Full"
    actions = [n for n in _walk(card) if str(n.get("type", "")).startswith("Action.")]
    assert all(a["type"] == "Action.OpenUrl" for a in actions), actions
    assert card.get("fallbackText")
    assert_valid_card(card)
    assert_workflows_card(card)  # the same answer may be posted late through Workflows
    return card
