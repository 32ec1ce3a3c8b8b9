"""Events buffered by incoming_proxy for a subscription: drained in order, removed after delivery.

The digest groups them by status ("12 alerts: 9 resolved, 3 still firing") because a channel
wants the overnight picture, not a replay of every alert.
"""

from __future__ import annotations

from collections import Counter
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
    short_text,
)

DRAIN_LIMIT = 500
# Words incoming sources use for "over" vs "still needs attention".
_RESOLVED = {"resolved", "ok", "closed", "succeeded", "success", "completed", "merged", "good", "normal"}
_FIRING = {"firing", "alerting", "failed", "failure", "critical", "error", "attention", "warning", "active"}
_ALERT_WORDS = {"firing", "alerting", "resolved"}
_NEUTRAL = {"info", "default", "accent", "none", ""}


def _status_of(data: dict[str, Any]) -> str:
    raw = data.get("status") or data.get("state") or ""
    return (short_text(raw, 40) or "info").lower()


def _headline(statuses: Counter[str], total: int) -> str:
    """ "12 events: 9 resolved, 3 still firing" (alert words) or "... 3 need attention"."""
    resolved = sum(n for s, n in statuses.items() if s in _RESOLVED)
    firing = sum(n for s, n in statuses.items() if s in _FIRING)
    neutral = sum(n for s, n in statuses.items() if s in _NEUTRAL)
    noun = "event" if total == 1 else "events"
    parts: list[str] = []
    if resolved:
        parts.append(f"{resolved} resolved")
    if firing:
        alerting = any(s in _ALERT_WORDS for s in statuses)
        parts.append(f"{firing} still firing" if alerting else f"{firing} need attention")
    labels = Counter({s: n for s, n in statuses.items() if s not in _RESOLVED | _FIRING | _NEUTRAL})
    parts.extend(f"{n} {s}" for s, n in labels.most_common())
    if neutral and parts:
        parts.append(f"{neutral} other")
    return f"{total} {noun}: " + ", ".join(parts) if parts else f"{total} {noun}"


class EventsFeed(Feed):
    source = "events"

    def gather(self, sub: SubscriptionLike, ctx: FeedContext) -> Gathered:
        try:
            events = list(ctx.store.events.pending(sub.id, DRAIN_LIMIT))
        except Exception as exc:  # store errors are already safe to show
            raise FeedError(f"cannot read buffered events ({type(exc).__name__})") from None
        statuses: Counter[str] = Counter()
        entries: list[Entry] = []
        for event in events:
            data = dict(getattr(event, "data", {}) or {})
            status = _status_of(data)
            statuses[status] += 1
            title = short_text(data.get("title"), 200)
            entries.append(
                Entry(
                    id=str(event.id),
                    title=title or short_text(data.get("text"), 200) or "(no title)",
                    url=http_url(data.get("url")),
                    summary=short_text(data.get("text"), 280) if title else None,
                    published=parse_time(data.get("time")) or getattr(event, "created", None),
                    status=status,
                )
            )
        # Oldest first as buffered; show newest first, like every other digest.
        entries.reverse()
        cap = self.max_items(sub)
        return Gathered(
            source=self.source,
            title=str((sub.settings or {}).get("title") or f"Digest: {sub.target or 'events'}"),
            entries=entries[:cap],
            more=max(0, len(entries) - cap),
            headline=_headline(statuses, len(entries)) if entries else None,
            cursor=dict(sub.cursor or {}),
            ack_event_ids=[str(e.id) for e in events],
        )


FEEDS = {"events": EventsFeed()}
