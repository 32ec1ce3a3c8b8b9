"""The vendors' own auth modes (issue 16), good and bad, without a process: edge cases the HTTP tests
(test_jira_http, test_gitlab_http, test_sentry_http) do not repeat."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

import pytest

from shared.incoming import auth
from shared.store.models import ROUTE_AUTH

pytestmark = pytest.mark.unit

SECRET = "s3cret-Value_42"
BODY = b'{"webhookEvent": "jira:issue_created"}'
SIGNING = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def check(
    mode: str, headers: Mapping[str, str], secret: str = SECRET, query: Mapping[str, str] | None = None
) -> None:
    auth.authenticate(mode, secret, dict(headers), BODY, query or {})


def test_every_vendor_mode_is_offered_by_the_cli() -> None:
    assert set(auth.VENDOR_MODES) <= set(auth.MODES) and set(auth.MODES) == set(ROUTE_AUTH)


def test_jira_signature_is_final_and_the_fallbacks_need_the_secret() -> None:
    check("jira", {"x-hub-signature": auth.sign(SECRET, BODY)})
    check("jira", {"authorization": f"Bearer {SECRET}"})
    check("jira", {}, query={"code": SECRET})
    for headers, query in (
        ({"x-hub-signature": auth.sign(SECRET, BODY + b" ")}, {}),
        ({"x-hub-signature": auth.sign(SECRET, BODY).removeprefix("sha256=")}, {}),  # WebSub names the method
        ({"x-hub-signature": "sha256=00", "authorization": f"Bearer {SECRET}"}, {}),
        ({"x-hub-signature": "sha256=00"}, {"code": SECRET}),
        ({"authorization": "Bearer nope"}, {}),
        ({}, {}),
    ):
        with pytest.raises(auth.AuthError) as caught:
            check("jira", headers, query=query)
        assert SECRET not in caught.value.message


def _gitlab_headers(webhook_id: str, stamp: int, signature: str) -> dict[str, str]:
    return {"webhook-id": webhook_id, "webhook-timestamp": str(stamp), "webhook-signature": signature}


def test_gitlab_signed_form_tolerance_and_rotation() -> None:
    now = int(time.time())
    check("gitlab", _gitlab_headers("id-1", now, auth.sign_gitlab(SIGNING, "id-1", now, BODY)), SIGNING)
    near = now - auth.GITLAB_TOLERANCE_SECONDS + 5
    check("gitlab", _gitlab_headers("id-1", near, auth.sign_gitlab(SIGNING, "id-1", near, BODY)), SIGNING)
    two = "v1,AAAA " + auth.sign_gitlab(SIGNING, "id-1", now, BODY)
    check("gitlab", _gitlab_headers("id-1", now, two), SIGNING)
    far = now + auth.GITLAB_TOLERANCE_SECONDS + 5
    for headers in (
        _gitlab_headers("id-1", far, auth.sign_gitlab(SIGNING, "id-1", far, BODY)),
        _gitlab_headers("id-1", now, auth.sign_gitlab(SIGNING, "id-2", now, BODY)),
        {
            **_gitlab_headers("id-1", now, auth.sign_gitlab(SIGNING, "id-1", now, BODY)),
            "webhook-timestamp": "soon",
        },
        {"x-gitlab-token": SIGNING},
        {},
    ):
        with pytest.raises(auth.AuthError):
            check("gitlab", headers, SIGNING)


def test_gitlab_token_is_compared_whole() -> None:
    check("gitlab", {"x-gitlab-token": SECRET})
    for value in (SECRET[:-1], SECRET + " ", SECRET.upper(), "\udcff"):
        with pytest.raises(auth.AuthError):
            check("gitlab", {"x-gitlab-token": value})


def test_gitlab_signing_token_that_is_not_base64_is_the_operators_error() -> None:
    with pytest.raises(auth.AuthConfigError):
        check("gitlab", _gitlab_headers("id", int(time.time()), "v1,x"), "whsec_not base64!")


def test_sentry_signature_is_the_hex_hmac_of_the_body() -> None:
    good = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    check("sentry", {"sentry-hook-signature": good})
    check("sentry", {"sentry-hook-signature": good.upper()})
    for value in (good[:-1], "sha256=" + good, hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest(), ""):
        with pytest.raises(auth.AuthError):
            check("sentry", {"sentry-hook-signature": value})
