"""The outbox sweep: send what waits as fast as the budgets allow, and give up cleanly when hopeless.

A timer (`outbox_sweep`, every 30 s by default; the digest timer sweeps briefly too) calls `sweep`.
Each round reads the due items (a page of `PAGE`, oldest first; rounds repeat until the run's time
is up, so no per-run item cap starves the queue), groups them by the connection of their channel
(`Channel.connection`) and drains the connections in parallel, each within its own budget
(`shared.delivery.budget`); items of legacy URLs, of channels gone and of refused destinations go
one by one, as before.

A connection with room for everything that waits gets each part posted on its own, in order. One
with less room than waiting parts is *short*: the sweep holds it (`Budget.hold`: other posts join
the outbox instead of taking the slots as they free) and shares the room fairly: digests and the
bot's own posts first (each keeps its own post: people wait for them), then a max-min fair share
per channel, oldest waiting first; a channel whose share is smaller than what waits posts as many
messages alone as it can (routes taking turns) and combines the rest into "N updates" cards
(`coalesce`), so every slot is used. A combined card counts as delivered only when Teams
accepts it: then every original part's record says accepted (so no retry posts it again) and its
item leaves the outbox. When no slot is free the round waits for the next one, up to the run's end.

Each item is claimed (so two sweeps never post the same item), checked against its idempotency key
(an item whose acceptance is recorded is removed without posting: that is how a crash between
"accepted" and "removed" is healed), posted once, and then removed, rescheduled with exponential
backoff and full jitter (never earlier than a Retry-After or the rate limiter allow), split when
Teams says it is too large, or turned into a dead letter with its reason after
`DELIVERY_MAX_ATTEMPTS` attempts or `DELIVERY_MAX_AGE_SECONDS` (24 h). Waiting for a budget is not
an attempt. Parts of one message go out in order: a later part waits while an earlier one is
still queued.

At-least-once, like the inline path: a post whose answer is lost (timeout, dropped connection, a
crash before the acceptance is recorded) is posted again on a later sweep, so Teams may show it
twice; once acceptance is recorded, never again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.cards.limits import CardRuleError
from shared.delivery import allowlist, budget
from shared.delivery import transport as transports
from shared.delivery.classify import Answer, Kind
from shared.delivery.client import PRIORITY_ORIGINS
from shared.delivery.coalesce import Entry, combined_cards
from shared.delivery.config import Config
from shared.delivery.handoff import outbox_item
from shared.delivery.parts import Part, in_workflows_form, part_order, split_part
from shared.delivery.ratelimit import LIMITER, windows_for
from shared.delivery.records import (
    PartRecords,
    accepted_all,
    is_accepted,
    parse_item_key,
    split_count,
)
from shared.delivery.retry import retry_delay
from shared.invocation import run_parallel

if TYPE_CHECKING:
    from shared.delivery.transport import Transport
    from shared.store import Store
    from shared.store.models import Channel, OutboxItem, OutboxSummary

log = logging.getLogger("shared.delivery")

SWEEP_BASE_SECONDS = 30.0
SWEEP_CAP_SECONDS = 3600.0
#: due items read per round (rounds repeat within the run: a backlog is not capped per run)
PAGE = 1000
# Pages read past a page that waits entirely for connections with no room (`_due`).
MAX_PAGES = 10
#: the hold on a short connection lasts past the run's end by this much (the next run renews it)
HOLD_MARGIN_SECONDS = 5.0
#: a round with nothing to send waits at most this long before reading the outbox again
MAX_IDLE_SECONDS = 5.0
#: connections drained at once
LANES = 8
_STATS_LOCK = threading.Lock()

Take = Callable[[], budget.Slot]


@dataclass
class SweepStats:
    sent: int = 0
    requeued: int = 0
    dead: int = 0
    skipped: int = 0
    #: original messages that went out combined, and the combined posts that carried them
    combined: int = 0
    combined_posts: int = 0
    #: connections found short of budget (once per connection and run)
    short: list[str] = field(default_factory=list)
    #: posts that found their connection's budget spent (they stay due, not an attempt)
    budget_waits: int = 0
    #: how long the last item handled waits for a limit (None: it did not wait for one)
    wait: float | None = field(default=None, repr=False, compare=False)

    def add(self, other: SweepStats) -> None:
        self.sent += other.sent
        self.requeued += other.requeued
        self.dead += other.dead
        self.skipped += other.skipped
        self.budget_waits += other.budget_waits
        self.combined += other.combined
        self.combined_posts += other.combined_posts
        self.short.extend(c for c in other.short if c not in self.short)


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _dead(store: Store, item: OutboxItem, reason: str, stats: SweepStats) -> None:
    store.outbox.dead_letter(item, reason)
    stats.dead += 1
    store.deliveries.record_later(item.channel, False, f"dead: {reason}")
    log.warning("outbox item %s for channel %s is a dead letter: %s", item.id, item.channel, reason)


def _order(item: OutboxItem) -> tuple[datetime, str, tuple[int, ...]]:
    key, number = parse_item_key(item.idempotency_key)
    return (_utc(item.created), key, part_order(number))


@dataclass
class _Message:
    """The waiting parts of one message to one channel, in order."""

    channel: str
    key: str
    items: list[OutboxItem]

    @property
    def origin(self) -> str:
        return self.items[0].origin or ""

    @property
    def oldest(self) -> datetime:
        return _utc(self.items[0].created)


def _messages(items: Sequence[OutboxItem]) -> list[_Message]:
    found: dict[tuple[str, str], _Message] = {}
    for item in sorted(items, key=_order):
        key = parse_item_key(item.idempotency_key)[0]
        found.setdefault((item.channel, key), _Message(item.channel, key, [])).items.append(item)
    return list(found.values())


def _interleave(messages: Sequence[_Message]) -> list[_Message]:
    """Round-robin over origins (routes), each in its own order: fair when not all fit."""
    by_origin: dict[str, list[_Message]] = defaultdict(list)
    for message in messages:
        by_origin[message.origin].append(message)
    queues = list(by_origin.values())
    out: list[_Message] = []
    while queues:
        for queue in list(queues):
            out.append(queue.pop(0))
            if not queue:
                queues.remove(queue)
    return out


def _shares(demands: dict[str, int], room: int) -> dict[str, int]:
    """`room` posts over channels wanting `demands` (oldest waiting first): max-min fair, so a
    channel that needs less than an equal share leaves the rest to the others; ties to the oldest."""
    shares = dict.fromkeys(demands, 0)
    left = room
    open_ = [ch for ch, want in demands.items() if want > 0]
    while left > 0 and open_:
        each, extra = divmod(left, len(open_))
        for i, ch in enumerate(list(open_)):
            give = min(demands[ch] - shares[ch], each + (1 if i < extra else 0))
            shares[ch] += give
            left -= give
            if shares[ch] >= demands[ch]:
                open_.remove(ch)
        if each == 0 and extra == 0:
            break
    return {ch: n for ch, n in shares.items() if n > 0}


def _split_share(
    waiting: list[_Message], share: int, connection: str, max_bytes: int
) -> tuple[list[_Message], list[tuple[dict[str, object], list[Entry]]]]:
    """A channel's share when more waits than it allows: as many messages as possible on their own
    (routes taking turns), the rest combined into the remaining posts. Every slot is used, since
    unused budget is rate lost, and nothing waits longer than the next combined card."""
    order = _interleave(waiting)
    alone = max(0, share - 1)
    while True:
        single: list[_Message] = []
        cost = 0
        for message in order:
            if cost + len(message.items) > alone:
                break
            single.append(message)
            cost += len(message.items)
        rest = order[len(single) :]
        cards = combined_cards([Entry(_summary(m), m) for m in rest], connection, max_bytes) if rest else []
        if cost + len(cards) <= share or alone == 0:
            return single, cards[: max(0, share - cost)]
        alone = max(0, alone - (cost + len(cards) - share))


class _Run:
    """One sweep run: its deadline, clock, transport and counters."""

    def __init__(
        self, store: Store, now: datetime | None, budget_seconds: float, transport: Transport
    ) -> None:
        self.store = store
        self.cfg = Config.load()
        self.transport = transport
        self.started = time.monotonic()
        self.deadline = self.started + budget_seconds
        self.epoch_deadline = time.time() + budget_seconds
        self.base = _utc(now)
        self.stats = SweepStats()
        self.held: set[str] = set()  # connections this run holds for their backlog
        # Waits for slots within its time (the outbox timer); an impatient run (the digest run's few
        # seconds) never holds a connection: its hold would end before any backlog drained.
        self.patient = True
        # Messages (channel, key) with a part that waits, and until when (monotonic; inf: this run):
        # their later parts wait for it.
        self.blocked: dict[tuple[str, str], float] = {}
        # Channels whose combined card Teams refused as too large: this run sends them one by one.
        self.alone: set[str] = set()

    def now(self) -> datetime:
        return self.base + timedelta(seconds=time.monotonic() - self.started)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def is_blocked(self, group: tuple[str, str]) -> bool:
        until = self.blocked.get(group)
        return until is not None and until > time.monotonic()


def sweep(
    store: Store,
    now: datetime | None = None,
    budget_seconds: float = 20.0,
    *,
    transport: Transport | None = None,
    patient: bool = True,
) -> SweepStats:
    """Send due outbox items within `budget_seconds`, as the connections' budgets allow.

    `now`: the time the run starts at (tests; later rounds add the time elapsed). `transport`: how
    to reach Teams (default `transport.default()`). `patient`: wait for slots to free within the
    time (the outbox timer); False: stop when nothing can go now (the digest run, whose digests
    are due at their minute).
    """
    run = _Run(store, now, budget_seconds, transport or transports.default())
    run.patient = patient
    while run.left() > 0:
        channels = {c.name: c for c in store.channels.list()}
        items = _due(run, channels)
        if not items:
            break
        lanes: dict[str | None, list[OutboxItem]] = defaultdict(list)
        for item in items:
            lanes[_lane(channels.get(item.channel))].append(item)
        work = [(name, lane, channels) for name, lane in lanes.items()]
        results = run_parallel(work, lambda w: _drain(run, *w), workers=LANES, name="sweep")
        progressed = any(sent for sent, _ in results)
        waits = [wait for _, wait in results if wait is not None]
        if not progressed:
            if not patient or not waits or min(waits) >= run.left():
                break
            time.sleep(max(0.05, min(min(waits), MAX_IDLE_SECONDS, run.left())))
    # A run that stops early drains nothing more: its hold ends now (else it covers the few seconds
    # until the timer's next run), and so does the hold of a connection with nothing left waiting.
    early = run.left() > HOLD_MARGIN_SECONDS
    for name in run.held:
        try:
            if early or not store.outbox.due(run.now() + timedelta(seconds=60), 1):
                budget.for_store(store).hold(name, 0)
        except Exception as exc:  # the hold ends on its own a few seconds after this run
            log.info("could not end the hold on connection %s (%s)", name, type(exc).__name__)
    stats = run.stats
    if stats.sent or stats.dead or stats.requeued or stats.combined:
        log.info(
            "outbox sweep: %d sent, %d combined in %d posts, %d requeued, %d dead, %d skipped%s",
            stats.sent,
            stats.combined,
            stats.combined_posts,
            stats.requeued,
            stats.dead,
            stats.skipped,
            f"; short: {', '.join(stats.short)}" if stats.short else "",
        )
    return stats


def _due(run: _Run, channels: dict[str, Channel]) -> list[OutboxItem]:
    """The due items, a page at a time: past a page whose every item waits for a connection with no
    room now (a long backlog of one connection), so the items behind it are not starved."""
    gauge = budget.for_store(run.store)
    items: list[OutboxItem] = []
    after: str | None = None
    for _ in range(MAX_PAGES):
        page = run.store.outbox.due(run.now(), PAGE, after=after)
        items.extend(i for i in page if not getattr(i, "dead", False))
        if len(page) < PAGE:
            break
        after = page[-1].id
        lanes = {_lane(channels.get(i.channel)) for i in page}
        if None in lanes or any(gauge.room(lane)[0] > 0 for lane in lanes):
            break
    return items


def _lane(channel: Channel | None) -> str | None:
    """The connection whose budget an item's post takes; None: one by one (legacy, gone, refused)."""
    if channel is None or allowlist.is_legacy(channel.url):
        return None
    try:
        allowlist.check_destination(channel.url)
    except allowlist.DestinationNotAllowed:
        return None
    return channel.connection


def _drain(
    run: _Run, name: str | None, items: list[OutboxItem], channels: dict[str, Channel]
) -> tuple[bool, float | None]:
    """Spend the room one connection has now on its waiting items: (anything done, wait for more)."""
    stats = SweepStats()
    try:
        if name is None:
            _send_each(run, items, channels, stats)
            return bool(stats.sent or stats.dead or stats.requeued), None
        return _drain_connection(run, name, items, channels, stats)
    finally:
        with _STATS_LOCK:
            run.stats.add(stats)


def _drain_connection(
    run: _Run, name: str, items: list[OutboxItem], channels: dict[str, Channel], stats: SweepStats
) -> tuple[bool, float | None]:
    gauge = budget.for_store(run.store)
    room, next_free = gauge.room(name)
    messages = [m for m in _messages(items) if not run.is_blocked((m.channel, m.key))]
    if not messages:
        return False, None
    waiting = sum(len(m.items) for m in messages)
    if waiting <= room:
        _send_each(run, [i for m in _interleave(messages) for i in m.items], channels, stats, sort=False)
        return bool(stats.sent or stats.dead or stats.requeued), next_free if stats.budget_waits else None
    # Short: keep the slots for what waits, and share them.
    if name not in run.held and run.patient:
        run.held.add(name)
        gauge.hold(name, run.epoch_deadline + HOLD_MARGIN_SECONDS)
    if name not in stats.short:
        stats.short.append(name)
    if room <= 0:
        return False, max(0.05, next_free)
    digests = [m for m in messages if m.origin in PRIORITY_ORIGINS]
    for message in digests:
        if room < len(message.items):
            break
        room -= len(message.items)
        _send_each(run, message.items, channels, stats, sort=False)
    others = [m for m in messages if m.origin not in PRIORITY_ORIGINS]
    by_channel: dict[str, list[_Message]] = defaultdict(list)
    for message in sorted(others, key=lambda m: m.oldest):
        by_channel[message.channel].append(message)
    demands = {ch: sum(len(m.items) for m in found) for ch, found in by_channel.items()}
    for channel_name, share in _shares(demands, room).items():
        waiting_here = by_channel[channel_name]
        channel = channels[channel_name]
        held_back = LIMITER.peek(channel.url, windows_for(False))
        if held_back > 0:  # a 429's Retry-After (or the per-URL cap): the share waits for it
            next_free = max(next_free, held_back) if next_free else held_back
            continue
        if demands[channel_name] <= share or channel_name in run.alone:
            order = [i for m in _interleave(waiting_here) for i in m.items][:share]
            _send_each(run, order, channels, stats, sort=False)
            continue
        single, cards = _split_share(waiting_here, share, name, run.cfg.max_bytes)
        _send_each(run, [i for m in single for i in m.items], channels, stats, sort=False)
        for card, chunk in cards:
            if run.left() <= 0:
                break
            taken = [e.ref for e in chunk if isinstance(e.ref, _Message)]
            _send_combined(run, name, channel, card, taken, stats)
    return bool(stats.sent or stats.combined or stats.dead or stats.requeued), next_free


def _summary(message: _Message) -> OutboxSummary:
    from shared.delivery.coalesce import summarize

    first = message.items[0]
    if first.summary is not None:
        return first.summary
    return summarize(first.message.encode("utf-8"))  # queued before summaries were kept


def _send_each(
    run: _Run,
    items: Sequence[OutboxItem],
    channels: dict[str, Channel],
    stats: SweepStats,
    *,
    sort: bool = True,
) -> None:
    """Post items one at a time, parts of a message in order (a part that waits holds back the rest)."""
    store, cfg = run.store, run.cfg
    ordered = sorted(items, key=_order) if sort else list(items)
    forever = float("inf")
    for index, item in enumerate(ordered):
        if run.left() <= 0:
            stats.skipped += len(ordered) - index
            break
        group = (item.channel, parse_item_key(item.idempotency_key)[0])
        if run.is_blocked(group):
            stats.skipped += 1
            continue
        now = run.now()
        lease = now + timedelta(seconds=max(60.0, 3 * cfg.timeout))
        claimed = store.outbox.claim(item, lease)
        if claimed is None:
            stats.skipped += 1
            run.blocked[group] = forever
            continue
        stats.wait = None
        done = _sweep_one(store, claimed, now, cfg, stats, run.transport, channels.get(item.channel))
        if not done:
            # A part waiting for a limit holds the later ones back as long; anything else, this run.
            run.blocked[group] = forever if stats.wait is None else time.monotonic() + stats.wait


def _release_combined(run: _Run, claimed: Sequence[tuple[OutboxItem, PartRecords, str]]) -> None:
    """The combined post did not happen: free every part's record and make its item due again."""
    due = run.now()
    for item, records, number in claimed:
        records.release(number)
        run.store.outbox.claim(item, due)


def _send_combined(
    run: _Run,
    connection: str,
    channel: Channel,
    card: dict[str, object],
    messages: list[_Message],
    stats: SweepStats,
) -> None:
    """One "N updates" post standing for `messages`: claimed, taken, posted, then all recorded at once."""
    from shared.delivery.coalesce import build_card
    from shared.delivery.parts import make_parts

    store, cfg = run.store, run.cfg
    lease = run.now() + timedelta(seconds=max(60.0, 3 * cfg.timeout))
    claimed: list[tuple[OutboxItem, PartRecords, str]] = []
    kept: list[_Message] = []
    for message in messages:
        records = PartRecords(store, message.channel, message.key)
        mine: list[tuple[OutboxItem, PartRecords, str]] = []
        for item in message.items:
            taken = store.outbox.claim(item, lease)
            if taken is None:  # another sweep has it
                continue
            number = parse_item_key(item.idempotency_key)[1]
            claim = records.claim(number, max(60.0, 3 * cfg.timeout))
            if not claim.held:
                if is_accepted(claim.holder):
                    store.outbox.complete(taken)
                    stats.skipped += 1
                elif split_count(claim.holder):  # split by a run that died: its pieces go on their own
                    _sweep_one(store, taken, run.now(), cfg, stats, run.transport, channel)
                else:  # being sent elsewhere: it comes back when that run's lease ends
                    stats.skipped += 1
                continue
            mine.append((taken, records, number))
        if mine:
            claimed.extend(mine)
            kept.append(message)
    if not kept:
        return
    if len(kept) != len(messages):
        card = build_card([Entry(_summary(m), m) for m in kept], connection)
    body = make_parts(card, cfg.max_bytes)[0].body
    slot = budget.gate(store, channel.url, connection, hold_ok=True)
    if not slot.taken:
        _release_combined(run, claimed)
        stats.budget_waits += 1
        return
    try:
        answer = run.transport.post(channel.url, body, cfg.timeout, cfg.connect_timeout)
        if answer.status is None:  # it may still arrive: its slot is counted again
            budget.unanswered(store, channel.url, connection, answer, cfg.timeout)
    except BaseException:
        _release_combined(run, claimed)
        raise
    if answer.kind is Kind.ACCEPTED:
        # The records first: a crash before the items go is healed by the sweep's check.
        accepted_all(store, [(channel.name, r.key, n) for _, r, n in claimed], answer)
        store.outbox.complete_all([item for item, _, _ in claimed])
        budget.for_store(store).combined(connection, len(kept))  # counted once: when accepted
        stats.combined += len(kept)
        stats.combined_posts += 1
        store.deliveries.record_later(
            channel.name, True, f"accepted from the outbox: {len(kept)} messages combined in one card"
        )
        return
    if answer.kind is Kind.TOO_LARGE:  # not the originals' fault: they go one by one instead
        run.alone.add(channel.name)
        _release_combined(run, claimed)
        return
    _combined_failed(run, channel.url, claimed, answer, stats)


def _combined_failed(
    run: _Run,
    url: str,
    claimed: Sequence[tuple[OutboxItem, PartRecords, str]],
    answer: Answer,
    stats: SweepStats,
) -> None:
    """Each original is treated as its own post that got `answer` (a retry may combine it again)."""
    store, cfg = run.store, run.cfg
    now = run.now()
    for item, records, number in claimed:
        records.release(number)
        if answer.kind is Kind.PERMANENT:
            _dead(store, item, answer.reason, stats)
            continue
        attempts = item.attempts + 1
        if attempts >= cfg.max_attempts:
            _dead(store, item, f"gave up after {attempts} attempts; last error: {answer.reason}", stats)
            continue
        delay = retry_delay(url, answer, attempts, SWEEP_BASE_SECONDS, SWEEP_CAP_SECONDS)
        _reschedule(store, item, now, delay, answer.reason)
        stats.requeued += 1


def _reschedule(store: Store, item: OutboxItem, now: datetime, wait: float, error: str) -> None:
    store.outbox.reschedule(item, now + timedelta(seconds=max(1.0, wait)), error)


def _sweep_one(
    store: Store,
    item: OutboxItem,
    now: datetime,
    cfg: Config,
    stats: SweepStats,
    transport: Transport,
    channel: Channel | None,
) -> bool:
    """Handle one claimed item; True when later parts of the same message may go on."""

    key, number = parse_item_key(item.idempotency_key)
    # A requeued dead letter counts its age from the requeue (store.outbox.requeue sets it).
    age = (now - _utc(item.requeued_at or item.created)).total_seconds()
    # Every item gets one attempt before the age rule: split pieces inherit their parent's
    # `created`, and waits for the rate limiter are not attempts.
    if item.attempts >= cfg.max_attempts or (item.attempts > 0 and age >= cfg.max_age_seconds):
        why = f"{item.attempts} attempts" if item.attempts >= cfg.max_attempts else f"{age / 3600:.0f} h"
        _dead(store, item, f"gave up after {why}; last error: {item.last_error or 'none'}", stats)
        return True

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
                store.outbox.add(
                    outbox_item(item.channel, key, piece, now, "split earlier", created, item.origin)
                )
        store.outbox.complete(item)
        stats.requeued += 1
        return False

    try:
        body = in_workflows_form(item.message.encode("utf-8"))
    except CardRuleError as exc:
        _dead(store, item, f"the card cannot be sent: {str(exc)[:200]}", stats)
        return True

    slot = budget.gate(store, url, channel.connection, hold_ok=True)
    if not slot.taken:
        # Not an attempt: the item keeps its count and comes back when the destination has room
        # (a second claim moves next_attempt; reschedule would count an attempt). Waiting for the
        # connection's budget, it stays due: the next round shares the room or combines it.
        wait = slot.wait if slot.why == "url" else 0.0
        store.outbox.claim(item, now + timedelta(seconds=max(0.0, wait)))
        stats.skipped += 1
        stats.wait = wait
        if slot.why != "url":
            stats.budget_waits += 1
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
    if answer.status is None:  # it may still arrive: its slot is counted again
        budget.unanswered(store, url, channel.connection, answer, cfg.timeout)
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
                piece_item = outbox_item(item.channel, key, piece, now, answer.reason, created, item.origin)
                store.outbox.add(piece_item)
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
