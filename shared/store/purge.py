"""What grows without bound unless something removes it, removed: the timer's purge, and the
removal of a subscription with its buffered events.

Each timer run (`scheduled_connector`) deletes at most `RETENTION_PURGE_PER_RUN` rows of each kind
and reads a bounded slice of each table (walking on from where the last run stopped: the cursors
are the dedupe record `purge`/`cursors`), and stops at its time budget; what is left waits for
the next run:

- idempotency keys (`dedupe`: incoming dedupe, the bot's replay guard, delivery part records)
  expired longer than `RETENTION_EXPIRED_KEYS_HOURS` ago (an expired key is already free to be
  taken over, so removing it later changes nothing; each delete is conditional on its ETag; the
  table has no time order, so each run reads `RETENTION_PURGE_PER_RUN` records on from its cursor);
- delivery log rows older than `RETENTION_DELIVERY_LOG_DAYS`, also of channels removed since (a
  few channels a run, each one range read of its old rows);
- buffered events: partitions whose subscription is gone (removed while a post was arriving,
  or more than a removal deletes inline), and events older than `RETENTION_EVENTS_DAYS` (a
  paused subscription that keeps receiving). Partitions are visited a few per run with a skip
  scan from a cursor, so the cost does not grow with the events stored.

Not purged, on purpose: outbox dead letters (an operator must see them: `admin dead-letters`),
subscriptions, channels, routes and teams (operators' records).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import settings
from shared.store.errors import StoreError, StoreUnavailable
from shared.store.keys import escape, unescape

if TYPE_CHECKING:
    from shared.store.models import Subscription
    from shared.store.root import Store

log = logging.getLogger(__name__)

#: events a removal deletes before it answers (the bot answers within Teams' 5 s); the purge
#: takes any rest, since the partition then has no subscription
INLINE_EVENTS = 500
#: event partitions (subscriptions) the purge looks at per run
PARTITIONS_PER_RUN = 50
_CURSOR_SCOPE, _CURSOR_KEY = "purge", "cursors"


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
    try:
        cursors = _read_cursors(store)
    except StoreError as exc:
        stats.failed = f"cursors: {type(exc).__name__}"
        return stats
    keys_before = now - timedelta(hours=config.expired_keys_hours)
    log_before = now - timedelta(days=config.delivery_log_days)
    events_before = now - timedelta(days=config.events_days)

    def keys() -> int:
        after = cursors.get("keys") or ["", ""]
        deleted, last = store.dedupe.purge_expired(
            keys_before, config.per_run, (str(after[0]), str(after[1]))
        )
        cursors["keys"] = list(last) if last else ["", ""]
        return deleted

    def deliveries() -> int:
        def one(key: str, left: int) -> int:
            return store.deliveries.purge_before(key, log_before, left)

        return _partitions(
            store.deliveries.channels_after, one, cursors, "deliveries", config.per_run, deadline
        )

    def events() -> int:
        def one(key: str, left: int) -> int:
            sub_id = unescape(key)
            stats.partitions += 1
            if store.subscriptions.find(sub_id) is None:
                return store.events.remove_all(sub_id, limit=left)
            return store.events.remove_before(sub_id, events_before, left)

        def after(key: str, limit: int) -> list[str]:
            return [escape(sub_id) for sub_id in store.events.subscriptions_after(key, limit)]

        return _partitions(after, one, cursors, "events", config.per_run, deadline)

    for name, step in (("keys", keys), ("deliveries", deliveries), ("events", events)):
        if time.monotonic() > deadline:
            break
        try:
            setattr(stats, name, step())
        except StoreUnavailable:
            stats.failed = f"{name}: storage unavailable"
            break
        except StoreError as exc:
            stats.failed = f"{name}: {type(exc).__name__}"
    try:
        _write_cursors(store, cursors, now)
    except StoreError as exc:
        stats.failed = stats.failed or f"cursors: {type(exc).__name__}"
    return stats


def _partitions(
    after: Callable[[str, int], list[str]],
    one: Callable[[str, int], int],
    cursors: dict[str, Any],
    name: str,
    limit: int,
    deadline: float,
) -> int:
    """Visit up to `PARTITIONS_PER_RUN` partitions from the cursor `name`, deleting at most `limit`
    rows in all; at the end of the table the cursor starts over."""
    keys = after(str(cursors.get(name) or ""), PARTITIONS_PER_RUN)
    removed = visited = 0
    for key in keys:
        if removed >= limit or time.monotonic() > deadline:
            break
        removed += one(key, limit - removed)
        visited += 1
        cursors[name] = key
    if visited == len(keys) and len(keys) < PARTITIONS_PER_RUN:
        cursors[name] = ""  # the end of the table: the next run starts over
    return removed


def _read_cursors(store: Store) -> dict[str, Any]:
    record = store.dedupe.read(_CURSOR_SCOPE, _CURSOR_KEY)
    return dict(record.data or {}) if record else {}


def _write_cursors(store: Store, cursors: dict[str, Any], now: datetime) -> None:
    from shared.store.models import DedupeRecord, KeyStatus

    record = DedupeRecord(
        scope=_CURSOR_SCOPE,
        key=_CURSOR_KEY,
        status=KeyStatus.COMPLETED,
        expires=now + timedelta(days=3650),  # never expires: the purge keeps its own place
        data=cursors,
    )
    store.dedupe.write(record)


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
