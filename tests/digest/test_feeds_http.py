"""Feed fetching over real loopback HTTP: redirects, size cap, fetch rules applied per hop."""

from __future__ import annotations

import pytest

from shared.digest.fetch import FetchError, fetch
from tests.conftest import unique
from tools import feed_stub
from tools.feed_stub import FeedStub


def test_redirect_to_metadata_is_refused(digest_env: FeedStub) -> None:
    url = digest_env.redirect(unique("r"), "http://169.254.169.254/latest/meta-data/")
    with pytest.raises(FetchError, match="link-local"):
        fetch(url)


def test_redirect_to_other_scheme_is_refused(digest_env: FeedStub) -> None:
    url = digest_env.redirect(unique("r"), "file:///etc/passwd")
    with pytest.raises(FetchError, match="http or https"):
        fetch(url)


def test_redirect_followed_within_limit(digest_env: FeedStub) -> None:
    target = digest_env.put(unique("t"), feed_stub.rss("T", []))
    url = digest_env.redirect(unique("r"), target)
    assert fetch(url).status == 200


def test_size_cap(digest_env: FeedStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDS_MAX_BYTES", "1000")
    url = digest_env.put(unique("big"), "x" * 5000, "text/plain")
    with pytest.raises(FetchError, match="could not be read") as caught:
        fetch(url)
    assert "larger than 1000" in caught.value.detail  # loopback: the reason is for logs only


def test_conditional_get_answers_304(digest_env: FeedStub) -> None:
    url = digest_env.put(unique("c"), feed_stub.rss("C", []))
    first = fetch(url)
    again = fetch(url, headers={"If-None-Match": first.header("etag") or ""})
    assert again.status == 304 and again.body == b""
    by_date = fetch(url, headers={"If-Modified-Since": first.header("last-modified") or ""})
    assert by_date.status == 304


def test_a_stalling_server_is_cut_off(digest_env: FeedStub, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("FEEDS_TIMEOUT_SECONDS", "1")
    url = digest_env.drip(unique("slow"), size=40, interval=0.2)  # each read is quick, the whole is 8 s
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch(url)
    assert "took longer than 1 s" in caught.value.detail
    assert time.monotonic() - started < 3
