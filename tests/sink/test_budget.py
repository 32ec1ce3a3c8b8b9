"""The Flow bot's budget per connection (teams-platform.md §3.5): a sliding window, 202 then lost, over HTTP."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.sink.conftest import card, envelope, envelope_of
from tests.sink.test_webhooks import post
from tools import serve, stack
from tools.teams_sink import TeamsSink
from tools.teams_sink.__main__ import _parse
from tools.teams_sink.budget import SlidingLog, Window, budget_from_env, parse_budget


class Clock:
    """A monotonic clock the test moves by hand, so the window's edges are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def burst(http: requests.Session, url: str, count: int) -> list[int]:
    return [post(http, url, envelope(card(text=f"post {n}"))).status_code for n in range(count)]


# -- the budget's text and its sliding window, as pure logic ----------------------------------------------


@pytest.mark.unit
def test_budget_text_is_the_apps_count_per_seconds() -> None:
    assert parse_budget("25/300") == (Window(300.0, 25),)
    assert parse_budget(" 100/3600, 25/300 ,") == (Window(300.0, 25), Window(3600.0, 100))
    assert parse_budget("off") == () and parse_budget("OFF") == ()
    for bad in ("", "25", "25/0", "0/300", "x/300", "25/-1", "25/inf", ",", "1.5/10"):
        with pytest.raises(ValueError, match="COUNT/SECONDS"):
            parse_budget(bad)
    assert budget_from_env({}) == (Window(300.0, 25),)
    assert budget_from_env({"DELIVERY_BUDGET_WORKFLOWS": "3/60"}) == (Window(60.0, 3),)
    with pytest.raises(ValueError, match="DELIVERY_BUDGET_WORKFLOWS"):
        budget_from_env({"DELIVERY_BUDGET_WORKFLOWS": "lots"})


@pytest.mark.unit
def test_the_window_slides_rather_than_restarting() -> None:
    budget = parse_budget("2/10")
    log = SlidingLog()
    assert log.take(budget, 0.0) == [] and log.take(budget, 6.0) == []
    assert log.take(budget, 9.9) == [Window(10.0, 2)]
    # at 10 s the first post ages out: one more fits, not a fresh window of two (a fixed window would)
    assert log.take(budget, 10.0) == []
    assert log.take(budget, 10.0) == [Window(10.0, 2)]
    assert log.take(budget, 15.9) == [Window(10.0, 2)]
    assert log.take(budget, 16.0) == []
    assert log.used(budget, 16.0) == {"2/10": 2}
    two = parse_budget("2/1,3/100")
    other = SlidingLog()
    assert [bool(other.take(two, t)) for t in (0.0, 0.1, 0.2, 5.0, 6.0)] == [False, False, True, False, True]
    assert other.full(two, 6.0) == [Window(100.0, 3)]


# -- over HTTP -----------------------------------------------------------------------------------------


def test_a_burst_of_30_shows_25_and_loses_5_with_the_reason(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(budget="25/300")
    assert burst(http, sink.workflow_url("ops"), 30) == [202] * 30  # the sender cannot tell
    shown = sink.displayed("ops")
    assert [p["card"]["body"][0]["text"] for p in shown] == [f"post {n}" for n in range(25)]
    lost = sink.lost("ops")
    assert [p["card"]["body"][0]["text"] for p in lost] == [f"post {n}" for n in range(25, 30)]
    assert all(
        p["reason"].startswith("over the Flow bot budget of 25/300 s for connection 'default'") for p in lost
    )
    assert {(p["channel"], p["connection"], p["attachment"], p["mode"]) for p in lost} == {
        ("ops", "default", 0, "workflow")
    }
    assert sink.not_displayed("ops") == []  # lost and not displayed are different outcomes
    assert len(sink.messages("ops")) == 30  # every body was accepted...
    assert [r["lost"] for r in sink.requests("ops")] == [0] * 25 + [1] * 5  # ...and 5 lost after it
    assert [r["displayed"] for r in sink.records("ops")][-6:] == [True] + [False] * 5
    assert http.get(sink.url + "/lost", timeout=5).json() == sink.lost()
    assert http.get(sink.url + "/channels/ops/lost", timeout=5).json() == lost
    view = sink.budget()
    assert view["budget"] == "25/300" and view["default_connection"] == "default"
    assert view["connections"]["default"] == {
        "budget": "25/300", "own_budget": False, "used": {"25/300": 25}, "channels": ["ops"], "lost": 5,
    }


def test_connections_are_independent_and_their_channels_share_one_budget(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(budget="3/300")
    assert burst(http, sink.workflow_url("a1", connection="alice"), 2) == [202, 202]
    assert burst(http, sink.workflow_url("a2", connection="alice"), 2) == [202, 202]
    assert burst(http, sink.workflow_url("b1", connection="bob"), 3) == [202] * 3
    assert burst(http, sink.workflow_url("d1"), 2) + burst(http, sink.workflow_url("d2"), 2) == [202] * 4
    assert [len(sink.displayed(c)) for c in ("a1", "a2", "b1", "d1", "d2")] == [2, 1, 3, 2, 1]
    assert [(p["channel"], p["connection"]) for p in sink.lost()] == [("a2", "alice"), ("d2", "default")]
    connections = sink.budget()["connections"]
    assert {name: (c["channels"], c["lost"]) for name, c in connections.items()} == {
        "alice": (["a1", "a2"], 1), "bob": (["b1"], 0), "default": (["d1", "d2"], 1),
    }


def test_after_the_oldest_post_ages_out_one_more_fits(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    clock = Clock()
    sink = make_sink(budget="2/300", clock=clock)
    url = sink.workflow_url("slide")
    assert burst(http, url, 1) == [202]
    clock.now += 200
    assert burst(http, url, 2) == [202, 202]  # the second is over budget
    clock.now += 99.9
    assert burst(http, url, 1) == [202]  # still within 300 s of the first
    clock.now += 0.1
    assert burst(http, url, 2) == [202, 202]  # the first aged out: one fits, the next does not
    assert [p["card"]["body"][0]["text"] for p in sink.displayed("slide")] == ["post 0", "post 0", "post 0"]
    assert len(sink.lost("slide")) == 3


def test_each_attachment_spends_one_and_a_failed_run_spends_none(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(budget="2/300")
    assert post(http, sink.workflow_url("x"), {"attachments": []}).status_code == 202
    assert post(http, sink.workflow_url("x"), {"text": "no attachments"}).status_code == 202
    body = envelope_of(card(text="one"), card("1.5", "two"), card(text="three"))
    assert post(http, sink.workflow_url("x"), body).status_code == 202
    assert [(p["attachment"], p["displayed"]) for p in sink.posts("x")] == [(None, False), (None, False),
                                                                           (0, True), (1, False)]
    [lost] = sink.lost("x")
    assert lost["attachment"] == 2 and lost["card"]["body"][0]["text"] == "three"
    assert sink.records("x")[-1]["lost"][0]["attachment"] == 2
    assert post(http, sink.legacy_url("x"), {"text": "legacy URLs have no Flow bot"}).text == "1"
    assert len(sink.lost()) == 1


@pytest.mark.parametrize(
    ("path", "channel", "connection"),
    [
        ("/workflows/ops", "ops", "default"),
        ("/workflows/ops/", "ops", "default"),
        ("/workflows/flow1/triggers/manual/paths/invoke?api-version=1&sig=s", "flow1", "default"),
        ("/powerautomate/automations/direct/workflows/flow1/triggers/manual/paths/invoke?sig=s", "flow1", "default"),
        ("/workflows/owner/ops", "ops", "owner"),
        ("/workflows/owner/ops/triggers/manual/paths/invoke?sig=s", "ops", "owner"),
        ("/powerautomate/automations/direct/workflows/owner/ops?sig=s", "ops", "owner"),
        ("/workflows/svc%20acct/team%2Fops", "team/ops", "svc acct"),
    ],
)
def test_url_forms_name_the_channel_and_connection(
    quiet_sink: TeamsSink, http: requests.Session, path: str, channel: str, connection: str
) -> None:
    assert post(http, quiet_sink.url + path, envelope()).status_code == 202
    [shown] = quiet_sink.displayed(channel)
    assert shown["connection"] == connection
    assert quiet_sink.budget()["connections"][connection]["channels"] == [channel]


def test_workflow_url_helper_builds_both_forms(quiet_sink: TeamsSink) -> None:
    assert quiet_sink.workflow_url("team/ops") == quiet_sink.url + "/workflows/team%2Fops"
    assert quiet_sink.workflow_url("ops", connection="a b") == quiet_sink.url + "/workflows/a%20b/ops"


def test_control_calls_set_budgets_and_connections(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(budget="25/300")
    base = sink.url

    def control(path: str, body: object) -> requests.Response:
        return http.post(base + path, json=body, timeout=5)

    answer = control("/control/budget", {"budget": "1/300"})
    assert answer.status_code == 200 and answer.json()["budget"] == "1/300"
    answer = control("/control/budget", {"budget": "2/300", "connection": "big"})
    assert answer.json()["connections"]["big"] == {
        "budget": "2/300", "own_budget": True, "used": {"2/300": 0}, "channels": [], "lost": 0,
    }
    assert control("/control/connections", {"mapped": "big"}).json() == {"mapped": "big"}
    assert http.get(base + "/control/connections", timeout=5).json() == {"mapped": "big"}
    assert burst(http, sink.workflow_url("mapped"), 3) == [202] * 3  # the map: connection "big", 2 fit
    assert burst(http, sink.workflow_url("plain"), 2) == [202] * 2  # the default connection, 1 fits
    assert burst(http, sink.workflow_url("urlwins", connection="other"), 1) == [202]
    assert [len(sink.displayed(c)) for c in ("mapped", "plain", "urlwins")] == [2, 1, 1]
    assert [p["connection"] for p in sink.lost()] == ["big", "default"]
    assert http.get(base + "/control/budget", timeout=5).json() == sink.budget()
    assert http.get(base + "/connections", timeout=5).json()["connections"]["big"]["used"] == {"2/300": 2}
    # dropping a connection's own budget and its channel's map: back to the default connection
    assert control("/control/budget", {"budget": None, "connection": "big"}).json()["connections"]["big"][
        "own_budget"
    ] is False
    assert control("/control/connections", {"mapped": None}).json() == {}
    assert control("/control/budget", {"budget": "off"}).json()["budget"] == "off"
    assert burst(http, sink.workflow_url("plain"), 3) == [202] * 3 and len(sink.displayed("plain")) == 4
    assert control("/control/budget", {"budget": "default"}).json()["budget"] == "25/300"
    for path, body, message in [
        ("/control/budget", {"budget": "lots"}, "COUNT/SECONDS"),
        ("/control/budget", {}, "budget is required"),
        ("/control/budget", {"budget": None}, "COUNT/SECONDS"),
        ("/control/budget", {"budget": 25}, "COUNT/SECONDS"),
        ("/control/budget", {"budget": "1/1", "connection": ""}, "connection must be a non-empty string"),
        ("/control/budget", {"budget": "1/1", "window": 1}, "unknown fields: window"),
        ("/control/connections", {"x": 1}, "must be a non-empty string or null"),
        ("/control/connections", {"": "a"}, "non-empty"),
        ("/control/connections", ["x"], "JSON object"),
    ]:
        refused = control(path, body)
        assert refused.status_code == 400, (path, body)
        assert message in refused.json()["error"]["message"], (path, body)
    assert sink.budget()["budget"] == "25/300"  # a refused call changed nothing


def test_reset_clears_lost_posts_connections_and_use_but_marks_survive(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(budget="3/300")
    before = sink.lost_mark()
    sink.set_budget("1/300")
    sink.set_connections({"c": "owner"})
    assert burst(http, sink.workflow_url("c"), 3) == [202] * 3
    assert http.post(sink.url + "/control/reset", timeout=5).status_code == 200
    assert sink.lost() == [] and http.get(sink.url + "/lost", timeout=5).json() == []
    assert sink.budget() == {"budget": "3/300", "default_connection": "default", "connections": {}}
    assert sink.state.connection_map() == {}
    found = sink.lost_since(before)
    assert [(p["channel"], p["connection"]) for p in found] == [("c", "owner")] * 2
    assert "card" not in found[0] and "over the Flow bot budget of 1/300 s" in found[0]["reason"]
    assert sink.lost_mark() - before == 2 and sink.lost_since(sink.lost_mark()) == []
    assert burst(http, sink.workflow_url("c"), 3) == [202] * 3 and len(sink.displayed("c")) == 3


def test_connections_own_budgets_at_start_come_back_on_reset(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(budget="1/300", budgets={"busy": "3/300"})
    assert burst(http, sink.workflow_url("b", connection="busy"), 4) == [202] * 4
    assert len(sink.displayed("b")) == 3
    sink.set_budget("1/300", connection="busy")
    sink.reset()
    assert sink.budget()["connections"]["busy"]["budget"] == "3/300"
    with pytest.raises(ValueError, match="connection must be a non-empty string"):
        TeamsSink(budgets={"": "1/1"})


def test_the_default_budget_is_the_apps_setting_or_25_per_300(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DELIVERY_BUDGET_WORKFLOWS", raising=False)
    assert TeamsSink().budget()["budget"] == "25/300"
    monkeypatch.setenv("DELIVERY_BUDGET_WORKFLOWS", "10/60,50/3600")
    assert TeamsSink().budget()["budget"] == "10/60,50/3600"
    assert TeamsSink(budget="off").budget()["budget"] == "off"
    monkeypatch.setenv("DELIVERY_BUDGET_WORKFLOWS", "many")
    with pytest.raises(ValueError, match="DELIVERY_BUDGET_WORKFLOWS"):
        TeamsSink()


def test_html_page_shows_lost_posts_apart_from_the_channels_posts(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(budget="1/300")
    post(http, sink.workflow_url("ops", connection="<svc>"), envelope(card(text="shown")))
    post(http, sink.workflow_url("ops", connection="<svc>"), envelope(card(text="gone <b>")))
    post(http, sink.workflow_url("calm"), envelope(card(text="fine")))
    page = http.get(sink.url + "/", timeout=5).text
    assert page.count('<article class="post displayed"') == 2
    assert page.count('<article class="lost" data-connection="&lt;svc&gt;">') == 1
    assert '<small class="lost-count">1 lost</small>' in page and page.count("lost-count") == 2  # style + 1
    assert "lost after 202: over the Flow bot budget of 1/300 s for connection &#x27;&lt;svc&gt;&#x27;" in page
    assert "gone &lt;b&gt;" in page and '<pre class="lost-json">' in page and "<svc>" not in page
    assert page.count('<pre class="card-json">') == 2  # the lost card is not drawn as shown
    assert "at most 1/300 (posts/seconds, sliding) per connection" in page
    assert "&lt;svc&gt;: budget 1/300, used 1 of 1/300; channels ops; 1 lost" in page
    assert "default: budget 1/300, used 1 of 1/300; channels calm; 0 lost" in page
    off = make_sink()
    assert "The Flow bot budget is off" in http.get(off.url + "/", timeout=5).text


def test_a_lost_post_is_logged_without_its_body(
    make_sink: Callable[..., TeamsSink], http: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tools.teams_sink")
    sink = make_sink(budget="1/300")
    for _ in range(2):
        http.post(sink.workflow_url("ch") + "?sig=URL-SECRET", json=envelope(card(text="BODY-SECRET")), timeout=5)
    lines = [r.getMessage() for r in caplog.records if r.name == "tools.teams_sink"]
    assert lines[-1] == "workflow 'ch' -> 202, 1 lost (over the budget of connection 'default')"
    assert "SECRET" not in caplog.text


# -- the CLI, the process, and `make serve` ------------------------------------------------------------------


def test_cli_budget_flag_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DELIVERY_BUDGET_WORKFLOWS", raising=False)
    assert _parse([]).budget == "25/300" and _parse(["--budget", "5/60"]).budget == "5/60"
    assert _parse(["--budget", "off"]).budget == "off"
    monkeypatch.setenv("DELIVERY_BUDGET_WORKFLOWS", "7/70")
    assert _parse([]).budget == "7/70"
    assert _parse(["--connection-budget", "busy=5/60", "--connection-budget", "b=off"]).connection_budget == [
        ("busy", "5/60"), ("b", "off"),
    ]
    for argv in (["--connection-budget", "busy"], ["--connection-budget", "=5/60"], ["--connection-budget", "b=x"]):
        with pytest.raises(SystemExit):
            _parse(argv)
    for argv in (["--budget", "fast"], []):
        if not argv:
            monkeypatch.setenv("DELIVERY_BUDGET_WORKFLOWS", "fast")
        with pytest.raises(SystemExit) as usage:
            _parse(argv)
        assert usage.value.code == 2


def test_sink_process_keeps_the_budget_it_is_given(http: requests.Session) -> None:
    port = stack.free_port()
    with stack.sink_process(port, budget="1/300", extra_args=["--connection-budget", "big=5/60"]):
        base = f"http://127.0.0.1:{port}"
        view = http.get(base + "/control/budget", timeout=5).json()
        assert view["budget"] == "1/300" and view["connections"]["big"]["budget"] == "5/60"
        codes = [http.post(base + "/workflows/p", json=envelope(), timeout=5).status_code for _ in range(2)]
        assert codes == [202, 202]
        [lost] = http.get(base + "/lost", timeout=5).json()
        assert lost["channel"] == "p" and "1/300 s for connection 'default'" in lost["reason"]


@pytest.mark.unit
def test_make_serve_gives_the_sink_the_apps_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DELIVERY_BUDGET_WORKFLOWS", raising=False)
    assert serve.sink_budget({}) == "25/300"
    assert serve.sink_budget({"DELIVERY_BUDGET_WORKFLOWS": "9/90"}) == "9/90"
    monkeypatch.setenv("DELIVERY_BUDGET_WORKFLOWS", "8/80")
    assert serve.sink_budget({"DELIVERY_BUDGET_WORKFLOWS": "9/90"}) == "8/80"  # as the app reads it


@pytest.mark.slow
def test_make_serve_starts_the_sink_with_the_budget_of_local_settings(tmp_path: Path) -> None:
    ports = {name: stack.free_port() for name in ("blob", "queue", "table", "sink", "app")}
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TZ") if key in os.environ}
    env.update({
        "PYTHONPATH": str(stack.ROOT),
        "AZURITE_BLOB_PORT": str(ports["blob"]), "AZURITE_QUEUE_PORT": str(ports["queue"]),
        "AZURITE_TABLE_PORT": str(ports["table"]), "TEAMS_SINK_PORT": str(ports["sink"]),
        "FUNCTIONS_PORT": str(ports["app"]),
    })
    example = json.loads((stack.ROOT / "local.settings.example.json").read_text(encoding="utf-8"))
    example["Values"]["DELIVERY_BUDGET_WORKFLOWS"] = "3/60,10/600"
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps(example), encoding="utf-8")
    out = tmp_path / "serve.log"
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [stack.python_exe(), "-m", "tools.serve", "--devhost", "--settings", str(settings),
             "--azurite-location", str(tmp_path / "azurite")],
            env=env, cwd=str(stack.ROOT), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while "Press Ctrl-C" not in out.read_text(errors="replace"):
            assert proc.poll() is None, out.read_text(errors="replace")
            assert time.monotonic() < deadline, out.read_text(errors="replace")
            time.sleep(0.1)
        sink_url = f"http://127.0.0.1:{ports['sink']}"
        assert requests.get(sink_url + "/control/budget", timeout=5).json()["budget"] == "3/60,10/600"
        assert "Flow bot budget 3/60,10/600 per connection" in out.read_text(errors="replace")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0, out.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_connections_named_by_urls_are_bounded(
    make_sink: Callable[..., TeamsSink], http: requests.Session
) -> None:
    sink = make_sink(budget="1/300", max_channels=3)
    for number in range(6):
        post(http, sink.workflow_url("c", connection=f"owner{number}"), envelope())
    assert len(sink.state._logs) == 3 and list(sink.state._logs) == ["owner3", "owner4", "owner5"]
    assert sink.lost() == []
