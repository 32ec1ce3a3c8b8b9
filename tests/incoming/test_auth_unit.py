"""Sender authentication modes, good and bad, without a process (HTTP checks are in test_incoming_http)."""

from __future__ import annotations

import base64

import pytest

from shared.incoming import auth

pytestmark = pytest.mark.unit

SECRET = "s3cret-Value_42"
BODY = b'{"hello": "world"}'


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


GOOD = {
    "none": ({}, {}),
    "bearer": ({"authorization": f"Bearer {SECRET}"}, {}),
    "basic": ({"authorization": basic("ado", SECRET)}, {}),
    "github": ({"x-hub-signature-256": auth.sign(SECRET, BODY)}, {}),
    "hmac": ({"x-signature-256": auth.sign(SECRET, BODY).removeprefix("sha256=")}, {}),
    "key": ({}, {"code": SECRET}),
}

BAD = {
    "bearer": [{}, {"authorization": "Bearer nope"}, {"authorization": f"Basic {SECRET}"}],
    "basic": [{}, {"authorization": basic("ado", "nope")}, {"authorization": "Basic !!!"}],
    "github": [{}, {"x-hub-signature-256": auth.sign("other", BODY)}, {"x-hub-signature-256": "sha256=zz"}],
    "hmac": [{}, {"x-signature-256": auth.sign(SECRET, BODY + b" ")}],
    "key": [{}, {"x-functions-key": "nope"}],
}


@pytest.mark.parametrize("mode", sorted(GOOD))
def test_good_credentials_pass(mode: str) -> None:
    headers, query = GOOD[mode]
    auth.authenticate(mode, SECRET if mode != "none" else None, headers, BODY, query)


@pytest.mark.parametrize(("mode", "case"), [(m, i) for m, cases in BAD.items() for i in range(len(cases))])
def test_bad_credentials_rejected_without_echoing_secrets(mode: str, case: int) -> None:
    headers = BAD[mode][case]
    with pytest.raises(auth.AuthError) as info:
        auth.authenticate(mode, SECRET, headers, BODY, {})
    assert SECRET not in info.value.message
    for value in headers.values():
        assert value not in info.value.message


def test_basic_with_user_name_in_secret_and_custom_hmac_header() -> None:
    auth.authenticate("basic", f"ado:{SECRET}", {"authorization": basic("ado", SECRET)}, BODY)
    with pytest.raises(auth.AuthError):
        auth.authenticate("basic", f"ado:{SECRET}", {"authorization": basic("eve", SECRET)}, BODY)
    headers = {"x-my-sig": auth.sign(SECRET, BODY)}
    auth.authenticate("hmac", SECRET, headers, BODY, settings={"hmac_header": "X-My-Sig"})


def test_misconfigured_route() -> None:
    with pytest.raises(auth.AuthConfigError):
        auth.authenticate("bearer", None, {}, BODY)
    with pytest.raises(auth.AuthConfigError):
        auth.authenticate("kerberos", SECRET, {}, BODY)
