"""SignatureVerifier: HMAC over the raw body, rotation, malformed headers, freshness."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from shared.outgoing.verify import SignatureVerifier
from tests.outgoing.helpers import new_token, sign

pytestmark = pytest.mark.unit

BODY = '{"type":"message","text":"héllo 👋 مرحبا"}'.encode()


def test_valid_signature() -> None:
    token = new_token()
    assert SignatureVerifier([token]).is_valid(BODY, sign(token, BODY))


def test_every_token_of_a_team_is_accepted() -> None:
    old, new = new_token(), new_token()
    verifier = SignatureVerifier([old, new])
    assert verifier.is_valid(BODY, sign(old, BODY))
    assert verifier.is_valid(BODY, sign(new, BODY))
    assert not verifier.is_valid(BODY, sign(new_token(), BODY))


def test_signature_is_over_the_raw_bytes() -> None:
    token = new_token()
    reserialised = BODY.replace(b":", b": ")
    assert not SignatureVerifier([token]).is_valid(reserialised, sign(token, BODY))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "HMAC",
        "HMAC ",
        "Bearer abc",
        "HMAC not-base64!!",
        "HMAC " + base64.b64encode(b"short").decode(),
    ],
)
def test_missing_or_malformed_header(header: str | None) -> None:
    assert not SignatureVerifier([new_token()]).is_valid(BODY, header)


def test_scheme_is_case_insensitive_and_whitespace_tolerated() -> None:
    token = new_token()
    value = sign(token, BODY).split(" ", 1)[1]
    assert SignatureVerifier([token]).is_valid(BODY, f"  hmac {value} ")


def test_no_tokens_never_matches_even_the_decoy() -> None:
    assert not SignatureVerifier([]).is_valid(BODY, sign(new_token(), BODY))


def test_broken_stored_token_is_skipped() -> None:
    token = new_token()
    assert SignatureVerifier(["%%%", token]).is_valid(BODY, sign(token, BODY))


def test_freshness_uses_the_injected_clock() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    verifier = SignatureVerifier([], window_seconds=300, clock=lambda: now.timestamp())
    assert verifier.is_fresh(now)
    assert verifier.is_fresh(now - timedelta(seconds=299))
    assert verifier.is_fresh(now + timedelta(seconds=299))
    assert not verifier.is_fresh(now - timedelta(seconds=301))
    assert not verifier.is_fresh(now + timedelta(minutes=10))
    assert not verifier.is_fresh(None)
    assert verifier.is_fresh(now.replace(tzinfo=None))  # no offset: UTC, as Teams means it
    assert not verifier.is_fresh((now - timedelta(hours=1)).replace(tzinfo=None))
