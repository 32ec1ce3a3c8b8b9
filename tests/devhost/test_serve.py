"""`make serve` (tools/serve.py): the three services on chosen ports, persistent Azurite, clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.devhost.conftest import base_env
from tools import stack
from tools.demo import local_values
from tools.serve import app_environment, ensure_settings, read_values


@pytest.mark.unit
def test_app_environment_points_default_settings_at_this_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AzureWebJobsStorage", "TEAMS_STORAGE", "DELIVERY_EXTRA_ALLOWED_URLS", "PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    values = {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "TEAMS_STORAGE": "DefaultEndpointsProtocol=https;AccountName=real",
        "DELIVERY_EXTRA_ALLOWED_URLS": "http://127.0.0.1:7072/",
        "PUBLIC_BASE_URL": "http://127.0.0.1:7071",
    }
    env = app_environment(values, "CONN", sink_port=9072, app_port=9071)
    assert env["AzureWebJobsStorage"] == "CONN"
    assert "TEAMS_STORAGE" not in env  # a real account is left alone
    assert env["DELIVERY_EXTRA_ALLOWED_URLS"] == "http://127.0.0.1:7072/,http://127.0.0.1:9072/"
    assert env["PUBLIC_BASE_URL"] == "http://127.0.0.1:9071"
    assert app_environment(values, "CONN", sink_port=7072, app_port=7071).keys() == {"AzureWebJobsStorage"}


@pytest.mark.unit
def test_ensure_settings_copies_the_example_once(tmp_path: Path) -> None:
    example = tmp_path / "example.json"
    example.write_text('{"Values": {"A": "1"}}')
    target = tmp_path / "local.settings.json"
    assert ensure_settings(target, example) is True
    target.write_text('{"Values": {"A": "mine"}}')
    assert ensure_settings(target, example) is False
    assert json.loads(target.read_text())["Values"]["A"] == "mine"


@pytest.mark.unit
def test_serve_and_demo_read_local_settings_like_the_dev_host(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": {"WEATHER_UNITS": "imperial", "N": 3, "DEVHOST_MASTER_KEY": "k"}}))
    assert read_values(path) == {"WEATHER_UNITS": "imperial", "N": "3", "DEVHOST_MASTER_KEY": "k"}
    # The demo runs its own dev host and calls its admin endpoint: the local keys are not for it.
    assert local_values(path) == {"WEATHER_UNITS": "imperial", "N": "3"}
    assert local_values(tmp_path / "absent.json") == {}
    path.write_text('{"Values": {')
    with pytest.raises(SystemExit, match=r"serve: .*local.settings.json: invalid JSON: line 1"):
        read_values(path)
    with pytest.raises(ValueError, match="invalid JSON"):
        local_values(path)


@pytest.mark.slow
def test_serve_starts_everything_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    ports = {name: stack.free_port() for name in ("blob", "queue", "table", "sink", "app")}
    env = base_env({
        "AZURITE_BLOB_PORT": str(ports["blob"]), "AZURITE_QUEUE_PORT": str(ports["queue"]),
        "AZURITE_TABLE_PORT": str(ports["table"]), "TEAMS_SINK_PORT": str(ports["sink"]),
        "FUNCTIONS_PORT": str(ports["app"]),
    })
    settings = tmp_path / "local.settings.json"
    location = tmp_path / "azurite-data"
    out = tmp_path / "serve.log"
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [stack.python_exe(), "-m", "tools.serve", "--devhost", "--settings", str(settings),
             "--azurite-location", str(location)],
            env=env, cwd=str(stack.ROOT), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while "Press Ctrl-C" not in out.read_text(errors="replace"):
            assert proc.poll() is None, out.read_text(errors="replace")
            assert time.monotonic() < deadline, out.read_text(errors="replace")
            time.sleep(0.1)
        app = f"http://127.0.0.1:{ports['app']}"
        assert requests.get(app + "/admin/host/status", timeout=5).json()["state"] == "Running"
        assert requests.get(f"http://127.0.0.1:{ports['sink']}/", timeout=5).status_code == 200
        tables = requests.get(f"http://127.0.0.1:{ports['table']}/devstoreaccount1/Tables", timeout=5)
        assert tables.status_code < 500
        assert settings.exists()  # created from local.settings.example.json
        text = out.read_text(errors="replace")
        assert app in text and str(ports["sink"]) in text and str(location) in text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0, out.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert any(location.glob("__azurite_db_*")), "Azurite kept no data under --azurite-location"
    for port in ports.values():
        assert not stack.port_open("127.0.0.1", port), f"port {port} still open after Ctrl-C"
    assert "stopped." in out.read_text(errors="replace")
