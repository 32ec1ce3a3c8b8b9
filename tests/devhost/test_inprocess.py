"""The Python API (`DevHost(root, settings).serve()` / `.stop()`) used in-process, over real HTTP."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
import requests

from tools.devhost import DevHost

SCRIPT = (
    "import os\nimport azure.functions as func\n\n"
    "def main(req: func.HttpRequest) -> func.HttpResponse:\n"
    "    return func.HttpResponse(os.environ['DEVHOST_INPROC_GREETING'] + ' ' + req.route_params['who'])\n"
)


def test_serve_in_a_thread_and_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # the host puts the app root on sys.path
    monkeypatch.delenv("DEVHOST_INPROC_GREETING", raising=False)
    monkeypatch.delenv("DEVHOST_FUNCTION_KEY", raising=False)
    monkeypatch.delenv("DEVHOST_MASTER_KEY", raising=False)
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0"}))
    folder = tmp_path / "inproc_hello_fn"
    folder.mkdir()
    (folder / "__init__.py").write_text(SCRIPT)
    (folder / "function.json").write_text(json.dumps({"bindings": [
        {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous", "route": "hi/{who}"},
        {"type": "http", "direction": "out", "name": "$return"},
    ]}))
    log = io.StringIO()
    host = DevHost(tmp_path, {"DEVHOST_INPROC_GREETING": "hello"}, timers=False, access_log=log)
    port = host.serve("127.0.0.1", 0)
    try:
        assert host.url == f"http://127.0.0.1:{port}"
        assert requests.get(host.url + "/api/hi/you", timeout=5).text == "hello you"
    finally:
        host.stop()
        monkeypatch.delitem(sys.modules, "inproc_hello_fn", raising=False)
    assert "inproc_hello_fn GET 200" in log.getvalue()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/api/hi/you", timeout=2)
