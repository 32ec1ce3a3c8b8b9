"""Every card the project emits is one the Workflows Flow bot displays: valid against the official
1.4 schema (`msteams` allowed), declaring 1.4 or lower, Action.OpenUrl only, also when split.

Covered: every incoming source on our payloads and the third-party examples (pass-through and
MessageCard conversions included), digest cards, and bot replies. Our own cards are checked as
built, before delivery's `for_workflows`, which must find nothing to change in them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.cards import limits
from shared.cards.workflows import for_workflows
from shared.digest.card import build_digest_card
from shared.digest.feeds.base import Gathered
from shared.incoming import pipeline
from shared.outgoing.replies import Answer, render_card
from shared.store.models import Route
from tests.incoming.helpers import GITHUB_EVENTS, PAYLOADS, alertmanager_notification, shared_fixtures
from tests.support.cardschema import assert_workflows_card
from tests.support.emitted import events_gathered

pytestmark = pytest.mark.unit

#: our payload files and the source and headers each is posted with
OWN_PAYLOADS: dict[str, tuple[str, dict[str, str]]] = {
    "adaptive_envelope.json": ("adaptivecard", {}),
    "ado_build_failed.json": ("azure-devops", {}),
    "ado_release_other.json": ("azure-devops", {}),
    "alertmanager_firing.json": ("alertmanager", {}),
    "alertmanager_resolved.json": ("alertmanager", {}),
    "generic_deploy.json": ("generic", {}),
    "github_push.json": ("github", {"x-github-event": "push"}),
    "github_star.json": ("github", {"x-github-event": "star"}),
    "github_workflow_run_failure.json": ("github", {"x-github-event": "workflow_run"}),
    "grafana_firing.json": ("grafana", {}),
    "messagecard_legacy.json": ("messagecard", {}),
}
MENTIONS = {"mentions": [{"id": f"user{i}@example.org", "name": f"User {i}"} for i in range(3)]}


def assert_emitted(card: dict[str, Any]) -> None:
    """Displayable as it is, already in the Workflows form, and so are its split parts."""
    assert_workflows_card(card)
    assert for_workflows(card) == card, "delivery would have had to change an emitted card"
    for part in limits.fit(card, max_bytes=4096):
        assert_workflows_card(part)
        limits.check_webhook(part)


def cards_of(
    source: str, body: bytes, headers: dict[str, str] | None = None, **settings: Any
) -> list[dict[str, Any]]:
    route = Route(name="r1", source=source, settings=settings)
    prepared = pipeline.prepare(route, {"content-type": "application/json", **(headers or {})}, body)
    cards: list[dict[str, Any]] = prepared.notice.cards
    assert cards
    return cards


def test_own_payload_list_is_complete() -> None:
    assert {p.name for p in PAYLOADS.glob("*.json")} == set(OWN_PAYLOADS)


@pytest.mark.parametrize("name", sorted(OWN_PAYLOADS))
def test_source_cards_from_our_payloads(name: str) -> None:
    source, headers = OWN_PAYLOADS[name]
    for settings in ({}, MENTIONS):
        for card in cards_of(source, (PAYLOADS / name).read_bytes(), headers, **settings):
            assert_emitted(card)


def _fixtures() -> list[tuple[str, Path, dict[str, str]]]:
    cases: list[tuple[str, Path, dict[str, str]]] = []
    for folder, source in (
        ("alertmanager", "alertmanager"),
        ("grafana", "grafana"),
        ("azure-devops", "azure-devops"),
    ):
        cases += [(source, path, {}) for path in shared_fixtures(folder)]
    cases += [
        ("github", path, {"x-github-event": GITHUB_EVENTS[path.stem]}) for path in shared_fixtures("github")
    ]
    for path in shared_fixtures("teams"):
        if path.name.startswith("incoming_webhook_messagecard"):
            cases.append(("messagecard", path, {}))
        elif path.name.startswith("incoming_webhook_adaptive"):
            cases.append(("adaptivecard", path, {}))
    return cases


def test_source_cards_from_third_party_examples() -> None:
    checked = 0
    for source, path, headers in _fixtures():
        try:
            cards = cards_of(source, path.read_bytes(), headers)
        except pipeline.Refusal as refusal:
            # the examples that are meant to be refused (a required field missing)
            assert refusal.reply.status == 400 and "without_mandatory_field" in path.name, path.name
            continue
        for card in cards:
            assert_emitted(card)
            checked += 1
    assert checked >= 30


def test_big_alert_notification_splits_into_displayable_parts() -> None:
    body = json.dumps(alertmanager_notification(60)).encode()
    [card] = cards_of("alertmanager", body, max_alerts=60)
    assert_emitted(card)
    assert len(limits.fit(card)) >= 1


def test_bot_reply_cards() -> None:
    for status in ("good", "warning", "attention", "accent", "default"):
        answer = Answer(title=f"Status {status}", status=status, paragraphs=["**All** fine", "- a\n- b"])
        answer.facts.append(("Routes", "3"))
        answer.section("Channels").lines.extend(["ops", "dev"])
        answer.buttons.append(("Open", "https://example.com/status"))
        card = render_card(answer)
        assert_emitted(card)
        limits.check_reply(card)


def test_digest_cards_are_valid_and_show_titles_as_typed() -> None:
    gathered = events_gathered()  # the enumeration the render test uses too
    card = build_digest_card(gathered, when=datetime(2025, 3, 30, 8, 0, tzinfo=UTC))
    assert_emitted(card)
    text = json.dumps(card, ensure_ascii=False)
    assert "[FIRING:1] HighErrorRate on api_1" in text and "Alerts [prod]" in text
    assert "\\\\*all\\\\*" in text  # the one thing that would have formatted
    assert "<at>Ops</at>" not in text  # user text cannot carry mention markup
    assert "{{DATE(2025-03-30T01:30:00Z, SHORT)}}" in text  # each reader's own time


@pytest.mark.parametrize("source", ["events", "rss", "weather", "json"])
def test_empty_digest_cards_are_valid(source: str) -> None:
    card = build_digest_card(Gathered(source=source, title="Nothing"))
    assert_emitted(card)
