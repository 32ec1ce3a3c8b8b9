"""The one interface every digest source implements, and the result it hands to the run loop.

A feed only gathers: it reads what is new since the subscription's cursor and returns the cursor
to store *after* delivery. It never writes the cursor itself, so a failed delivery repeats the
same content next time instead of losing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from shared.digest.schedule import ScheduleLike
    from shared.store import Store

DEFAULT_MAX_ITEMS = 10
SEEN_LIMIT = 500


class SubscriptionLike(Protocol):
    """What feeds read of shared.store.models.Subscription."""

    id: str
    channel: str
    target: str
    settings: dict[str, Any]
    cursor: dict[str, Any]
    post_empty: bool

    @property
    def source(self) -> str: ...

    @property
    def schedule(self) -> ScheduleLike: ...


class FeedError(Exception):
    """The source failed (unreachable, bad data); the message is shown by `status`, so no secrets."""


@dataclass
class Entry:
    id: str
    title: str
    url: str | None = None
    summary: str | None = None
    published: datetime | None = None
    #: buffered events only: their severity and state (``shared.incoming.vocabulary``)
    severity: str | None = None
    state: str | None = None


@dataclass
class Gathered:
    """What a feed found: entries (newest first, capped), extra facts, and the cursor to commit."""

    source: str
    title: str
    entries: list[Entry] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    headline: str | None = None
    more: int = 0
    link: str | None = None
    cursor: dict[str, Any] = field(default_factory=dict)
    ack_event_ids: list[str] = field(default_factory=list)
    always_post: bool = False

    @property
    def empty(self) -> bool:
        return not self.entries and not self.facts and not self.always_post

    @property
    def count(self) -> int:
        return len(self.entries) + self.more


@dataclass
class FeedContext:
    """Things a feed may use: the store (events, geocoding memo) and the run's clock."""

    store: Store
    now: datetime


class Feed:
    """Base class: subclasses set `source` and implement `gather`."""

    source: ClassVar[str] = ""

    def gather(self, sub: SubscriptionLike, ctx: FeedContext) -> Gathered:
        raise NotImplementedError

    @staticmethod
    def max_items(sub: SubscriptionLike) -> int:
        raw = (sub.settings or {}).get("max_items", DEFAULT_MAX_ITEMS)
        try:
            value = int(raw)
        except (TypeError, ValueError):
            return DEFAULT_MAX_ITEMS
        return max(1, min(value, 50))


def remember(seen: list[str], new_ids: list[str], limit: int = SEEN_LIMIT) -> list[str]:
    """Bounded memory of ids already shown: newest ids first, old ones dropped past `limit`."""
    out: list[str] = []
    marks: set[str] = set()
    for item in [*new_ids, *seen]:
        if item not in marks:
            marks.add(item)
            out.append(item)
        if len(out) >= limit:
            break
    return out


def short_text(value: Any, limit: int) -> str | None:
    """Plain one-line text for a card: whitespace collapsed, cut at `limit`; None for non-scalars."""
    if value is None or isinstance(value, dict | list):
        return None
    # Cut first (a few times the limit, for collapsed whitespace): the text may be megabytes.
    text = " ".join(str(value)[: limit * 8].split())
    return text[: limit - 1] + "…" if len(text) > limit else text or None


def parse_time(value: Any) -> datetime | None:
    """A timestamp from source data (ISO 8601 or epoch seconds/ms) in UTC; None when unreadable."""
    try:
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if value > 1e11 else value  # epoch ms or s
            parsed = datetime.fromtimestamp(seconds, UTC)
        elif isinstance(value, str) and value:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def feed_for(source: str) -> Feed:
    """The feed for a subscription's source (``shared.digest.feeds.REGISTRY``), imported on first
    use: feedparser only for RSS."""
    from shared.digest import feeds
    from shared.plugins import UnknownKind

    try:
        return feeds.REGISTRY.get(source)
    except UnknownKind:
        expected = ", ".join(feeds.kinds())
        raise FeedError(f"unknown source {source!r}; expected one of {expected}") from None
