"""Starting and stopping: settings files, env precedence, malformed apps, ports, signals, prefixes."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.devhost.conftest import RunningHost, base_env, devhost_argv, start_host
from tools import stack

HOST_JSON = json.dumps({"version": "2.0"})


def http_function(route: str | None = None, **extra: object) -> str:
    trigger: dict[str, object] = {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous"}
    if route is not None:
        trigger["route"] = route
    trigger.update(extra)
    return json.dumps({"bindings": [trigger, {"type": "http", "direction": "out", "name": "$return"}]})


OK_SCRIPT = "import azure.functions as func\n\ndef main(req):\n    return func.HttpResponse('ok')\n"


def make_app(root: Path, functions: dict[str, str | None], host_json: str = HOST_JSON) -> Path:
    """An app whose folders hold the given function.json text (None: no function.json) and OK_SCRIPT."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "host.json").write_text(host_json)
    for name, config in functions.items():
        folder = root / name
        folder.mkdir()
        (folder / "__init__.py").write_text(OK_SCRIPT)
        if config is not None:
            (folder / "function.json").write_text(config)
    return root


def run_devhost(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        devhost_argv("--root", str(root), "--port", str(stack.free_port()), "--no-timers", *args),
        env=base_env(env), cwd=str(stack.ROOT), capture_output=True, text=True, timeout=30,
    )


def test_settings_file_values_and_env_precedence(keyed_host: RunningHost, http: requests.Session) -> None:
    seen = http.get(keyed_host.url + "/api/settings").json()
    assert seen["DEVHOST_TEST_FROM_FILE"] == "file-value"
    assert seen["DEVHOST_TEST_OVERRIDDEN"] == "from-env"


def test_malformed_function_json_exits_2_naming_each_file(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app", {
        "badjson": '{"bindings": [',
        "nobindings": json.dumps({"scriptFile": "__init__.py"}),
        "badroute": http_function("items/{id:integer}"),
        "badauth": http_function("x", authLevel="secret"),
        "badcron": json.dumps({"bindings": [
            {"type": "timerTrigger", "direction": "in", "name": "t", "schedule": "0 */5 * * *"}]}),
        "unsetting": json.dumps({"bindings": [
            {"type": "timerTrigger", "direction": "in", "name": "t", "schedule": "%NOT_DEFINED_ANYWHERE%"}]}),
        "noscript": json.dumps({"scriptFile": "missing.py", "bindings": json.loads(http_function())["bindings"]}),
    })
    result = run_devhost(root)
    assert result.returncode == 2, result.stderr
    err = result.stderr
    expectations = {
        "badjson": "invalid JSON: line 1",
        "nobindings": "'bindings' must be a non-empty list",
        "badroute": "unknown route constraint 'integer'",
        "badauth": "authLevel must be anonymous, function or admin",
        "badcron": "NCRONTAB needs 6",
        "unsetting": "setting 'NOT_DEFINED_ANYWHERE'",
        "noscript": "scriptFile 'missing.py' does not exist",
    }
    for name, problem in expectations.items():
        line = next((ln for ln in err.splitlines() if f"{name}/function.json" in ln), "")
        assert problem in line, f"{name}: {problem!r} not in {err}"
    assert "Traceback" not in err


def test_missing_host_json_and_bad_settings_file_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_devhost(empty)
    assert result.returncode == 2
    assert "host.json: missing" in result.stderr
    root = make_app(tmp_path / "app", {"fine": http_function()})
    settings = tmp_path / "local.settings.json"
    settings.write_text('{"Values": {"A": ["list"]}}')
    result = run_devhost(root, "--settings", str(settings))
    assert result.returncode == 2
    assert "Values.A must be a string" in result.stderr


def test_import_error_keeps_other_functions_serving(tmp_path: Path, http: requests.Session) -> None:
    root = make_app(tmp_path / "app", {"good": http_function(), "broken": http_function()})
    (root / "broken" / "__init__.py").write_text("import not_a_module_anywhere\n")
    host = start_host(tmp_path / "run", root=root)
    try:
        assert http.get(host.url + "/api/good").text == "ok"
        broken = http.get(host.url + "/api/broken")
        assert broken.status_code == 500
        assert "failed to load" in broken.json()["detail"]
        status = http.get(host.url + "/admin/host/status").json()
        assert any("broken" in e and "ModuleNotFoundError" in e for e in status["errors"])
    finally:
        host.stop()


def test_route_prefix_from_host_json(tmp_path: Path, http: requests.Session) -> None:
    custom = make_app(tmp_path / "v1app", {"hello": http_function()},
                      host_json=json.dumps({"version": "2.0", "extensions": {"http": {"routePrefix": "v1"}}}))
    host = start_host(tmp_path / "v1", root=custom)
    try:
        assert http.get(host.url + "/v1/hello").text == "ok"
        assert http.get(host.url + "/api/hello").status_code == 404
    finally:
        host.stop()
    bare = make_app(tmp_path / "bareapp", {"hello": http_function("things/{id}")},
                    host_json=json.dumps({"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}))
    host = start_host(tmp_path / "bare", root=bare)
    try:
        assert http.get(host.url + "/things/1").text == "ok"
    finally:
        host.stop()


def test_port_from_functions_port(tmp_path: Path) -> None:
    root = make_app(tmp_path / "app", {"hello": http_function()})
    port = stack.free_port()
    proc = subprocess.Popen(
        devhost_argv("--root", str(root), "--no-timers"),
        env=base_env({"FUNCTIONS_PORT": str(port)}), cwd=str(stack.ROOT),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        stack.wait_port("127.0.0.1", port, 20.0, proc)
        assert requests.get(f"http://127.0.0.1:{port}/api/hello", timeout=5).text == "ok"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_lets_in_flight_request_finish(tmp_path: Path, sig: signal.Signals) -> None:
    host = start_host(tmp_path)
    outcome: dict[str, object] = {}

    def call() -> None:
        try:
            outcome["status"] = requests.get(host.url + "/api/slow?ms=800", timeout=10).status_code
        except requests.RequestException as exc:
            outcome["error"] = repr(exc)

    worker = threading.Thread(target=call)
    worker.start()
    host.wait_log("serving")
    time.sleep(0.3)  # let the request reach the function
    code = host.stop(sig)
    worker.join(10)
    assert code == 0, host.log()
    assert outcome == {"status": 200}
    assert "Traceback" not in host.log()
