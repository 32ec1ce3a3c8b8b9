"""Outbound HTTP for feeds: user-given URLs, so every request is bounded and SSRF-checked.

- only http/https; redirects are followed by hand (at most FEEDS_MAX_REDIRECTS) and each hop is
  checked again;
- the host's addresses must be public: link-local (169.254/16, cloud metadata), private,
  reserved, multicast and Azure's 168.63.129.16 are refused; loopback only with
  FEEDS_ALLOW_LOOPBACK=true (tests and the demo);
- a connect/read timeout (FEEDS_TIMEOUT_SECONDS) that also bounds each whole response (a server
  dripping bytes is cut off), and a size cap (FEEDS_MAX_BYTES) on bodies.
- each hop resolves its host once, checks every address, and connects only to those addresses
  (`_PinnedAdapter`: the Host header, TLS SNI and certificate check still use the name), so a DNS
  answer that changes between the check and the connection (rebinding) is never used;
- IPv4 carried in IPv6 (IPv4-mapped `::ffff:0:0/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is
  checked as the IPv4 it carries;
- errors for a target that is not public (loopback, allowed for tests) all read the same, so the
  fetcher cannot be used to tell closed ports from open ones (`detail` keeps the reason for logs).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit, urlunsplit

from shared import settings

if TYPE_CHECKING:
    import requests

USER_AGENT = "teams-connect-digest/0.1 (+https://learn.microsoft.com/microsoftteams/)"
# Addresses that are "global" by the ipaddress rules yet must never be fetched.
_BLOCKED_EXTRA = (
    ipaddress.ip_network("168.63.129.16/32"),  # Azure wire server / DNS
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba metadata
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS metadata (IPv6)
)


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class FetchError(Exception):
    """A feed could not be fetched; the message is safe to show (no query strings, no secrets).

    `detail` is the precise reason, for logs; for a target that is not public the message is one
    neutral text, so it says nothing about what listens there.
    """

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail or message


@dataclass
class Fetched:
    status: int
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def feed_url(text: str) -> str | None:
    """A feed URL as a person gave it (the bot, the admin CLI), or None: http(s), a host, no
    spaces; Teams wraps a pasted link in <>. Only its form: `check_url` vets the addresses on
    every fetch (they may change after the subscription is made)."""
    url = text.strip().strip("<>")
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        return None
    return url


def safe_url(url: str) -> str:
    """The URL without credentials, query or fragment, for errors and status lines."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def unwrap(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The IPv4 address an IPv6 one carries (IPv4-mapped, NAT64 64:ff9b::/96, 6to4), else itself."""
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return addr.ipv4_mapped
        if addr in _NAT64:
            return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if addr.sixtofour is not None:
            return addr.sixtofour
    return addr


def check_address(ip: str, *, allow_loopback: bool) -> None:
    """Refuse addresses a feed has no business on; FetchError names the rule."""
    addr = unwrap(ipaddress.ip_address(ip.split("%", 1)[0]))
    if isinstance(addr, ipaddress.IPv6Address) and addr in _NAT64_LOCAL:
        raise FetchError("private or reserved addresses are not allowed for feeds")
    if addr.is_loopback:
        if allow_loopback:
            return
        raise FetchError("loopback addresses are not allowed for feeds")
    if addr.is_link_local:
        raise FetchError("link-local addresses (cloud metadata) are not allowed for feeds")
    if any(addr in net for net in _BLOCKED_EXTRA):
        raise FetchError("platform addresses are not allowed for feeds")
    if addr.is_private or addr.is_reserved or addr.is_multicast or addr.is_unspecified or not addr.is_global:
        raise FetchError("private or reserved addresses are not allowed for feeds")


def check_url(url: str, *, allow_loopback: bool | None = None) -> list[tuple[str, int]]:
    """Scheme and resolved addresses of `url` must be acceptable (raises FetchError); returns the
    checked socket addresses, the only ones `fetch` then connects to."""
    if allow_loopback is None:
        allow_loopback = settings.feeds().allow_loopback
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError("the feed URL is not valid") from None
    if parts.scheme not in ("http", "https"):
        raise FetchError("feed URLs must use http or https")
    host = parts.hostname
    if not host:
        raise FetchError("the feed URL has no host")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"cannot resolve host {host!r}") from None
    checked: list[tuple[str, int]] = []
    for info in infos:
        address = str(info[4][0])
        check_address(address, allow_loopback=allow_loopback)
        if (address, port) not in checked:
            checked.append((address, port))
    if not checked:
        raise FetchError(f"cannot resolve host {host!r}")
    return checked


def is_public(addresses: list[tuple[str, int]]) -> bool:
    """Whether every address is a public one (not the loopback that tests allow)."""
    return all(unwrap(ipaddress.ip_address(a.split("%", 1)[0])).is_global for a, _ in addresses)


def _open_socket(address: tuple[str, int], timeout: float | None) -> socket.socket:
    """Connect to one checked address (its own function so tests can see where we connect)."""
    return socket.create_connection(address, timeout)


def _connect_checked(host: str, port: int, timeout: float | None) -> socket.socket:
    """A socket to one of the addresses `fetch` checked for this host and port; never a new lookup."""
    pinned: dict[tuple[str, int], list[tuple[str, int]]] = getattr(_local, "pinned", {})
    addresses = pinned.get((host.strip("[]").lower(), port))
    if not addresses:
        raise OSError(f"no checked address for {host}:{port}")
    last: OSError | None = None
    for address in addresses:
        try:
            return _open_socket(address, timeout)
        except OSError as exc:
            last = exc
    assert last is not None
    raise last


_local = threading.local()


def _pinned_adapter() -> requests.adapters.HTTPAdapter:
    """An adapter whose connections go to the checked addresses only (`_connect_checked`).

    Only where the socket connects changes: urllib3 still sends the name as Host, as TLS SNI and
    checks the certificate against it.
    """
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    def new_conn(conn: HTTPConnection) -> socket.socket:
        try:
            sock = _connect_checked(conn.host, conn.port or 0, conn.timeout)
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, f"connection to {conn.host} timed out") from exc
        except OSError as exc:
            raise NewConnectionError(conn, f"failed to connect: {type(exc).__name__}") from exc
        for option in conn.socket_options or ():
            sock.setsockopt(*option)
        return sock

    class CheckedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self)

    class CheckedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self)

    class CheckedHTTPPool(HTTPConnectionPool):
        ConnectionCls = CheckedHTTPConnection

    class CheckedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = CheckedHTTPSConnection

    class PinnedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: object, **kwargs: object) -> None:
            super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]
            self.poolmanager.pool_classes_by_scheme = {"http": CheckedHTTPPool, "https": CheckedHTTPSPool}

    return PinnedAdapter()


def _session() -> requests.Session:
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        import requests

        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        session.trust_env = False  # no proxies or .netrc from the environment
        adapter = _pinned_adapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _local.session = session
    return session


_NEUTRAL = "could not be read"


def _failed(url: str, detail: str, public: bool) -> FetchError:
    """The error for a failed hop: its reason for a public target, one neutral text otherwise."""
    return FetchError(detail if public else f"{safe_url(url)} {_NEUTRAL}", detail)


def fetch(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    accept: str = "*/*",
) -> Fetched:
    """GET `url` under the feed rules; 2xx and 304 are returned, anything else raises FetchError.

    Takes at most `worst_case_seconds()`.
    """
    import requests

    config = settings.feeds()
    timeout, max_bytes = config.timeout_seconds, config.max_bytes
    max_redirects, allow_loopback = config.max_redirects, config.allow_loopback
    request_headers = {"Accept": accept, **(headers or {})}
    current = url
    for _hop in range(max_redirects + 1):
        addresses = check_url(current, allow_loopback=allow_loopback)
        parts = urlsplit(current)
        host = (parts.hostname or "").lower()
        _local.pinned = {(host, parts.port or (443 if parts.scheme == "https" else 80)): addresses}
        public = is_public(addresses)
        try:
            response = _session().get(
                current,
                headers=request_headers,
                params=params,
                timeout=(min(timeout, 5.0), timeout),
                allow_redirects=False,
                stream=True,
            )
        except requests.Timeout:
            raise _failed(current, f"{safe_url(current)} timed out", public) from None
        except requests.RequestException as exc:
            raise _failed(
                current, f"{safe_url(current)} unreachable ({type(exc).__name__})", public
            ) from None
        with response:
            if response.is_redirect:
                current = urljoin(current, response.headers.get("location", ""))
                params = None  # already part of the URL we were redirected from
                continue
            if response.status_code != 304 and not 200 <= response.status_code < 300:
                raise _failed(current, f"{safe_url(current)} answered HTTP {response.status_code}", public)
            try:
                body = b"" if response.status_code == 304 else _body(response, current, max_bytes, timeout)
            except FetchError as exc:
                raise _failed(current, str(exc), public) from None
            return Fetched(
                status=response.status_code,
                url=current,
                headers={k.lower(): v for k, v in response.headers.items()},
                body=body,
            )
    raise FetchError(f"{safe_url(url)} redirected more than {max_redirects} times")


def worst_case_seconds() -> float:
    """The longest one `fetch` can take: every hop connects, waits for the answer, reads the body."""
    config = settings.feeds()
    timeout, hops = config.timeout_seconds, config.max_redirects + 1
    return hops * (min(timeout, 5.0) + 2 * timeout)


def _body(response: requests.Response, url: str, max_bytes: int, timeout: float) -> bytes:
    """The body under the size cap, read within `timeout` in all.

    The read timeout only bounds each socket read, so a server dripping a byte at a time could
    hold a worker for hours; a timer shuts the connection when the whole read takes too long.
    """
    import requests

    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{safe_url(url)} is larger than {max_bytes} bytes")
    cut_off = threading.Event()

    def stop() -> None:
        cut_off.set()
        # Closing the response does not wake a blocked read; shutting the socket down does.
        connection = getattr(response.raw, "connection", None) or getattr(response.raw, "_connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        response.close()

    watchdog = threading.Timer(timeout, stop)
    watchdog.daemon = True
    watchdog.start()
    body = bytearray()
    try:
        for chunk in response.iter_content(64 * 1024):
            body.extend(chunk)
            if len(body) > max_bytes:
                raise FetchError(f"{safe_url(url)} is larger than {max_bytes} bytes")
    except (requests.RequestException, OSError, ValueError, AttributeError) as exc:
        if cut_off.is_set():
            raise FetchError(f"{safe_url(url)} took longer than {timeout:g} s to answer") from None
        raise FetchError(f"{safe_url(url)} broke off ({type(exc).__name__})") from None
    finally:
        watchdog.cancel()
    if cut_off.is_set():
        raise FetchError(f"{safe_url(url)} took longer than {timeout:g} s to answer")
    return bytes(body)
