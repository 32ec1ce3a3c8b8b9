"""HTTP triggers through a real dev host subprocess: routes, methods, requests and responses."""

from __future__ import annotations

import base64
import json
import threading

import pytest
import requests

from tests.devhost.conftest import RunningHost


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/greet", "hello world"),
        ("/api/greet/", "hello world"),
        ("/api/greet/ann", "hello ann"),
        ("/API/Greet/Ann", "hello Ann"),  # literals are case-insensitive, values are kept
        ("/api/greet/J%C3%BCrgen", "hello Jürgen"),
    ],
)
def test_optional_parameter(open_host: RunningHost, http: requests.Session, path: str, expected: str) -> None:
    resp = http.get(open_host.url + path)
    assert resp.status_code == 200
    assert resp.text == expected


def test_int_constraint(open_host: RunningHost, http: requests.Session) -> None:
    ok = http.get(open_host.url + "/api/items/42")
    assert ok.status_code == 200
    assert ok.json() == {"id": "42", "method": "GET"}
    for bad in ("/api/items/abc", "/api/items/4.2", "/api/items/99999999999", "/api/items"):
        resp = http.get(open_host.url + bad)
        assert resp.status_code == 404, bad
        assert resp.json()["error"] == "not found"


def test_other_constraints_script_file_and_entry_point(open_host: RunningHost, http: requests.Session) -> None:
    assert http.get(open_host.url + "/api/scripted/abc/7").text == "abc x7"
    assert http.get(open_host.url + "/api/scripted/abc/11").status_code == 404  # range(1,10)
    assert http.get(open_host.url + "/api/scripted/a1/3").status_code == 404  # alpha


def test_catch_all(open_host: RunningHost, http: requests.Session) -> None:
    assert http.get(open_host.url + "/api/files/a/b/c.txt").json()["path"] == "a/b/c.txt"
    assert http.get(open_host.url + "/api/files/sp%20ace").json()["path"] == "sp ace"
    assert http.get(open_host.url + "/api/files").json()["path"] is None  # no value: no route param
    assert http.delete(open_host.url + "/api/files/x").json() == {"path": "x", "method": "DELETE"}


def test_unlisted_method_is_404_like_the_real_host(open_host: RunningHost, http: requests.Session) -> None:
    # The Functions host routes on `methods` too: a known path with another method is a 404 there.
    resp = http.post(open_host.url + "/api/items/1")
    assert resp.status_code == 404
    assert resp.json()["error"] == "not found"
    assert "accepts DELETE, GET" in resp.json()["detail"]
    assert http.head(open_host.url + "/api/items/1").status_code == 404  # GET does not imply HEAD
    assert http.delete(open_host.url + "/api/items/1").json()["method"] == "DELETE"


def test_unknown_path_404_json(open_host: RunningHost, http: requests.Session) -> None:
    resp = http.get(open_host.url + "/api/nothing/here")
    assert resp.status_code == 404
    assert resp.headers["Content-Type"].startswith("application/json")


def test_function_without_route_uses_its_name(open_host: RunningHost, http: requests.Session) -> None:
    assert http.post(open_host.url + "/api/echo", data=b"x").status_code == 200
    assert http.get(open_host.url + "/api/echo").status_code == 404


def test_request_is_a_real_http_request(open_host: RunningHost, http: requests.Session) -> None:
    raw = b"\x00\x01binary\xff"
    resp = http.put(
        open_host.url + "/api/echo?a=1&b=two&a=3&empty=",
        data=raw,
        headers={"Content-Type": "application/octet-stream", "X-Thing": "v"},
    )
    assert resp.status_code == 200
    seen = resp.json()
    assert seen["method"] == "PUT"
    assert base64.b64decode(seen["body_b64"]) == raw
    assert seen["headers"]["x-thing"] == "v"
    assert seen["headers"]["content-type"] == "application/octet-stream"
    assert seen["params"] == {"a": "1,3", "b": "two", "empty": ""}  # repeated keys joined, like the host
    assert seen["url"].startswith(open_host.url + "/api/echo?")


def test_response_passed_through_unchanged(open_host: RunningHost, http: requests.Session) -> None:
    resp = http.get(open_host.url + "/api/custom")
    assert resp.status_code == 201
    assert resp.headers["X-Custom"] == "yes"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Type"] == "application/vnd.devhost+octet"
    assert resp.content == b"\x00\xffbinary\xfe"
    head = http.head(open_host.url + "/api/custom")
    assert head.status_code == 201
    assert head.content == b""


def test_named_output_binding_and_context(open_host: RunningHost, http: requests.Session) -> None:
    body = http.get(open_host.url + "/api/bound").json()
    assert body["function"] == "bound"
    assert len(body["invocation_id"]) == 36


def test_function_error_is_500_without_details(open_host: RunningHost, http: requests.Session) -> None:
    resp = http.get(open_host.url + "/api/crash")
    assert resp.status_code == 500
    assert resp.json()["error"] == "function failed"
    assert "secret-in-message" not in resp.text
    assert "Traceback" not in resp.text


def test_requests_run_concurrently(open_host: RunningHost) -> None:
    results: list[dict[str, float]] = []

    def call() -> None:
        results.append(requests.get(open_host.url + "/api/slow?ms=600", timeout=10).json())

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first, second = sorted(results, key=lambda r: r["start"])
    assert second["start"] < first["end"], "the second request started only after the first ended"


def test_one_log_line_per_invocation_without_query(open_host: RunningHost, http: requests.Session) -> None:
    http.get(open_host.url + "/api/greet/logcheck?code=query-secret-value")
    log = open_host.wait_log("greet GET 200")
    assert "query-secret-value" not in log
    assert "logcheck" not in log  # paths can carry tokens too


def test_status_endpoint(open_host: RunningHost, http: requests.Session) -> None:
    resp = http.get(open_host.url + "/admin/host/status")
    assert resp.status_code == 200
    status = resp.json()
    assert status["state"] == "Running"
    names = {f["name"] for f in status["functions"]}
    assert {"greet", "items", "tick", "boot"} <= names
    assert status["errors"] == []
    assert http.get(open_host.url + "/admin/host/ping").status_code == 200
    assert json.dumps(status).find("file-value") == -1  # settings values are not shown
