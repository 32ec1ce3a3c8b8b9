"""The Workflows and legacy connector URLs over real HTTP: what is accepted and how refusals look."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.sink.conftest import card, dumps, envelope, shared_json
from tools.teams_sink import TeamsSink

LEGACY_ERROR = re.compile(
    r"^Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error (\d{3}) "
    r"with ContextId tcid=\d+,server=[\w-]+,cv=\S+$"
)
JSON = {"Content-Type": "application/json"}


def post(http: requests.Session, url: str, body: Any) -> requests.Response:
    data = body if isinstance(body, bytes) else dumps(body)
    return http.post(url, data=data, headers=JSON, timeout=5)


def sized_envelope(size: int) -> bytes:
    """A valid envelope whose compact JSON is exactly `size` bytes."""
    base = dumps(envelope(card(text="")))
    raw = dumps(envelope(card(text="x" * (size - len(base)))))
    assert len(raw) == size
    return raw


def test_valid_envelope_gets_202_with_an_empty_body(quiet_sink: TeamsSink, http: requests.Session) -> None:
    body = envelope(card(text="**deploy** done <at>x</at>"))
    response = post(http, quiet_sink.workflow_url("ops"), body)
    assert response.status_code == 202
    assert response.content == b""
    assert quiet_sink.messages("ops") == [body]
    [request] = quiet_sink.requests("ops")
    assert request["status"] == 202 and request["mode"] == "workflow" and request["size"] == len(dumps(body))


def test_official_docs_examples_are_accepted(quiet_sink: TeamsSink, http: requests.Session) -> None:
    adaptive = shared_json("teams", "incoming_webhook_adaptive_msteams_docs.json")
    message_card = shared_json("teams", "incoming_webhook_messagecard_msteams_docs.json")
    assert post(http, quiet_sink.workflow_url("docs"), adaptive).status_code == 202
    legacy = post(http, quiet_sink.legacy_url("docs"), message_card)
    assert (legacy.status_code, legacy.text) == (200, "1")
    assert quiet_sink.messages("docs") == [adaptive, message_card]


def test_real_workflow_url_shapes_and_query_strings(quiet_sink: TeamsSink, http: requests.Session) -> None:
    url = (
        f"{quiet_sink.url}/powerautomate/automations/direct/workflows/flow1/triggers/manual/paths/invoke"
        "?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=secret"
    )
    assert post(http, url, envelope()).status_code == 202
    assert len(quiet_sink.messages("flow1")) == 1


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"text": "plain text is not a card"}, "attachments is Null"),
        ({"type": "message", "attachments": None}, "attachments is Null"),
        ({"type": "message", "attachments": "card"}, "is of type 'String'"),
        ({"type": "message", "attachments": []}, "'attachments' array is empty"),
        (envelope(content_type="application/vnd.microsoft.teams.card.o365connector"), "contentType must be"),
        (envelope({"@type": "MessageCard", "summary": "s"}), "Property 'type' must be 'AdaptiveCard'"),
        (envelope(card("1.6")), "AdaptiveCard version '1.6' is not supported"),
        (envelope(card("2.0")), "AdaptiveCard version '2.0' is not supported"),
        (envelope({"type": "AdaptiveCard", "body": []}), "Property 'version' is required"),
        (b"{not json", "must be of type JSON"),
        (b'{"a": "\xff"}', "must be of type JSON"),
    ],
)
def test_workflow_rejections_have_status_and_text(
    quiet_sink: TeamsSink, http: requests.Session, body: Any, text: str
) -> None:
    response = post(http, quiet_sink.workflow_url("bad"), body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert text in error["message"] and error["code"]
    assert quiet_sink.messages("bad") == []
    [request] = quiet_sink.requests("bad")
    assert request["status"] == 400 and text in request["error"]


def test_size_boundary_is_28672_bytes(quiet_sink: TeamsSink, http: requests.Session) -> None:
    url = quiet_sink.workflow_url("size")
    assert post(http, url, sized_envelope(28672)).status_code == 202
    over = post(http, url, sized_envelope(28673))
    assert over.status_code == 413
    message = over.json()["error"]["message"]
    assert "Request Entity too large" in message
    assert "MessageSizeExceeded" in message and "max allowed size is 28672 bytes" in message
    assert "28673 bytes" in message
    assert len(quiet_sink.messages("size")) == 1


def test_size_limit_is_configurable(make_sink: Callable[..., TeamsSink], http: requests.Session) -> None:
    sink = make_sink(max_bytes=1000)
    assert post(http, sink.workflow_url("c"), sized_envelope(1000)).status_code == 202
    assert post(http, sink.workflow_url("c"), sized_envelope(1001)).status_code == 413


def test_chunked_bodies_are_read(quiet_sink: TeamsSink, http: requests.Session) -> None:
    raw = dumps(envelope())
    response = http.post(
        quiet_sink.workflow_url("chunked"), data=iter([raw[:10], raw[10:]]), headers=JSON, timeout=5
    )
    assert response.status_code == 202
    assert quiet_sink.messages("chunked") == [envelope()]


def test_legacy_accepts_text_messagecard_and_envelope(quiet_sink: TeamsSink, http: requests.Session) -> None:
    url = quiet_sink.legacy_url("old")
    bodies = [
        {"text": "Hello World"},
        {"@type": "MessageCard", "@context": "http://schema.org/extensions", "summary": "s", "sections": []},
        envelope(),
    ]
    for body in bodies:
        response = post(http, url, body)
        assert (response.status_code, response.text) == (200, "1")
    assert quiet_sink.messages("old") == bodies
    assert [record["mode"] for record in quiet_sink.records("old")] == ["legacy"] * 3


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"@type": "MessageCard", "themeColor": "FF0000"}, 400, "Summary or Text is required."),
        ({"title": "no text"}, 400, "Bad payload received by generic incoming webhook."),
        (envelope(card("1.6")), 400, "not supported"),
        (b"[]", 400, "Bad payload"),
    ],
)
def test_legacy_errors_are_wrapped_in_200(
    quiet_sink: TeamsSink, http: requests.Session, body: Any, status: int, reason: str
) -> None:
    response = post(http, quiet_sink.legacy_url("old"), body)
    assert response.status_code == 200
    match = LEGACY_ERROR.match(response.text)
    assert match is not None and int(match.group(1)) == status
    [request] = quiet_sink.requests("old")
    assert (request["status"], request["teams_status"]) == (200, status) and reason in request["error"]
    assert quiet_sink.messages("old") == []


def test_legacy_oversize_is_a_wrapped_413(quiet_sink: TeamsSink, http: requests.Session) -> None:
    response = post(http, quiet_sink.legacy_url("old"), sized_envelope(28673))
    match = LEGACY_ERROR.match(response.text)
    assert response.status_code == 200 and match is not None and match.group(1) == "413"


def test_other_methods_and_paths(quiet_sink: TeamsSink, http: requests.Session) -> None:
    response = http.get(quiet_sink.workflow_url("x"), timeout=5)
    assert response.status_code == 405 and "expected 'Post'" in response.json()["error"]["message"]
    assert http.put(quiet_sink.legacy_url("x"), data=b"{}", timeout=5).status_code == 405
    missing = http.post(quiet_sink.url + "/nowhere", data=b"{}", timeout=5)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NotFound"
    assert http.get(quiet_sink.url + "/nowhere", timeout=5).status_code == 404
    assert quiet_sink.requests("x") == []


def test_session_fixture_sink_is_running(sink: TeamsSink, http: requests.Session) -> None:
    channel = "fixture-smoke"
    assert post(http, sink.workflow_url(channel), envelope()).status_code == 202
    assert sink.messages(channel)[-1] == envelope()
    listed = http.get(f"{sink.url}/channels/{channel}/messages", timeout=5).json()
    assert listed[-1]["body"] == json.loads(dumps(envelope()))
