"""authLevel: keys from DEVHOST_FUNCTION_KEY / DEVHOST_MASTER_KEY, by header or ?code=."""

from __future__ import annotations

import requests

from tests.devhost.conftest import FUNCTION_KEY, MASTER_KEY, RunningHost


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
