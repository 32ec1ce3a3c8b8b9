"""The envelope rules and throttle windows as pure functions (synthetic clock)."""

from __future__ import annotations

import pytest

from tests.sink.conftest import card, envelope
from tools.teams_sink import rules
from tools.teams_sink.state import SinkState, make_fault, parse_windows
from tools.teams_sink.throttle import TEAMS_WINDOWS, WindowCounter, retry_after_header

pytestmark = pytest.mark.unit


def test_teams_windows_are_the_documented_table() -> None:
    assert TEAMS_WINDOWS == ((1, 4), (30, 60), (3600, 100), (7200, 150), (86400, 1800))
    assert SinkState().limits.windows == TEAMS_WINDOWS
    assert SinkState(windows=[]).limits.windows == ()


@pytest.mark.parametrize("index", range(len(TEAMS_WINDOWS)))
def test_each_teams_window_refuses_the_request_over_its_limit(index: int) -> None:
    # The window under test is the shortest one left, so it is the one that fills first.
    windows = TEAMS_WINDOWS[index:]
    seconds, limit = windows[0]
    counter = WindowCounter()
    now = 1000.0
    for _ in range(limit):
        assert counter.admit(windows, now) is None
        now += 0.001
    wait = counter.admit(windows, now)
    assert wait is not None and wait == pytest.approx(seconds - limit * 0.001)
    assert counter.admit(windows, now + wait) is None


def test_all_teams_windows_together_over_a_day() -> None:
    """A client sending as fast as allowed gets 4 in the first second, 60 in 30 s, 100 in an hour, 1800 a day."""
    counter = WindowCounter()
    now, admitted = 0.0, []
    while now < 86400:
        wait = counter.admit(TEAMS_WINDOWS, now)
        if wait is None:
            admitted.append(now)
        else:
            now += wait
    for seconds, limit in TEAMS_WINDOWS:
        assert sum(1 for moment in admitted if moment < seconds) == limit


def test_refused_requests_are_not_counted_and_retry_after_rounds_up() -> None:
    counter = WindowCounter()
    windows = ((10.0, 1),)
    assert counter.admit(windows, 0.0) is None
    for moment in (1.0, 2.0, 9.5):
        assert counter.admit(windows, moment) == pytest.approx(10.0 - moment)
    assert counter.admit(windows, 10.0) is None
    assert retry_after_header(0.2) == "1" and retry_after_header(1.01) == "2"


def test_a_bursting_token_bucket_is_refused_like_by_teams() -> None:
    counter = WindowCounter()
    windows = ((1.0, 4),)
    for moment in (0.0, 0.0, 0.0, 0.0):
        assert counter.admit(windows, moment) is None
    assert counter.admit(windows, 0.25) is not None  # a 4/s bucket would refill one token here


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"type": "message"}, 400, "is of type 'Null'"),
        ({"type": "message", "attachments": None}, 400, "attachments is Null"),
        ({"type": "message", "attachments": {}}, 400, "is of type 'Object'"),
        ([1, 2], 400, "attachments is Null"),
        ({"type": "message", "attachments": []}, 400, "empty"),
        ({"type": "other", "attachments": envelope()["attachments"]}, 400, "must be 'message'"),
        (envelope(content_type="application/json"), 400, "contentType must be"),
        (envelope({"@type": "MessageCard", "text": "x"}), 400, "Property 'type' must be 'AdaptiveCard'"),
        (envelope(card("1.6")), 400, "'1.6' is not supported"),
        (envelope({"type": "AdaptiveCard", "body": []}), 400, "'version' is required"),
        (envelope({"type": "AdaptiveCard", "version": 1.5}), 400, "must be a string"),
    ],
)
def test_envelope_rejections(body: object, status: int, text: str) -> None:
    rejection = rules.check_envelope(body)
    assert rejection is not None and rejection.status == status and text in rejection.message


@pytest.mark.parametrize("version", ["1.0", "1.2", "1.4", "1.5"])
def test_versions_up_to_1_5_pass(version: str) -> None:
    assert rules.check_envelope(envelope(card(version))) is None


def test_size_boundary_and_text() -> None:
    assert rules.check_size(28672) is None
    rejection = rules.check_size(28673)
    assert rejection is not None and rejection.status == 413
    assert (
        "MessageSizeExceeded" in rejection.message and "max allowed size is 28672 bytes" in rejection.message
    )


def test_legacy_payloads() -> None:
    assert rules.check_legacy({"text": "hi"}) is None
    assert rules.check_legacy({"@type": "MessageCard", "summary": "s"}) is None
    assert rules.check_legacy(envelope()) is None
    assert (
        "Summary or Text"
        in (rules.check_legacy({"@type": "MessageCard"}) or rules.Rejection(0, "", "")).message
    )
    assert rules.check_legacy({"text": "  "}) is not None
    assert rules.check_legacy("text") is not None


def test_fault_parameters_are_validated() -> None:
    assert make_fault()[0].status == 500
    assert make_fault(delay=0.5)[0].status is None
    with pytest.raises(ValueError, match="count"):
        make_fault(count=0)
    with pytest.raises(ValueError, match="status"):
        make_fault(status=99)
    with pytest.raises(ValueError, match="dropped"):
        make_fault(drop=True, status=500)
    with pytest.raises(ValueError, match="window"):
        parse_windows([[0, 1]])
    assert parse_windows("default") == TEAMS_WINDOWS
