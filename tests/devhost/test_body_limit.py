"""Issue 13 item 4: the host refuses a body over FUNCTIONS_REQUEST_BODY_SIZE_LIMIT before reading it,
and the dev host does the same, answering a JSON 413 like the functions' own errors."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from shared import web
from tests.conftest import start_devhost
from tools import stack


@pytest.fixture(scope="module")
def small_host(devhost_settings: dict[str, str]) -> Iterator[str]:
    port = stack.free_port()
    process = start_devhost({**devhost_settings, "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "2000"}, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


def test_the_setting_is_just_above_our_own_limit() -> None:
    assert web.MAX_BODY_BYTES < web.HOST_BODY_LIMIT_BYTES <= web.MAX_BODY_BYTES + 128 * 1024


def test_the_dev_host_honours_the_setting(small_host: str) -> None:
    reply = requests.post(f"{small_host}/api/outgoing/team", data=b"x" * 3000, timeout=10)
    assert reply.status_code == 413
    assert reply.json()["error"] == "body too large" and "2000" in reply.json()["detail"]
    # Under the cap, the function itself answers (here: no such team).
    assert requests.post(f"{small_host}/api/outgoing/team", data=b"{}", timeout=10).status_code == 401


def test_a_chunked_body_is_cut_off_at_the_cap(small_host: str) -> None:
    reply = requests.post(f"{small_host}/api/incoming/r", data=_chunks(50_000, 1000), timeout=10)
    assert reply.status_code == 413 and reply.json()["error"] == "body too large"


def test_a_huge_declared_body_is_refused_before_it_is_sent(devhost: str) -> None:
    """100 MB declared, nothing sent: the answer comes from the headers alone."""
    host, port = devhost.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/outgoing/team HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 104857600\r\n\r\n"
        )
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    answer: Any = json.loads(body)
    assert answer["error"] == "body too large" and str(1024 * 1024 + 64 * 1024) in answer["detail"]
