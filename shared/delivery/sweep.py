"""The outbox sweep: retry what Teams has not accepted yet, and give up cleanly when it is hopeless.

The timer calls `sweep` every few minutes. Each due item is claimed (so two sweeps never post the
same item), checked against its idempotency key (an item whose acceptance is recorded is removed
without posting: that is how a crash between "accepted" and "removed" is healed), posted once, and
then removed, rescheduled with exponential backoff and full jitter (never earlier than a
Retry-After or the rate limiter allow), split when Teams says it is too large, or turned into a dead
letter with its reason after `DELIVERY_MAX_ATTEMPTS` attempts or `DELIVERY_MAX_AGE_SECONDS` (24 h).
Parts of one message go out in order: a later part waits while an earlier one is still queued.

At-least-once, like the inline path: a post whose answer is lost (timeout, dropped connection, a
crash before the acceptance is recorded) is posted again on a later sweep, so Teams may show it
twice; once acceptance is recorded, never again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.cards.limits import CardRuleError
from shared.delivery import allowlist
from shared.delivery import transport as transports
from shared.delivery.classify import Kind
from shared.delivery.config import Config
from shared.delivery.handoff import outbox_item
from shared.delivery.parts import Part, in_workflows_form, part_order, split_part
from shared.delivery.ratelimit import LIMITER, windows_for
from shared.delivery.records import PartRecords, is_accepted, parse_item_key, split_count
from shared.delivery.retry import retry_delay

if TYPE_CHECKING:
    from shared.delivery.transport import Transport
    from shared.store import Store
    from shared.store.models import OutboxItem

log = logging.getLogger("shared.delivery")

SWEEP_BASE_SECONDS = 30.0
SWEEP_CAP_SECONDS = 3600.0
DUE_LIMIT = 200


@dataclass
class SweepStats:
    sent: int = 0
    requeued: int = 0
    dead: int = 0
    skipped: int = 0


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _dead(store: Store, item: OutboxItem, reason: str, stats: SweepStats) -> None:
    store.outbox.dead_letter(item, reason)
    stats.dead += 1
    store.deliveries.record_later(item.channel, False, f"dead: {reason}")
    log.warning("outbox item %s for channel %s is a dead letter: %s", item.id, item.channel, reason)


def sweep(
    store: Store,
    now: datetime | None = None,
    budget_seconds: float = 20.0,
    *,
    transport: Transport | None = None,
) -> SweepStats:
    """Retry due outbox items within `budget_seconds`; returns what happened to them.

    `transport`: how to reach Teams (default `transport.default()`).
    """
    cfg = Config.load()
    via = transport or transports.default()
    now = _utc(now)
    started = time.monotonic()
    stats = SweepStats()
    items = [item for item in store.outbox.due(now, DUE_LIMIT) if not getattr(item, "dead", False)]
    items.sort(
        key=lambda it: (
            _utc(it.created),
            parse_item_key(it.idempotency_key)[0],
            part_order(parse_item_key(it.idempotency_key)[1]),
        )
    )
    held: set[tuple[str, str]] = set()
    for index, item in enumerate(items):
        if time.monotonic() - started >= budget_seconds:
            stats.skipped += len(items) - index
            break
        group = (item.channel, parse_item_key(item.idempotency_key)[0])
        if group in held:
            stats.skipped += 1
            continue
        lease = now + timedelta(seconds=max(60.0, 3 * cfg.timeout))
        claimed = store.outbox.claim(item, lease)
        if claimed is None:
            stats.skipped += 1
            held.add(group)
            continue
        done = _sweep_one(store, claimed, now, cfg, stats, via)
        if not done:
            held.add(group)
    if stats.sent or stats.dead or stats.requeued:
        log.info(
            "outbox sweep: %d sent, %d requeued, %d dead, %d skipped",
            stats.sent,
            stats.requeued,
            stats.dead,
            stats.skipped,
        )
    return stats


def _reschedule(store: Store, item: OutboxItem, now: datetime, wait: float, error: str) -> None:
    store.outbox.reschedule(item, now + timedelta(seconds=max(1.0, wait)), error)


def _sweep_one(
    store: Store, item: OutboxItem, now: datetime, cfg: Config, stats: SweepStats, transport: Transport
) -> bool:
    """Handle one claimed item; True when later parts of the same message may go on."""
    from shared.store.errors import NotFound

    key, number = parse_item_key(item.idempotency_key)
    # A requeued dead letter counts its age from the requeue (store.outbox.requeue sets it).
    age = (now - _utc(item.requeued_at or item.created)).total_seconds()
    # Every item gets one attempt before the age rule: split pieces inherit their parent's
    # `created`, and waits for the rate limiter are not attempts.
    if item.attempts >= cfg.max_attempts or (item.attempts > 0 and age >= cfg.max_age_seconds):
        why = f"{item.attempts} attempts" if item.attempts >= cfg.max_attempts else f"{age / 3600:.0f} h"
        _dead(store, item, f"gave up after {why}; last error: {item.last_error or 'none'}", stats)
        return True

    try:
        channel = store.channels.get(item.channel)
    except NotFound:
        channel = None
    if channel is None:
        _dead(store, item, f"the channel {item.channel!r} no longer exists", stats)
        return True
    url: str = channel.url
    try:
        allowlist.check_destination(url)
    except allowlist.DestinationNotAllowed as exc:
        _dead(store, item, f"destination refused: {exc}", stats)
        return True

    records = PartRecords(store, item.channel, key)
    done = records.find(number)
    if is_accepted(done):
        store.outbox.complete(item)
        stats.skipped += 1
        return True
    if split_count(done):
        # Split by a run that may have died before sending or queueing every piece: queue the
        # pieces nobody recorded (a piece queued twice is still posted once: its own record).
        created = _utc(item.created)
        for piece in split_part(Part(number, item.message.encode("utf-8")), cfg.max_bytes) or []:
            record = records.find(piece.number)
            if not (is_accepted(record) or split_count(record)):
                store.outbox.add(outbox_item(item.channel, key, piece, now, "split earlier", created))
        store.outbox.complete(item)
        stats.requeued += 1
        return False

    try:
        body = in_workflows_form(item.message.encode("utf-8"))
    except CardRuleError as exc:
        _dead(store, item, f"the card cannot be sent: {str(exc)[:200]}", stats)
        return True

    wait = LIMITER.acquire(url, windows_for(allowlist.is_legacy(url)))
    if wait > 0:
        # Not an attempt: the item keeps its count and comes back when the destination has room.
        # (a second claim moves next_attempt; reschedule would count an attempt).
        store.outbox.claim(item, now + timedelta(seconds=max(1.0, wait)))
        stats.skipped += 1
        return False

    lease = int(max(60.0, 3 * cfg.timeout))
    claim = records.claim(number, lease)
    if not claim.held:
        if is_accepted(claim.holder):  # accepted since the check above
            store.outbox.complete(item)
            stats.skipped += 1
            return True
        stats.skipped += 1
        return False
    answer = transport.post(url, body, cfg.timeout, cfg.connect_timeout)
    if answer.kind is Kind.ACCEPTED:
        records.accepted(number, answer)  # before removing the item: a crash in between is healed above
        store.outbox.complete(item)
        stats.sent += 1
        store.deliveries.record_later(item.channel, True, f"accepted from the outbox (part {number})")
        return True
    if answer.kind is Kind.TOO_LARGE:
        smaller = split_part(Part(number, item.message.encode("utf-8")), cfg.max_bytes)
        if smaller is not None:
            created = _utc(item.created)  # the parent's: the pieces keep its place among the parts
            for piece in smaller:
                store.outbox.add(outbox_item(item.channel, key, piece, now, answer.reason, created))
            records.split(number, len(smaller))  # before removing the item, as for an acceptance
            store.outbox.complete(item)
            stats.requeued += 1
            return False
    records.release(number)

    if answer.kind is Kind.PERMANENT:
        _dead(store, item, answer.reason, stats)
        return True
    if answer.kind is Kind.TOO_LARGE:
        _dead(store, item, f"too large for Teams and cannot be split further ({answer.reason})", stats)
        return True

    attempts = item.attempts + 1
    if attempts >= cfg.max_attempts:
        _dead(store, item, f"gave up after {attempts} attempts; last error: {answer.reason}", stats)
        return True
    delay = retry_delay(url, answer, attempts, SWEEP_BASE_SECONDS, SWEEP_CAP_SECONDS)
    _reschedule(store, item, now, delay, answer.reason)
    stats.requeued += 1
    return False
