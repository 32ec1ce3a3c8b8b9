"""Sentry integration-platform webhooks through the dev host, Azurite and the Teams sink: every
resource and action, `--auth sentry`, Sentry's retries, bodies it cannot read."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from tests.conftest import unique
from tests.incoming.test_incoming_http import SECRET, delivered, env, make_route, post
from tests.incoming.vendors import SENTRY, VendorPost

__all__ = ["env"]

TITLES = {
    "issue_created": "shop-api: new issue: SHOP-API-3K: TypeError",
    "issue_resolved": "shop-api: issue resolved: SHOP-API-3K",
    "issue_assigned": "shop-api: issue assigned: SHOP-API-3K",
    "event_alert": "Errors in production: TypeError",
    "metric_alert_critical": "Critical: Checkout error rate",
    "metric_alert_warning": "Warning: Checkout error rate",
    "metric_alert_resolved": "Resolved: Checkout error rate",
    "comment_created": "Sentry: comment created",
}
STYLES = {"issue_created": "attention", "metric_alert_warning": "warning", "metric_alert_resolved": "good"}


def signature(secret: str, body: bytes) -> str:
    """What Sentry sends in Sentry-Hook-Signature: the hex HMAC-SHA256 of the body, keyed with the client secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    card: dict[str, Any] = message["attachments"][0]["content"]
    return card


@pytest.mark.parametrize("sent", SENTRY, ids=lambda p: p.name)
def test_every_sentry_resource_reaches_the_channel(
    devhost: str, app_store: Any, sink: Any, env: None, sent: VendorPost
) -> None:
    route, (channel,) = make_route(app_store, sink, "sentry")
    reply = post(devhost, route, sent.body, sent.headers)
    assert reply.status_code == 202 and reply.json()["channels"] == ["accepted"], reply.text
    card = card_of(delivered(sink, channel)[0])
    assert TITLES[sent.name] in json.dumps(card, ensure_ascii=False)
    if sent.name in STYLES:
        assert card["body"][0]["style"] == STYLES[sent.name]
    if sent.name != "comment_created":
        assert card["actions"][0]["url"].startswith("https://acme.sentry.io/")


def test_metric_alerts_are_told_apart_by_state(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    """critical and warning fire, resolved resolves: a route filtered on `state=resolved` shows only that."""
    route, (channel,) = make_route(app_store, sink, "sentry", filters={"state": ["resolved"]})
    answers = [
        post(devhost, route, p.body, p.headers).json() for p in SENTRY if p.name.startswith("metric_alert")
    ]
    assert [a["status"] for a in answers] == ["filtered", "filtered", "accepted"]
    assert answers[0]["state"] == "firing" and answers[0]["severity"] == "attention"
    assert answers[1]["severity"] == "warning"
    assert "Resolved: Checkout error rate" in json.dumps(delivered(sink, channel)[0])


def test_sentry_signature_good_and_bad(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    sent = SENTRY[3]
    route, (channel,) = make_route(app_store, sink, "sentry", auth="sentry", secret=SECRET)
    for headers in (
        {},
        {"Sentry-Hook-Signature": signature("Bad" + "Value1", sent.body)},
        {"Sentry-Hook-Signature": signature(SECRET, sent.body + b"\n")},
        {"Sentry-Hook-Signature": "sha256=" + signature(SECRET, sent.body)[:10]},
        {"Authorization": f"Bearer {SECRET}"},
    ):
        reply = post(devhost, route, sent.body, {**sent.headers, **headers})
        assert reply.status_code == 401, (headers, reply.text)
        assert SECRET not in reply.text
    reply = post(
        devhost, route, sent.body, {**sent.headers, "Sentry-Hook-Signature": signature(SECRET, sent.body)}
    )
    assert reply.status_code == 202, reply.text
    assert len(delivered(sink, channel)) == 1


def test_sentry_retries_are_shown_once(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    """Same Request-ID: a retry. An issue alert for the same event under a new Request-ID: the same alert
    (the event id in the body); another event for the same rule is shown."""
    route, (channel,) = make_route(app_store, sink, "sentry")
    alert = SENTRY[3]
    first = post(devhost, route, alert.body, alert.headers)
    retry = post(devhost, route, alert.body, alert.headers)
    again = post(devhost, route, alert.body, {**alert.headers, "Request-ID": unique("req")})
    assert first.json()["channels"] == ["accepted"]
    assert retry.json() == {"status": "duplicate"} and again.json() == {"status": "duplicate"}
    other = json.loads(alert.body)
    other["data"]["event"]["event_id"] = "9f" * 16
    reply = post(devhost, route, json.dumps(other).encode(), {**alert.headers, "Request-ID": unique("req")})
    assert reply.json()["channels"] == ["accepted"]
    metric = SENTRY[4]
    assert post(devhost, route, metric.body, {"Sentry-Hook-Resource": "metric_alert"}).json()["channels"] == [
        "accepted"
    ]
    assert post(devhost, route, metric.body, {"Sentry-Hook-Resource": "metric_alert"}).json() == {
        "status": "duplicate"
    }
    assert len(delivered(sink, channel, 3)) == 3
    assert len(sink.messages(channel)) == 3


@pytest.mark.parametrize(
    ("resource", "body", "detail"),
    [
        ("", b'{"action": "created", "data": {}}', "Sentry-Hook-Resource: field required"),
        ("issue", b'{"action": "created", "data": {}}', "data.issue: field required"),
        ("issue", b'{"data": {"issue": {"id": "1", "title": "x"}}}', "action: field required"),
        (
            "issue",
            b'{"action": "created", "data": {"issue": {"id": "1"}}}',
            "data.issue.title: field required",
        ),
        ("event_alert", b'{"action": "triggered", "data": {}}', "data.event: field required"),
        ("metric_alert", b'{"action": "critical", "data": {}}', "data.metric_alert: field required"),
        ("issue", b"[]", "body: must be a JSON object"),
    ],
)
def test_unreadable_sentry_payload_is_a_400_naming_the_field(
    devhost: str, app_store: Any, sink: Any, env: None, resource: str, body: bytes, detail: str
) -> None:
    route, (channel,) = make_route(app_store, sink, "sentry")
    reply = post(devhost, route, body, {"Sentry-Hook-Resource": resource} if resource else {})
    assert reply.status_code == 400, reply.text
    assert detail in reply.json()["detail"]
    assert sink.messages(channel) == []


def test_auto_route_recognises_sentry_by_its_header(
    devhost: str, app_store: Any, sink: Any, env: None
) -> None:
    route, (channel,) = make_route(app_store, sink, "auto")
    assert post(devhost, route, SENTRY[4].body, SENTRY[4].headers).status_code == 202
    assert "Critical: Checkout error rate" in json.dumps(delivered(sink, channel)[0])
