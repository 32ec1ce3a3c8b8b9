"""One timer run: sweep the outbox, then send every digest that is due, each exactly once.

Per subscription: gather what is new since its cursor, build the card, then claim it with one
ETag-guarded write that moves next_run to the next slot and stores the plan (`_pending`: the
cursor to commit and the buffered events to remove). Two overlapping runs read the same version,
so only one claim succeeds and only that run posts. Deliver under the idempotency key
`<subscription>|<slot>`; only when Teams accepted the card or the outbox holds it, remove the
events and commit the cursor (one more update; next_run is already in place).

Crash safety: if the process dies after delivery but before the commit, the subscription still
carries `_pending`. When it is next due, the delivery's idempotency record for that key tells
whether the card went out: if so the plan is committed without posting again; if not, the plan
is dropped and its content is gathered again. Missed runs (past_due) do not multiply: a due
subscription gets one digest with everything new, and its next slot is computed from now.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import settings
from shared.digest import schedule as schedules

log = logging.getLogger(__name__)

PENDING = "_pending"
DEFAULT_BUDGET_SECONDS = 120.0
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_PER_RUN = 2000
DEFAULT_OUTBOX_SECONDS = 20.0
# Delivery states after which the cursor may move (Teams has it, or our outbox will retry it).
HELD = ("accepted", "queued")


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
    outbox: Any = None
    seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, outcome: str, sub_id: str = "", error: str | None = None) -> None:
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

    if isinstance(exc, FeedError | ValueError):
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

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "slot": self.slot, "cursor": self.cursor, "events": self.events}

    @classmethod
    def parse(cls, data: Any) -> Plan | None:
        if not isinstance(data, dict) or not data.get("key"):
            return None
        return cls(
            key=str(data["key"]),
            slot=str(data.get("slot", "")),
            cursor=dict(data.get("cursor") or {}),
            events=[str(x) for x in data.get("events") or []],
        )


class Runner:
    """One run's state: store, clock, budget; `process` handles one subscription end to end."""

    def __init__(
        self,
        store: Any,
        now: datetime,
        deadline: float,
        stats: RunStats,
        *,
        after_deliver: Callable[[Any, Any], None] | None = None,
    ) -> None:
        self.store = store
        self.now = now
        self.deadline = deadline
        self.stats = stats
        # Test hook: called between delivery and commit (a crash there must not double-post).
        self.after_deliver = after_deliver
        self.fixed_next: datetime | None = None

    # -- helpers -------------------------------------------------------------------------

    def _next(self, sub: Any) -> datetime:
        if self.fixed_next is not None:
            return self.fixed_next
        try:
            return schedules.next_run(sub.schedule, self.now)
        except ValueError:
            # A broken schedule must not make the subscription due on every tick.
            return self.now + timedelta(days=1)

    def _claim(self, sub: Any, cursor: dict[str, Any], error: str | None, done: bool) -> Any:
        """Take the subscription under its ETag, moving next_run to the next slot in the same write.

        None when another run changed it first. `done` marks the run as finished (last_run).
        """
        changed = sub.model_copy(deep=True)
        changed.cursor = cursor
        changed.last_error = error
        if done:
            changed.last_run = self.now
        return self.store.subscriptions.claim(changed, self._next(sub))

    def _commit(self, sub: Any, cursor: dict[str, Any], error: str | None) -> Any:
        """After delivery: the new cursor without the plan; next_run is already set (one update)."""
        sub.cursor = {k: v for k, v in cursor.items() if k != PENDING}
        sub.last_run = self.now
        sub.last_error = error
        return self.store.subscriptions.save(sub)

    def _posted_before(self, sub: Any, plan: Plan) -> bool:
        """Did Teams (or the outbox) take the plan's card? Read from the delivery's idempotency record."""
        from shared.delivery import client

        for number in ("1/1", "1/2"):
            if self.store.dedupe.get(client.DEDUPE_SCOPE, client.dedupe_key(sub.channel, plan.key, number)):
                return True
        # Queued rather than accepted: the outbox holds it (rare path, so a listing is fine).
        prefix = plan.key + "#"
        return any((item.idempotency_key or "").startswith(prefix) for item in self.store.outbox.list())

    # -- one subscription ----------------------------------------------------------------

    def process(self, sub: Any) -> str:
        if time.monotonic() >= self.deadline:
            self.stats.add("deferred")
            return "deferred"
        try:
            outcome, error = self._process(sub, force=False)
        except Exception as exc:
            # Store trouble mid-way: the subscription keeps its plan (if any) and next run retries.
            outcome, error = "failed", _err(exc)
            log.warning("digest %s failed: %s", sub.id, error)
        self.stats.add(outcome, sub.id, error)
        return outcome

    def _recover(self, sub: Any) -> Any:
        """A plan left by a run that died: commit it if its card was posted, else drop it."""
        plan = Plan.parse((sub.cursor or {}).get(PENDING))
        if plan is None:
            return sub
        if self._posted_before(sub, plan):
            if plan.events:
                self.store.events.remove(sub.id, plan.events)
            sub.cursor = plan.cursor
            self.stats.add("recovered")
            log.info("digest %s: committed slot %s left by an interrupted run", sub.id, plan.slot)
        else:
            sub.cursor = {k: v for k, v in (sub.cursor or {}).items() if k != PENDING}
        # Written together with the claim below: the ETag guards both.
        return sub

    def _process(self, sub: Any, *, force: bool, slot: str | None = None) -> tuple[str, str | None]:
        from shared.delivery import client
        from shared.digest.card import build_digest_card
        from shared.digest.feeds.base import FeedContext, FeedError, feed_for

        slot = slot or _iso(sub.next_run or self.now)
        sub = self._recover(sub)
        base_cursor = dict(sub.cursor or {})
        try:
            gathered = feed_for(sub.source).gather(sub, FeedContext(store=self.store, now=self.now))
        except FeedError as exc:
            error = str(exc)[:300]
            log.info("digest %s: source failed: %s", sub.id, error)
            return ("failed", error) if self._claim(sub, base_cursor, error, True) else ("taken", None)
        if gathered.empty and not (sub.post_empty or force):
            cursor = {k: v for k, v in gathered.cursor.items() if k != PENDING}
            return ("empty", None) if self._claim(sub, cursor, None, True) else ("taken", None)
        card = build_digest_card(gathered, when=self.now)
        key = f"{sub.id}|{slot}"
        committed = {k: v for k, v in gathered.cursor.items() if k != PENDING}
        plan = Plan(key=key, slot=slot, cursor=committed, events=gathered.ack_event_ids)
        claimed = self._claim(sub, {**base_cursor, PENDING: plan.as_dict()}, sub.last_error, False)
        if claimed is None:
            return "taken", None
        # From here a crash leaves the plan: the next run commits it or drops it (see _recover).
        result = client.deliver(self.store, claimed.channel, card, key=key)
        state = str(getattr(result, "state", "dead"))
        if self.after_deliver is not None:
            self.after_deliver(claimed, result)
        if state not in HELD:
            detail = str(getattr(result, "detail", "") or state)
            error = f"delivery failed: {detail}"[:300]
            self._commit(claimed, base_cursor, error)
            return "failed", error
        if plan.events:
            self.store.events.remove(claimed.id, plan.events)
        self._commit(claimed, plan.cursor, None)
        return ("sent" if state == "accepted" else "queued"), None


def run(
    store: Any = None,
    *,
    now: datetime | None = None,
    past_due: bool = False,
    budget_seconds: float | None = None,
    concurrency: int | None = None,
    limit: int | None = None,
    sweep_outbox: bool = True,
    after_deliver: Callable[[Any, Any], None] | None = None,
) -> RunStats:
    """The timer's work; returns counters. Never raises for one subscription's trouble."""
    started = time.monotonic()
    if store is None:
        from shared.store import open_store

        store = open_store()
    budget = (
        budget_seconds
        if budget_seconds is not None
        else settings.get_float("DIGEST_BUDGET_SECONDS", DEFAULT_BUDGET_SECONDS)
    )
    deadline = started + budget
    stats = RunStats(past_due=past_due)
    if past_due:
        log.info("digest timer is past due: each due subscription gets one digest")
    if sweep_outbox:
        try:
            from shared.delivery import outbox

            stats.outbox = outbox.sweep(
                store, budget_seconds=min(DEFAULT_OUTBOX_SECONDS, max(1.0, budget * 0.2))
            )
        except Exception as exc:  # the outbox is retried next run; digests still go out
            log.warning("outbox sweep failed: %s", _err(exc))
    current = now or _utcnow()
    due = [
        s
        for s in store.subscriptions.due(
            current, limit or settings.get_int("DIGEST_MAX_PER_RUN", DEFAULT_MAX_PER_RUN)
        )
        if not getattr(s, "paused", False)
    ]
    stats.due = len(due)
    runner = Runner(
        store,
        current,
        deadline,
        stats,
        after_deliver=after_deliver,
    )
    workers = max(1, concurrency or settings.get_int("DIGEST_CONCURRENCY", DEFAULT_CONCURRENCY))
    if due:
        with ThreadPoolExecutor(max_workers=min(workers, len(due)), thread_name_prefix="digest") as pool:
            list(pool.map(_guarded(runner), due))
    stats.seconds = time.monotonic() - started
    log.info("digest run: %s", stats.as_dict())
    return stats


def _guarded(runner: Runner) -> Callable[[Any], str]:
    def work(sub: Any) -> str:
        try:
            return runner.process(sub)
        except Exception as exc:  # claim failed (store trouble): isolate, the next run retries
            runner.stats.add("failed", getattr(sub, "id", ""), _err(exc))
            log.warning("digest %s: %s", getattr(sub, "id", "?"), _err(exc))
            return "failed"

    return work


def send_now(store: Any, subscription_id: str) -> str:
    """The bot's `digest <id> now`: post the digest at once (even if empty); says what happened."""
    from shared.store.errors import NotFound

    try:
        sub = store.subscriptions.get(subscription_id)
    except NotFound:
        sub = None
    if sub is None:
        return f"No digest subscription {subscription_id!r}."
    now = _utcnow()
    stats = RunStats()
    runner = Runner(store, now, time.monotonic() + 60, stats)
    runner.fixed_next = sub.next_run  # a manual digest does not move the schedule
    slot = "now-" + now.strftime("%Y%m%dT%H%M")  # one manual post per minute, even on double clicks
    try:
        outcome, error = runner._process(sub, force=True, slot=slot)
    except Exception as exc:
        return f"Digest {sub.id} could not be sent: {_err(exc)}"
    if outcome == "sent":
        return f"Digest {sub.id} sent to {sub.channel}."
    if outcome == "queued":
        return f"Digest {sub.id} queued for {sub.channel}; Teams is busy, the outbox will deliver it."
    if outcome == "taken":
        return f"Digest {sub.id} is being sent by the timer right now; try again in a minute."
    return f"Digest {sub.id} could not be sent: {error or outcome}"
