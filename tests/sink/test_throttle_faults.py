"""Throttling per URL, fault injection and the slow knob, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests

from tests.sink.conftest import envelope
from tests.sink.test_webhooks import LEGACY_ERROR, post
from tools.teams_sink import TEAMS_WINDOWS, TeamsSink


def statuses(http: requests.Session, url: str, count: int) -> list[int]:
    return [post(http, url, envelope()).status_code for _ in range(count)]


def test_default_windows_are_teams_and_fifth_request_in_a_second_is_429(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(windows=None)
    assert sink.state.limits.windows == TEAMS_WINDOWS
    started = time.monotonic()
    codes = statuses(http, sink.workflow_url("a"), 5)
    if time.monotonic() - started < 0.9:  # on a very slow machine the 1 s window may have turned over
        assert codes == [202, 202, 202, 202, 429]


def test_short_window_429_with_retry_after_then_reopens(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(windows=[(0.5, 2)])
    url = sink.workflow_url("a")
    assert statuses(http, url, 2) == [202, 202]
    refused = post(http, url, envelope())
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "WorkflowRequestsThrottled"
    assert len(sink.messages("a")) == 2
    assert sink.requests("a")[-1]["throttled"] is True
    time.sleep(0.55)
    assert statuses(http, url, 1) == [202]


def test_each_custom_window_applies(make_sink: Callable[..., TeamsSink], http: requests.Session) -> None:
    sink = make_sink(windows=[(0.3, 2), (1.5, 3)])
    url = sink.workflow_url("a")
    assert statuses(http, url, 3) == [202, 202, 429]  # the short window is full
    time.sleep(0.35)
    assert statuses(http, url, 2) == [202, 429]  # the long window is full though the short one reopened
    refused = post(http, url, envelope())
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "2"


def test_throttling_is_per_url(make_sink: Callable[..., TeamsSink], http: requests.Session) -> None:
    sink = make_sink(windows=[(5, 1)])
    assert statuses(http, sink.workflow_url("a"), 2) == [202, 429]
    assert statuses(http, sink.workflow_url("b"), 1) == [202]
    assert post(http, sink.legacy_url("a"), {"text": "hi"}).text == "1"


def test_legacy_throttle_is_a_wrapped_429(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(windows=[(5, 1)])
    url = sink.legacy_url("old")
    assert post(http, url, {"text": "1"}).text == "1"
    response = post(http, url, {"text": "2"})
    match = LEGACY_ERROR.match(response.text)
    assert response.status_code == 200 and match is not None and match.group(1) == "429"
    assert sink.messages("old") == [{"text": "1"}]


def test_set_limits_and_control_endpoint_change_windows(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(windows=[(5, 1)])
    url = sink.workflow_url("a")
    assert statuses(http, url, 2) == [202, 429]
    sink.set_limits(windows=[])
    assert statuses(http, url, 3) == [202, 202, 202]
    answer = http.post(sink.url + "/control/limits", json={"windows": [[5, 2]]}, timeout=5)
    assert answer.status_code == 200 and answer.json()["windows"] == [[5.0, 2]]
    assert statuses(http, url, 3) == [202, 202, 429]
    assert http.get(sink.url + "/control/limits", timeout=5).json()["windows"] == [[5.0, 2]]
    http.post(sink.url + "/control/limits", json={"windows": "default"}, timeout=5)
    assert sink.state.limits.windows == TEAMS_WINDOWS


@pytest.mark.parametrize(
    "payload",
    [{"windows": [[0, 1]]}, {"windows": "fast"}, {"delay": -1}, {"delay": "slow"}, {"speed": 1}],
)
def test_bad_limits_are_a_400_with_a_reason(
    quiet_sink: TeamsSink, http: requests.Session, payload: dict[str, object]
) -> None:
    response = http.post(quiet_sink.url + "/control/limits", json=payload, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadControlRequest"


def test_fault_status_for_n_requests_then_normal(quiet_sink: TeamsSink, http: requests.Session) -> None:
    quiet_sink.fault("f", count=2, status=500)
    assert statuses(http, quiet_sink.workflow_url("f"), 3) == [500, 500, 202]
    assert len(quiet_sink.messages("f")) == 1
    assert [r["fault"] for r in quiet_sink.requests("f")] == [True, True, False]


def test_faults_queue_and_429_fault_has_retry_after(quiet_sink: TeamsSink, http: requests.Session) -> None:
    quiet_sink.fault("f", status=429)
    quiet_sink.fault("f", status=503, body="upstream sad")
    first = post(http, quiet_sink.workflow_url("f"), envelope())
    assert first.status_code == 429 and first.headers["Retry-After"] == "1"
    second = post(http, quiet_sink.workflow_url("f"), envelope())
    assert (second.status_code, second.text) == (503, "upstream sad")
    assert post(http, quiet_sink.workflow_url("f"), envelope()).status_code == 202


def test_legacy_fault_is_wrapped(quiet_sink: TeamsSink, http: requests.Session) -> None:
    quiet_sink.fault("old", status=413)
    response = post(http, quiet_sink.legacy_url("old"), {"text": "x"})
    match = LEGACY_ERROR.match(response.text)
    assert response.status_code == 200 and match is not None and match.group(1) == "413"


def test_fault_delay_then_normal_answer_and_client_timeout(
    quiet_sink: TeamsSink, http: requests.Session
) -> None:
    quiet_sink.fault("slow", count=2, delay=0.3)
    started = time.monotonic()
    assert post(http, quiet_sink.workflow_url("slow"), envelope()).status_code == 202
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.post(quiet_sink.workflow_url("slow"), json=envelope(), timeout=0.1)
    assert post(http, quiet_sink.workflow_url("slow"), envelope()).status_code == 202


def test_fault_drop_closes_the_socket_without_answer(quiet_sink: TeamsSink, http: requests.Session) -> None:
    assert post(http, quiet_sink.workflow_url("d"), envelope()).status_code == 202  # pooled connection
    quiet_sink.fault("d", drop=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        post(http, quiet_sink.workflow_url("d"), envelope())
    assert post(http, quiet_sink.workflow_url("d"), envelope()).status_code == 202
    assert [r["status"] for r in quiet_sink.requests("d")] == [202, 0, 202]
    assert len(quiet_sink.messages("d")) == 2


def test_faults_through_the_control_endpoint(quiet_sink: TeamsSink, http: requests.Session) -> None:
    answer = http.post(
        quiet_sink.url + "/control/faults", json={"channel": "c", "count": 2, "status": 502}, timeout=5
    )
    assert answer.status_code == 200
    http.post(quiet_sink.url + "/control/faults", json={"channel": "c", "drop": True}, timeout=5)
    assert statuses(http, quiet_sink.workflow_url("c"), 2) == [502, 502]
    with pytest.raises(requests.exceptions.ConnectionError):
        post(http, quiet_sink.workflow_url("c"), envelope())


@pytest.mark.parametrize(
    "payload",
    [
        {"count": 1},
        {"channel": "c", "count": 0},
        {"channel": "c", "status": 42},
        {"channel": "c", "drop": True, "status": 500},
        {"channel": "c", "delay": -1},
        {"channel": "c", "colour": "red"},
    ],
)
def test_bad_faults_are_a_400_with_a_reason(
    quiet_sink: TeamsSink, http: requests.Session, payload: dict[str, object]
) -> None:
    response = http.post(quiet_sink.url + "/control/faults", json=payload, timeout=5)
    assert response.status_code == 400 and response.json()["error"]["message"]
    not_json = http.post(quiet_sink.url + "/control/faults", data=b"[1]", timeout=5)
    assert not_json.status_code == 400


def test_slow_knob_at_start_and_via_control(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(delay=0.2)
    started = time.monotonic()
    assert post(http, sink.workflow_url("s"), envelope()).status_code == 202
    assert time.monotonic() - started >= 0.2
    sink.set_limits(delay=0)
    http.post(sink.url + "/control/limits", json={"delay": 0.15}, timeout=5)
    started = time.monotonic()
    assert post(http, sink.legacy_url("s"), {"text": "x"}).text == "1"
    assert time.monotonic() - started >= 0.15


def test_reset_clears_messages_faults_counters_and_restores_limits(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(windows=[(5, 1)])
    url = sink.workflow_url("r")
    assert statuses(http, url, 2) == [202, 429]
    sink.fault("r", count=5, status=500)
    sink.set_limits(delay=0.5)
    sink.reset()
    assert sink.messages("r") == [] and sink.requests("r") == [] and sink.channels() == []
    assert sink.state.limits.delay == 0.0
    assert statuses(http, url, 1) == [202]  # no fault left, counter restarted, no delay
    assert http.post(sink.url + "/control/reset", timeout=5).json() == {"ok": True}
    assert sink.messages("r") == []


def test_success_status_fault_is_a_slow_success(quiet_sink: TeamsSink, http: requests.Session) -> None:
    quiet_sink.fault("ok", status=202, delay=0.2)
    started = time.monotonic()
    assert post(http, quiet_sink.workflow_url("ok"), envelope()).status_code == 202
    assert time.monotonic() - started >= 0.2
    assert quiet_sink.messages("ok") == [envelope()]
