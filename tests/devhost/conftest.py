"""Dev host test fixtures: the small app under tests/devhost/app, served by `python -m tools.devhost`.

The dev host runs as a subprocess (as the session `devhost` fixture runs it), with its stderr kept
in a file so tests can read what it logged.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tools import stack

APP = Path(__file__).resolve().parent / "app"
FUNCTION_KEY = "fkey-devhost-test-123"
MASTER_KEY = "mkey-devhost-test-456"
BASE_SETTINGS = {
    "DEVHOST_TEST_TICK": "0 0 0 1 1 *",
    "DEVHOST_TEST_FROM_FILE": "file-value",
    "DEVHOST_TEST_OVERRIDDEN": "from-file",
}


@dataclass
class RunningHost:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    timer_log: Path

    def timer_runs(self) -> list[dict[str, object]]:
        if not self.timer_log.exists():
            return []
        lines = self.timer_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def wait_timer_runs(self, count: int, timeout: float = 6.0) -> list[dict[str, object]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.timer_runs()
            if len(runs) >= count:
                return runs
            time.sleep(0.05)
        raise AssertionError(f"{count} timer runs expected, saw {self.timer_runs()}; log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, text: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log()
            if text in log:
                return log
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not logged within {timeout} s; log:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return int(self.proc.returncode)


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TZ") if k in os.environ}
    env["PYTHONPATH"] = str(stack.ROOT)
    env.update(extra or {})
    return env


def devhost_argv(*args: str) -> list[str]:
    return [stack.python_exe(), "-m", "tools.devhost", *args]


def start_host(
    tmp: Path,
    settings: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = ("--no-timers",),
    root: Path = APP,
) -> RunningHost:
    """A dev host on a free port with `settings` in its settings file and `env` in its environment."""
    tmp.mkdir(parents=True, exist_ok=True)
    settings_file = tmp / "local.settings.json"
    timer_log = tmp / "timer-runs.jsonl"
    values = {**BASE_SETTINGS, "DEVHOST_TEST_TIMER_LOG": str(timer_log), **(settings or {})}
    settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": values}), encoding="utf-8")
    port = stack.free_port()
    log_path = tmp / "devhost.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            devhost_argv("--root", str(root), "--port", str(port), "--settings", str(settings_file), *args),
            env=base_env(env), cwd=str(stack.ROOT), stdout=log, stderr=subprocess.STDOUT,
        )
    host = RunningHost(url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path, timer_log=timer_log)
    try:
        stack.wait_port("127.0.0.1", port, 20.0, proc)
    except stack.StackError:
        host.stop()
        raise AssertionError(f"dev host did not start; log:\n{host.log()}") from None
    return host


@pytest.fixture(scope="session")
def keyed_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHost]:
    """The test app with both keys set, timers off."""
    host = start_host(
        tmp_path_factory.mktemp("keyed"),
        env={"DEVHOST_FUNCTION_KEY": FUNCTION_KEY, "DEVHOST_MASTER_KEY": MASTER_KEY,
             "DEVHOST_TEST_OVERRIDDEN": "from-env"},
    )
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture(scope="session")
def open_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHost]:
    """The test app with no keys set (like `func start`), timers off."""
    host = start_host(tmp_path_factory.mktemp("open"))
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
