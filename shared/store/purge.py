"""What grows without bound unless something removes it, removed: the timer's purge, and the
removal of a subscription with its buffered events.

Each timer run (`scheduled_connector`) deletes at most `RETENTION_PURGE_PER_RUN` rows of each kind
and stops at its time budget; what is left waits for the next run:

- idempotency keys (`dedupe`: incoming dedupe, the bot's replay guard, delivery part records)
  expired longer than `RETENTION_EXPIRED_KEYS_HOURS` ago (an expired key is already free to be
  taken over, so removing it later changes nothing; each delete is conditional on its ETag);
- delivery log rows older than `RETENTION_DELIVERY_LOG_DAYS`, also of channels removed since;
- buffered events: partitions whose subscription is gone (removed while a post was arriving,
  or more than a removal deletes inline), and events older than `RETENTION_EVENTS_DAYS` (a
  paused subscription that keeps receiving). Partitions are visited a few per run with a skip
  scan from a cursor kept in the dedupe table, so the cost does not grow with the events stored.

Not purged, on purpose: outbox dead letters (an operator must see them: `admin dead-letters`),
subscriptions, channels, routes and teams (operators' records).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared import settings
from shared.store.errors import StoreError, StoreUnavailable

if TYPE_CHECKING:
    from shared.store.models import Subscription
    from shared.store.root import Store

log = logging.getLogger(__name__)

#: events a removal deletes before it answers (the bot answers within Teams' 5 s); the purge
#: takes any rest, since the partition then has no subscription
INLINE_EVENTS = 500
#: event partitions (subscriptions) the purge looks at per run
PARTITIONS_PER_RUN = 50
_CURSOR_SCOPE, _CURSOR_KEY = "purge", "events-cursor"


@dataclass
class PurgeStats:
    keys: int = 0
    deliveries: int = 0
    events: int = 0
    partitions: int = 0
    failed: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def remove_subscription(store: Store, sub_id: str) -> Subscription:
    """Remove the subscription, then its buffered events (NotFound when there is none), so that
    nothing it buffered can reach another subscription. Events past `INLINE_EVENTS`, or one
    appended meanwhile, are the purge's: their partition no longer has a subscription."""
    sub = store.subscriptions.get(sub_id)
    store.subscriptions.remove(sub_id)
    try:
        store.events.remove_all(sub.id, limit=INLINE_EVENTS)
    except StoreError:
        log.warning("buffered events of a removed subscription left for the purge")
    return sub


def purge(store: Store, now: datetime | None = None, *, budget_seconds: float = 15.0) -> PurgeStats:
    """One bounded pass over everything with a retention (the module docstring); never raises
    for the store (a failure is noted in the stats and the next run carries on)."""
    config = settings.retention()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    deadline = time.monotonic() + budget_seconds
    stats = PurgeStats()
    keys_before = now - timedelta(hours=config.expired_keys_hours)
    log_before = now - timedelta(days=config.delivery_log_days)
    events_before = now - timedelta(days=config.events_days)
    steps = (
        ("keys", lambda: store.dedupe.purge_expired(keys_before, config.per_run)),
        ("deliveries", lambda: store.deliveries.purge_before(log_before, config.per_run)),
        ("events", lambda: _purge_events(store, now, events_before, config.per_run, deadline, stats)),
    )
    for name, step in steps:
        if time.monotonic() > deadline:
            break
        try:
            setattr(stats, name, step())
        except StoreUnavailable:
            stats.failed = f"{name}: storage unavailable"
            break
        except StoreError as exc:
            stats.failed = f"{name}: {type(exc).__name__}"
    return stats


#: the most a timer run spends purging, and what it leaves of host.json's functionTimeout
PURGE_SECONDS, TIMEOUT_MARGIN_SECONDS = 15.0, 30.0


def purge_default(after_seconds: float = 0.0) -> dict[str, object]:
    """`purge` on the app's store, for the timer, after `after_seconds` of digests: within what
    is left of the function's timeout; its stats as a dict (never raises)."""
    from shared.store import open_store

    limit = settings.function_timeout_seconds()
    budget = PURGE_SECONDS
    if limit is not None:
        budget = min(budget, limit - after_seconds - TIMEOUT_MARGIN_SECONDS)
    if budget < 1.0:
        return {"skipped": "no time left in this run"}
    try:
        return purge(open_store(), budget_seconds=budget).as_dict()
    except Exception as exc:
        return {"failed": type(exc).__name__}


def _purge_events(
    store: Store, now: datetime, before: datetime, limit: int, deadline: float, stats: PurgeStats
) -> int:
    from shared.store.keys import escape
    from shared.store.models import DedupeRecord, KeyStatus

    record = store.dedupe.read(_CURSOR_SCOPE, _CURSOR_KEY)
    after = str((record.data or {}).get("after", "")) if record else ""
    ids = store.events.subscriptions_after(after, PARTITIONS_PER_RUN)
    removed = 0
    for sub_id in ids:
        if removed >= limit or time.monotonic() > deadline:
            break
        stats.partitions += 1
        left = limit - removed
        if store.subscriptions.find(sub_id) is None:
            removed += store.events.remove_all(sub_id, limit=left)
        else:
            removed += store.events.remove_before(sub_id, before, left)
        after = escape(sub_id)
    if len(ids) < PARTITIONS_PER_RUN and stats.partitions == len(ids):
        after = ""  # the end of the table: the next run starts over
    store.dedupe.write(
        DedupeRecord(
            scope=_CURSOR_SCOPE,
            key=_CURSOR_KEY,
            status=KeyStatus.COMPLETED,
            expires=now + timedelta(days=3650),
            data={"after": after},
        )
    )
    return removed
