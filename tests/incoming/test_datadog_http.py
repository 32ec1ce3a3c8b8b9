"""Datadog webhooks through the dev host, Azurite and the Teams sink: the default payload and custom
ones, monitor alert/warn/recovery/no data told apart, custom-header and basic authentication,
Datadog's retries, bodies it cannot read."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.conftest import unique
from tests.incoming.test_incoming_http import SECRET, delivered, env, make_route, post
from tests.incoming.vendors import DATADOG, VendorPost

__all__ = ["env"]

#: name -> (title shown, header style, severity, state)
EXPECTED: dict[str, tuple[str, str | None, str, str | None]] = {
    "default_triggered": (
        "[Triggered on {host:web-1}] CPU high on web-1",
        "attention",
        "attention",
        "firing",
    ),
    "default_recovered": ("[Recovered on {host:web-1}] CPU high on web-1", "good", "good", "resolved"),
    "default_no_data": ("[P2] [No Data] Checkout health check", "warning", "warning", "firing"),
    "custom_warn": ("[Warn on {service:checkout}] Checkout p99 latency", "warning", "warning", "firing"),
    "custom_recovered": (
        "[Recovered on {service:checkout}] Checkout p99 latency",
        "good",
        "good",
        "resolved",
    ),
    "custom_triggered_own_names": (
        "[Triggered] Disk almost full on db-1",
        "attention",
        "attention",
        "firing",
    ),
    "event_info": ("Deploy checkout 2.4.0", None, "default", None),
}


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    card: dict[str, Any] = message["attachments"][0]["content"]
    return card


@pytest.mark.parametrize("sent", DATADOG, ids=lambda p: p.name)
def test_every_datadog_payload_reaches_the_channel(
    devhost: str, app_store: Any, sink: Any, env: None, sent: VendorPost
) -> None:
    route, (channel,) = make_route(app_store, sink, "datadog")
    reply = post(devhost, route, sent.body, sent.headers)
    assert reply.status_code == 202 and reply.json()["channels"] == ["accepted"], reply.text
    card = card_of(delivered(sink, channel)[0])
    title, style, _, _ = EXPECTED[sent.name]
    text = json.dumps(card, ensure_ascii=False)
    assert title in card["body"][0]["items"][0]["text"] and card["body"][0].get("style") == style
    assert "%%%" not in text and "@webhook-" not in text and "$ALERT_SCOPE" not in text
    if sent.name != "event_info":
        assert card["actions"][0]["title"] == "Open monitor"
        assert card["actions"][0]["url"].startswith("https://app.datadoghq.com/monitors/")


def test_monitor_transitions_are_told_apart(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    """The filtered answer says what each post was: alert, warn, no data and recovery differ."""
    route, (channel,) = make_route(app_store, sink, "datadog", filters={"severity": ["accent"]})
    for sent in DATADOG:
        answer = post(devhost, route, sent.body, sent.headers).json()
        _, _, severity, state = EXPECTED[sent.name]
        assert answer["status"] == "filtered" and answer["severity"] == severity, (sent.name, answer)
        assert answer.get("state") == state, (sent.name, answer)
    assert sink.messages(channel) == []


def test_a_test_notification_with_unfilled_variables(
    devhost: str, app_store: Any, sink: Any, env: None
) -> None:
    """A variable Datadog did not fill (`$ALERT_TRANSITION` verbatim) counts as absent: the title decides."""
    route, (channel,) = make_route(app_store, sink, "datadog")
    body = {
        "title": "[TEST] [Triggered] Disk almost full",
        "alert_transition": "$ALERT_TRANSITION",
        "tags": "$TAGS",
    }
    reply = post(devhost, route, json.dumps(body).encode())
    assert reply.status_code == 202, reply.text
    card = card_of(delivered(sink, channel)[0])
    assert card["body"][0]["style"] == "attention" and "$TAGS" not in json.dumps(card)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("mode", "good", "bad"),
    [
        ("bearer", {"Authorization": f"Bearer {SECRET}"}, {"Authorization": "Bearer BadValue1"}),
        ("key", {"x-functions-key": SECRET}, {"x-functions-key": "BadValue1"}),
        (
            "basic",
            {"Authorization": _basic("datadog", SECRET)},
            {"Authorization": _basic("datadog", "BadValue1")},
        ),
    ],
)
def test_datadog_custom_header_and_basic_auth(
    devhost: str, app_store: Any, sink: Any, env: None, mode: str, good: dict[str, str], bad: dict[str, str]
) -> None:
    """Datadog does not sign: its webhook's custom headers carry a bearer token or key, or basic auth."""
    sent = DATADOG[0]
    route, (channel,) = make_route(app_store, sink, "datadog", auth=mode, secret=SECRET)
    for headers in ({}, bad):
        reply = post(devhost, route, sent.body, {**sent.headers, **headers})
        assert reply.status_code == 401, (headers, reply.text)
        assert SECRET not in reply.text and "BadValue1" not in reply.text
    reply = post(devhost, route, sent.body, {**sent.headers, **good})
    assert reply.status_code == 202, reply.text
    assert len(delivered(sink, channel)) == 1


def test_datadog_retries_are_shown_once(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    """Datadog retries after a 5xx with the same body ($ID the same); a payload without an id by its body."""
    route, (channel,) = make_route(app_store, sink, "datadog")
    sent = DATADOG[3]
    first = post(devhost, route, sent.body, sent.headers)
    retry = post(devhost, route, sent.body, sent.headers)
    assert first.json()["channels"] == ["accepted"] and retry.json() == {"status": "duplicate"}
    again = json.loads(sent.body)
    again["id"] = unique("dd")  # the next notification of the same monitor: shown
    assert post(devhost, route, json.dumps(again).encode()).json()["channels"] == ["accepted"]
    bare = DATADOG[5]
    assert [post(devhost, route, bare.body).status_code for _ in range(2)] == [202, 202]
    assert len(delivered(sink, channel, 3)) == 3
    assert len(sink.messages(channel)) == 3


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"alert_transition": "Triggered"}', "title: field required"),
        (b'{"title": "$EVENT_TITLE", "alert_type": "error"}', "title: field required"),
        (b"[]", "body: must be a JSON object"),
    ],
)
def test_unreadable_datadog_payload_is_a_400_naming_the_field(
    devhost: str, app_store: Any, sink: Any, env: None, body: bytes, detail: str
) -> None:
    route, (channel,) = make_route(app_store, sink, "datadog")
    reply = post(devhost, route, body)
    assert reply.status_code == 400, reply.text
    assert any(d.startswith(detail) for d in reply.json()["detail"]), reply.text
    assert sink.messages(channel) == []


def test_auto_route_recognises_datadog_payloads(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    route, (channel,) = make_route(app_store, sink, "auto")
    for sent in (DATADOG[0], DATADOG[3]):
        assert post(devhost, route, sent.body).status_code == 202
    cards = [card_of(m) for m in delivered(sink, channel, 2)]
    assert [c["body"][0]["style"] for c in cards] == ["attention", "warning"]
