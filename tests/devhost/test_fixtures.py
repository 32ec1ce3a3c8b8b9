"""The session fixtures leave no process behind: after a normal end, and when pytest gets SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
import requests

from tests.devhost.conftest import base_env
from tools import stack

# A session that uses the real fixtures, says where they run, then waits (to be ended) or returns.
HOLDER = '''
import json, os, time

def test_hold(azurite, devhost, sink):
    ready = {"azurite": azurite, "devhost": devhost, "sink": sink.url}
    with open(os.environ["FIXTURE_READY_FILE"], "w") as fh:
        json.dump(ready, fh)
    time.sleep(float(os.environ["FIXTURE_HOLD_SECONDS"]))
'''


def _kill_listeners(ports: list[int]) -> None:
    """When the fixtures did leave a process behind, end it here so a failing run cleans up too."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port in ports and conn.pid:
            psutil.Process(conn.pid).kill()


def _ports(ready: dict[str, str]) -> list[int]:
    table = next(p for p in ready["azurite"].split(";") if p.startswith("TableEndpoint="))
    urls = [table.removeprefix("TableEndpoint="), ready["devhost"], ready["sink"]]
    return [int(urlsplit(url).port or 0) for url in urls]


@pytest.mark.slow
@pytest.mark.parametrize("ending", ["normal", "sigterm"])
def test_session_fixtures_stop_their_processes(tmp_path: Path, ending: str) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.conftest"]\n')
    (tmp_path / "test_hold.py").write_text(HOLDER)
    ready_file = tmp_path / "ready.json"
    ports: list[int] = []
    env = base_env({
        "FIXTURE_READY_FILE": str(ready_file),
        "FIXTURE_HOLD_SECONDS": "0" if ending == "normal" else "120",
    })
    out = tmp_path / "pytest.log"
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [stack.python_exe(), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
            env=env, cwd=str(tmp_path), stdout=log, stderr=subprocess.STDOUT,
        )
    code: int | None = None
    left: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not ready_file.exists() or not ready_file.read_text():
            assert proc.poll() is None or ending == "normal", out.read_text(errors="replace")
            assert time.monotonic() < deadline, out.read_text(errors="replace")
            time.sleep(0.1)
        ready = json.loads(ready_file.read_text())
        ports = _ports(ready)
        if ending == "sigterm":
            assert requests.get(ready["devhost"] + "/admin/host/ping", timeout=5).status_code == 200
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        left = [port for port in ports if stack.port_open("127.0.0.1", port)]
        _kill_listeners(left)
    assert code == (0 if ending == "normal" else 2), out.read_text(errors="replace")
    assert left == [], f"ports still open after the session: {left}; log:\n{out.read_text()}"
