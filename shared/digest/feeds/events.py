"""Events buffered by incoming_proxy for a subscription: drained in order, removed after delivery.

The digest groups them by what happened ("12 events: 9 resolved, 3 still firing") because a
channel wants the overnight picture, not a replay of every alert. Each event carries a severity
and a state in the fixed vocabularies of ``shared.incoming.vocabulary``; events buffered before
those existed carry one ``status`` and are read through ``from_old_status``.
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
from shared.incoming.vocabulary import (
    NEEDS_ATTENTION,
    STATES,
    Severity,
    State,
    from_old_status,
    severity_of,
    state_of,
)

DRAIN_LIMIT = 500


def kind_of(data: dict[str, Any]) -> tuple[Severity, State | None]:
    """An event's severity and state, also for rows buffered with the old single ``status`` key."""
    if "severity" in data or "state" in data:
        return severity_of(data.get("severity")), state_of(data.get("state"))
    return from_old_status(data.get("status"))


def _headline(kinds: Counter[tuple[Severity, State | None]], total: int) -> str:
    """ "12 events: 9 resolved, 3 still firing, 1 failed, 2 need attention, 4 other"."""
    states: Counter[State] = Counter()
    attention = calm = 0
    for (severity, state), n in kinds.items():
        if state is not None:
            states[state] += n
        elif severity in NEEDS_ATTENTION:
            attention += n
        else:
            calm += n
    noun = "event" if total == 1 else "events"
    parts: list[str] = []
    if states["resolved"]:
        parts.append(f"{states['resolved']} resolved")
    if states["firing"]:
        parts.append(f"{states['firing']} still firing")
    others = sorted(
        (s for s in states if s not in ("resolved", "firing")), key=lambda s: (-states[s], STATES.index(s))
    )
    parts.extend(f"{states[s]} {s}" for s in others)
    if attention:
        parts.append(f"{attention} need attention")
    if calm and parts:
        parts.append(f"{calm} other")
    return f"{total} {noun}: " + ", ".join(parts) if parts else f"{total} {noun}"


class EventsFeed(Feed):
    source = "events"

    def gather(self, sub: SubscriptionLike, ctx: FeedContext) -> Gathered:
        try:
            events = list(ctx.store.events.pending(sub.id, DRAIN_LIMIT))
        except Exception as exc:  # store errors are already safe to show
            raise FeedError(f"cannot read buffered events ({type(exc).__name__})") from None
        kinds: Counter[tuple[Severity, State | None]] = Counter()
        entries: list[Entry] = []
        for event in events:
            data = dict(getattr(event, "data", {}) or {})
            severity, state = kind_of(data)
            kinds[severity, state] += 1
            title = short_text(data.get("title"), 200)
            entries.append(
                Entry(
                    id=str(event.id),
                    title=title or short_text(data.get("text"), 200) or "(no title)",
                    url=http_url(data.get("url")),
                    summary=short_text(data.get("text"), 280) if title else None,
                    published=parse_time(data.get("time")) or getattr(event, "created", None),
                    severity=severity,
                    state=state,
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
            headline=_headline(kinds, len(entries)) if entries else None,
            cursor=dict(sub.cursor or {}),
            ack_event_ids=[str(e.id) for e in events],
        )


FEEDS = {"events": EventsFeed()}
