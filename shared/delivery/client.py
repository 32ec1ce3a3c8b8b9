"""Posting cards to Teams channels: split to fit, rate-limit, retry briefly, then hand to the outbox.

`deliver` never raises for anything Teams answers: callers get a Result that says whether the
message was accepted, is waiting in the outbox, or is dead (with the reason). It only raises when
the store itself is unavailable (callers answer 503).

Never twice once accepted: every part of a message has an idempotency key (message key + channel
+ part number) in the store's dedupe table. A part whose acceptance is recorded there is never
posted again, by this call, a retry of the caller, or the outbox sweep. A caller that holds a
fresh claim on the whole message (an incoming post) may defer those records to an `Acceptances`
ledger: its own completion record then stands for them, and the ledger is written only if the
caller gives up half done.

Not exactly-once: a post whose answer never arrives (read timeout, dropped connection, a crash
between the POST and the record) is posted again, so the channel may show that message twice.
Teams' webhooks take no idempotency key, so nothing on our side can tell "arrived, answer lost"
from "never arrived"; we choose at-least-once, since losing an alert is worse than showing it twice.

Webhook URLs are secrets: logs and Result details name the channel and `allowlist.mask(url)` only.
The delivery log for the bot's `status` is written in the background (`shared.store.behind`), off the
answer path.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from shared import settings
from shared.connections import BrokenBody, Pool, split_url
from shared.delivery import allowlist
from shared.delivery.classify import Kind, Outcome, classify_exception, classify_response
from shared.delivery.ratelimit import LIMITER, windows_for
from shared.idempotency import Scope, Status
from shared.invocation import carry

log = logging.getLogger("shared.delivery")

TEAMS_MAX_BYTES = 28672
DEDUPE_SCOPE = "delivery"
# A 429 without Retry-After: a Microsoft engineer advised waiting "nearly 10-15 seconds".
DEFAULT_THROTTLE_SECONDS = 15.0
# The limiter may make a post wait this long inline (the 1-second window); longer waits go to the outbox.
MAX_INLINE_LIMITER_WAIT = 1.0
READ_LIMIT_BYTES = 65536
ACCEPTED_TTL_SECONDS = 7 * 86400
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


@dataclass(frozen=True)
class Config:
    timeout: float
    connect_timeout: float
    max_attempts: int
    inline_attempts: int
    budget_seconds: float
    margin_bytes: int
    max_threads: int
    max_age_seconds: float

    @property
    def max_bytes(self) -> int:
        return TEAMS_MAX_BYTES - self.margin_bytes

    @classmethod
    def load(cls) -> Config:
        # Clamped: a socket timeout of 0 would mean non-blocking, and a huge one would hang a worker.
        timeout = min(max(0.5, settings.get_float("DELIVERY_TIMEOUT_SECONDS", 10.0)), 120.0)
        return cls(
            timeout=timeout,
            connect_timeout=min(timeout, 5.0),
            max_attempts=max(1, settings.get_int("DELIVERY_MAX_ATTEMPTS", 8)),
            inline_attempts=max(1, settings.get_int("DELIVERY_INLINE_ATTEMPTS", 3)),
            budget_seconds=max(0.0, settings.get_float("DELIVERY_BUDGET_SECONDS", 8.0)),
            margin_bytes=min(max(0, settings.get_int("DELIVERY_MARGIN_BYTES", 2048)), 16384),
            max_threads=min(32, max(1, settings.get_int("DELIVERY_MAX_THREADS", 8))),
            max_age_seconds=max(0.0, settings.get_float("DELIVERY_MAX_AGE_SECONDS", 86400.0)),
        )


def inline_seconds(messages: int, channels: int = 1) -> float:
    """The longest `deliver_many` can take over `messages` messages to `channels`, inline.

    Each delivery's parts share one deadline (the budget): after it, parts wait in the outbox,
    and the post running at the deadline may take one more timeout (plus a connect timeout).
    Channels go `max_threads` at a time; messages one after another.
    """
    cfg = Config.load()
    waves = -(-max(1, channels) // cfg.max_threads)
    return max(1, messages) * waves * (cfg.budget_seconds + cfg.timeout + cfg.connect_timeout)


# --- HTTP -------------------------------------------------------------------------------------

USER_AGENT = "teams-connect-functions/0.1"
_pool: Pool | None = None
_pool_lock = threading.Lock()


def pool() -> Pool:
    """One keep-alive pool per process (http.client: no cookies, no proxies, no redirects)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = Pool(size=32)
    return _pool


def post(url: str, body: bytes, timeout: float, connect_timeout: float | None = None) -> Outcome:
    """One POST, classified. Never follows redirects (the allowlist checked this URL, not another)."""
    try:
        origin, target = split_url(url)
    except http.client.InvalidURL as exc:
        return classify_exception(exc)
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, "Accept": "*/*"}
    connections = pool()
    try:
        conn = connections.checkout(origin, min(timeout, connect_timeout or timeout))
        response, text = connections.exchange(
            origin, conn, "POST", target, body, headers, timeout, limit=READ_LIMIT_BYTES
        )
    except BrokenBody as exc:
        if 200 < exc.status < 300:  # a 202 whose (unused) body broke off was still accepted
            return Outcome(Kind.ACCEPTED, exc.status, f"HTTP {exc.status} accepted")
        if exc.status >= 300:  # a 413 or a 429 says enough without its body
            return _classified(url, exc.status, b"", exc.headers.get("Retry-After"))
        return classify_exception(exc)
    except (OSError, http.client.HTTPException, UnicodeError) as exc:
        return classify_exception(exc)
    return _classified(url, response.status, text, response.getheader("Retry-After"))


def _classified(url: str, status: int, text: bytes, retry_after: str | None) -> Outcome:
    outcome = classify_response(status, text, {"Retry-After": retry_after} if retry_after else None)
    return Outcome(outcome.kind, outcome.status, allowlist.redact(outcome.reason, url), outcome.retry_after)


def backoff(attempt: int, base: float, cap: float) -> float:
    """Full jitter: uniform over [0, min(cap, base * 2^attempt)] (spreads retries of many senders)."""
    return random.uniform(0.0, min(cap, base * (2 ** min(max(0, attempt), 32))))  # noqa: S311 (not crypto)


def retry_delay(url: str, outcome: Outcome, attempt: int, base: float, cap: float) -> float:
    """Seconds before the next try after a retryable answer: backoff, but never before Retry-After.

    A 429 also holds the destination back in the process-wide limiter (Retry-After, or the default
    cool-down when Teams gave none), so other threads and the sweep back off too.
    """
    delay = backoff(attempt, base, cap)
    if outcome.kind is Kind.THROTTLED:
        hold = outcome.retry_after if outcome.retry_after is not None else DEFAULT_THROTTLE_SECONDS
        LIMITER.block(url, hold)
        return max(delay, hold)
    if outcome.retry_after is not None:
        return max(delay, outcome.retry_after)
    return delay


# --- message parts ----------------------------------------------------------------------------


@dataclass
class Part:
    """One POST body of a message; `number` is "2/3" (or "2/3.1/2" after a split on a 413)."""

    number: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def new_key() -> str:
    return uuid.uuid4().hex


def dedupe_key(channel: str, key: str, number: str) -> str:
    return f"{channel}|{key}#{number}"


def split_item_key(idempotency_key: str | None) -> tuple[str, str]:
    """`"KEY#2/3"` -> ("KEY", "2/3")."""
    base, sep, number = (idempotency_key or "").rpartition("#")
    return (base, number) if sep else (idempotency_key or "", "1/1")


def part_order(number: str) -> tuple[int, ...]:
    """Sort key for part numbers: "10/12" after "2/12", "2/3.1/2" after "2/3"."""
    order: list[int] = []
    for piece in number.split("."):
        head = piece.split("/")[0]
        order.append(int(head) if head.isdigit() else 0)
    return tuple(order)


def make_parts(card: Any, max_bytes: int, prefix: str = "") -> list[Part]:
    """Fit the card under the cap (split or shorten, by shared.cards.limits) and serialise each part once."""
    from shared.cards import envelopes, limits

    # A card Teams would refuse fails here, visibly, instead of inside a flow run nobody watches.
    limits.check_webhook(card)
    cards = limits.fit(card, max_bytes=max_bytes)
    n = len(cards)
    return [
        Part(f"{prefix}{i}/{n}", envelopes.dumps(envelopes.workflows_message(c)))
        for i, c in enumerate(cards, start=1)
    ]


def split_part(part: Part, max_bytes: int) -> list[Part] | None:
    """Split a part that Teams refused as too large into smaller ones; None when it cannot get smaller.

    None also when the card's header, actions and mentions alone fill the smaller cap (`limits.fit`
    raises CardRuleError then): the part becomes a dead letter with that reason instead of an error.
    """
    from shared.cards import envelopes
    from shared.cards.limits import CardRuleError

    try:
        cards = envelopes.cards_of(json.loads(part.body))
    except ValueError:
        return None
    if not cards:
        return None
    smaller = max(1024, min(max_bytes, len(part.body)) // 2)
    pieces: list[Part] = []
    try:
        for card in cards:
            pieces.extend(make_parts(card, smaller))
    except CardRuleError:
        return None
    if len(pieces) <= 1:
        return None
    n = len(pieces)
    return [Part(f"{part.number}.{i}/{n}", p.body) for i, p in enumerate(pieces, start=1)]


# --- one part, inline -------------------------------------------------------------------------


@dataclass
class PartResult:
    state: Literal["accepted", "queued", "dead", "split"]
    detail: str
    outcome: Outcome | None = None
    wait: float = 0.0
    pieces: int = 0  # "split": into how many pieces an earlier attempt split the part


def _send_inline(url: str, body: bytes, cfg: Config, deadline: float) -> PartResult:
    """Post with bounded retries inside the caller's time budget; hand back a wait when out of it."""
    legacy = allowlist.is_legacy(url)
    windows = windows_for(legacy)
    attempt = 0
    last: Outcome | None = None
    while True:
        wait = LIMITER.acquire(url, windows)
        now = time.monotonic()
        if wait > 0:
            if wait <= MAX_INLINE_LIMITER_WAIT and now + wait < deadline:
                time.sleep(wait)
                continue
            reason = last.reason if last else "rate limit for this destination reached"
            return PartResult("queued", reason, last, wait=wait)
        attempt += 1
        remaining = max(1.0, deadline - now)
        outcome = post(url, body, min(cfg.timeout, remaining), cfg.connect_timeout)
        last = outcome
        if outcome.kind is Kind.ACCEPTED:
            return PartResult("accepted", outcome.reason, outcome)
        if outcome.kind is Kind.PERMANENT:
            return PartResult("dead", outcome.reason, outcome)
        if outcome.kind is Kind.TOO_LARGE:
            return PartResult("split", outcome.reason, outcome)
        delay = retry_delay(url, outcome, attempt, 0.5, 4.0)
        if attempt >= cfg.inline_attempts or time.monotonic() + delay >= deadline:
            return PartResult("queued", outcome.reason, outcome, wait=delay)
        time.sleep(delay)


def _attempt_part(
    store: Any,
    channel: str,
    url: str,
    key: str,
    part: Part,
    cfg: Config,
    deadline: float,
    ledger: Acceptances | None = None,
) -> PartResult:
    """One part under its idempotency key: skip when already accepted, claim, post, record.

    Two store writes for a new part (claim, then acceptance); a taken key costs one read more,
    and the record read there already says whether the part was accepted. None under a caller's
    claim (`ledger`): the acceptance goes into the ledger instead.
    """
    dkey = dedupe_key(channel, key, part.number)
    if ledger is not None:
        result = _send_inline(url, part.body, cfg, deadline)
        if result.state == "accepted":
            ledger.add(dkey, result.outcome)
        return result
    lease = int(max(60.0, cfg.budget_seconds + 3 * cfg.timeout))
    keys = Scope(store, DEDUPE_SCOPE)
    claim = keys.acquire(dkey, lease)
    if not claim.held:
        holder = claim.holder
        if is_accepted(holder):
            return PartResult("accepted", "already accepted earlier")
        pieces = split_count(holder)
        if pieces:  # split the same way again: each piece is checked on its own
            return PartResult("split", f"split into {pieces} pieces earlier", pieces=pieces)
        return PartResult("queued", "another run is sending this part", wait=float(lease))
    try:
        result = _send_inline(url, part.body, cfg, deadline)
    except BaseException:
        keys.release(dkey)
        raise
    if result.state == "accepted":
        mark_accepted(store, dkey, result.outcome)
    elif result.state != "split":  # a split keeps the claim: `_deliver_parts` marks it
        keys.release(dkey)
    return result


def is_accepted(record: Any) -> bool:
    """Whether a dedupe record (or None) says the part was accepted (whole, not split)."""
    return (
        record is not None and getattr(record, "status", None) == Status.COMPLETED and not split_count(record)
    )


def split_count(record: Any) -> int:
    """Into how many pieces a part was split after Teams refused it as too large (0: it was not).

    The pieces are numbered "<part>.<i>/<count>" and have records of their own; a retry splits
    the part the same way and checks them, and digest recovery asks about each of them.
    """
    data = getattr(record, "data", None) if record is not None else None
    pieces = data.get("split") if isinstance(data, dict) else None
    return pieces if isinstance(pieces, int) and pieces > 0 else 0


def mark_split(store: Any, dkey: str, pieces: int) -> None:
    Scope(store, DEDUPE_SCOPE).complete(dkey, {"split": pieces}, ttl_seconds=ACCEPTED_TTL_SECONDS)


def mark_accepted(store: Any, dkey: str, outcome: Outcome | None) -> None:
    """Record acceptance; from here on this part is never posted again.

    A blind write (no read): the caller holds the claim, and with a TTL the record is written whole.
    """
    # Kept well past the outbox's give-up age, so no retry can outlive the record that stops it.
    Scope(store, DEDUPE_SCOPE).complete(dkey, _acceptance(outcome), ttl_seconds=ACCEPTED_TTL_SECONDS)


def _acceptance(outcome: Outcome | None) -> dict[str, Any]:
    return {"at": datetime.now(UTC).isoformat(), "status": outcome.status if outcome else None}


class Acceptances:
    """Parts accepted inline whose acceptance records were not written: the caller's claim covers them.

    An incoming post holds a fresh claim on its message key (`DedupeRepository.acquire`) whose
    lease outlasts the delivery, so no other run can be sending its parts, and the claim's
    completion says the whole message went out. Delivering under such a claim skips the two
    per-part writes (claim, acceptance). If the caller gives up half done it must `write` the
    ledger and expire (never release) its claim: the retry then takes the key over as not fresh
    and checks the per-part records, skipping what was accepted (and splitting the same way a
    part that was split).
    """

    def __init__(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def add(self, dkey: str, outcome: Outcome | None) -> None:
        with self._lock:
            self._records[dkey] = _acceptance(outcome)

    def split(self, dkey: str, pieces: int) -> None:
        with self._lock:
            self._records[dkey] = {"split": pieces}

    def write(self, store: Any) -> None:
        """The records of the parts noted here (one transaction per 100)."""
        with self._lock:
            records, self._records = self._records, {}
        if records:
            Scope(store, DEDUPE_SCOPE).complete_all(records, ACCEPTED_TTL_SECONDS)


# --- outbox hand-off --------------------------------------------------------------------------


def outbox_item(
    channel: str,
    key: str,
    part: Part,
    next_attempt: datetime,
    error: str | None,
    created: datetime | None = None,
) -> Any:
    """An outbox item for one part; `created` (default now) orders the parts of a message."""
    from shared.store.models import OutboxItem

    return OutboxItem(
        channel=channel,
        message=part.text,
        idempotency_key=f"{key}#{part.number}",
        attempts=0,
        next_attempt=next_attempt,
        last_error=error,
        created=created or datetime.now(UTC),
    )


def queue_parts(
    store: Any, channel: str, key: str, parts: Iterable[Part], wait: float, error: str | None
) -> int:
    next_attempt = datetime.now(UTC) + timedelta(seconds=max(0.0, wait))
    count = 0
    for part in parts:
        store.outbox.add(outbox_item(channel, key, part, next_attempt, error))
        count += 1
    return count


def dead_letter_parts(store: Any, channel: str, key: str, parts: Iterable[Part], reason: str) -> int:
    """Keep refused parts as dead letters, so an operator can see the reason and requeue after a fix."""
    count = 0
    for part in parts:
        item = outbox_item(channel, key, part, datetime.now(UTC), reason)
        store.outbox.add(item.model_copy(update={"dead": True, "reason": reason[:1000]}))
        count += 1
    return count


# --- public API -------------------------------------------------------------------------------


def _finish(store: Any, channel: str, result: Result) -> Result:
    store.deliveries.record_later(channel, result.ok, f"{result.state}: {result.detail}")
    level = logging.WARNING if result.state == "dead" else logging.INFO
    log.log(
        level, "delivery to channel %s: %s (%d parts) %s", channel, result.state, result.parts, result.detail
    )
    return result


def deliver(
    store: Any,
    channel_name: str,
    card: Any,
    *,
    key: str | None = None,
    budget_seconds: float | None = None,
    ledger: Acceptances | None = None,
) -> Result:
    """Post `card` (dict or AdaptiveCard) to a channel; see the module docstring for the guarantees.

    `key` identifies the message: the same key to the same channel is never accepted twice. Without
    one, each call is a new message. `budget_seconds` bounds the time spent retrying inline.
    `ledger`: the caller holds a fresh claim on `key` (see `Acceptances`).
    """
    cfg = Config.load()
    key = key or new_key()
    budget = cfg.budget_seconds if budget_seconds is None else max(0.0, budget_seconds)
    deadline = time.monotonic() + budget

    # From memory when read in the last seconds: a relinked URL takes effect within RECENT_SECONDS.
    channel = store.channels.find_recent(channel_name)
    if channel is None:
        return _finish(store, channel_name, Result("dead", 0, f"no channel named {channel_name!r}"))
    url: str = channel.url

    try:
        parts = make_parts(card, cfg.max_bytes)
    except Exception as exc:  # a card that cannot be fitted or serialised can never be sent
        message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return _finish(store, channel_name, Result("dead", 0, f"the card cannot be sent: {message}"))

    try:
        allowlist.check_destination(url)
    except allowlist.DestinationNotAllowed as exc:
        dead_letter_parts(store, channel_name, key, parts, str(exc))
        return _finish(store, channel_name, Result("dead", len(parts), f"destination refused: {exc}"))

    result = _deliver_parts(store, channel_name, url, key, parts, cfg, deadline, ledger)
    return _finish(store, channel_name, result)


def _deliver_parts(
    store: Any,
    channel: str,
    url: str,
    key: str,
    parts: Sequence[Part],
    cfg: Config,
    deadline: float,
    ledger: Acceptances | None = None,
) -> Result:
    pending = list(parts)
    accepted = 0
    total = len(pending)
    dead_reasons: list[str] = []
    attempted = False
    while pending:
        part = pending.pop(0)
        if attempted and time.monotonic() >= deadline:
            # Out of time (a caller's claim must outlast this call): the rest waits in the outbox.
            result = PartResult("queued", "the time for this delivery ran out")
        else:
            attempted = True
            result = _attempt_part(store, channel, url, key, part, cfg, deadline, ledger)
        if result.state == "accepted":
            accepted += 1
            continue
        if result.state == "split":
            smaller = split_part(part, cfg.max_bytes)
            if smaller is not None and result.pieces and len(smaller) != result.pieces:
                log.warning(
                    "part %s to channel %s now splits into %d pieces, not %d as before (the size "
                    "settings changed): pieces already posted may show twice",
                    part.number, channel, len(smaller), result.pieces,
                )
            careful = ledger is None  # the part's claim is held: mark it, or free it
            if smaller is None:
                reason = (
                    f"part {part.number} is too large for Teams and cannot be split further ({result.detail})"
                )
                if careful and result.outcome is not None:
                    Scope(store, DEDUPE_SCOPE).release(dedupe_key(channel, key, part.number))
                dead_letter_parts(store, channel, key, [part], reason)
                dead_reasons.append(reason)
                continue
            if careful and result.outcome is not None:  # (not when it was split earlier)
                mark_split(store, dedupe_key(channel, key, part.number), len(smaller))
            elif ledger is not None:
                ledger.split(dedupe_key(channel, key, part.number), len(smaller))
            total += len(smaller) - 1
            pending[:0] = smaller
            continue
        if result.state == "dead":
            dead_letter_parts(store, channel, key, [part], result.detail)
            dead_reasons.append(f"part {part.number}: {result.detail}")
            status = result.outcome.status if result.outcome else None
            if status in _URL_DEAD_STATUSES and pending:
                reason = f"not sent: the destination refused part {part.number} with HTTP {status}"
                dead_letter_parts(store, channel, key, pending, reason)
                pending = []
            continue
        # queued: this part and every later one wait in the outbox, in order.
        queued = queue_parts(store, channel, key, [part, *pending], result.wait, result.detail)
        if dead_reasons:
            return Result("dead", total, "; ".join(dead_reasons))
        return Result(
            "queued",
            total,
            f"{queued} of {total} parts waiting in the outbox "
            f"(next attempt in {result.wait:.0f} s): {result.detail}",
        )
    if dead_reasons:
        return Result("dead", total, "; ".join(dead_reasons))
    return Result("accepted", total, f"accepted ({accepted} of {total} parts)" if total > 1 else "accepted")


def deliver_many(
    store: Any,
    channel_names: Sequence[str],
    card: Any,
    *,
    key: str | None = None,
    ledger: Acceptances | None = None,
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
        return {names[0]: deliver(store, names[0], card, key=key, ledger=ledger)}

    def one(name: str) -> Result:
        try:
            return deliver(store, name, card, key=key, ledger=ledger)
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
