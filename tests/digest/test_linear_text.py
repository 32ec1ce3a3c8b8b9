"""Feed text is outside text: a title of megabytes of markup must cost what a short one does.

Each test uses an input on which the old patterns (`<[^>]*>` and friends over the whole text)
took minutes to hours; the tight timeout is what fails them, the assertions check the result.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.digest import run as digest
from shared.digest.feeds import rss
from shared.digest.feeds.base import short_text
from shared.digest.feeds.rss import _entry_id, _plain
from tests.conftest import unique
from tests.digest.conftest import NOW, make_channel, make_sub
from tools.feed_stub import FeedStub


@pytest.mark.unit
@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("text", "starts"),
    [
        ("<" * 2_000_000, "<<<"),  # every `<` opened a scan to the end of the text
        ("<p" * 1_000_000, None),  # the block-tag pattern did the same from every `<p`
        ("<" + " " * 2_000_000 + "x", None),  # `\s*/?\s*`: two runs of blanks meeting
        ("<b>" + "x" * 2_000_000, "xxx"),
        ("&amp;" * 400_000, "&&&"),
    ],
)
def test_plain_text_of_pathological_html_is_bounded(text: str, starts: str | None) -> None:
    out = _plain(text, 200)
    assert out is None or len(out) <= 200
    if starts:
        assert out is not None and out.startswith(starts) and out.endswith("…")


@pytest.mark.unit
@pytest.mark.timeout(20)
def test_plain_text_keeps_the_usual_rendering() -> None:
    assert _plain("<p>Body of <b>post 3</b></p><p>Next</p>") == "Body of post 3 Next"
    assert _plain("< / p >a<br/>b") == "a b"
    assert short_text("a  " * 2_000_000, 10) == "a a a a a…"


@pytest.mark.unit
def test_long_entry_ids_are_remembered_by_hash() -> None:
    long_id = "urn:" + "x" * 5_000
    got = _entry_id({"id": long_id})
    assert got.startswith("sha1:") and len(got) <= rss.MAX_ID_CHARS
    assert got == _entry_id({"id": long_id})
    assert _entry_id({"id": "urn:post:1"}) == "urn:post:1"


def _rss_with_raw_title(title: str) -> bytes:
    """An RSS document whose item title is `title` as CDATA (so `<` stays `<`)."""
    item = f"<item><title><![CDATA[{title}]]></title><guid>urn:big:{'y' * 3000}</guid></item>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Big</title><link>https://example.org/</link>{item}</channel></rss>"
    ).encode()


@pytest.mark.timeout(20)
def test_digest_of_a_feed_with_a_huge_markup_title(store: Any, sink: Any, digest_env: FeedStub) -> None:
    """Over HTTP through the real run: fetched, parsed, posted, with the title cut short."""
    url = digest_env.put(unique("huge"), _rss_with_raw_title("<" * 600_000))
    ch = make_channel(store, sink)
    sub = make_sub(store, ch, "rss", url)
    stats = digest.run(store, now=NOW)
    assert stats.sent == 1, stats.as_dict()
    text = json.dumps(sink.messages(ch)[0]["attachments"][0]["content"], ensure_ascii=False)
    assert "<<<<" in text and "<" * 300 not in text
    seen = store.subscriptions.get(sub.id).cursor["seen"]
    assert len(seen) == 1 and len(seen[0]) <= rss.MAX_ID_CHARS  # the 3,000-character guid, hashed
