"""The keep-alive pool behind table calls and Teams posts, against real servers on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from shared.connections import BrokenBody, Pool, split_url

pytestmark = pytest.mark.unit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: ClassVar[set[int]] = set()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        Handler.connections.add(id(self.connection))
        if self.path in ("/broken", "/throttled"):  # promises 100 bytes, sends 5, hangs up
            self.send_response(202 if self.path == "/broken" else 429)
            self.send_header("Retry-After", "7")
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"hello")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    Handler.connections = set()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def post(pool: Pool, port: int, path: str = "/") -> bytes:
    origin, target = split_url(f"http://127.0.0.1:{port}{path}")
    conn = pool.checkout(origin, 2.0)
    _, body = pool.exchange(origin, conn, "POST", target, b"{}", {"Content-Type": "application/json"}, 2.0)
    return body


def test_connections_are_reused(server: ThreadingHTTPServer) -> None:
    pool = Pool()
    for _ in range(5):
        assert post(pool, server.server_port) == b"ok"
    assert len(Handler.connections) == 1
    pool.close()


def test_a_connection_the_server_closed_while_idle_is_replaced(server: ThreadingHTTPServer) -> None:
    pool = Pool()
    assert post(pool, server.server_port) == b"ok"
    origin, _ = split_url(f"http://127.0.0.1:{server.server_port}/")
    [idle] = pool._idle[origin]
    assert idle.sock is not None
    idle.sock.shutdown(socket.SHUT_WR)  # what a server's keep-alive timeout looks like from here
    time.sleep(0.1)
    assert post(pool, server.server_port) == b"ok"  # no error: a fresh connection was made
    pool.close()


def test_a_body_that_breaks_off_keeps_the_status() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with pytest.raises(BrokenBody) as caught:
            post(Pool(), httpd.server_port, "/broken")
        assert caught.value.status == 202
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_teams_answers_whose_body_breaks_off_are_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.delivery.classify import Kind
    from shared.delivery.transport import HTTP

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_port}"
    try:
        accepted = HTTP.post(f"{base}/broken", b"{}", 2.0)
        throttled = HTTP.post(f"{base}/throttled", b"{}", 2.0)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert accepted.kind is Kind.ACCEPTED and accepted.status == 202
    assert throttled.kind is Kind.THROTTLED and throttled.retry_after == 7.0


def test_nothing_listening_fails_at_checkout() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    origin, _ = split_url(f"http://127.0.0.1:{port}/")
    with pytest.raises(ConnectionRefusedError):
        Pool().checkout(origin, 1.0)


def test_only_http_urls_with_a_host() -> None:
    assert split_url("https://example.com/a?b=1") == (("https", "example.com", 443), "/a?b=1")
    assert split_url("http://127.0.0.1:8080") == (("http", "127.0.0.1", 8080), "/")
    for bad in ("ftp://example.com/", "http:///path", "not a url"):
        with pytest.raises(Exception, match="http"):
            split_url(bad)
