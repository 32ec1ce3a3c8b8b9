"""Pure logic of issue 16's self-answering connectors: their auth modes and the pipeline's hooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from shared.incoming import auth
from shared.incoming.sources.base import Answers, Handshakes, Incoming
from shared.web import error

SECRET = "app-secret-0123"


def test_trello_signature_is_body_then_callback_url() -> None:
    body, url = b'{"action": {"id": "1"}}', "https://x.example/api/incoming/board"
    expected = base64.b64encode(hmac.new(SECRET.encode(), body + url.encode(), hashlib.sha1).digest()).decode()
    assert auth.trello_sign(SECRET, body, url) == expected
    settings = {"callback_url": url}
    auth.authenticate("trello", SECRET, {"x-trello-webhook": expected}, body, {}, settings)
    for headers in ({}, {"x-trello-webhook": auth.trello_sign(SECRET, body, url + "/")}):
        with pytest.raises(auth.AuthError):
            auth.authenticate("trello", SECRET, headers, body, {}, settings)
    with pytest.raises(auth.AuthConfigError):
        auth.authenticate("trello", SECRET, {"x-trello-webhook": expected}, body, {}, {})


@pytest.mark.parametrize(
    ("states", "ok"),
    [([SECRET], True), ([SECRET, SECRET], True), ([SECRET, "other"], False), ([SECRET, None], False), ([], False)],
)
def test_sharepoint_client_state_of_every_notification(states: list[str | None], ok: bool) -> None:
    value = [{"subscriptionId": "s", "resource": "r", **({"clientState": s} if s else {})} for s in states]
    body = json.dumps({"value": value}).encode()
    if ok:
        auth.authenticate("sharepoint", SECRET, {}, body)
    else:
        with pytest.raises(auth.AuthError):
            auth.authenticate("sharepoint", SECRET, {}, body)
    with pytest.raises(auth.AuthError):
        auth.authenticate("sharepoint", SECRET, {}, b"not json")


def test_only_the_answering_sources_have_hooks() -> None:
    from shared.incoming import sources

    hooked = {k for k in sources.kinds() if isinstance(sources.get(k), (Handshakes, Answers))}
    assert hooked == {"sharepoint", "salesforce"}
    assert isinstance(sources.get("sharepoint"), Handshakes)
    assert isinstance(sources.get("salesforce"), Answers)


def test_sharepoint_handshake_only_for_an_empty_validation_post() -> None:
    from shared.incoming import sources

    source = sources.get("sharepoint")
    assert isinstance(source, Handshakes)
    reply = source.handshake(Incoming(headers={}, body=b"", query={"ValidationToken": "abc-123"}))
    assert reply is not None and (reply.status, reply.body, reply.mimetype) == (200, b"abc-123", "text/plain")
    assert source.handshake(Incoming(headers={}, body=b"", query={})) is None
    assert source.handshake(Incoming(headers={}, body=b'{"value": []}', query={"validationtoken": "x"})) is None
    bad = source.handshake(Incoming(headers={}, body=b"", query={"validationtoken": "a\r\nSet-Cookie: x"}))
    assert bad is not None and bad.status == 400 and b"Set-Cookie" not in bad.body


def test_salesforce_answer_keeps_refusals_and_acks_success() -> None:
    from shared.incoming import sources
    from shared.web import json_reply

    source = sources.get("salesforce")
    assert isinstance(source, Answers)
    ack = source.answer(json_reply(202, {"status": "duplicate"}))
    assert ack.status == 200 and b"<Ack>true</Ack>" in ack.body and ack.mimetype == "text/xml"
    for status in (400, 401, 409, 413, 415, 503):
        fault = source.answer(error(status, "bad <thing>", ["a & b"]))
        assert fault.status == status and b"<Ack>" not in fault.body
        assert b"bad &lt;thing&gt;: a &amp; b" in fault.body
        assert (b"soapenv:Client" if status < 500 else b"soapenv:Server") in fault.body
