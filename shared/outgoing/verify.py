"""Teams outgoing-webhook signatures, checked the way slack_sdk's SignatureVerifier checks Slack's.

Teams signs only the body (no timestamp header), so freshness comes from the activity's own
`timestamp`; the clock is injectable so tests and benchmarks can pin "now".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

_SCHEME = "hmac"
# Used when a team is unknown, so that path costs the same HMAC as a wrong signature.
_DECOY_KEY = hashlib.sha256(b"teams-outgoing-decoy").digest()


class SignatureVerifier:
    """Checks `Authorization: HMAC <base64>` against every active token of one team."""

    def __init__(
        self,
        tokens: Iterable[str],
        *,
        window_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys: list[bytes] = []
        for token in tokens:
            try:
                self._keys.append(base64.b64decode(token.strip(), validate=True))
            except (binascii.Error, ValueError):
                continue  # a broken stored token must not break the other ones
        self._window = window_seconds
        self._clock = clock

    def is_valid(self, body: bytes, authorization: str | None) -> bool:
        """True when the header carries the HMAC-SHA256 of the raw body under one of the tokens."""
        given = _signature(authorization)
        keys = self._keys or [_DECOY_KEY]
        matched = False
        for key in keys:  # no early exit: the time taken does not say which token matched
            expected = hmac.new(key, body, hashlib.sha256).digest()
            matched |= hmac.compare_digest(expected, given)
        return matched and bool(self._keys)

    def is_fresh(self, timestamp: datetime | None) -> bool:
        """True when the activity's timestamp is within the replay window of now (either side).

        Teams always sends UTC with a `Z`; a timestamp without an offset is taken as UTC too.
        """
        if timestamp is None:
            return False
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=UTC)
        return abs(self._clock() - timestamp.timestamp()) <= self._window


def well_formed(authorization: str | None) -> bool:
    """Whether the header is `HMAC <base64 of 32 bytes>`: checked before anything else, so a
    request that cannot be genuine costs no table read and no thread."""
    return len(_signature(authorization)) == hashlib.sha256().digest_size


def _signature(authorization: str | None) -> bytes:
    """The decoded signature, or b"" (which never matches) when the header is absent or malformed."""
    if not authorization:
        return b""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != _SCHEME:
        return b""
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""
