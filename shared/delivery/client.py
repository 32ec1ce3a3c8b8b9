"""Posting cards to Teams channels: split to fit, rate-limit, retry briefly, then hand to the outbox.

`deliver` never raises for anything Teams answers: callers get a Result that says whether the
message was accepted, is waiting in the outbox, or is dead (with the reason). It only raises when
the store itself is unavailable (callers answer 503).

Never twice once accepted: every part of a message has an idempotency key (message key + channel
+ part number, `records`). A part whose acceptance is recorded there is never posted again, by
this call, a retry of the caller, or the outbox sweep. A caller that holds a fresh claim on the
whole message (an incoming post) may defer those records to an `Acceptances` ledger: its own
completion record then stands for them, and the ledger is written only if the caller gives up
half done.

Not exactly-once: a post whose answer never arrives (read timeout, dropped connection, a crash
between the POST and the record) is posted again, so the channel may show that message twice.
Teams' webhooks take no idempotency key, so nothing on our side can tell "arrived, answer lost"
from "never arrived"; we choose at-least-once, since losing an alert is worse than showing it twice.

Webhook URLs are secrets: logs and Result details name the channel and `allowlist.mask(url)` only.
The delivery log for the bot's `status` is written in the background (`shared.store.behind`), off the
answer path. Teams is reached through a `transport.Transport` (default: http.client).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Literal

from shared.delivery import allowlist
from shared.delivery import budget as budgets
from shared.delivery import transport as transports
from shared.delivery.classify import Answer, Kind
from shared.delivery.config import Config
from shared.delivery.handoff import dead_letter_parts, queue_parts
from shared.delivery.parts import Part, make_parts, split_part, unsendable_part
from shared.delivery.records import Acceptances, PartRecords, is_accepted, split_count
from shared.delivery.retry import retry_delay
from shared.invocation import carry

if TYPE_CHECKING:
    from shared.cards.envelopes import CardLike
    from shared.delivery.transport import Transport
    from shared.store import Store

log = logging.getLogger("shared.delivery")

# The limiter may make a post wait this long inline (the 1-second window); longer waits go to the outbox.
MAX_INLINE_LIMITER_WAIT = 1.0
#: the `origin` of a digest's post, and of the bot's own late posts: such posts may post while the
#: sweep holds their connection, go first in its shares, and are never combined (people wait for them)
DIGEST_ORIGIN = "digest"
BOT_ORIGIN = "bot"
PRIORITY_ORIGINS = frozenset({DIGEST_ORIGIN, BOT_ORIGIN})

#: takes what one post needs now (`budget.gate` bound to the channel): the slot, or how long to wait
Take = Callable[[], budgets.Slot]
# Answers that mean the URL itself is gone or refused: the other parts would fail the same way.
_URL_DEAD_STATUSES = frozenset({401, 403, 404, 410})

State = Literal["accepted", "queued", "dead"]


@dataclass(frozen=True)
class Result:
    """What became of one message to one channel. `detail` never contains the webhook URL."""

    state: State
    parts: int
    detail: str

    @property
    def ok(self) -> bool:
        return self.state == "accepted"


@dataclass
class PartAttempt:
    """What one inline attempt at one part came to; `answer` is Teams' last (None: not posted now)."""

    state: Literal["accepted", "queued", "dead", "split"]
    detail: str
    answer: Answer | None = None
    wait: float = 0.0
    pieces: int = 0  # "split": into how many pieces an earlier attempt split the part


def new_key() -> str:
    return uuid.uuid4().hex


# --- one part, inline -------------------------------------------------------------------------


def _short_reason(slot: budgets.Slot) -> str:
    if slot.why == "held":
        return "the connection's backlog is being sent, combined: this post joins it"
    if slot.why == "budget":
        return "the connection's budget is spent for now: this post waits to be combined"
    return "rate limit for this destination reached"


def _send_inline(
    url: str, body: bytes, cfg: Config, deadline: float, transport: Transport, take: Take
) -> PartAttempt:
    """Post with bounded retries inside the caller's time budget; hand back a wait when out of it.

    A post refused by its connection's budget waits in the outbox due at once (wait 0): the sweep
    sends or combines it as the budget allows, in every process.
    """
    attempt = 0
    last: Answer | None = None
    while True:
        slot = take()
        now = time.monotonic()
        if not slot.taken:
            wait = slot.wait
            if slot.why != "held" and wait <= MAX_INLINE_LIMITER_WAIT and now + wait < deadline:
                time.sleep(wait)
                continue
            reason = last.reason if last else _short_reason(slot)
            return PartAttempt("queued", reason, last, wait=wait if slot.why == "url" else 0.0)
        attempt += 1
        remaining = max(1.0, deadline - now)
        answer = transport.post(url, body, min(cfg.timeout, remaining), cfg.connect_timeout)
        last = answer
        if answer.kind is Kind.ACCEPTED:
            return PartAttempt("accepted", answer.reason, answer)
        if answer.kind is Kind.PERMANENT:
            return PartAttempt("dead", answer.reason, answer)
        if answer.kind is Kind.TOO_LARGE:
            return PartAttempt("split", answer.reason, answer)
        delay = retry_delay(url, answer, attempt, 0.5, 4.0)
        if attempt >= cfg.inline_attempts or time.monotonic() + delay >= deadline:
            return PartAttempt("queued", answer.reason, answer, wait=delay)
        time.sleep(delay)


def _attempt_part(
    records: PartRecords,
    url: str,
    part: Part,
    cfg: Config,
    deadline: float,
    transport: Transport,
    take: Take,
    ledger: Acceptances | None = None,
) -> PartAttempt:
    """One part under its idempotency key: skip when already accepted, claim, post, record.

    Two store writes for a new part (claim, then acceptance); a taken key costs one read more,
    and the record read there already says whether the part was accepted. None under a caller's
    claim (`ledger`): the acceptance goes into the ledger instead.
    """
    if ledger is not None:
        attempt = _send_inline(url, part.body, cfg, deadline, transport, take)
        if attempt.state == "accepted":
            ledger.accepted(records.channel, records.key, part.number, attempt.answer)
        return attempt
    lease = int(max(60.0, cfg.budget_seconds + 3 * cfg.timeout))
    claim = records.claim(part.number, lease)
    if not claim.held:
        holder = claim.holder
        if is_accepted(holder):
            return PartAttempt("accepted", "already accepted earlier")
        pieces = split_count(holder)
        if pieces:  # split the same way again: each piece is checked on its own
            return PartAttempt("split", f"split into {pieces} pieces earlier", pieces=pieces)
        return PartAttempt("queued", "another run is sending this part", wait=float(lease))
    try:
        attempt = _send_inline(url, part.body, cfg, deadline, transport, take)
    except BaseException:
        records.release(part.number)
        raise
    if attempt.state == "accepted":
        records.accepted(part.number, attempt.answer)
    elif attempt.state != "split":  # a split keeps the claim: `_deliver_parts` marks it
        records.release(part.number)
    return attempt


# --- public API -------------------------------------------------------------------------------


def _finish(store: Store, channel: str, result: Result) -> Result:
    store.deliveries.record_later(channel, result.ok, f"{result.state}: {result.detail}")
    level = logging.WARNING if result.state == "dead" else logging.INFO
    log.log(
        level, "delivery to channel %s: %s (%d parts) %s", channel, result.state, result.parts, result.detail
    )
    return result


def deliver(
    store: Store,
    channel_name: str,
    card: CardLike,
    *,
    key: str | None = None,
    budget_seconds: float | None = None,
    ledger: Acceptances | None = None,
    transport: Transport | None = None,
    origin: str | None = None,
) -> Result:
    """Post `card` (dict or AdaptiveCard) to a channel; see the module docstring for the guarantees.

    `key` identifies the message: the same key to the same channel is never accepted twice. Without
    one, each call is a new message. `budget_seconds` bounds the time spent retrying inline.
    `ledger`: the caller holds a fresh claim on `key` (see `Acceptances`). `transport`: how to
    reach Teams (default `transport.default()`). `origin`: the incoming route it comes from (fair
    shares per route when the connection's budget is short), or one of `PRIORITY_ORIGINS` (a
    digest, the bot's own post: it keeps its slot and is never combined).
    """
    cfg = Config.load()
    key = key or new_key()
    budget = cfg.budget_seconds if budget_seconds is None else max(0.0, budget_seconds)
    deadline = time.monotonic() + budget

    # From memory when read in the last seconds: a relinked URL takes effect within RECENT_SECONDS.
    channel = store.channels.find_recent(channel_name)

    try:
        parts = make_parts(card, cfg.max_bytes)
    except Exception as exc:  # a card that cannot be fitted or serialised can never be sent
        message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        reason = f"the card cannot be sent: {message}"
        # Kept as a dead letter all the same (`admin dead-letters list`), never dropped unseen.
        kept = dead_letter_parts(store, channel_name, key, [unsendable_part(card)], reason)
        return _finish(store, channel_name, Result("dead", kept, reason))

    if channel is None:
        # A route still naming a removed channel: kept as a dead letter, so that adding the channel
        # again and `admin dead-letters requeue` delivers it; never accepted and dropped unseen.
        reason = f"no channel named {channel_name!r} (add it, then requeue the dead letters)"
        dead_letter_parts(store, channel_name, key, parts, reason)
        return _finish(store, channel_name, Result("dead", len(parts), reason))
    url: str = channel.url

    try:
        allowlist.check_destination(url)
    except allowlist.DestinationNotAllowed as exc:
        dead_letter_parts(store, channel_name, key, parts, str(exc))
        return _finish(store, channel_name, Result("dead", len(parts), f"destination refused: {exc}"))

    records = PartRecords(store, channel_name, key)
    take: Take = partial(budgets.gate, store, url, channel.connection, hold_ok=origin in PRIORITY_ORIGINS)
    # An unanswered post is counted again in the connection's budget (`budget.unanswered`).
    counted = budgets.Counting(transport or transports.default(), store, channel.connection)
    result = _deliver_parts(store, records, url, parts, cfg, deadline, counted, take, ledger, origin)
    return _finish(store, channel_name, result)


def _deliver_parts(
    store: Store,
    records: PartRecords,
    url: str,
    parts: Sequence[Part],
    cfg: Config,
    deadline: float,
    transport: Transport,
    take: Take,
    ledger: Acceptances | None = None,
    origin: str | None = None,
) -> Result:
    channel, key = records.channel, records.key
    pending = list(parts)
    accepted = 0
    total = len(pending)
    dead_reasons: list[str] = []
    attempted = False
    while pending:
        part = pending.pop(0)
        if attempted and time.monotonic() >= deadline:
            # Out of time (a caller's claim must outlast this call): the rest waits in the outbox.
            attempt = PartAttempt("queued", "the time for this delivery ran out")
        else:
            attempted = True
            attempt = _attempt_part(records, url, part, cfg, deadline, transport, take, ledger)
        if attempt.state == "accepted":
            accepted += 1
            continue
        if attempt.state == "split":
            smaller = split_part(part, cfg.max_bytes)
            if smaller is not None and attempt.pieces and len(smaller) != attempt.pieces:
                log.warning(
                    "part %s to channel %s now splits into %d pieces, not %d as before (the size "
                    "settings changed): pieces already posted may show twice",
                    part.number, channel, len(smaller), attempt.pieces,
                )
            careful = ledger is None  # the part's claim is held: mark it, or free it
            if smaller is None:
                reason = (
                    f"part {part.number} is too large for Teams and cannot be split further "
                    f"({attempt.detail})"
                )
                if careful and attempt.answer is not None:
                    records.release(part.number)
                dead_letter_parts(store, channel, key, [part], reason)
                dead_reasons.append(reason)
                continue
            if careful and attempt.answer is not None:  # (not when it was split earlier)
                records.split(part.number, len(smaller))
            elif ledger is not None:
                ledger.split(channel, key, part.number, len(smaller))
            total += len(smaller) - 1
            pending[:0] = smaller
            continue
        if attempt.state == "dead":
            dead_letter_parts(store, channel, key, [part], attempt.detail)
            dead_reasons.append(f"part {part.number}: {attempt.detail}")
            status = attempt.answer.status if attempt.answer else None
            if status in _URL_DEAD_STATUSES and pending:
                reason = f"not sent: the destination refused part {part.number} with HTTP {status}"
                dead_letter_parts(store, channel, key, pending, reason)
                pending = []
            continue
        # queued: this part and every later one wait in the outbox, in order.
        queued = queue_parts(store, channel, key, [part, *pending], attempt.wait, attempt.detail, origin)
        if dead_reasons:
            return Result("dead", total, "; ".join(dead_reasons))
        return Result(
            "queued",
            total,
            f"{queued} of {total} parts waiting in the outbox "
            f"(next attempt in {attempt.wait:.0f} s): {attempt.detail}",
        )
    if dead_reasons:
        return Result("dead", total, "; ".join(dead_reasons))
    return Result("accepted", total, f"accepted ({accepted} of {total} parts)" if total > 1 else "accepted")


def deliver_many(
    store: Store,
    channel_names: Sequence[str],
    card: CardLike,
    *,
    key: str | None = None,
    ledger: Acceptances | None = None,
    transport: Transport | None = None,
    origin: str | None = None,
) -> dict[str, Result]:
    """The same message to several channels in parallel (bounded threads), one Result per channel.

    All channels share one message key, so a retry of the whole fan-out with the same key only
    posts where acceptance was not recorded.
    """
    from concurrent.futures import ThreadPoolExecutor

    from shared.store.errors import StoreUnavailable

    names = list(dict.fromkeys(channel_names))
    if not names:
        return {}
    key = key or new_key()
    cfg = Config.load()
    if len(names) == 1:
        only = deliver(store, names[0], card, key=key, ledger=ledger, transport=transport, origin=origin)
        return {names[0]: only}

    def one(name: str) -> Result:
        try:
            return deliver(store, name, card, key=key, ledger=ledger, transport=transport, origin=origin)
        except StoreUnavailable:
            raise
        except Exception as exc:  # one channel's bug must not lose the others' results
            # Type only: an exception's text may quote a URL.
            log.error("delivery to channel %s failed unexpectedly (%s)", name, type(exc).__name__)
            return Result("dead", 0, f"internal error ({type(exc).__name__})")

    with ThreadPoolExecutor(
        max_workers=min(cfg.max_threads, len(names)), thread_name_prefix="deliver"
    ) as pool:
        futures = {name: pool.submit(carry(one), name) for name in names}
        results: dict[str, Result] = {}
        unavailable: StoreUnavailable | None = None
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except StoreUnavailable as exc:
                unavailable = exc
    if unavailable is not None:
        raise unavailable
    return results
