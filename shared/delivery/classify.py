"""What an answer from Teams really means, because its status code alone often lies.

- Workflows answer 202 with an empty body: the flow was started, which is the best we can know.
- Legacy connector URLs answered 200 even on failure, with the real error in the body
  (`Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 ...`);
  success there is a body of exactly `1`.
- 429 means slow down (Retry-After when given), 413 or a size error means the card must be split
  (sending it again unchanged can never work), other 4xx are permanent, 5xx and network trouble are
  transient.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass


class Kind(enum.Enum):
    ACCEPTED = "accepted"
    THROTTLED = "throttled"
    TOO_LARGE = "too_large"
    PERMANENT = "permanent"
    TRANSIENT = "transient"

    @property
    def retryable(self) -> bool:
        return self in (Kind.THROTTLED, Kind.TRANSIENT)


@dataclass(frozen=True)
class Answer:
    """What one POST's answer from Teams (or the failure to get one) means, whatever its status code said."""

    kind: Kind
    status: int | None
    reason: str
    retry_after: float | None = None


_WRAPPED_ERROR = re.compile(r"HTTP error (\d{3})", re.IGNORECASE)
_SIZE_ERROR = re.compile(
    r"MessageSizeExceeded|Request Entity Too Large|RequestEntityTooLarge|payload too large|"
    r"message size|too large|max(?:imum)? allowed size",
    re.IGNORECASE,
)
# Bodies the legacy connector answered with 200 for a card it rejected, without an HTTP error number.
_LEGACY_REJECTION = re.compile(
    r"Bad payload received|Summary or Text is required|Webhook message delivery failed", re.IGNORECASE
)
_TRANSIENT_4XX = frozenset({408, 425})
SNIPPET_CHARS = 200


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date); None when absent or junk."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        import email.utils  # rare (an HTTP date): kept off the import path

        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(seconds, 86400.0))


def snippet(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def _by_status(status: int, body: str, retry_after: float | None, wrapped: bool) -> Answer:
    where = "inside a 200 answer" if wrapped else "from Teams"
    detail = f"HTTP {status} {where}" + (f": {snippet(body)}" if body.strip() else "")
    if status == 429:
        return Answer(Kind.THROTTLED, status, detail, retry_after)
    if status == 413 or (400 <= status < 500 and _SIZE_ERROR.search(body)):
        return Answer(Kind.TOO_LARGE, status, detail)
    if status in _TRANSIENT_4XX or status >= 500:
        return Answer(Kind.TRANSIENT, status, detail, retry_after)
    if 300 <= status < 400:
        return Answer(Kind.PERMANENT, status, f"HTTP {status} redirect from the destination (not followed)")
    return Answer(Kind.PERMANENT, status, detail)


def classify_response(status: int, body: bytes | str, headers: Mapping[str, str] | None = None) -> Answer:
    """Classify one HTTP answer. `body` may be bytes; only its start matters."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else body
    text = text[:4096]
    retry_after = parse_retry_after((headers or {}).get("Retry-After"))
    if 200 <= status < 300:
        stripped = text.strip()
        if stripped in {"", "1"}:
            return Answer(Kind.ACCEPTED, status, f"HTTP {status} accepted", None)
        wrapped = _WRAPPED_ERROR.search(text)
        if wrapped:
            return _by_status(int(wrapped.group(1)), text, retry_after, wrapped=True)
        if _LEGACY_REJECTION.search(text):
            if _SIZE_ERROR.search(text):
                return Answer(
                    Kind.TOO_LARGE, status, f"size error inside a {status} answer: {snippet(text)}"
                )
            return Answer(Kind.PERMANENT, status, f"rejected inside a {status} answer: {snippet(text)}")
        return Answer(Kind.ACCEPTED, status, f"HTTP {status} accepted", None)
    return _by_status(status, text, retry_after, wrapped=False)


def classify_exception(exc: BaseException) -> Answer:
    """Network-level failures. A timeout or dropped connection may hide a post that arrived; we retry anyway
    (Teams has no idempotency key), which is the only way not to lose it."""
    import http.client

    name = type(exc).__name__
    if isinstance(exc, http.client.InvalidURL | UnicodeError):
        return Answer(Kind.PERMANENT, None, f"request could not be made ({name})")
    if isinstance(exc, TimeoutError):
        return Answer(Kind.TRANSIENT, None, f"timed out ({name})")
    if isinstance(exc, OSError):  # refused, reset, DNS, TLS: as likely to pass on a later try
        return Answer(Kind.TRANSIENT, None, f"connection failed or dropped ({name})")
    if isinstance(exc, http.client.HTTPException):
        return Answer(Kind.TRANSIENT, None, f"unreadable answer ({name})")
    return Answer(Kind.PERMANENT, None, f"request could not be made ({name})")
