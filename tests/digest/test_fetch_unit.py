"""Feed HTTP rules (SSRF): which addresses and schemes a user-given feed URL may reach."""

from __future__ import annotations

import pytest

from shared.digest.fetch import FetchError, check_address, check_url, safe_url

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("ip", "rule"),
    [
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("168.63.129.16", "platform"),
        ("10.0.0.5", "private"),
        ("192.168.1.1", "private"),
        ("0.0.0.0", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
    ],
)
def test_blocked_addresses(ip: str, rule: str) -> None:
    with pytest.raises(FetchError, match=rule):
        check_address(ip, allow_loopback=False)


def test_loopback_only_when_allowed() -> None:
    check_address("127.0.0.1", allow_loopback=True)
    with pytest.raises(FetchError, match="link-local"):
        check_address("169.254.169.254", allow_loopback=True)
    check_address("93.184.215.14", allow_loopback=False)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x/", "ftp://example.org/", "http:///nohost"])
def test_only_http_urls(url: str) -> None:
    with pytest.raises(FetchError):
        check_url(url, allow_loopback=True)


def test_setting_controls_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEEDS_ALLOW_LOOPBACK", raising=False)
    with pytest.raises(FetchError, match="loopback"):
        check_url("http://127.0.0.1:1/feed")
    monkeypatch.setenv("FEEDS_ALLOW_LOOPBACK", "true")
    check_url("http://127.0.0.1:1/feed")


def test_safe_url_drops_credentials_and_query() -> None:
    assert safe_url("https://user:pw@example.org:8443/f.xml?token=abc#x") == "https://example.org:8443/f.xml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://example.org/feed.xml", "https://example.org/feed.xml"),
        (" <https://example.org/feed.xml> ", "https://example.org/feed.xml"),  # as Teams sends a link
        ("HTTP://example.org/x", "HTTP://example.org/x"),
        ("https://example.org/a b", None),
        ("https://", None),
        ("example.org/feed.xml", None),
        ("ftp://example.org/feed.xml", None),
        ("http://[oops/", None),
    ],
)
def test_feed_url_form(text: str, expected: str | None) -> None:
    from shared.digest.fetch import feed_url

    assert feed_url(text) == expected
