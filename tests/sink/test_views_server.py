"""The read-only views, bounded memory, keep-alive and concurrency, clean stop, logs and the CLI process."""

from __future__ import annotations

import logging
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.sink.conftest import card, envelope
from tests.sink.test_webhooks import post
from tools import stack
from tools.teams_sink import TeamsSink
from tools.teams_sink.__main__ import _parse
from tools.teams_sink.rules import SHOWN_ERROR


@pytest.mark.undisplayed_ok
def test_messages_endpoint_lists_body_time_channel_mode(
    quiet_sink: TeamsSink, http: requests.Session
) -> None:
    post(http, quiet_sink.workflow_url("team/ops #1"), envelope())
    post(http, quiet_sink.legacy_url("team/ops #1"), {"text": "hi"})
    post(http, quiet_sink.workflow_url("team/ops #1"), {"text": "not a card"})
    post(http, quiet_sink.legacy_url("team/ops #1"), {"text": ""})
    listed = http.get(quiet_sink.url + "/channels/team%2Fops%20%231/messages", timeout=5).json()
    assert [m["body"] for m in listed] == [envelope(), {"text": "hi"}, {"text": "not a card"}]
    assert [m["mode"] for m in listed] == ["workflow", "legacy", "workflow"]
    assert [m["displayed"] for m in listed] == [True, True, False]
    assert all(m["channel"] == "team/ops #1" and m["time"].endswith("Z") for m in listed)
    logged = http.get(quiet_sink.url + "/channels/team%2Fops%20%231/requests", timeout=5).json()
    assert [(r["status"], r["teams_status"]) for r in logged] == [(202, 202), (200, 200), (202, 202), (200, 400)]
    assert http.get(quiet_sink.url + "/channels", timeout=5).json() == ["team/ops #1"]
    assert http.get(quiet_sink.url + "/channels/unknown/messages", timeout=5).json() == []


@pytest.mark.undisplayed_ok
def test_posts_displayed_and_not_displayed_views(quiet_sink: TeamsSink, http: requests.Session) -> None:
    post(http, quiet_sink.workflow_url("a"), envelope())
    post(http, quiet_sink.workflow_url("a"), envelope(card("1.5")))
    post(http, quiet_sink.workflow_url("b"), {"text": "x"})
    base = quiet_sink.url + "/channels/a/"
    posts = http.get(base + "posts", timeout=5).json()
    assert [p["displayed"] for p in posts] == [True, False]
    assert posts == quiet_sink.posts("a")
    assert http.get(base + "displayed", timeout=5).json() == quiet_sink.displayed("a") == posts[:1]
    [hidden] = http.get(base + "not_displayed", timeout=5).json()
    assert hidden == quiet_sink.not_displayed("a")[0]
    assert hidden["shown"] == SHOWN_ERROR and hidden["card"] == card("1.5") and hidden["codes"] == ["CardVersion"]
    assert {"channel", "mode", "time", "ts", "attachment", "size", "reasons"} <= set(hidden)
    everywhere = http.get(quiet_sink.url + "/not_displayed", timeout=5).json()
    assert [p["channel"] for p in everywhere] == ["a", "b"] == [p["channel"] for p in quiet_sink.not_displayed()]
    assert http.get(quiet_sink.url + "/channels/none/posts", timeout=5).json() == []
    assert http.get(quiet_sink.url + "/rules", timeout=5).json() == quiet_sink.rules()
    assert quiet_sink.rules()["workflow_max_version"] == "1.4"


@pytest.mark.undisplayed_ok
def test_not_displayed_since_a_mark_survives_reset(quiet_sink: TeamsSink, http: requests.Session) -> None:
    before = quiet_sink.mark()
    post(http, quiet_sink.workflow_url("m"), envelope(card("1.5")))
    post(http, quiet_sink.workflow_url("m"), envelope())
    middle = quiet_sink.mark()
    post(http, quiet_sink.workflow_url("n"), {"attachments": []})
    quiet_sink.reset()
    assert quiet_sink.not_displayed() == []
    found = quiet_sink.not_displayed_since(before)
    assert [(p["channel"], p["codes"]) for p in found] == [("m", ["CardVersion"]), ("n", ["NoAttachments"])]
    assert "card" not in found[0]  # the journal keeps the reasons, not the bodies
    assert [p["channel"] for p in quiet_sink.not_displayed_since(middle)] == ["n"]
    assert quiet_sink.mark() - before == 2 and quiet_sink.not_displayed_since(quiet_sink.mark()) == []


def test_html_page_escapes_everything(quiet_sink: TeamsSink, http: requests.Session) -> None:
    empty = http.get(quiet_sink.url + "/", timeout=5)
    assert empty.status_code == 200 and "No messages yet" in empty.text
    assert "display Adaptive Cards up to 1.4" in empty.text
    evil = "<script>alert('x')</script>"
    post(http, quiet_sink.workflow_url("<b>chan</b>"), envelope(card(text=evil)))
    page = http.get(quiet_sink.url + "/", timeout=5)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "<script>" not in page.text and "<b>chan</b>" not in page.text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page.text
    assert "&lt;b&gt;chan&lt;/b&gt;" in page.text
    assert quiet_sink.records("<b>chan</b>")[0]["time"][:4] in page.text


@pytest.mark.undisplayed_ok
def test_html_page_shows_each_post_with_its_status_and_reasons(
    quiet_sink: TeamsSink, http: requests.Session
) -> None:
    post(http, quiet_sink.workflow_url("ops"), envelope(card(text="shown fine")))
    post(http, quiet_sink.workflow_url("ops"), envelope(card("1.5", "hidden <card>")))
    post(http, quiet_sink.workflow_url("ops"), {"text": "no attachments"})
    page = http.get(quiet_sink.url + "/", timeout=5).text
    assert page.count('<article class="post displayed"') == 1
    assert page.count('<article class="post not-displayed"') == 2
    assert '<section class="channel" data-channel="ops">' in page and "3 posts, 2 not displayed" in page
    assert "card version &#x27;1.5&#x27; is above 1.4" in page and "couldn&#x27;t be displayed" in page
    assert page.count('<pre class="card-json">') == 2 and page.count('<pre class="body-json">') == 1
    assert "hidden &lt;card&gt;" in page and "no attachments" in page
    # newest first
    assert page.index("no attachments") < page.index("hidden &lt;card&gt;") < page.index("shown fine")


def test_memory_is_bounded_per_channel_and_in_channels(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(keep=3, max_channels=2)
    for number in range(5):
        post(http, sink.legacy_url("a"), {"text": str(number)})
    assert sink.messages("a") == [{"text": "2"}, {"text": "3"}, {"text": "4"}]
    assert len(sink.requests("a")) == 3
    post(http, sink.legacy_url("b"), {"text": "b"})
    post(http, sink.legacy_url("c"), {"text": "c"})
    assert sink.channels() == ["b", "c"]
    assert sink.messages("a") == []


def test_stored_bodies_are_bounded_in_bytes_across_channels(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(max_stored_bytes=100)
    bodies = [{"text": "x" * 20 + str(n)} for n in range(6)]  # 32 bytes each on the wire
    for number, body in enumerate(bodies):
        post(http, sink.legacy_url("ab"[number % 2]), body)
    kept = sink.messages("a") + sink.messages("b")
    assert sorted(kept, key=lambda b: b["text"]) == bodies[3:]  # the oldest went first, whatever the channel
    assert sum(r["size"] for ch in ("a", "b") for r in sink.records(ch)) <= 100
    assert len(sink.requests("a")) == 3  # the request log is not what the byte bound trims


def test_keep_alive_reuses_one_connection(quiet_sink: TeamsSink, http: requests.Session) -> None:
    for _ in range(5):
        response = post(http, quiet_sink.workflow_url("k"), envelope())
        assert response.headers.get("Connection", "").lower() != "close"
    assert quiet_sink.open_connections() == 1


def test_idle_connections_are_closed_and_the_client_reconnects(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(idle_timeout=0.2)
    assert post(http, sink.workflow_url("i"), envelope()).status_code == 202
    deadline = time.monotonic() + 3
    while sink.open_connections() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sink.open_connections() == 0
    assert post(http, sink.workflow_url("i"), envelope()).status_code == 202


def test_many_concurrent_keep_alive_clients_and_no_thread_left_after_stop() -> None:
    before = threading.active_count()
    sink = TeamsSink(windows=[]).start()
    sessions = [requests.Session() for _ in range(16)]

    def send(index: int) -> list[int]:
        session = sessions[index]
        return [post(session, sink.workflow_url(f"c{index % 4}"), envelope()).status_code for _ in range(15)]

    try:
        with ThreadPoolExecutor(16) as pool:
            results = [code for codes in pool.map(send, range(16)) for code in codes]
        assert results == [202] * 240
        assert sum(len(sink.messages(f"c{n}")) for n in range(4)) == 240
        assert sink.open_connections() == 16  # idle pooled connections stay open
    finally:
        sink.stop()
        for session in sessions:
            session.close()
    assert threading.active_count() == before, [t.name for t in threading.enumerate()]
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(sink.url + "/workflows/x", json=envelope(), timeout=2)


def test_stop_interrupts_a_delayed_answer() -> None:
    sink = TeamsSink(windows=[], delay=30).start()
    errors: list[BaseException] = []

    def slow_post() -> None:
        try:
            requests.post(sink.workflow_url("x"), json=envelope(), timeout=10)
        except requests.RequestException as exc:
            errors.append(exc)

    worker = threading.Thread(target=slow_post)
    worker.start()
    time.sleep(0.2)
    started = time.monotonic()
    sink.stop()
    worker.join(10)
    assert time.monotonic() - started < 5 and not worker.is_alive()


def test_wait_for_messages_returns_when_they_arrive(quiet_sink: TeamsSink) -> None:
    timer = threading.Timer(
        0.1, lambda: requests.post(quiet_sink.legacy_url("w"), json={"text": "x"}, timeout=5)
    )
    timer.start()
    assert quiet_sink.wait_for_messages("w", 1, timeout=5) == [{"text": "x"}]
    timer.join()
    assert quiet_sink.wait_for_messages("w", 2, timeout=0.05) == [{"text": "x"}]


def test_one_log_line_per_request_without_body_or_query(
    quiet_sink: TeamsSink, http: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tools.teams_sink")
    secret_body = envelope(card(text="BODY-SECRET"))
    http.post(quiet_sink.workflow_url("logged") + "?sig=URL-SECRET", json=secret_body, timeout=5)
    http.post(quiet_sink.workflow_url("logged") + "?sig=URL-SECRET", json={"x": "BODY-SECRET"}, timeout=5)
    bad_card = envelope({**card("1.5", "BODY-SECRET"), "body": [{"type": "BODY-SECRET"}]})
    http.post(quiet_sink.workflow_url("logged") + "?sig=URL-SECRET", json=bad_card, timeout=5)
    http.post(quiet_sink.workflow_url("logged") + "?sig=URL-SECRET", data=b"BODY-SECRET", timeout=5)
    lines = [r.getMessage() for r in caplog.records if r.name == "tools.teams_sink"]
    assert len(lines) == 4
    assert "logged" in lines[0] and "202" in lines[0] and "not displayed" not in lines[0]
    assert "202, not displayed (InvalidTemplate)" in lines[1]
    assert "not displayed (CardVersion, SchemaViolation)" in lines[2] and "400" in lines[3]
    assert "SECRET" not in caplog.text


def test_cli_port_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAMS_SINK_PORT", "7999")
    args = _parse(["--no-throttle", "--delay", "0.05"])
    assert (args.port, args.no_throttle, args.delay, args.host) == (7999, True, 0.05, "127.0.0.1")
    monkeypatch.delenv("TEAMS_SINK_PORT")
    assert _parse([]).port == 7072
    monkeypatch.delenv("TEAMS_SINK_MAX_VERSION", raising=False)
    assert _parse([]).max_version == (1, 4) and _parse(["--max-version", "1.5"]).max_version == (1, 5)
    monkeypatch.setenv("TEAMS_SINK_MAX_VERSION", "1.5")
    assert _parse([]).max_version == (1, 5)
    assert _parse(["--no-schema", "--schemas", "/x"]).no_schema is True
    monkeypatch.setenv("TEAMS_SINK_MAX_VERSION", "newest")
    with pytest.raises(SystemExit) as usage:
        _parse([])
    assert usage.value.code == 2


def test_cli_process_is_driven_over_http(http: requests.Session) -> None:
    port = stack.free_port()
    with stack.sink_process(port, extra_args=["--no-throttle", "--max-version", "1.4"]):
        base = f"http://127.0.0.1:{port}"
        assert http.get(base + "/rules", timeout=5).json()["workflow_max_version"] == "1.4"
        assert http.post(base + "/workflows/p", json=envelope(), timeout=5).status_code == 202
        assert http.post(base + "/workflows/q", json=envelope(card("1.5")), timeout=5).status_code == 202
        assert [p["channel"] for p in http.get(base + "/not_displayed", timeout=5).json()] == ["q"]
        http.post(base + "/control/faults", json={"channel": "p", "status": 500}, timeout=5)
        assert http.post(base + "/workflows/p", json=envelope(), timeout=5).status_code == 500
        http.post(base + "/control/limits", json={"windows": [[60, 1]]}, timeout=5)
        codes = [http.post(base + "/workflows/p", json=envelope(), timeout=5).status_code for _ in range(2)]
        assert codes == [202, 429]
        assert len(http.get(base + "/channels/p/messages", timeout=5).json()) == 2
        assert http.post(base + "/control/reset", timeout=5).status_code == 200
        assert http.get(base + "/channels/p/messages", timeout=5).json() == []
        assert http.post(base + "/workflows/p", json=envelope(), timeout=5).status_code == 202


@pytest.mark.undisplayed_ok
def test_hang_ups_and_pathological_json_leave_no_traceback(
    make_sink: Callable[..., TeamsSink], http: requests.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = make_sink(max_bytes=300_000)
    sink.fault("h", delay=0.3)
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.post(sink.workflow_url("h"), json=envelope(), timeout=0.05)
    time.sleep(0.4)
    deep = b"[" * 100_000 + b"]" * 100_000
    response = http.post(sink.workflow_url("h"), data=deep, timeout=5)
    assert response.status_code == 400 and "JSON" in response.json()["error"]["message"]
    nested: object = {"type": "TextBlock", "text": "x"}
    for _ in range(300):  # deep, but within what json parses: the checks after the 202 must not crash
        nested = {"type": "Container", "items": [nested]}
    response = http.post(sink.workflow_url("h"), json=envelope({**card(), "body": [nested]}), timeout=5)
    assert response.status_code == 202 and sink.not_displayed("h")[0]["codes"] == ["CardTooDeep"]
    assert http.get(sink.url + "/", timeout=5).status_code == 200
    deepest = b"[" * 900 + b"]" * 900  # parses; indenting it for the page would not
    assert http.post(sink.workflow_url("h"), data=deepest, timeout=5).status_code == 202
    assert http.get(sink.url + "/", timeout=5).status_code == 200
    assert http.get(sink.url + "/channels/h/messages", timeout=5).status_code == 200
    assert "Traceback" not in capsys.readouterr().err


def test_cli_bad_or_busy_port_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAMS_SINK_PORT", "not-a-port")
    with pytest.raises(SystemExit) as usage:
        _parse([])
    assert usage.value.code == 2
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [stack.python_exe(), "-m", "tools.teams_sink", "--port", str(port)],
            capture_output=True, text=True, timeout=30, cwd=str(stack.ROOT),
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr
