"""How a POST reaches Teams: the `Transport` interface and its http.client implementation.

Delivery (`client`, `sweep`) talks to Teams only through a Transport, so its logic can be tested
with a fake one, without sockets. A transport never raises for what the network or Teams does:
every POST comes back as a classified `Answer`. The default is `HTTP`; `deliver`, `deliver_many`
and `sweep` take another as `transport=`, and `set_default` changes it for the whole process.
"""

from __future__ import annotations

import http.client
import threading
from typing import Protocol

from shared.connections import BrokenBody, Pool, split_url
from shared.delivery import allowlist
from shared.delivery.classify import Answer, Kind, classify_exception, classify_response

USER_AGENT = "teams-connect-functions/0.1"
READ_LIMIT_BYTES = 65536


class Transport(Protocol):
    def post(self, url: str, body: bytes, timeout: float, connect_timeout: float | None = None) -> Answer:
        """One POST of `body` (JSON) to `url`, classified; never follows a redirect."""
        ...


_pool: Pool | None = None
_pool_lock = threading.Lock()


def pool() -> Pool:
    """One keep-alive pool per process (http.client: no cookies, no proxies, no redirects)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = Pool(size=32)
    return _pool


class HttpTransport:
    """The real transport, over `shared.connections` (the pool above)."""

    def post(self, url: str, body: bytes, timeout: float, connect_timeout: float | None = None) -> Answer:
        """Never follows redirects: the allowlist checked this URL, not another."""
        try:
            origin, target = split_url(url)
        except http.client.InvalidURL as exc:
            return classify_exception(exc)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
        }
        connections = pool()
        try:
            conn = connections.checkout(origin, min(timeout, connect_timeout or timeout))
            response, text = connections.exchange(
                origin, conn, "POST", target, body, headers, timeout, limit=READ_LIMIT_BYTES
            )
        except BrokenBody as exc:
            if 200 < exc.status < 300:  # a 202 whose (unused) body broke off was still accepted
                return Answer(Kind.ACCEPTED, exc.status, f"HTTP {exc.status} accepted")
            if exc.status >= 300:  # a 413 or a 429 says enough without its body
                return _classified(url, exc.status, b"", exc.headers.get("Retry-After"))
            return classify_exception(exc)
        except (OSError, http.client.HTTPException, UnicodeError) as exc:
            return classify_exception(exc)
        return _classified(url, response.status, text, response.getheader("Retry-After"))


def _classified(url: str, status: int, text: bytes, retry_after: str | None) -> Answer:
    answer = classify_response(status, text, {"Retry-After": retry_after} if retry_after else None)
    return Answer(answer.kind, answer.status, allowlist.redact(answer.reason, url), answer.retry_after)


HTTP = HttpTransport()
_default: Transport = HTTP


def default() -> Transport:
    """The transport deliveries use when the caller names none."""
    return _default


def set_default(transport: Transport | None) -> Transport:
    """Use `transport` for every delivery that names none (None: back to `HTTP`); returns the previous."""
    global _default
    previous, _default = _default, transport or HTTP
    return previous
