"""GitLab webhooks through the dev host, Azurite and the Teams sink: every hook kind, `--auth gitlab`
(X-Gitlab-Token and the signed form), GitLab's retries, bodies it cannot read."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from shared.incoming.auth import sign_gitlab
from tests.conftest import unique
from tests.incoming.test_incoming_http import SECRET, delivered, env, make_route, post
from tests.incoming.vendors import GITLAB, VendorPost

__all__ = ["env"]

TITLES = {
    "push": "acme/shop: 2 commits pushed to main",
    "tag_push": "acme/shop: new tag v2.4.0",
    "merge_request_opened": "acme/shop: MR !118 opened: Fix the cart total overflow",
    "merge_request_approved": "acme/shop: MR !118 approved",
    "merge_request_merged": "acme/shop: MR !118 merged",
    "pipeline_failed": "acme/shop: pipeline #311 failed",
    "pipeline_succeeded": "acme/shop: pipeline #311 succeeded",
    "job_failed": "acme/shop: job unit failed",
    "job_succeeded": "acme/shop: job unit succeeded",
    "issue_opened": "acme/shop: issue #42 opened",
    "note_on_merge_request": "acme/shop: New comment on MR !118",
    "release": "acme/shop: release Shop 2.4.0 published",
    "deployment": "acme/shop: deployment to production succeeded",
    "wiki_page": "acme/shop: wiki page create",
}
#: a signing token as GitLab wants it: whsec_ and 32 random bytes in base64
SIGNING = "whsec_" + base64.b64encode(b"\x07" * 32).decode()


def card_text(message: dict[str, Any]) -> str:
    return json.dumps(message["attachments"][0]["content"], ensure_ascii=False)


@pytest.mark.parametrize("sent", GITLAB, ids=lambda p: p.name)
def test_every_gitlab_hook_reaches_the_channel(
    devhost: str, app_store: Any, sink: Any, env: None, sent: VendorPost
) -> None:
    route, (channel,) = make_route(app_store, sink, "gitlab")
    reply = post(devhost, route, sent.body, sent.headers)
    assert reply.status_code == 202 and reply.json()["channels"] == ["accepted"], reply.text
    text = card_text(delivered(sink, channel)[0])
    assert TITLES[sent.name] in text
    assert "https://gitlab.example.com/acme/shop/" in text  # the link button


def test_pipeline_filters_read_failed_and_succeeded(
    devhost: str, app_store: Any, sink: Any, env: None
) -> None:
    """`--filter event=pipeline.*,build.*` and `state=failed`: a failed pipeline or job is shown."""
    filters = {"event": ["pipeline.*", "build.*"], "state": ["failed"]}
    route, (channel,) = make_route(app_store, sink, "gitlab", filters=filters)
    by_name = {p.name: p for p in GITLAB}
    for name, shown in (
        ("pipeline_succeeded", False),
        ("push", False),
        ("job_failed", True),
        ("pipeline_failed", True),
    ):
        reply = post(devhost, route, by_name[name].body, by_name[name].headers)
        assert reply.json()["status"] == ("accepted" if shown else "filtered"), (name, reply.text)
    assert len(delivered(sink, channel, 2)) == 2


def test_gitlab_token_good_and_bad(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    sent = GITLAB[0]
    route, (channel,) = make_route(app_store, sink, "gitlab", auth="gitlab", secret=SECRET)
    for headers in (
        {},
        {"X-Gitlab-Token": "BadValue1"},
        {"X-Gitlab-Token": SECRET + "x"},
        {"Authorization": f"Bearer {SECRET}"},
    ):
        reply = post(devhost, route, sent.body, {**sent.headers, **headers})
        assert reply.status_code == 401, (headers, reply.text)
        assert SECRET not in reply.text and "BadValue1" not in reply.text
    reply = post(devhost, route, sent.body, {**sent.headers, "X-Gitlab-Token": SECRET})
    assert reply.status_code == 202, reply.text
    assert len(delivered(sink, channel)) == 1


def test_gitlab_signed_form_good_and_bad(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    """A whsec_ secret is a signing token: only `webhook-signature` over id.timestamp.body is accepted."""
    sent = GITLAB[5]
    route, (channel,) = make_route(app_store, sink, "gitlab", auth="gitlab", secret=SIGNING)
    now = int(time.time())
    webhook_id = unique("idem")
    key = base64.b64decode(SIGNING.removeprefix("whsec_"))
    by_hand = base64.b64encode(
        hmac.new(key, f"{webhook_id}.{now}.".encode() + sent.body, hashlib.sha256).digest()
    )
    good = sign_gitlab(SIGNING, webhook_id, now, sent.body)
    assert good == "v1," + by_hand.decode()  # the documented construction, computed independently
    signed = {"webhook-id": webhook_id, "webhook-timestamp": str(now), "Idempotency-Key": webhook_id}
    for headers in (
        {},
        {"X-Gitlab-Token": SIGNING},  # the signing token sent as a plain token is not the signed form
        {**signed},
        {**signed, "webhook-signature": sign_gitlab(SIGNING, webhook_id, now, sent.body + b" ")},
        {**signed, "webhook-signature": sign_gitlab(SIGNING, "other", now, sent.body)},
        {
            **signed,
            "webhook-timestamp": str(now - 3600),
            "webhook-signature": sign_gitlab(SIGNING, webhook_id, now - 3600, sent.body),
        },
        {**signed, "webhook-signature": "v2," + by_hand.decode()},
    ):
        reply = post(devhost, route, sent.body, {**sent.headers, **headers})
        assert reply.status_code == 401, (headers, reply.text)
        assert SIGNING not in reply.text
    # Several signatures (a token being rotated): one matching is enough.
    rotated = f"v1,{base64.b64encode(b'x' * 32).decode()} {good}"
    reply = post(devhost, route, sent.body, {**sent.headers, **signed, "webhook-signature": rotated})
    assert reply.status_code == 202, reply.text
    assert len(delivered(sink, channel)) == 1


def test_gitlab_retries_are_shown_once(devhost: str, app_store: Any, sink: Any, env: None) -> None:
    """A retry keeps X-Gitlab-Event-UUID (and Idempotency-Key); the same body under a new UUID is a
    replay; an old GitLab without either header retries the same body."""
    route, (channel,) = make_route(app_store, sink, "gitlab")
    sent = GITLAB[0]
    first = post(devhost, route, sent.body, sent.headers)
    retry = post(devhost, route, sent.body, sent.headers)
    replay = post(devhost, route, sent.body, {**sent.headers, "X-Gitlab-Event-UUID": unique("u")})
    assert first.json()["channels"] == ["accepted"]
    assert retry.json() == {"status": "duplicate"} and replay.json() == {"status": "duplicate"}
    idem = {"X-Gitlab-Event": "Pipeline Hook", "Idempotency-Key": unique("k")}
    body = GITLAB[5].body
    assert post(devhost, route, body, {**idem, "X-Gitlab-Event-UUID": unique("u")}).json()["channels"] == [
        "accepted"
    ]
    assert post(devhost, route, body, {**idem, "X-Gitlab-Event-UUID": unique("u")}).json() == {
        "status": "duplicate"
    }
    bare = GITLAB[7].body
    assert [post(devhost, route, bare, {"X-Gitlab-Event": "Job Hook"}).status_code for _ in range(2)] == [
        202,
        202,
    ]
    assert len(delivered(sink, channel, 3)) == 3
    assert len(sink.messages(channel)) == 3


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"ref": "refs/heads/main"}', "object_kind: field required"),
        (b'{"object_kind": "push"}', "ref: field required"),
        (
            b'{"object_kind": "merge_request", "object_attributes": {"iid": 1}}',
            "object_attributes.title: field required",
        ),
        (b'{"object_kind": "pipeline"}', "object_attributes: field required"),
        (b'{"object_kind": "build", "build_name": "unit"}', "build_status: field required"),
        (b'{"object_kind": "release"}', "tag: field required"),
        (b'"push"', "body: must be a JSON object"),
    ],
)
def test_unreadable_gitlab_payload_is_a_400_naming_the_field(
    devhost: str, app_store: Any, sink: Any, env: None, body: bytes, detail: str
) -> None:
    route, (channel,) = make_route(app_store, sink, "gitlab")
    reply = post(devhost, route, body, {"X-Gitlab-Event": "Push Hook"})
    assert reply.status_code == 400, reply.text
    assert detail in reply.json()["detail"]
    assert sink.messages(channel) == []


def test_auto_route_recognises_gitlab_by_its_header(
    devhost: str, app_store: Any, sink: Any, env: None
) -> None:
    route, (channel,) = make_route(app_store, sink, "auto")
    assert post(devhost, route, GITLAB[2].body, GITLAB[2].headers).status_code == 202
    assert TITLES["merge_request_opened"] in card_text(delivered(sink, channel)[0])
