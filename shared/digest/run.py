"""One timer run: sweep the outbox, then send every digest that is due, each exactly once.

Per subscription: gather what is new since its cursor and build the card; then claim it with one
ETag-guarded write that leases it (next_run moves LEASE_SECONDS ahead) and stores the plan
(`_pending`: the idempotency key, the number of parts, the cursor to commit and the buffered
events to remove). Two overlapping runs read the same version, so only one claim succeeds and
only that run posts. Deliver under the key `<subscription>|<slot>`; only when Teams accepted the
card or the outbox holds it, remove the events and commit the cursor, moving next_run to the
next slot in the same write. Failed sources and empty digests need one write (straight to the
next slot).

Crash safety: a run that dies after the claim leaves the plan, and the lease makes the
subscription due again soon (not a whole period later). The next run asks the delivery's
idempotency records (and the outbox) about every part of the plan's card: when all of them
are with Teams or queued, the plan is committed without posting again; otherwise the plan is
dropped and its content is gathered and posted again under a new key (a digest cut off half-way
shows its first parts twice rather than losing the rest). The plan notes when its lease ends
(`until`); until then no other run touches it: the bot's `digest <id> now` answers "taken", and
so does a timer run that meets a manual digest's plan (those keep next_run where it was).

Missed runs (past_due) do not multiply: a due subscription gets one digest with everything new,
and its next slot is computed from now.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared import settings
from shared.digest import schedule as schedules
from shared.invocation import carry

if TYPE_CHECKING:
    from shared.delivery.sweep import SweepStats
    from shared.store import Store
    from shared.store.models import Subscription

log = logging.getLogger(__name__)

PENDING = "_pending"
DEFAULT_OUTBOX_SECONDS = 20.0
# While a digest is being posted its next_run waits here; longer than the function timeout (5 min),
# so a run that still holds a claim when the lease ends has certainly died.
LEASE_SECONDS = 600
# Delivery states after which the cursor may move (Teams has it, or our outbox will retry it).
HELD = ("accepted", "queued")


class Outcome(StrEnum):
    """What one subscription's turn came to; the values name `RunStats`' counters."""

    SENT = "sent"  # Teams accepted the digest
    QUEUED = "queued"  # the outbox holds it (Teams was busy); the cursor moved
    EMPTY = "empty"  # nothing new and empty digests are not posted (timer runs only)
    RECOVERED = "recovered"  # an interrupted run's digest had gone out: committed, not posted again
    TAKEN = "taken"  # another run holds the subscription; nothing done here
    FAILED = "failed"  # the source or the delivery failed; `detail` says why
    DEFERRED = "deferred"  # the run's budget ended before this subscription's turn
    NOT_FOUND = "not_found"  # `send_now` only: no such subscription


@dataclass(frozen=True)
class DigestResult:
    """The answer of `send_now` / `Runner.process_now`: callers branch on `outcome`, never on prose."""

    outcome: Outcome
    subscription_id: str
    channel: str | None = None
    #: why it failed, or how long another run holds it; safe to show (no secrets)
    detail: str | None = None

    @property
    def delivered(self) -> bool:
        """Teams has it or the outbox will deliver it."""
        return self.outcome in (Outcome.SENT, Outcome.QUEUED)


@dataclass
class RunStats:
    """Counters of one run, logged and returned to the caller (the devhost shows them)."""

    due: int = 0
    sent: int = 0
    queued: int = 0
    empty: int = 0
    failed: int = 0
    recovered: int = 0
    taken: int = 0
    deferred: int = 0
    past_due: bool = False
    outbox: SweepStats | None = None
    seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, outcome: Outcome, sub_id: str = "", error: str | None = None) -> None:
        with self._lock:
            setattr(self, outcome, getattr(self, outcome) + 1)
            if error and sub_id:
                self.errors[sub_id] = error

    def as_dict(self) -> dict[str, Any]:
        out = {
            k: getattr(self, k)
            for k in ("due", "sent", "queued", "empty", "failed", "recovered", "taken", "deferred")
        }
        out["past_due"] = self.past_due
        out["seconds"] = round(self.seconds, 3)
        if self.outbox is not None:
            out["outbox"] = _plain(self.outbox)
        return out


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {k: getattr(value, k) for k in value.__dataclass_fields__ if not k.startswith("_")}
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return str(value)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str:
    return (value or _utcnow()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _err(exc: BaseException) -> str:
    """A short error for `status`: our own exceptions carry safe messages, others only their type."""
    from shared.digest.feeds.base import FeedError

    # Plain ValueErrors are ours (schedules); subclasses such as pydantic's quote input values.
    if isinstance(exc, FeedError) or type(exc) is ValueError:
        return str(exc)[:300]
    module = type(exc).__module__
    if module.startswith("shared."):
        return f"{type(exc).__name__}: {str(exc)[:300]}"
    return type(exc).__name__


@dataclass
class Plan:
    """What a digest will commit once delivered; stored in the cursor before posting."""

    key: str
    slot: str
    cursor: dict[str, Any]
    events: list[str]
    parts: int = 0  # how many parts the card is posted in (0: unknown, never counts as posted)
    until: datetime | None = None  # the lease: the run that wrote the plan holds it until then

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "slot": self.slot,
            "parts": self.parts,
            "cursor": self.cursor,
            "events": self.events,
            **({"until": _iso(self.until)} if self.until else {}),
        }

    def held_at(self, now: datetime) -> bool:
        """Is the run that wrote this plan still within its lease (posting it right now)?"""
        return self.until is not None and now < self.until

    @classmethod
    def parse(cls, data: Any) -> Plan | None:
        if not isinstance(data, dict) or not data.get("key"):
            return None
        try:
            parts = max(0, int(data.get("parts") or 0))
        except (TypeError, ValueError):
            parts = 0
        try:  # plans written before leases were noted have none: free to take over, as they were
            until: datetime | None = datetime.fromisoformat(str(data["until"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            until = None
        return cls(
            key=str(data["key"]),
            slot=str(data.get("slot", "")),
            cursor=dict(data.get("cursor") or {}),
            events=[str(x) for x in data.get("events") or []],
            parts=parts,
            until=until if until is None or until.tzinfo else until.replace(tzinfo=UTC),
        )


def part_count(card: dict[str, Any]) -> int:
    """How many parts `deliver` will post this card in (the same fitting, the same settings).

    Stored in the plan so that recovery can ask about every part, whatever their number; 0 when
    the card cannot be sent at all (deliver then reports it dead).
    """
    from shared.delivery import count_parts

    try:
        return count_parts(card)
    except Exception:
        return 0


def _without_plan(cursor: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (cursor or {}).items() if k != PENDING}


class Runner:
    """One run's state: store, clock, budget. `process` is a timer run's turn for a due
    subscription; `process_now` posts one subscription's digest at once (the bot)."""

    def __init__(self, store: Store, now: datetime, deadline: float, stats: RunStats) -> None:
        self.store = store
        self.now = now
        self.deadline = deadline
        self.stats = stats

    # -- helpers -------------------------------------------------------------------------

    def _next(self, sub: Subscription, manual: bool) -> datetime:
        """next_run after this turn; a manual digest leaves the schedule where it is."""
        if manual and sub.next_run is not None:
            kept: datetime = sub.next_run
            return kept
        try:
            return schedules.next_run(sub.schedule, self.now)
        except ValueError:
            # A broken schedule must not make the subscription due on every tick.
            return self.now + timedelta(days=1)

    def _lease(self, sub: Subscription, manual: bool) -> datetime:
        """Where next_run waits while a digest is being posted: due again soon if this run dies."""
        if manual and sub.next_run is not None:
            kept: datetime = sub.next_run
            return kept
        return self.now + timedelta(seconds=LEASE_SECONDS)

    def _claim(
        self, sub: Subscription, cursor: dict[str, Any], error: str | None, *, done: bool, manual: bool
    ) -> Subscription | None:
        """Take the subscription under its ETag; None when another run changed it first.

        `done`: nothing will be posted, so next_run moves to the next slot in this one write.
        Otherwise next_run moves to the lease and `_commit` sets the next slot after delivery.
        """
        changed = sub.model_copy(deep=True)
        changed.cursor = cursor
        changed.last_error = error
        if done:
            changed.last_run = self.now
        until = self._next(sub, manual) if done else self._lease(sub, manual)
        return self.store.subscriptions.claim(changed, until)

    def _commit(
        self, sub: Subscription, plan: Plan, cursor: dict[str, Any], error: str | None, *, manual: bool
    ) -> Subscription | None:
        """After delivery: the new cursor without the plan, and next_run at the next slot.

        If someone else saved the subscription meanwhile (the bot pausing it), the commit is
        applied to the fresh version as long as that still carries this plan.
        """
        from shared.store.errors import Conflict

        for _attempt in range(3):
            sub.cursor = _without_plan(cursor)
            sub.last_run = self.now
            sub.last_error = error
            sub.next_run = self._next(sub, manual)
            try:
                return self.store.subscriptions.save(sub)
            except Conflict:
                fresh = self.store.subscriptions.find(sub.id)
                if fresh is None:
                    return None  # removed meanwhile
                current = Plan.parse((fresh.cursor or {}).get(PENDING))
                if current is None or current.key != plan.key:
                    return None  # removed, or another run already finished this plan
                sub = fresh
        raise Conflict(f"subscription {sub.id} kept changing while its digest was committed")

    def _held(self, sub: Subscription, plan: Plan) -> bool:
        """Is every part of the plan's card accepted by Teams or waiting in the outbox?

        One dedupe read per part; the outbox is listed only when a part was not accepted (rare).
        A part that Teams refused as too large counts when each of its pieces does.
        """
        from shared.delivery import part_states

        if plan.parts < 1:
            return False
        return all(state in HELD for _, state in part_states(self.store, sub.channel, plan.key, plan.parts))

    # -- one subscription ----------------------------------------------------------------

    def process(self, sub: Subscription) -> Outcome:
        """A timer run's turn for one due subscription (within the run's budget)."""
        if time.monotonic() >= self.deadline:
            self.stats.add(Outcome.DEFERRED)
            return Outcome.DEFERRED
        return self._turn(sub, manual=False).outcome

    def process_now(self, sub: Subscription) -> DigestResult:
        """Post this subscription's digest at once, even when empty, and leave its schedule alone
        (the bot's `digest <id> now`). One manual digest per minute, even on double clicks."""
        return self._turn(sub, manual=True, slot="now-" + self.now.strftime("%Y%m%dT%H%M"))

    def _turn(self, sub: Subscription, *, manual: bool, slot: str | None = None) -> DigestResult:
        try:
            outcome, detail = self._process(sub, manual=manual, slot=slot)
        except Exception as exc:
            # Store trouble mid-way: the subscription keeps its plan (if any) and is retried.
            outcome, detail = Outcome.FAILED, _err(exc)
            log.warning("digest %s failed: %s", sub.id, detail)
        self.stats.add(outcome, sub.id, detail if outcome is Outcome.FAILED else None)
        return DigestResult(outcome, str(sub.id), getattr(sub, "channel", None), detail)

    def _recover(self, sub: Subscription, plan: Plan, *, manual: bool) -> Subscription | None:
        """Commit a plan whose card went out before its run died; None when another run took it."""
        if plan.events:
            self.store.events.remove(sub.id, plan.events)
        log.info("digest %s: committed slot %s left by an interrupted run", sub.id, plan.slot)
        return self._claim(sub, plan.cursor, None, done=True, manual=manual)

    def _process(
        self, sub: Subscription, *, manual: bool, slot: str | None = None
    ) -> tuple[Outcome, str | None]:
        from shared.delivery import deliver
        from shared.digest.card import build_digest_card
        from shared.digest.feeds.base import FeedContext, FeedError, feed_for

        left = Plan.parse((sub.cursor or {}).get(PENDING))
        if left is not None:
            if left.held_at(self.now):
                # Another run is posting this plan right now (a manual digest keeps next_run, so
                # the timer can meet one): leave it to that run, post nothing.
                assert left.until is not None
                return Outcome.TAKEN, f"held until {left.until:%H:%M} UTC"
            if self._held(sub, left):
                recovered = self._recover(sub, left, manual=manual)
                if recovered is None:
                    return Outcome.TAKEN, None
                if not manual:
                    return Outcome.RECOVERED, None
                self.stats.add(Outcome.RECOVERED)
                sub = recovered
            else:
                # Not (wholly) posted: drop the plan; its content is gathered again, under a new key.
                sub.cursor = _without_plan(sub.cursor)
        slot = slot or _iso(sub.next_run or self.now)
        base_cursor = dict(sub.cursor or {})
        try:
            gathered = feed_for(sub.source).gather(sub, FeedContext(store=self.store, now=self.now))
        except Exception as exc:  # any source trouble is this subscription's alone
            error = str(exc)[:300] if isinstance(exc, FeedError) else f"source failed: {_err(exc)}"
            log.info("digest %s: source failed: %s", sub.id, error)
            claimed = self._claim(sub, base_cursor, error, done=True, manual=manual)
            return (Outcome.FAILED, error) if claimed else (Outcome.TAKEN, None)
        if gathered.empty and not (sub.post_empty or manual):
            claimed = self._claim(sub, _without_plan(gathered.cursor), None, done=True, manual=manual)
            return (Outcome.EMPTY, None) if claimed else (Outcome.TAKEN, None)
        card = build_digest_card(gathered, when=self.now)
        key = f"{sub.id}|{slot}"
        plan = Plan(
            key=key,
            slot=slot,
            cursor=_without_plan(gathered.cursor),
            events=gathered.ack_event_ids,
            parts=part_count(card),
            until=self.now + timedelta(seconds=LEASE_SECONDS),
        )
        pending = {**base_cursor, PENDING: plan.as_dict()}
        claimed = self._claim(sub, pending, sub.last_error, done=False, manual=manual)
        if claimed is None:
            return Outcome.TAKEN, None
        # From here a crash leaves the plan: the next run commits it or posts again (see _held).
        # A digest keeps its slot at its minute: it is never combined and may post while the sweep
        # holds its connection for a backlog (`shared.delivery.budget`).
        result = deliver(self.store, claimed.channel, card, key=key, origin="digest")
        state = str(getattr(result, "state", "dead"))
        if state not in HELD:
            detail = str(getattr(result, "detail", "") or state)
            error = f"delivery failed: {detail}"[:300]
            self._commit(claimed, plan, base_cursor, error, manual=manual)
            return Outcome.FAILED, error
        if plan.events:
            self.store.events.remove(claimed.id, plan.events)
        self._commit(claimed, plan, plan.cursor, None, manual=manual)
        return (Outcome.SENT if state == "accepted" else Outcome.QUEUED), None


def run(
    store: Store | None = None,
    *,
    now: datetime | None = None,
    past_due: bool = False,
    budget_seconds: float | None = None,
    concurrency: int | None = None,
    limit: int | None = None,
    sweep_outbox: bool = True,
) -> RunStats:
    """The timer's work; returns counters. Never raises for one subscription's trouble."""
    started = time.monotonic()
    if store is None:
        from shared.store import open_store

        store = open_store()
    budget = within_function_timeout(
        budget_seconds
        if budget_seconds is not None
        else settings.digest().budget_seconds
    )
    deadline = started + budget
    stats = RunStats(past_due=past_due)
    if past_due:
        log.info("digest timer is past due: each due subscription gets one digest")
    if sweep_outbox:
        try:
            from shared.delivery import sweep

            stats.outbox = sweep.sweep(
                store, budget_seconds=min(DEFAULT_OUTBOX_SECONDS, max(1.0, budget * 0.2)), patient=False
            )
        except Exception as exc:  # the outbox is retried next run; digests still go out
            log.warning("outbox sweep failed: %s", _err(exc))
    current = now or _utcnow()
    due = [
        s
        for s in store.subscriptions.due(
            current, limit or settings.digest().max_per_run
        )
        if not getattr(s, "paused", False)
    ]
    stats.due = len(due)
    runner = Runner(store, current, deadline, stats)
    workers = max(1, concurrency or settings.digest().concurrency)
    if due:
        with ThreadPoolExecutor(max_workers=min(workers, len(due)), thread_name_prefix="digest") as pool:
            list(pool.map(carry(_guarded(runner)), due))
    stats.seconds = time.monotonic() - started
    log.info("digest run: %s", stats.as_dict())
    return stats


def in_flight_seconds() -> float:
    """What a digest claimed just before the budget ends may still take: its feed fetches (a
    weather digest makes two), then its delivery."""
    from shared.delivery import inline_seconds
    from shared.digest.fetch import worst_case_seconds

    return 2 * worst_case_seconds() + inline_seconds(1)


def within_function_timeout(budget: float) -> float:
    """The run's budget, shortened when it would not leave the digests in flight time to finish
    before host.json's `functionTimeout` (the host would kill the run half way)."""
    limit = settings.function_timeout_seconds()
    if limit is None or budget <= limit - in_flight_seconds():
        return budget
    allowed = min(budget, max(limit / 2, limit - in_flight_seconds()))
    log.warning(
        "DIGEST_BUDGET_SECONDS=%g leaves too little of functionTimeout (%g s) for the digests in "
        "flight: using %g s",
        budget,
        limit,
        allowed,
    )
    return allowed


def _guarded(runner: Runner) -> Callable[[Any], Outcome]:
    def work(sub: Subscription) -> Outcome:
        try:
            return runner.process(sub)
        except Exception as exc:  # claim failed (store trouble): isolate, the next run retries
            runner.stats.add(Outcome.FAILED, getattr(sub, "id", ""), _err(exc))
            log.warning("digest %s: %s", getattr(sub, "id", "?"), _err(exc))
            return Outcome.FAILED

    return work


def send_now(store: Store, subscription_id: str) -> DigestResult:
    """The bot's `digest <id> now`: post the digest at once (even if empty), schedule untouched.

    Never raises for the digest's own trouble: store errors while looking it up propagate (the bot
    answers those), everything after is in the result (`Outcome.FAILED` with a safe detail).
    """
    from shared.store.errors import NotFound

    try:
        sub = store.subscriptions.get(subscription_id)
    except NotFound:
        sub = None
    if sub is None:
        return DigestResult(Outcome.NOT_FOUND, subscription_id)
    runner = Runner(store, _utcnow(), time.monotonic() + 60, RunStats())
    return runner.process_now(sub)
