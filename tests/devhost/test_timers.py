"""Timer triggers: NCRONTAB schedules with %SETTING%, runOnStartup, past_due, and runs on demand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from tests.devhost.conftest import MASTER_KEY, RunningHost, start_host


def test_admin_runs_a_timer_on_demand(keyed_host: RunningHost, http: requests.Session) -> None:
    url = keyed_host.url + "/admin/functions/tick"
    before = len(keyed_host.timer_runs())
    resp = http.post(url, json={"input": ""}, headers={"x-functions-key": MASTER_KEY})
    assert resp.status_code == 202
    runs = keyed_host.wait_timer_runs(before + 1)
    assert runs[-1]["past_due"] is False
    assert runs[-1]["concrete"] == "azure.functions.timer.TimerRequest"


def test_admin_endpoint_checks_key_name_and_body(keyed_host: RunningHost, http: requests.Session) -> None:
    url = keyed_host.url + "/admin/functions/tick"
    assert http.post(url, json={"input": ""}).status_code == 401
    assert http.post(url, json={"input": ""}, params={"code": "wrong"}).status_code == 401
    bad = http.post(url, data=b"{not json", headers={"x-functions-key": MASTER_KEY})
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid body"
    assert http.post(url, json={"input": 5}, headers={"x-functions-key": MASTER_KEY}).status_code == 400
    missing = http.post(keyed_host.url + "/admin/functions/nope", json={}, headers={"x-functions-key": MASTER_KEY})
    assert missing.status_code == 404
    assert http.get(url, headers={"x-functions-key": MASTER_KEY}).status_code == 405


def test_no_timers_flag_skips_run_on_startup(keyed_host: RunningHost) -> None:
    assert all(run["function"] != "boot" for run in keyed_host.timer_runs())


def test_schedule_from_setting_and_run_on_startup(tmp_path: Path) -> None:
    # The environment wins over local.settings.json, so the file's yearly schedule becomes every second.
    host = start_host(
        tmp_path, settings={"DEVHOST_TEST_TICK": "0 0 0 1 1 *"}, env={"DEVHOST_TEST_TICK": "*/1 * * * * *"}, args=()
    )
    try:
        runs = host.wait_timer_runs(3)
        boots = [r for r in runs if r["function"] == "boot"]
        ticks = [r for r in runs if r["function"] == "tick"]
        assert len(boots) == 1
        assert boots[0]["past_due"] is False
        assert len(ticks) >= 2
        assert all(t["past_due"] is False for t in ticks)
    finally:
        assert host.stop() == 0


def test_missed_occurrence_runs_past_due_after_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    status_file = state / "timers" / "tick.status.json"
    status_file.parent.mkdir(parents=True)
    missed = datetime.now(UTC) - timedelta(hours=1)
    status_file.write_text(json.dumps({
        "Last": (missed - timedelta(days=1)).isoformat(), "Next": missed.isoformat(),
        "LastUpdated": (missed - timedelta(days=1)).isoformat(),
    }))
    host = start_host(tmp_path / "run", args=("--state-dir", str(state)))
    try:
        runs = host.wait_timer_runs(2)  # boot (runOnStartup) and the missed tick
        tick = next(r for r in runs if r["function"] == "tick")
        assert tick["past_due"] is True
        status = tick["schedule_status"]
        assert isinstance(status, dict) and datetime.fromisoformat(status["Next"]) <= datetime.now(UTC)
        saved = json.loads(status_file.read_text())
        assert datetime.fromisoformat(saved["Next"]) > datetime.now(UTC)
    finally:
        assert host.stop() == 0
    # A second start finds the occurrence recorded as done: nothing is past due.
    again = start_host(tmp_path / "again", args=("--state-dir", str(state)))
    try:
        again.wait_timer_runs(1)
        again.wait_log("boot timer")  # both timer threads have started by now
        assert [r["function"] for r in again.timer_runs()] == ["boot"]
    finally:
        again.stop()
