"""RSS and Atom feeds: conditional GET, new entries only (by id or link), newest first, capped.

The cursor keeps the validators (ETag, Last-Modified) and a bounded list of ids already shown;
it is committed only after delivery, so a failed post shows the same entries next time.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from shared.cards.links import http_url
from shared.digest.feeds.base import (
    Entry,
    Feed,
    FeedContext,
    FeedError,
    Gathered,
    SubscriptionLike,
    remember,
    short_text,
)
from shared.digest.fetch import FetchError, fetch, safe_url

ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"


#: Ids and links longer than this are remembered by their hash: the cursor keeps up to
#: SEEN_LIMIT of them and a table entity holds 1 MB.
MAX_ID_CHARS = 200
#: How much of a title or summary is looked at: a few times what is shown, since markup and
#: entities shrink. Cut before any regex, so a 2 MB title costs what a short one does.
SCAN_FACTOR = 8
# Linear patterns: a tag stops at the next `<` (no scan to the end of the text per `<`), and no
# two unbounded runs of the same characters meet.
_BLOCK_TAG_RE = re.compile(r"<\s*(?:/\s*)?(?:p|br|div|li|ul|ol|h[1-6]|tr|td|blockquote|hr)\b[^<>]*>", re.I)
_ANY_TAG_RE = re.compile(r"<[^<>]*>")


def _bounded_id(value: str) -> str:
    if len(value) <= MAX_ID_CHARS:
        return value
    return "sha1:" + hashlib.sha1(value.encode("utf-8", "replace"), usedforsecurity=False).hexdigest()


def _entry_id(raw: Any) -> str:
    for key in ("id", "guid", "link"):
        value = raw.get(key)
        if value:
            return _bounded_id(str(value))
    # No id and no link: fall back to the content, so the same entry is still recognised.
    basis = f"{raw.get('title', '')}|{raw.get('published', '')}|{raw.get('summary', '')}"
    return "sha1:" + hashlib.sha1(basis.encode("utf-8", "replace"), usedforsecurity=False).hexdigest()


def _published(raw: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = raw.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), UTC)
    return None


def _plain(text: str | None, limit: int = 280) -> str | None:
    """Feed summaries are HTML; Teams cards take Markdown, so keep a short plain-text excerpt."""
    if not text:
        return None
    import html

    text = str(text)[: limit * SCAN_FACTOR]
    # Block tags separate words; inline ones (<b>, <a>) sit inside them ("<b>2.4</b>." -> "2.4.").
    spaced = _BLOCK_TAG_RE.sub(" ", text)
    return short_text(html.unescape(_ANY_TAG_RE.sub("", spaced)), limit)


class RssFeed(Feed):
    source = "rss"

    def gather(self, sub: SubscriptionLike, ctx: FeedContext) -> Gathered:
        cursor = dict(sub.cursor or {})
        headers: dict[str, str] = {}
        if cursor.get("etag"):
            headers["If-None-Match"] = str(cursor["etag"])
        if cursor.get("modified"):
            headers["If-Modified-Since"] = str(cursor["modified"])
        title = str((sub.settings or {}).get("title") or "")
        try:
            got = fetch(sub.target, headers=headers, accept=ACCEPT)
        except FetchError as exc:
            raise FeedError(str(exc)) from None
        if got.status == 304:
            return Gathered(source=self.source, title=title or cursor.get("title") or "Feed", cursor=cursor)

        import feedparser  # deferred: ~100 ms, only runs that read RSS pay it

        parsed = feedparser.parse(got.body, response_headers=got.headers)
        if not parsed.entries and parsed.get("bozo"):
            raise FeedError(f"{safe_url(sub.target)} is not a readable RSS or Atom feed")
        seen = [str(x) for x in cursor.get("seen", [])]
        seen_set = set(seen)
        first_run = "seen" not in cursor
        entries: list[Entry] = []
        current_ids: list[str] = []
        for raw in parsed.entries:
            entry_id = _entry_id(raw)
            current_ids.append(entry_id)
            link = raw.get("link")
            if entry_id in seen_set or (link and _bounded_id(str(link)) in seen_set):
                continue
            entries.append(
                Entry(
                    id=entry_id,
                    title=_plain(raw.get("title"), 200) or "(untitled)",
                    url=http_url(link),
                    summary=_plain(raw.get("summary")),
                    published=_published(raw),
                )
            )
        epoch = datetime.min.replace(tzinfo=UTC)
        entries.sort(key=lambda e: e.published or epoch, reverse=True)
        cap = self.max_items(sub)
        feed_title = _plain(parsed.feed.get("title"), 120) or safe_url(sub.target)
        new_cursor = {
            **cursor,
            "seen": remember(seen, current_ids),
            "title": feed_title,
            "etag": got.header("etag"),
            "modified": got.header("last-modified"),
        }
        # First contact with a feed: show its latest entries, not its whole archive.
        shown = entries[:cap]
        return Gathered(
            source=self.source,
            title=title or feed_title,
            entries=shown,
            more=0 if first_run else max(0, len(entries) - cap),
            link=http_url(parsed.feed.get("link")),
            cursor={k: v for k, v in new_cursor.items() if v is not None},
        )


FEEDS = {"rss": RssFeed()}
