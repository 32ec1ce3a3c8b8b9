"""Keep-alive HTTP/1.1 connections on http.client: the pool behind table calls and Teams posts.

requests and urllib3 cost about 1 ms of CPU per request on top of http.client, and an incoming
post makes three (two table calls and the post to Teams): most of its CPU time. Both paths need
little of what requests adds: no redirects (the delivery never follows one, the Table SDK handles
its own), no cookies, no proxies from the environment, no content decoding.

Callers tell the phases apart, because the difference matters to them: an error from `checkout`
means no connection was made (the server never saw the request); an error from `exchange` means
the request may have reached it (or failed as it went out), and `BrokenBody` that its answer's
status and headers arrived but the body did not.
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
from urllib.parse import urlsplit

Origin = tuple[str, str, int]


class BrokenBody(OSError):
    """The answer's status line and headers arrived, then its body broke off (`cause`)."""

    def __init__(self, status: int, headers: http.client.HTTPMessage, cause: BaseException) -> None:
        super().__init__(f"HTTP {status}: the body broke off ({type(cause).__name__})")
        self.status = status
        self.headers = headers
        self.cause = cause


def split_url(url: str) -> tuple[Origin, str]:
    """(scheme, host, port) and the request target (path and query) of an http(s) URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise http.client.InvalidURL("not an http(s) URL with a host")
    port = parts.port or (443 if scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (scheme, parts.hostname, port), target


class Pool:
    """Idle connections per origin (at most `size` kept each); safe to share between threads."""

    def __init__(self, *, verify: bool | str = True, size: int = 32) -> None:
        self.verify = verify
        self.size = size
        self._idle: dict[Origin, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    def checkout(self, origin: Origin, connect_timeout: float) -> http.client.HTTPConnection:
        """A live idle connection, or a new one connected within `connect_timeout`.

        Raises OSError (TimeoutError for the timeout) when no connection can be made.
        """
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                pooled = idle.pop() if idle else None
            if pooled is None:
                break
            if not _closed_by_peer(pooled):
                return pooled
            pooled.close()
        scheme, host, port = origin
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=connect_timeout, context=self._context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        try:
            conn.connect()  # http.client sets TCP_NODELAY
        except BaseException:
            conn.close()
            raise
        return conn

    def exchange(
        self,
        origin: Origin,
        conn: http.client.HTTPConnection,
        method: str,
        target: str,
        body: bytes | None,
        headers: dict[str, str],
        read_timeout: float,
        limit: int | None = None,
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """Send one request and read the answer (at most `limit` bytes of body), then pool the connection.

        On any error the connection is closed and the error raised (OSError, TimeoutError,
        http.client.HTTPException; `BrokenBody` when only the body failed).
        """
        try:
            if conn.sock is not None:
                conn.sock.settimeout(read_timeout)
            try:
                conn.request(method, target, body=body, headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                # A server may answer before reading the whole body (a 413, a 429) and hang up:
                # its answer may still be there to read, as urllib3 does.
                pass
            response = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        try:
            content = response.read() if limit is None else response.read(limit)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise BrokenBody(response.status, response.msg, exc) from exc
        except BaseException:
            conn.close()
            raise
        if response.will_close or not response.isclosed():  # unread body left: not reusable
            conn.close()
        else:
            self._checkin(origin, conn)
        return response, content

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for conn in connections:
                conn.close()

    def _checkin(self, origin: Origin, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self.size:
                idle.append(conn)
                return
        conn.close()

    def _context(self) -> ssl.SSLContext:
        """TLS as requests does it: certifi's CA bundle unless a bundle (or no check) was configured."""
        if self._tls is None:
            if self.verify is False:
                context = ssl._create_unverified_context()  # noqa: S323 (only when explicitly configured)
            else:
                cafile = self.verify if isinstance(self.verify, str) else _certifi_bundle()
                context = ssl.create_default_context(cafile=cafile)
            self._tls = context
        return self._tls


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """An idle connection with something to read was closed (or broken) by the server.

    urllib3 checks the same before reusing a connection; without it every pooled connection would
    fail once after the server's keep-alive timeout.
    """
    sock = conn.sock
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):  # not limited to descriptors below 1024, as select() is
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _certifi_bundle() -> str | None:
    try:
        import certifi
    except ImportError:  # the system's store then
        return None
    return str(certifi.where())
