"""Jira webhooks through the dev host, Azurite and the Teams sink: every event kind, `--auth jira`,
Jira's retries, bodies it cannot read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.incoming.auth import sign
from tests.conftest import unique
from tests.incoming.test_incoming_http import SECRET, delivered, env, make_route, post
from tests.incoming.vendors import JIRA, VendorPost

__all__ = ["env"]

TITLES = {
    "issue_created": "SHOP-42: Checkout fails for carts over 50 items created",
    "issue_updated": "status: To Do → In Progress",
    "issue_resolved": "SHOP-42: Checkout fails for carts over 50 items resolved",
    "issue_deleted": "SHOP-42: Checkout fails for carts over 50 items deleted",
    "comment_created": "New comment on SHOP-42",
    "comment_updated": "Comment edited on SHOP-42",
    "sprint_started": "Sprint Shop Sprint 14 started",
    "sprint_closed": "Sprint Shop Sprint 14 closed",
    "version_released": "Version 2.4.0 released",
    "worklog_created": "Jira: worklog created",
}


def card_text(message: dict[str, Any]) -> str:
    return json.dumps(message["attachments"][0]["content"], ensure_ascii=False)


@pytest.mark.parametrize("sent", JIRA, ids=lambda p: p.name)
def test_every_jira_event_reaches_the_channel(
    devhost: str, app_store: Any, sink: Any, env: None, sent: VendorPost
) -> None:
    route, (channel,) = make_route(app_store, sink, "jira")
    reply = post(devhost, route, sent.body, sent.headers)
    assert reply.status_code == 202 and reply.json()["channels"] == ["accepted"], reply.text
    text = card_text(delivered(sink, channel)[0])
    assert TITLES[sent.name] in text
    if sent.name.startswith(("issue_", "comment_")) and sent.name != "issue_deleted":
        assert "https://acme.atlassian.net/browse/SHOP-42" in text


def test_changelog_and_state_for_filters_and_digests(
    devhost: str, app_store: Any, sink: Any, env: None
) -> None:
    """The changelog reads "field: old → new"; a resolution makes the issue closed (good)."""
    route, (channel,) = make_route(app_store, sink, "jira", filters={"state": ["closed"]})
    updated, resolved = JIRA[1], JIRA[2]
    assert post(devhost, route, updated.body, updated.headers).json()["status"] == "filtered"
    reply = post(devhost, route, resolved.body, resolved.headers)
    assert reply.json()["channels"] == ["accepted"], reply.text
    text = card_text(delivered(sink, channel)[0])
    assert "resolution: (none) → Done" in text and "status: In Progress → Done" in text
    assert '"style": "good"' in text


def test_auto_route_recognises_jira_with_or_without_its_header(
    devhost: str, app_store: Any, sink: Any, env: None
) -> None:
    route, (channel,) = make_route(app_store, sink, "auto")
    assert post(devhost, route, JIRA[0].body, JIRA[0].headers).status_code == 202
    assert post(devhost, route, JIRA[6].body).status_code == 202  # Data Center: no identifier header
    texts = [card_text(m) for m in delivered(sink, channel, 2)]
    assert TITLES["issue_created"] in texts[0] and TITLES["sprint_started"] in texts[1]


def test_jira_authentication_good_and_bad(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    sent = JIRA[0]
    route, (channel,) = make_route(app_store, sink, "jira", auth="jira", secret=SECRET)
    wrong = sign("Bad" + "Value1", sent.body)
    for headers, params in (
        ({}, {}),
        ({"X-Hub-Signature": wrong}, {}),
        ({"X-Hub-Signature": sign(SECRET, sent.body).replace("sha256=", "sha1=")}, {}),
        ({"X-Hub-Signature": wrong, "Authorization": f"Bearer {SECRET}"}, {}),  # a bad signature is final
        ({"Authorization": "Bearer BadValue1"}, {}),
        ({}, {"code": "BadValue1"}),
    ):
        reply = post(devhost, route, sent.body, {**sent.headers, **headers}, **params)
        assert reply.status_code == 401, (headers, params, reply.text)
        assert SECRET not in reply.text and "BadValue1" not in reply.text
    goods: list[tuple[dict[str, str], dict[str, str]]] = [
        ({"X-Hub-Signature": sign(SECRET, sent.body)}, {}),  # Jira Cloud admin webhook with a secret
        ({"Authorization": f"Bearer {SECRET}"}, {}),  # Automation's "Send web request"
        ({}, {"code": SECRET}),  # Data Center without a secret: the URL carries it
    ]
    for i, (headers, params) in enumerate(goods):
        fresh = {"X-Atlassian-Webhook-Identifier": unique("j")}
        body = sent.body.replace(b"1743321672000", str(1743321672000 + i).encode())
        if "X-Hub-Signature" in headers:
            headers = {"X-Hub-Signature": sign(SECRET, body)}
        reply = post(devhost, route, body, {**fresh, **headers}, **params)
        assert reply.status_code == 202, (headers, reply.text)
    assert len(delivered(sink, channel, len(goods))) == len(goods)


def test_jira_retries_are_shown_once(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    """Jira Cloud retries under the same X-Atlassian-Webhook-Identifier; a captured body replayed under a
    new identifier is the same body; Data Center (no identifier) retries the same body."""
    route, (channel,) = make_route(app_store, sink, "jira")
    sent = JIRA[4]
    first = post(devhost, route, sent.body, sent.headers)
    retry = post(devhost, route, sent.body, {**sent.headers, "X-Atlassian-Webhook-Retry": "1"})
    replay = post(devhost, route, sent.body, {"X-Atlassian-Webhook-Identifier": unique("j")})
    assert first.json()["channels"] == ["accepted"]
    assert retry.json() == {"status": "duplicate"} and replay.json() == {"status": "duplicate"}
    dc_route, (dc_channel,) = make_route(app_store, sink, "jira")
    assert [post(devhost, dc_route, JIRA[7].body).status_code for _ in range(2)] == [202, 202]
    assert len(delivered(sink, channel)) == 1 and len(delivered(sink, dc_channel)) == 1
    assert len(sink.messages(channel)) == 1 and len(sink.messages(dc_channel)) == 1


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"issue": {"key": "SHOP-1"}}', "webhookEvent: field required"),
        (b'{"webhookEvent": "jira:issue_created"}', "issue: field required"),
        (b'{"webhookEvent": "jira:issue_updated", "issue": {"fields": {}}}', "issue.key: field required"),
        (b'{"webhookEvent": "sprint_started", "sprint": {"id": 3}}', "sprint.name: field required"),
        (b'{"webhookEvent": "comment_created"}', "comment: field required"),
        (b"[1, 2]", "body: must be a JSON object"),
    ],
)
def test_unreadable_jira_payload_is_a_400_naming_the_field(
    devhost: str, app_store: Any, sink: Any, env: None, body: bytes, detail: str
) -> None:
    route, (channel,) = make_route(app_store, sink, "jira")
    reply = post(devhost, route, body)
    assert reply.status_code == 400, reply.text
    assert detail in reply.json()["detail"]
    assert sink.messages(channel) == []
