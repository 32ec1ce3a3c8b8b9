"""Parts that cannot go out now are handed to the store's outbox, for the sweep to retry.

Each part is its own outbox item, under the part's item key (`records.item_key`); `created` orders
the parts of a message, so the sweep posts them in order. Refused parts are kept as dead letters
(with the reason), so an operator can see why and requeue them after a fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.delivery.records import item_key

if TYPE_CHECKING:
    from shared.delivery.parts import Part
    from shared.store import Store
    from shared.store.models import OutboxItem, OutboxSummary


def outbox_item(
    channel: str,
    key: str,
    part: Part,
    next_attempt: datetime,
    error: str | None,
    created: datetime | None = None,
    origin: str | None = None,
    summary: OutboxSummary | None = None,
) -> OutboxItem:
    """An outbox item for one part; `created` (default now) orders the parts of a message.

    `summary` (default: read from the part's card) is what a combined card shows of it, so the
    sweep never parses cards; `origin` is the route (or digest) it came from.
    """
    from shared.delivery.coalesce import summarize
    from shared.store.models import OutboxItem

    return OutboxItem(
        channel=channel,
        message=part.text,
        idempotency_key=item_key(key, part.number),
        attempts=0,
        next_attempt=next_attempt,
        last_error=error,
        created=created or datetime.now(UTC),
        origin=origin,
        summary=summary or summarize(part.body),
    )


def queue_parts(
    store: Store,
    channel: str,
    key: str,
    parts: Iterable[Part],
    wait: float,
    error: str | None,
    origin: str | None = None,
) -> int:
    """Queue the parts, due in `wait` seconds; returns how many."""
    next_attempt = datetime.now(UTC) + timedelta(seconds=max(0.0, wait))
    count = 0
    for part in parts:
        store.outbox.add(outbox_item(channel, key, part, next_attempt, error, origin=origin))
        count += 1
    return count


def dead_letter_parts(store: Store, channel: str, key: str, parts: Iterable[Part], reason: str) -> int:
    """Keep refused parts as dead letters, so an operator can see the reason and requeue after a fix."""
    count = 0
    for part in parts:
        item = outbox_item(channel, key, part, datetime.now(UTC), reason)
        store.outbox.add(item.model_copy(update={"dead": True, "reason": reason[:1000]}))
        count += 1
    return count
