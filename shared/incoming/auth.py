"""Sender authentication, chosen per route, since the function itself is anonymous.

Modes (``Route.auth``):

- ``none``: anyone who knows the URL may post.
- ``bearer``: ``Authorization: Bearer <secret>`` (Alertmanager / Grafana ``http_config``).
- ``basic``: ``Authorization: Basic ...`` (Azure DevOps service hooks). The secret is
  ``user:password``, or a bare password when any user name will do.
- ``github``: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``.
- ``hmac``: the same HMAC for generic senders, in the header named by
  ``settings["hmac_header"]`` (default ``X-Signature-256``); ``sha256=`` prefix optional.
- ``jira``: ``X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>`` where Jira sends one (Cloud
  admin webhooks with a secret, Data Center releases that offer one); else, for a Jira that cannot
  sign (Automation's "Send web request", an older Data Center), ``Authorization: Bearer <secret>``
  or the ``key`` forms. A signature that does not match is final: no fallback is tried.
- ``gitlab``: ``X-Gitlab-Token`` equal to the secret; a secret of the form ``whsec_<base64>`` is a
  GitLab *signing* token instead, and then only the signed form is accepted (Standard Webhooks:
  ``webhook-signature: v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">``,
  the timestamp within 5 minutes).
- ``sentry``: ``Sentry-Hook-Signature: <hex HMAC-SHA256 of the body>``, keyed with the
  integration's client secret.
- ``key``: ``x-functions-key`` header or ``code`` query parameter equal to the route's secret.
  The trigger is anonymous so that the other modes work; ``key`` gives the function-key
  experience per route instead of per app.
- ``sharepoint``: SharePoint list webhooks sign nothing; each notification of the body carries the
  ``clientState`` given when the subscription was created, which must equal the route's secret
  (every one of a batch). The validation request carries none: the source answers it before auth.
- ``trello``: ``X-Trello-Webhook: <base64 HMAC-SHA1 of the raw body followed by the callback URL>``,
  keyed with the Trello app's secret (the route's secret). The callback URL is the route setting
  ``callback_url``, exactly as given to Trello when creating the webhook (scheme, host, path and
  query): reconstructing it from the request would depend on proxies and the host's rewriting.

Every comparison is constant-time and no message ever contains the secret or the presented value.
The messages are for our log: the sender gets one 401 for every failure, and for a route that
does not exist (``pipeline.UNAUTHORIZED``, after ``decoy``), so routes cannot be enumerated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Any

from shared.store.models import ROUTE_AUTH

# The modes a route may name: the store's list, which the admin CLI offers too (one list).
MODES = ROUTE_AUTH
DEFAULT_HMAC_HEADER = "X-Signature-256"


class AuthError(Exception):
    """Missing or wrong credentials: 401 with this (secret-free) message."""

    def __init__(self, message: str, scheme: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.scheme = scheme


class AuthConfigError(Exception):
    """The route's own auth settings are unusable (operator error, not the sender's)."""


def _same(a: str | bytes, b: str | bytes) -> bool:
    # surrogatepass: a header value is whatever the host decoded; comparing it must never raise
    left = a.encode("utf-8", "surrogatepass") if isinstance(a, str) else a
    right = b.encode("utf-8", "surrogatepass") if isinstance(b, str) else b
    return hmac.compare_digest(left, right)


def _authorization(headers: Mapping[str, str], scheme: str) -> str | None:
    value = headers.get("authorization")
    if not value:
        return None
    got_scheme, _, credentials = value.strip().partition(" ")
    if got_scheme.lower() != scheme.lower():
        return None
    return credentials.strip()


def _signature_ok(secret: str, body: bytes, presented: str | None) -> bool:
    if not presented:
        return False
    value = presented.strip()
    if value.lower().startswith("sha256="):
        value = value[7:]
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return _same(expected, value.lower())


def authenticate(
    mode: str,
    secret: str | None,
    headers: Mapping[str, str],
    body: bytes,
    query: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> None:
    """Return when the request carries the route's credential; raise AuthError otherwise.

    ``headers`` must have lower-case names.
    """
    mode = (mode or "none").lower()
    if mode == "none":
        return
    if mode not in MODES:
        raise AuthConfigError(f"unknown auth mode {mode!r}")
    if not secret:
        raise AuthConfigError(f"auth mode {mode!r} needs a secret on the route")

    if mode == "bearer":
        token = _authorization(headers, "Bearer")
        if token is None:
            raise AuthError("missing bearer token (Authorization: Bearer ...)", "Bearer")
        if not _same(token, secret):
            raise AuthError("wrong bearer token", "Bearer")
        return

    if mode == "basic":
        encoded = _authorization(headers, "Basic")
        if encoded is None:
            raise AuthError("missing basic credentials (Authorization: Basic ...)", "Basic")
        try:
            user_pass = base64.b64decode(encoded, validate=True).decode("utf-8")
        except ValueError:  # not base64 (binascii.Error), not ASCII at all, or not UTF-8 inside
            raise AuthError("malformed basic credentials", "Basic") from None
        _user, sep, password = user_pass.partition(":")
        if not sep:
            raise AuthError("malformed basic credentials", "Basic")
        ok = _same(user_pass, secret) if ":" in secret else _same(password, secret)
        if not ok:
            raise AuthError("wrong user name or password", "Basic")
        return

    if mode == "github":
        presented = headers.get("x-hub-signature-256")
        if not presented:
            raise AuthError("missing X-Hub-Signature-256 header")
        if not _signature_ok(secret, body, presented):
            raise AuthError("X-Hub-Signature-256 does not match the body")
        return

    if mode == "hmac":
        header = str((settings or {}).get("hmac_header") or DEFAULT_HMAC_HEADER)
        presented = headers.get(header.lower())
        if not presented:
            raise AuthError(f"missing {header} header")
        if not _signature_ok(secret, body, presented):
            raise AuthError(f"{header} does not match the body")
        return

    if mode in VENDOR_MODES:
        VENDOR_MODES[mode](secret, headers, body, query or {})
        return

    if mode == "trello":
        callback = str((settings or {}).get("callback_url") or "")
        if not callback:
            raise AuthConfigError("auth mode 'trello' needs the route setting callback_url")
        presented = headers.get("x-trello-webhook")
        if not presented:
            raise AuthError("missing X-Trello-Webhook header")
        digest = hmac.new(secret.encode("utf-8"), body + callback.encode("utf-8"), hashlib.sha1).digest()
        if not _same(base64.b64encode(digest), presented.strip()):
            raise AuthError("X-Trello-Webhook does not match the body and callback URL")
        return

    if mode == "sharepoint":
        states = _client_states(body)
        if not states:
            raise AuthError("missing clientState in the notifications")
        if not all([_same(state, secret) for state in states]):  # each compared: timing tells nothing
            raise AuthError("wrong clientState")
        return

    # key
    presented = headers.get("x-functions-key") or (query or {}).get("code")
    if not presented:
        raise AuthError("missing key (x-functions-key header or code query parameter)")
    if not _same(presented, secret):
        raise AuthError("wrong key")


def _jira(secret: str, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
    presented = headers.get("x-hub-signature")
    if presented:
        if not presented.strip().lower().startswith("sha256=") or not _signature_ok(secret, body, presented):
            raise AuthError("X-Hub-Signature does not match the body")
        return
    token = _authorization(headers, "Bearer")
    if token is None:
        token = headers.get("x-functions-key") or query.get("code")
    if not token:
        raise AuthError("missing X-Hub-Signature (or Authorization: Bearer, or code query parameter)")
    if not _same(token, secret):
        raise AuthError("wrong Jira secret")


#: how far a GitLab ``webhook-timestamp`` may be from our clock (Standard Webhooks' tolerance)
GITLAB_TOLERANCE_SECONDS = 300
GITLAB_SIGNING_PREFIX = "whsec_"


def _gitlab_signature_ok(key: bytes, headers: Mapping[str, str], body: bytes) -> str | None:
    """None when the signed form checks out, else what is wrong (for our log)."""
    webhook_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    presented = headers.get("webhook-signature")
    if not (webhook_id and stamp and presented):
        return "missing webhook-signature, webhook-id or webhook-timestamp header"
    try:
        sent = int(stamp.strip())
    except ValueError:
        return "malformed webhook-timestamp"
    if abs(time.time() - sent) > GITLAB_TOLERANCE_SECONDS:
        return "webhook-timestamp is too far from now"
    signed = webhook_id.strip().encode("utf-8", "surrogatepass") + b"." + str(sent).encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")
    ok = False
    for entry in presented.split():
        version, _, value = entry.partition(",")
        ok = (version == "v1" and _same(value, expected)) or ok  # every entry compared: constant time
    return None if ok else "webhook-signature does not match the body"


def _gitlab(secret: str, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
    if secret.startswith(GITLAB_SIGNING_PREFIX):
        try:
            key = base64.b64decode(secret[len(GITLAB_SIGNING_PREFIX) :], validate=True)
        except ValueError:
            raise AuthConfigError("the route's GitLab signing token is not whsec_<base64>") from None
        problem = _gitlab_signature_ok(key, headers, body)
        if problem:
            raise AuthError(problem)
        return
    presented = headers.get("x-gitlab-token")
    if not presented:
        raise AuthError("missing X-Gitlab-Token header")
    if not _same(presented, secret):
        raise AuthError("wrong X-Gitlab-Token")


def _sentry(secret: str, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
    presented = headers.get("sentry-hook-signature")
    if not presented:
        raise AuthError("missing Sentry-Hook-Signature header")
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    if not _same(expected, presented.strip().lower()):
        raise AuthError("Sentry-Hook-Signature does not match the body")


#: the vendors' own schemes, each named after its sender
VENDOR_MODES = {"jira": _jira, "gitlab": _gitlab, "sentry": _sentry}


def _client_states(body: bytes) -> list[str]:
    """Every ``value[].clientState`` of a SharePoint notification body; [] when one lacks it."""
    import json

    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return []
    values = data.get("value") if isinstance(data, dict) else None
    if not isinstance(values, list) or not values:
        return []
    states = [item.get("clientState") if isinstance(item, dict) else None for item in values]
    return [s for s in states if isinstance(s, str)] if all(isinstance(s, str) and s for s in states) else []


#: the key of `decoy`'s HMAC: random per process, never a route's
_DECOY_KEY = secrets.token_bytes(32)


def decoy(headers: Mapping[str, str], body: bytes, query: Mapping[str, str] | None = None) -> None:
    """Check the presented credential against nothing, as dearly as the dearest mode does.

    For a route that does not exist: an HMAC over the body and a constant-time compare, so its
    401 takes about as long as a known route's to a wrong credential.
    """
    presented = (
        headers.get("authorization")
        or headers.get("x-hub-signature-256")
        or headers.get(DEFAULT_HMAC_HEADER.lower())
        or headers.get("x-hub-signature")
        or headers.get("x-gitlab-token")
        or headers.get("webhook-signature")
        or headers.get("sentry-hook-signature")
        or headers.get("x-functions-key")
        or (query or {}).get("code")
        or ""
    )
    expected = hmac.new(_DECOY_KEY, body, hashlib.sha256).hexdigest()
    _same(expected, presented)


def sign_gitlab(signing_token: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value GitLab sends with a signing token (tests, docs)."""
    key = base64.b64decode(signing_token.removeprefix(GITLAB_SIGNING_PREFIX))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def trello_sign(secret: str, body: bytes, callback_url: str) -> str:
    """The X-Trello-Webhook value Trello sends for ``body`` to ``callback_url`` (tests, docs)."""
    digest = hmac.new(secret.encode("utf-8"), body + callback_url.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def sign(secret: str, body: bytes) -> str:
    """The ``sha256=<hex>`` value a sender puts in X-Hub-Signature-256 (tests, demo, docs)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
