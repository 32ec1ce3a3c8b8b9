"""Every kind of answer Teams gives, as the classifier reads it."""

from __future__ import annotations

import http.client
import socket
import ssl

import pytest

from shared.delivery.classify import Kind, classify_exception, classify_response, parse_retry_after

pytestmark = pytest.mark.unit

WRAPPED = (
    "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error {code} "
    "with ContextId tcid=0,server=msgapi-production-eus-azsc2-4-170,cv=deadbeef"
)


@pytest.mark.parametrize(
    ("status", "body"),
    [(202, b""), (200, b"1"), (200, b" 1\n"), (201, b""), (204, b""), (202, b'{"ok": true}')],
)
def test_accepted(status: int, body: bytes) -> None:
    outcome = classify_response(status, body)
    assert outcome.kind is Kind.ACCEPTED and outcome.status == status


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (429, Kind.THROTTLED),
        (413, Kind.TOO_LARGE),
        (400, Kind.PERMANENT),
        (404, Kind.PERMANENT),
        (412, Kind.PERMANENT),
        (500, Kind.TRANSIENT),
        (502, Kind.TRANSIENT),
    ],
)
def test_wrapped_legacy_errors(code: int, kind: Kind) -> None:
    outcome = classify_response(200, WRAPPED.format(code=code).encode())
    assert outcome.kind is kind and outcome.status == code
    assert "inside a 200" in outcome.reason


def test_legacy_rejections_without_a_number() -> None:
    assert classify_response(200, b"Bad payload received by generic incoming webhook.").kind is Kind.PERMANENT
    assert classify_response(200, b"Summary or Text is required.").kind is Kind.PERMANENT


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, Kind.THROTTLED),
        (413, Kind.TOO_LARGE),
        (400, Kind.PERMANENT),
        (401, Kind.PERMANENT),
        (403, Kind.PERMANENT),
        (404, Kind.PERMANENT),
        (408, Kind.TRANSIENT),
        (500, Kind.TRANSIENT),
        (502, Kind.TRANSIENT),
        (503, Kind.TRANSIENT),
        (504, Kind.TRANSIENT),
        (301, Kind.PERMANENT),
        (302, Kind.PERMANENT),
    ],
)
def test_real_status_codes(status: int, kind: Kind) -> None:
    assert classify_response(status, b"whatever").kind is kind


def test_size_error_inside_a_400_means_split() -> None:
    body = b'{"error":{"code":"MessageSizeExceeded","message":"Request Entity too large"}}'
    assert classify_response(400, body).kind is Kind.TOO_LARGE


def test_retry_after_seconds_and_date() -> None:
    assert classify_response(429, b"", {"Retry-After": "7"}).retry_after == 7.0
    assert classify_response(503, b"", {"Retry-After": "3"}).retry_after == 3.0
    assert classify_response(429, b"").retry_after is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("junk") is None
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("1e12") == 86400.0


def test_network_failures_are_transient() -> None:
    assert classify_exception(TimeoutError()).kind is Kind.TRANSIENT
    assert classify_exception(ConnectionRefusedError()).kind is Kind.TRANSIENT
    assert classify_exception(http.client.RemoteDisconnected("closed")).kind is Kind.TRANSIENT
    assert classify_exception(ssl.SSLCertVerificationError()).kind is Kind.TRANSIENT
    assert classify_exception(socket.gaierror()).kind is Kind.TRANSIENT
    assert classify_exception(http.client.IncompleteRead(b"")).kind is Kind.TRANSIENT
    assert classify_exception(http.client.InvalidURL()).kind is Kind.PERMANENT


def test_reason_is_short() -> None:
    outcome = classify_response(500, b"x" * 10000)
    assert len(outcome.reason) < 300
