"""Issue 13 item 3: the fetcher connects only to the addresses it checked (no DNS rebinding), reads
IPv4 inside IPv6 as that IPv4, and words every failure on a non-public target the same."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from shared.digest import fetch as fetching
from shared.digest.fetch import FetchError, check_address, fetch
from tests.conftest import unique
from tools import feed_stub
from tools.feed_stub import FeedStub

PUBLIC = "93.184.215.14"  # never connected to: the tests stop every connection to it


@pytest.mark.unit
@pytest.mark.parametrize(
    "ip",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of the metadata address
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "::ffff:10.1.2.3",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "64:ff9b:1::a00:1",  # local-use NAT64
    ],
)
def test_ipv4_inside_ipv6_is_checked_as_ipv4(ip: str) -> None:
    with pytest.raises(FetchError, match="not allowed"):
        check_address(ip, allow_loopback=False)


@pytest.mark.unit
def test_public_ipv4_inside_ipv6_is_allowed() -> None:
    check_address("64:ff9b::5db8:d70e", allow_loopback=False)  # NAT64 of 93.184.215.14
    check_address("2002:5db8:d70e::1", allow_loopback=False)
    with pytest.raises(FetchError, match="loopback"):
        check_address("64:ff9b::7f00:1", allow_loopback=False)


def _resolver(monkeypatch: pytest.MonkeyPatch, name: str, answers: list[str]) -> list[str]:
    """getaddrinfo answering `answers` for `name` in turn (the last one from then on); returns the
    calls. Each test uses a name of its own, so no kept-alive connection answers for it."""
    real = socket.getaddrinfo
    calls: list[str] = []

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != name:
            return real(host, port, *args, **kwargs)
        address = answers[min(len(calls), len(answers) - 1)]
        calls.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return calls


def test_a_name_rebound_to_a_private_address_is_never_connected_to(
    digest_env: FeedStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked as public, then answering loopback: the only connection goes to the public one."""
    monkeypatch.setenv("FEEDS_ALLOW_LOOPBACK", "false")
    name = unique("rebind")
    digest_env.put(name, feed_stub.rss("Inside", []))
    before = digest_env.hits.get(f"/feeds/{name}", 0)
    host = unique("rebind") + ".test"
    calls = _resolver(monkeypatch, host, [PUBLIC, "127.0.0.1"])
    connected: list[tuple[str, int]] = []

    def no_network(address: tuple[str, int], timeout: float | None) -> socket.socket:
        connected.append(address)
        raise OSError("the test does not connect to public addresses")

    monkeypatch.setattr(fetching, "_open_socket", no_network, raising=False)
    with pytest.raises(FetchError):
        fetch(f"http://{host}:{digest_env.port}/feeds/{name}")
    assert connected == [(PUBLIC, digest_env.port)]
    assert calls == [PUBLIC]  # one lookup per hop: what was checked is what is used
    assert digest_env.hits.get(f"/feeds/{name}", 0) == before


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
    digest_env: FeedStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked 127.0.0.1, later answers 127.0.0.2 (where nothing listens): fetched from the first."""
    name = unique("pinned")
    digest_env.put(name, feed_stub.rss("Pinned", []))
    host = unique("pinned") + ".test"
    calls = _resolver(monkeypatch, host, ["127.0.0.1", "127.0.0.2"])
    got = fetch(f"http://{host}:{digest_env.port}/feeds/{name}")
    assert got.status == 200 and b"Pinned" in got.body
    assert calls == ["127.0.0.1"]
    assert digest_env.hosts[-1] == f"{host}:{digest_env.port}"


@pytest.mark.parametrize("kind", ["refused", "http-404", "http-500"])
def test_failures_on_a_non_public_target_read_the_same(digest_env: FeedStub, kind: str) -> None:
    if kind == "refused":
        url = "http://127.0.0.1:9/feed"
    else:
        url = digest_env.fail(unique("f"), status=int(kind[-3:]))
    with pytest.raises(FetchError) as caught:
        fetch(url)
    assert str(caught.value).endswith(" could not be read")
    assert "refused" not in str(caught.value) and "HTTP" not in str(caught.value)


def _tls_files(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for `name` it signed: (ca, cert, key) PEM files."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


class _TlsFeed:
    """An HTTPS server on 127.0.0.1 that serves one RSS document and notes the SNI it was sent."""

    def __init__(self, cert: Path, key: Path) -> None:
        import ssl
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.sni: list[str | None] = []
        self.hosts: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                owner.hosts.append(self.headers.get("Host", ""))
                body = feed_stub.rss("Over TLS", []).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda sock, name, ctx: owner.sni.append(name)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("certified", ["right", "wrong"])
def test_https_keeps_the_name_for_sni_and_the_certificate_check(
    digest_env: FeedStub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, certified: str
) -> None:
    """Pinned to 127.0.0.1, the TLS handshake still names the host and checks its certificate."""
    host = unique("tls") + ".test"
    ca, cert, key = _tls_files(tmp_path, host if certified == "right" else "someone-else.test")
    server = _TlsFeed(cert, key)
    try:
        calls = _resolver(monkeypatch, host, ["127.0.0.1", "127.0.0.2"])
        monkeypatch.setattr(fetching._session(), "verify", str(ca))
        url = f"https://{host}:{server.port}/feed.xml"
        if certified == "right":
            got = fetch(url)
            assert got.status == 200 and b"Over TLS" in got.body
            assert server.hosts == [f"{host}:{server.port}"]
        else:
            with pytest.raises(FetchError) as caught:
                fetch(url)
            assert "SSLError" in caught.value.detail and server.hosts == []
        assert server.sni and set(server.sni) == {host} and calls == ["127.0.0.1"]
    finally:
        server.close()
