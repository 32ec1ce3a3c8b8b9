"""Command text is outside text: cleaning it stays linear in its length, whatever the markup."""

from __future__ import annotations

import pytest

from shared.outgoing.activity import clean_text

pytestmark = [pytest.mark.unit, pytest.mark.timeout(20)]


def test_unclosed_mentions_cost_one_bounded_scan_each() -> None:
    # The old `<at>(.*?)</at>` scanned to the end of the text from every `<at>`.
    assert clean_text("<at>" * 100_000) == ""
    assert clean_text("<at>Bot</at> status" + "<at>" * 100_000) == "status"


def test_unclosed_links_cost_one_bounded_scan_each() -> None:
    assert clean_text('<a href="x">' * 60_000) == ""
    assert clean_text('<a href="https://e.org/x">e.org/…</a>') == "https://e.org/x"


def test_mentions_and_links_still_read() -> None:
    text = '<at>Bot</at> subscribe rss <a href="https://e.org/feed">e.org</a> for <at>Ann Lee</at>'
    assert clean_text(text) == "subscribe rss https://e.org/feed for @Ann\u00a0Lee"
