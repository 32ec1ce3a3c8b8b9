"""authLevel: keys from DEVHOST_FUNCTION_KEY / DEVHOST_MASTER_KEY, by header or ?code=."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.devhost.conftest import FUNCTION_KEY, MASTER_KEY, RunningHost, start_host


def test_function_level_needs_a_key(keyed_host: RunningHost, http: requests.Session) -> None:
    url = keyed_host.url + "/api/secure"
    missing = http.get(url)
    assert missing.status_code == 401
    assert missing.json()["error"] == "unauthorized"
    wrong = http.get(url, headers={"x-functions-key": "nope"})
    assert wrong.status_code == 401
    assert FUNCTION_KEY not in wrong.text
    assert http.get(url, params={"code": "nope"}).status_code == 401
    assert http.get(url, headers={"x-functions-key": FUNCTION_KEY}).text == "secret ok"
    assert http.get(url, params={"code": FUNCTION_KEY}).text == "secret ok"
    assert http.get(url, headers={"x-functions-key": MASTER_KEY}).status_code == 200


def test_admin_level_needs_the_master_key(keyed_host: RunningHost, http: requests.Session) -> None:
    url = keyed_host.url + "/api/ops/reset"
    assert http.get(url).status_code == 401
    assert http.get(url, headers={"x-functions-key": FUNCTION_KEY}).status_code == 401
    assert http.get(url, params={"code": MASTER_KEY}).text == "admin ok"


def test_anonymous_needs_no_key(keyed_host: RunningHost, http: requests.Session) -> None:
    assert http.get(keyed_host.url + "/api/greet").status_code == 200


def test_keys_never_logged(keyed_host: RunningHost, http: requests.Session) -> None:
    http.get(keyed_host.url + "/api/secure", params={"code": FUNCTION_KEY})
    http.get(keyed_host.url + "/api/secure", headers={"x-functions-key": "wrong-key-xyz"})
    log = keyed_host.wait_log("secure GET 401")
    assert FUNCTION_KEY not in log
    assert MASTER_KEY not in log
    assert "wrong-key-xyz" not in log


def test_without_keys_everything_is_open(open_host: RunningHost, http: requests.Session) -> None:
    assert http.get(open_host.url + "/api/secure").text == "secret ok"
    assert http.get(open_host.url + "/api/ops/reset").text == "admin ok"


def test_keys_from_the_settings_file(tmp_path: Path, http: requests.Session) -> None:
    """Keys in local.settings.json Values work like keys in the environment (as app settings would)."""
    host = start_host(tmp_path, settings={"DEVHOST_FUNCTION_KEY": "file-fkey", "DEVHOST_MASTER_KEY": "file-mkey"})
    try:
        assert http.get(host.url + "/api/secure").status_code == 401
        assert http.get(host.url + "/api/secure", params={"code": "file-fkey"}).text == "secret ok"
        assert http.get(host.url + "/api/ops/reset", params={"code": "file-fkey"}).status_code == 401
        assert http.get(host.url + "/api/ops/reset", headers={"x-functions-key": "file-mkey"}).text == "admin ok"
        assert http.post(host.url + "/admin/functions/tick", json={}).status_code == 401
        ran = http.post(host.url + "/admin/functions/tick", json={}, headers={"x-functions-key": "file-mkey"})
        assert ran.status_code == 202
    finally:
        host.stop()
