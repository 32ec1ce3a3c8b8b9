"""A generic JSON endpoint mapped to digest entries by dotted field paths.

Settings: `items` (path to the list; empty = the document is the list) and `fields`, a mapping
of id/title/url/summary/time to paths inside each item. New entries are those whose id was not
shown before (bounded memory in the cursor, committed after delivery).
"""

from __future__ import annotations

import json
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
    parse_time,
    remember,
    short_text,
)
from shared.digest.fetch import FetchError, fetch, safe_url

DEFAULT_FIELDS = {"id": "id", "title": "title", "url": "url", "summary": "summary", "time": "time"}


def pluck(data: Any, path: str) -> Any:
    """Value at a dotted path ("data.items", "author.name", "tags.0"); None when absent."""
    current = data
    for part in [p for p in (path or "").split(".") if p]:
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else None
        else:
            return None
    return current


class JsonFeed(Feed):
    source = "json"

    def gather(self, sub: SubscriptionLike, ctx: FeedContext) -> Gathered:
        cfg = sub.settings or {}
        mapping = cfg.get("fields") or {}
        if not isinstance(mapping, dict):
            raise FeedError("the fields setting must map id, title, url, summary, time to paths")
        fields = {**DEFAULT_FIELDS, **{str(k): str(v) for k, v in mapping.items()}}
        try:
            got = fetch(sub.target, accept="application/json")
            data = json.loads(got.body)
        except FetchError as exc:
            raise FeedError(str(exc)) from None
        except ValueError:
            raise FeedError(f"{safe_url(sub.target)} did not answer JSON") from None
        items = pluck(data, str(cfg["items"])) if cfg.get("items") else data
        if not isinstance(items, list):
            raise FeedError(f"no list at {cfg.get('items') or 'the top level'!r} of the JSON answer")
        cursor = dict(sub.cursor or {})
        seen = [str(x) for x in cursor.get("seen", [])]
        seen_set = set(seen)
        entries: list[Entry] = []
        current: list[str] = []
        for item in items:
            title = short_text(pluck(item, fields["title"]), 200)
            raw_id = pluck(item, fields["id"])
            url = pluck(item, fields["url"])
            entry_id = str(raw_id if raw_id is not None else (url or title or ""))[:500]
            if not entry_id:
                continue
            current.append(entry_id)
            if entry_id in seen_set:
                continue
            entries.append(
                Entry(
                    id=entry_id,
                    title=title or entry_id,
                    url=http_url(url),
                    summary=short_text(pluck(item, fields["summary"]), 280),
                    published=parse_time(pluck(item, fields["time"])),
                )
            )
        epoch = datetime.min.replace(tzinfo=UTC)
        entries.sort(key=lambda e: e.published or epoch, reverse=True)
        cap = self.max_items(sub)
        return Gathered(
            source=self.source,
            title=str(cfg.get("title") or safe_url(sub.target)),
            entries=entries[:cap],
            more=max(0, len(entries) - cap),
            cursor={**cursor, "seen": remember(seen, current)},
        )


FEEDS = {"json": JsonFeed()}
