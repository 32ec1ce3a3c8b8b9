"""The Workflows and legacy connector URLs over real HTTP: what is answered, and what the channel shows.

A Workflows URL answers 202 to any JSON and decides afterwards, per attachment, whether the channel would
display it (teams-platform.md §3.5); a legacy URL answers every rule at once, wrapped in a 200.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.sink.conftest import ADAPTIVE, card, dumps, envelope, envelope_of, shared_json
from tools.teams_sink import TeamsSink
from tools.teams_sink.rules import SHOWN_BROKEN, SHOWN_ERROR, SHOWN_NOTHING
from tools.teams_sink.server import READ_CAP

LEGACY_ERROR = re.compile(
    r"^Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error (\d{3}) "
    r"with ContextId tcid=\d+,server=[\w-]+,cv=\S+$"
)
JSON = {"Content-Type": "application/json"}
OPEN = {"type": "Action.OpenUrl", "title": "Open", "url": "https://example.com/run/1"}


def post(http: requests.Session, url: str, body: Any) -> requests.Response:
    data = body if isinstance(body, bytes) else dumps(body)
    return http.post(url, data=data, headers=JSON, timeout=5)


def sized_envelope(size: int) -> bytes:
    """A valid envelope whose compact JSON is exactly `size` bytes."""
    base = dumps(envelope(card(text="")))
    raw = dumps(envelope(card(text="x" * (size - len(base)))))
    assert len(raw) == size
    return raw


def needs_schema(sink: TeamsSink) -> None:
    if sink.rules()["schema"] is None:
        pytest.skip("the official Adaptive Card schemas live in ../shared/schemas beside the repo: absent")


def with_body(*elements: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "version": "1.4", "body": list(elements), **extra}


def mentions(users: int, tags: int) -> dict[str, Any]:
    """A card mentioning `users` people and `tags` tags, each shown in its text."""
    entities = [
        {"type": "mention", "text": f"<at>u{n}</at>", "mentioned": {"id": f"u{n}@contoso.com", "name": f"U {n}"}}
        for n in range(users)
    ] + [
        {"type": "mention", "text": f"<at>t{n}</at>", "mentioned": {"id": f"tag{n}", "name": f"T{n}", "type": "tag"}}
        for n in range(tags)
    ]
    text = " ".join(str(entity["text"]) for entity in entities) or "nobody"
    return with_body({"type": "TextBlock", "text": text, "wrap": True}, msteams={"entities": entities})


# -- Workflows: accepted, displayed ----------------------------------------------------------------------


def test_valid_envelope_gets_202_with_an_empty_body_and_is_displayed(
    quiet_sink: TeamsSink, http: requests.Session
) -> None:
    body = envelope(card(text="**deploy** done <at>x</at>"))
    response = post(http, quiet_sink.workflow_url("ops"), body)
    assert response.status_code == 202
    assert response.content == b""
    assert quiet_sink.messages("ops") == [body]
    [request] = quiet_sink.requests("ops")
    assert request["status"] == 202 and request["mode"] == "workflow" and request["size"] == len(dumps(body))
    assert request["not_displayed"] == 0
    [shown] = quiet_sink.displayed("ops")
    assert shown["card"] == body["attachments"][0]["content"] and shown["attachment"] == 0
    assert shown["reasons"] == [] and shown["shown"] == "the card" and quiet_sink.not_displayed("ops") == []


def test_official_docs_examples_are_displayed(quiet_sink: TeamsSink, http: requests.Session) -> None:
    adaptive = shared_json("teams", "incoming_webhook_adaptive_msteams_docs.json")
    message_card = shared_json("teams", "incoming_webhook_messagecard_msteams_docs.json")
    assert post(http, quiet_sink.workflow_url("docs"), adaptive).status_code == 202
    legacy = post(http, quiet_sink.legacy_url("docs"), message_card)
    assert (legacy.status_code, legacy.text) == (200, "1")
    assert quiet_sink.messages("docs") == [adaptive, message_card]
    assert [p["displayed"] for p in quiet_sink.posts("docs")] == [True, True]


def test_real_workflow_url_shapes_and_query_strings(quiet_sink: TeamsSink, http: requests.Session) -> None:
    url = (
        f"{quiet_sink.url}/powerautomate/automations/direct/workflows/flow1/triggers/manual/paths/invoke"
        "?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=secret"
    )
    assert post(http, url, envelope()).status_code == 202
    assert len(quiet_sink.displayed("flow1")) == 1


@pytest.mark.parametrize(
    "content",
    [
        with_body({"type": "TextBlock", "text": "x"}, actions=[OPEN], selectAction=OPEN),
        with_body({"type": "ActionSet", "actions": [OPEN]}, {"type": "Container", "items": [], "selectAction": OPEN}),
        {**mentions(20, 20), "msteams": {**mentions(20, 20)["msteams"], "width": "Full"}},
        with_body({"type": "TextBlock", "text": "1.0 is fine too"}, version="1.0"),
    ],
    ids=["open-url-everywhere", "open-url-in-body", "20-users-20-tags-full-width", "version-1.0"],
)
def test_what_the_flow_bot_displays(quiet_sink: TeamsSink, http: requests.Session, content: Any) -> None:
    assert post(http, quiet_sink.workflow_url("fine"), envelope(content)).status_code == 202
    assert quiet_sink.not_displayed("fine") == []


def test_each_attachment_is_its_own_post(quiet_sink: TeamsSink, http: requests.Session) -> None:
    body = envelope_of(card(text="one"), card("1.5", "two"), card(text="three"))
    assert post(http, quiet_sink.workflow_url("multi"), body).status_code == 202
    assert quiet_sink.messages("multi") == [body]
    posts = quiet_sink.posts("multi")
    assert [(p["attachment"], p["displayed"]) for p in posts] == [(0, True), (1, False), (2, True)]
    assert [p["card"]["body"][0]["text"] for p in quiet_sink.displayed("multi")] == ["one", "three"]
    assert quiet_sink.requests("multi")[0]["not_displayed"] == 1
    assert quiet_sink.records("multi")[0]["displayed"] is False


# -- Workflows: accepted with 202, then not displayed -------------------------------------------------------

SUBMIT = {"type": "Action.Submit", "title": "Ack", "data": {"type": "Action.Execute"}}
NOT_DISPLAYED: list[tuple[str, Any, str, str, str]] = [
    # (id, body, code, text in a reason, what the channel shows)
    ("plain-text", {"text": "plain text is not a card"}, "InvalidTemplate", "attachments is Null", SHOWN_NOTHING),
    ("attachments-null", {"type": "message", "attachments": None}, "InvalidTemplate", "of type 'Null'", SHOWN_NOTHING),
    ("attachments-string", {"type": "message", "attachments": "card"}, "InvalidTemplate", "of type 'String'", SHOWN_NOTHING),
    ("attachments-empty", {"type": "message", "attachments": []}, "NoAttachments", "array is empty", SHOWN_NOTHING),
    ("empty-body", b"", "InvalidTemplate", "attachments is Null", SHOWN_NOTHING),
    ("json-array", b"[1, 2]", "InvalidTemplate", "attachments is Null", SHOWN_NOTHING),
    ("attachment-string", {"type": "message", "attachments": ["x"]}, "InvalidAttachment", "not String", SHOWN_NOTHING),
    (
        "connector-card-type",
        envelope(content_type="application/vnd.microsoft.teams.card.o365connector"),
        "InvalidAttachment",
        "contentType must be",
        SHOWN_NOTHING,
    ),
    (
        "message-card-content",
        envelope({"@type": "MessageCard", "summary": "s"}),
        "InvalidAdaptiveCard",
        "Property 'type' must be 'AdaptiveCard'",
        SHOWN_NOTHING,
    ),
    ("version-1.5", envelope(card("1.5")), "CardVersion", "card version '1.5' is above 1.4", SHOWN_ERROR),
    ("version-2.0", envelope(card("2.0")), "CardVersion", "'2.0' is above 1.4", SHOWN_ERROR),
    ("version-missing", envelope({"type": "AdaptiveCard", "body": []}), "CardVersion", "'version' is required", SHOWN_ERROR),
    (
        "version-number",
        envelope({"type": "AdaptiveCard", "version": 1.4, "body": []}),
        "CardVersion",
        "must be a string like '1.4'",
        SHOWN_ERROR,
    ),
    ("submit", envelope(with_body(actions=[SUBMIT])), "UnsupportedAction", "actions[0]: Action.Submit", SHOWN_BROKEN),
    (
        "execute",
        envelope(with_body(actions=[{"type": "Action.Execute", "title": "Run", "verb": "run"}])),
        "UnsupportedAction",
        "Action.Execute does not work",
        SHOWN_BROKEN,
    ),
    (
        "select-action",
        envelope(with_body({"type": "Container", "items": [], "selectAction": {"type": "Action.Submit"}})),
        "UnsupportedAction",
        "body[0].selectAction: Action.Submit",
        SHOWN_BROKEN,
    ),
    (
        "card-select-action",
        envelope(with_body(selectAction={"type": "Action.ToggleVisibility", "targetElements": []})),
        "UnsupportedAction",
        "content.selectAction: Action.ToggleVisibility",
        SHOWN_BROKEN,
    ),
    (
        "action-set",
        envelope(with_body({"type": "ActionSet", "actions": [OPEN, SUBMIT]})),
        "UnsupportedAction",
        "body[0].actions[1]: Action.Submit",
        SHOWN_BROKEN,
    ),
    (
        "inside-show-card",
        envelope(
            with_body(
                actions=[
                    {
                        "type": "Action.ShowCard",
                        "title": "More",
                        "card": {"type": "AdaptiveCard", "body": [], "actions": [OPEN, SUBMIT]},
                    }
                ]
            )
        ),
        "UnsupportedAction",
        "actions[0].card.actions[1]: Action.Submit",
        SHOWN_BROKEN,
    ),
    ("21-users", envelope(mentions(21, 0)), "TooManyMentions", "21 user mentions", SHOWN_NOTHING),
    ("21-tags", envelope(mentions(0, 21)), "TooManyMentions", "21 tag mentions", SHOWN_NOTHING),
    (
        "schema-table",
        envelope(with_body({"type": "Table", "columns": [], "rows": []})),
        "SchemaViolation",
        "body[0] (Table): 'Table' is not an Adaptive Cards 1.4 type",
        SHOWN_ERROR,
    ),
    (
        "schema-heading",
        envelope(with_body({"type": "Container", "items": [{"type": "TextBlock", "text": "x", "style": "heading"}]})),
        "SchemaViolation",
        "body[0].items[0] (TextBlock): property 'style' is not in the Adaptive Cards 1.4 schema",
        SHOWN_ERROR,
    ),
    (
        "schema-missing-text",
        envelope(with_body({"type": "TextBlock"})),
        "SchemaViolation",
        "'text' is a required property",
        SHOWN_ERROR,
    ),
]


@pytest.mark.undisplayed_ok
@pytest.mark.parametrize(
    ("body", "code", "text", "shown"), [case[1:] for case in NOT_DISPLAYED], ids=[case[0] for case in NOT_DISPLAYED]
)
def test_accepted_with_202_then_not_displayed_with_the_reason(
    quiet_sink: TeamsSink, http: requests.Session, body: Any, code: str, text: str, shown: str
) -> None:
    if code == "SchemaViolation":
        needs_schema(quiet_sink)
    response = post(http, quiet_sink.workflow_url("bad"), body)
    assert (response.status_code, response.content) == (202, b"")
    expected = json.loads(body) if isinstance(body, bytes) and body else (None if body == b"" else body)
    assert quiet_sink.messages("bad") == [expected]  # accepted: the sender cannot tell
    assert quiet_sink.displayed("bad") == []
    [hidden] = quiet_sink.not_displayed("bad")
    assert code in hidden["codes"] and any(text in reason for reason in hidden["reasons"]), hidden["reasons"]
    assert hidden["shown"] == shown and hidden["displayed"] is False
    [request] = quiet_sink.requests("bad")
    assert request["status"] == 202 and request["error"] is None and request["not_displayed"] == 1
    listed = http.get(quiet_sink.url + "/channels/bad/not_displayed", timeout=5).json()
    assert listed[0]["reasons"] == hidden["reasons"] and listed[0]["channel"] == "bad"


@pytest.mark.undisplayed_ok
def test_size_boundary_is_28672_bytes_per_card_message(quiet_sink: TeamsSink, http: requests.Session) -> None:
    url = quiet_sink.workflow_url("size")
    assert post(http, url, sized_envelope(28672)).status_code == 202
    assert post(http, url, sized_envelope(28673)).status_code == 202
    fits, over = quiet_sink.posts("size")
    assert fits["displayed"] and fits["size"] == 28672
    assert not over["displayed"] and over["codes"] == ["MessageSizeExceeded"] and over["shown"] == SHOWN_NOTHING
    [reason] = over["reasons"]
    assert "Request Entity too large" in reason and "28673 bytes" in reason and "max allowed size is 28672" in reason


@pytest.mark.undisplayed_ok
def test_size_is_measured_per_attachment_as_the_app_measures(
    quiet_sink: TeamsSink, http: requests.Session
) -> None:
    from shared.cards.limits import message_size

    big = card(text="x" * 20000)
    body = envelope_of(big, big)  # 40 KB on the wire, two messages of 20 KB each
    assert post(http, quiet_sink.workflow_url("pair"), body).status_code == 202
    sizes = [p["size"] for p in quiet_sink.displayed("pair")]
    assert sizes == [message_size(big)] * 2
    indented = json.dumps(envelope(card(text="x" * 28000)), indent=40).encode()  # over 28 KB only on the wire
    assert len(indented) > 28672 and post(http, quiet_sink.workflow_url("pair"), indented).status_code == 202
    assert len(quiet_sink.displayed("pair")) == 3 and quiet_sink.posts("pair")[2]["size"] < 28672


@pytest.mark.undisplayed_ok
def test_size_limit_is_configurable(make_sink: Callable[..., TeamsSink], http: requests.Session) -> None:
    sink = make_sink(max_bytes=1000)
    assert post(http, sink.workflow_url("c"), sized_envelope(1000)).status_code == 202
    assert post(http, sink.workflow_url("c"), sized_envelope(1001)).status_code == 202
    assert [p["displayed"] for p in sink.posts("c")] == [True, False]


@pytest.mark.undisplayed_ok
def test_every_reason_of_a_card_is_listed(quiet_sink: TeamsSink, http: requests.Session) -> None:
    needs_schema(quiet_sink)
    bad = with_body({"type": "Table", "rows": []}, version="1.5", actions=[SUBMIT])
    post(http, quiet_sink.workflow_url("all"), envelope(bad))
    [hidden] = quiet_sink.not_displayed("all")
    assert hidden["codes"] == ["CardVersion", "UnsupportedAction", "SchemaViolation"]
    assert hidden["shown"] == SHOWN_ERROR  # the worst of them is what the channel shows


# -- Workflows: what is still answered at once ------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{not json", b'{"a": "\xff"}'])
def test_a_body_that_is_not_json_is_refused_by_the_trigger(
    quiet_sink: TeamsSink, http: requests.Session, raw: bytes
) -> None:
    response = post(http, quiet_sink.workflow_url("bad"), raw)
    assert response.status_code == 400
    error = response.json()["error"]
    assert "must be of type JSON" in error["message"] and error["code"] == "InvalidRequestContent"
    assert quiet_sink.messages("bad") == [] and quiet_sink.posts("bad") == []
    [request] = quiet_sink.requests("bad")
    assert request["status"] == 400 and "must be of type JSON" in request["error"]


def test_a_body_too_large_to_read_is_a_413(quiet_sink: TeamsSink, http: requests.Session) -> None:
    response = post(http, quiet_sink.workflow_url("huge"), b"[" + b" " * READ_CAP + b"]")
    assert response.status_code == 413 and "Request Entity too large" in response.json()["error"]["message"]
    assert quiet_sink.messages("huge") == [] and quiet_sink.posts("huge") == []


@pytest.mark.parametrize(("status", "code"), [(401, "DirectApiAuthorizationRequired"), (404, "WorkflowNotFound")])
def test_auth_and_missing_flow_faults_answer_at_once(
    quiet_sink: TeamsSink, http: requests.Session, status: int, code: str
) -> None:
    quiet_sink.fault("gone", status=status, body=json.dumps({"error": {"code": code, "message": "x"}}))
    response = post(http, quiet_sink.workflow_url("gone"), envelope())
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert quiet_sink.posts("gone") == []


def test_chunked_bodies_are_read(quiet_sink: TeamsSink, http: requests.Session) -> None:
    raw = dumps(envelope())
    response = http.post(
        quiet_sink.workflow_url("chunked"), data=iter([raw[:10], raw[10:]]), headers=JSON, timeout=5
    )
    assert response.status_code == 202
    assert quiet_sink.messages("chunked") == [envelope()]


# -- Workflows: the version and schema settings -----------------------------------------------------------


@pytest.mark.undisplayed_ok
def test_max_version_from_the_environment_or_an_argument(
    monkeypatch: pytest.MonkeyPatch, make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    monkeypatch.setenv("TEAMS_SINK_MAX_VERSION", "1.5")
    sink = make_sink(max_version=None)
    assert sink.rules()["workflow_max_version"] == "1.5"
    table = with_body({"type": "Table", "columns": [{"width": 1}], "rows": []}, version="1.5")
    for body in (envelope(card("1.5")), envelope(table), envelope(card("1.6"))):
        assert post(http, sink.workflow_url("v"), body).status_code == 202
    assert [p["displayed"] for p in sink.posts("v")] == [True, True, False]  # 1.5's schema knows Table
    monkeypatch.setenv("TEAMS_SINK_MAX_VERSION", "one.five")
    with pytest.raises(ValueError, match=r"TEAMS_SINK_MAX_VERSION must be a version like 1\.4"):
        TeamsSink()
    monkeypatch.delenv("TEAMS_SINK_MAX_VERSION")
    assert make_sink(max_version=None).rules()["workflow_max_version"] == "1.4"
    assert make_sink(max_version=(1, 2)).rules()["workflow_max_version"] == "1.2"


def test_without_the_schemas_the_check_is_skipped_and_said_once(
    make_sink: Callable[..., TeamsSink],
    http: requests.Session,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tools.teams_sink")
    first, second = make_sink(schemas=tmp_path), make_sink(schemas=tmp_path)
    notices = [r.getMessage() for r in caplog.records if "schema check is skipped" in r.getMessage()]
    assert len(notices) == 1 and str(tmp_path) in notices[0]
    assert first.rules()["schema"] is None and second.rules()["schema"] is None
    unknown = with_body({"type": "TextBlock", "text": "x", "style": "heading"})
    assert post(http, first.workflow_url("s"), envelope(unknown)).status_code == 202
    assert first.not_displayed("s") == []  # only the schema would have caught it
    page = http.get(first.url + "/", timeout=5).text
    assert "schema check skipped" in page


# -- legacy connector URLs: everything answered at once ----------------------------------------------------


def test_legacy_accepts_text_messagecard_and_envelope(quiet_sink: TeamsSink, http: requests.Session) -> None:
    url = quiet_sink.legacy_url("old")
    bodies = [
        {"text": "Hello World"},
        {"@type": "MessageCard", "@context": "http://schema.org/extensions", "summary": "s", "sections": []},
        envelope(card("1.5")),  # legacy connectors rendered 1.5
    ]
    for body in bodies:
        response = post(http, url, body)
        assert (response.status_code, response.text) == (200, "1")
    assert quiet_sink.messages("old") == bodies
    assert [record["mode"] for record in quiet_sink.records("old")] == ["legacy"] * 3
    assert [p["displayed"] for p in quiet_sink.posts("old")] == [True] * 3
    assert quiet_sink.posts("old")[2]["card"] == card("1.5")


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"@type": "MessageCard", "themeColor": "FF0000"}, 400, "Summary or Text is required."),
        ({"title": "no text"}, 400, "Bad payload received by generic incoming webhook."),
        (envelope(card("1.6")), 400, "not supported"),
        ({"type": "message", "attachments": []}, 400, "'attachments' array is empty"),
        (envelope(content_type=ADAPTIVE + "x"), 400, "contentType must be"),
        (b"[]", 400, "Bad payload"),
        (b"{not json", 400, "must be of type JSON"),
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
    assert quiet_sink.messages("old") == [] and quiet_sink.posts("old") == []


def test_legacy_oversize_is_a_wrapped_413(quiet_sink: TeamsSink, http: requests.Session) -> None:
    response = post(http, quiet_sink.legacy_url("old"), sized_envelope(28673))
    match = LEGACY_ERROR.match(response.text)
    assert response.status_code == 200 and match is not None and match.group(1) == "413"
    assert post(http, quiet_sink.legacy_url("old"), sized_envelope(28672)).text == "1"


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
    assert sink.displayed(channel)[-1]["card"] == card()
