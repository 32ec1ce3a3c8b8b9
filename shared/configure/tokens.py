"""Signed links and sessions of the configuration page.

A link (`make_link`) is what `@Connector configure` puts behind its button: the team, the Teams
channel id and the person who asked, valid `LINK_SECONDS`, signed with the app's key (HMAC-SHA256;
the key is `CONFIGURE_SIGNING_KEY`, or one the app makes once and keeps in its store; never a
team's outgoing-webhook token). The page spends it once (its id is claimed in the idempotency
table) for a session (`make_session`): the same binding for `SESSION_SECONDS`, in a cookie. Each
kind of token is signed under its own purpose, so one cannot stand for the other. The CSRF token
of a session's forms is an HMAC of the session id.

    v1.<base64url(JSON claims)>.<base64url(HMAC(key, purpose | claims))>
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.store import Store

__all__ = ["Claims", "TokenError", "csrf_token", "make_link", "make_session", "read", "signing_key"]

LINK_SECONDS = 15 * 60
SESSION_SECONDS = 60 * 60
#: the idempotency scope of spent links
SPENT_SCOPE = "configure-link"
_KEY_SCOPE = "configure-key"
_KEY_NAME = "signing-key"
#: a token longer than this is no token of ours (the claims are a few short strings)
MAX_TOKEN = 2048


class TokenError(ValueError):
    """The token cannot be used; the message says why (safe to show, names no value)."""


@dataclass(frozen=True)
class Claims:
    """What a link or a session is bound to."""

    id: str
    team: str
    channel: str  # the Teams channel id
    person: str  # from.aadObjectId ("" when Teams sent none)
    name: str  # from.name
    expires: datetime

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team": self.team,
            "ch": self.channel,
            "aad": self.person,
            "name": self.name,
            "exp": int(self.expires.timestamp()),
        }


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, body: str) -> str:
    return _b64(hmac.new(key, f"{purpose}|{body}".encode(), hashlib.sha256).digest())


def _make(key: bytes, purpose: str, claims: Claims) -> str:
    body = _b64(json.dumps(claims.payload(), separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    return f"v1.{body}.{_mac(key, purpose, body)}"


def make_link(
    key: bytes, *, team: str, channel: str, person: str, name: str, now: datetime | None = None
) -> str:
    expires = (now or datetime.now(UTC)) + timedelta(seconds=LINK_SECONDS)
    claims = Claims(secrets.token_urlsafe(12), team, channel, person, name[:100], expires)
    return _make(key, "link", claims)


def make_session(key: bytes, link: Claims, now: datetime | None = None) -> str:
    expires = (now or datetime.now(UTC)) + timedelta(seconds=SESSION_SECONDS)
    claims = Claims(secrets.token_urlsafe(12), link.team, link.channel, link.person, link.name, expires)
    return _make(key, "session", claims)


def read(key: bytes, token: str, purpose: str, now: datetime | None = None) -> Claims:
    """The claims of a token this app signed for `purpose`, not expired; TokenError otherwise."""
    parts = token.split(".") if 0 < len(token) <= MAX_TOKEN else []
    if len(parts) != 3 or parts[0] != "v1":
        raise TokenError("this link is not one of ours (it is malformed)")
    body, mac = parts[1], parts[2]
    if not hmac.compare_digest(mac.encode("ascii", "replace"), _mac(key, purpose, body).encode("ascii")):
        raise TokenError("this link is not one of ours (its signature does not match)")
    try:
        data = json.loads(_unb64(body))
        claims = Claims(
            id=str(data["id"]),
            team=str(data["team"]),
            channel=str(data["ch"]),
            person=str(data.get("aad") or ""),
            name=str(data.get("name") or ""),
            expires=datetime.fromtimestamp(int(data["exp"]), UTC),
        )
    except (ValueError, KeyError, TypeError):
        raise TokenError("this link is not one of ours (it is malformed)") from None
    if claims.expires <= (now or datetime.now(UTC)):
        raise TokenError("this link has expired: ask the bot for a new one (@Connector configure)")
    return claims


def csrf_token(key: bytes, session: Claims) -> str:
    """The forms' token of one session (an HMAC of its id: nothing to store)."""
    return _mac(key, "csrf", session.id)


def check_csrf(key: bytes, session: Claims, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), csrf_token(key, session).encode())


_keys: dict[tuple[str, str], bytes] = {}
_key_lock = threading.Lock()


def signing_key(store: Store) -> bytes:
    """`CONFIGURE_SIGNING_KEY`, else the key kept in the store (made by the first process that
    needs one: a conditional insert, so all processes agree on it)."""
    from shared import settings

    configured = settings.configure().signing_key
    if configured:
        return hashlib.sha256(b"configure|" + configured.encode("utf-8")).digest()
    where = (repr(store.connection), store.prefix)
    with _key_lock:
        if where not in _keys:
            from shared.idempotency import Scope

            scope = Scope(store, _KEY_SCOPE)
            made = secrets.token_hex(32)
            claim = scope.acquire(_KEY_NAME, ttl_seconds=100 * 365 * 86400, data={"key": made})
            data = claim.data if claim.held else (claim.holder.data if claim.holder else None)
            if not data or "key" not in data:
                raise RuntimeError("the configuration page's key could not be read from the store")
            _keys[where] = bytes.fromhex(str(data["key"]))
        return _keys[where]


def forget_key() -> None:
    """Tests that change the key setting or the store."""
    with _key_lock:
        _keys.clear()


def spend(store: Store, link: Claims) -> bool:
    """Mark the link used (once): False when it was used before."""
    from shared.idempotency import Scope

    return Scope(store, SPENT_SCOPE).acquire(link.id, ttl_seconds=LINK_SECONDS + 300).held
