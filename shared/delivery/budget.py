"""The Flow bot's budget per connection, shared by every process and instance through the store.

A Workflows channel's card is posted by the Flow bot under its flow owner's connection, and the
Teams connector lets one connection post 25 cards in 300 s (teams-platform.md §3.5); past that
the flow retries for minutes and then drops the card after we were answered 202. So every post to
a Workflows URL takes a slot of its channel's connection (`Channel.connection`, "default" unless
told) before it goes out; when there is none, the post waits (the outbox) or is combined.

The budget is a sliding window (the safe reading: Microsoft does not say which), several windows
allowed (`DELIVERY_BUDGET_WORKFLOWS`, `count/seconds,...`, default `25/300`; overridden per
connection by `admin connection set NAME --budget`). Each window is counted padded like the
per-URL limiter's (`ratelimit.padded`): posts reach Teams with varying delay.

State: one row per connection (`store.budgets`) holding the send log of the longest window
(epoch ms), taken with ETag-conditional writes. A process keeps the last row and ETag it saw, so a
take with room costs one round trip (the conditional write; on 412 it reads again and retries a
few times), and a take that the cached row already shows as full costs none (entries only age
out, so a cached "full" is true, except for an override raised meanwhile: a cached row older than
CACHE_SECONDS is read again before saying no). Threads of one process take turns per connection
(one round trip each), so they do not spend their tries on each other's 412s.

A take answers a `Slot`: taken, or why not ("budget": the windows are full; "held": the outbox
sweep is draining the connection's backlog and keeps new posts for it to combine, `hold`; "url":
a per-URL limit of this process, see `gate`) and how long until it may be. Digests and the bot's
own posts (`hold_ok`) pass a hold. The row also counts posts, originals combined and short runs.
Clocks: epoch time, so that instances agree (their skew is inside the padding).

The persistence is a small `Persistence` protocol (the store's `BudgetRepository`, or a fake in
unit tests), and the clock is injectable, as in `shared.idempotency` over `store.dedupe`.
A store outage raises `StoreUnavailable`, like the rest of delivery (callers answer 503 or queue).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from shared import settings
from shared.delivery.ratelimit import Windows, padded, parse_windows
from shared.store.errors import Conflict, NotFound
from shared.store.models import DEFAULT_CONNECTION, ConnectionState

__all__ = [
    "TAKEN", "Budget", "ConnectionState", "Counting", "Persistence", "Slot", "Usage", "for_store", "gate",
    "prefetch", "unanswered",
]

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from shared.delivery.classify import Answer
    from shared.delivery.transport import Transport
    from shared.store import Store

log = logging.getLogger("shared.delivery")

SETTING = "DELIVERY_BUDGET_WORKFLOWS"
DEFAULT = "25/300"
# A cached row is trusted to say "full" this long; older, it is read again (an override may have grown).
CACHE_SECONDS = 10.0
# Conditional writes lost to other writers before a take gives up and names a short wait.
TRIES = 4
CONTENTION_WAIT = 0.25
# A slot taken ahead of its post (`reserve`, while the incoming claim's round trip runs) is used
# within this long or not at all: its stamp must stay well inside the windows' padding (0.5 s).
RESERVE_SECONDS = 0.25
# ... and only when the connection has at least this much room now (a lost one costs little then);
# at most a RESERVE_ROOM-th of the room and MAX_AHEAD slots at once (a busy process's batch).
RESERVE_ROOM = 3
MAX_AHEAD = 8
# At most one "running short" log line per connection in this many seconds.
LOG_EVERY_SECONDS = 60.0

#: times a take found its connection's budget spent, per connection (this process)
SHORT: Counter[str] = Counter()


class Persistence(Protocol):
    def read(self, name: str) -> ConnectionState | None: ...

    def write(self, state: ConnectionState) -> ConnectionState:
        """Conditional on `state.etag` (None: only if absent); Conflict when another came first."""
        ...


_parsed: dict[str, Windows] = {}


def windows_of(raw: str | None, name: str = SETTING) -> Windows:
    """The windows of a budget text (None or "": the setting's, else the default).

    A text that names no window (`","`) is a SettingError like a malformed one. The setting itself
    falls back to the default with a warning: every post would fail otherwise, and 25/300 is the
    Flow bot's real budget.
    """
    if raw:
        return _parse(raw, name)
    text = settings.delivery().budget_workflows or DEFAULT
    try:
        return _parse(text, name)
    except settings.SettingError as exc:
        if text not in _warned:  # once per process and text
            _warned.add(text)
            log.warning("%s; using the default %s", exc, DEFAULT)
        return _parse(DEFAULT, name)


def _parse(text: str, name: str) -> Windows:
    found = _parsed.get(text)
    if found is None:
        found = parse_windows(text, name)
        if not found:
            raise settings.SettingError(f"{name} must name at least one COUNT/SECONDS window, got {text!r}")
        _parsed[text] = found
    return found


def _windows(state: ConnectionState) -> Windows:
    """The row's override, or the setting's windows when there is none or it cannot be read."""
    if state.budget:
        try:
            return windows_of(state.budget, f"the budget of connection {state.name}")
        except settings.SettingError as exc:
            if state.budget not in _warned:  # once per process and text
                _warned.add(state.budget)
                log.warning("%s; using %s instead", exc, SETTING)
    return windows_of(None)


_warned: set[str] = set()


def describe(windows: Windows) -> str:
    return ",".join(f"{count}/{seconds:g}" for count, seconds in windows)


def wait_for(sent: Sequence[int], windows: Windows, now: float, count: int = 1) -> float:
    """Seconds until `count` more posts fit in every window (0.0: now); `sent` in epoch ms, sorted.

    Raises ValueError when `count` exceeds a window's whole budget.
    """
    wait = 0.0
    for limit, seconds in windows:
        if count > limit:
            raise ValueError(f"{count} posts at once exceed the budget of {limit} in {seconds:g} s")
        span = padded(seconds)
        start = (now - span) * 1000.0
        inside = [t for t in sent if t > start]
        over = len(inside) + count - limit
        if over > 0:
            wait = max(wait, inside[over - 1] / 1000.0 + span - now)
    return max(0.0, wait)


def room_in(sent: Sequence[int], windows: Windows, now: float) -> int:
    """How many posts fit now in every window."""
    free = None
    for limit, seconds in windows:
        start = (now - padded(seconds)) * 1000.0
        left = limit - sum(1 for t in sent if t > start)
        free = left if free is None else min(free, left)
    return max(0, free or 0)


@dataclass(frozen=True)
class Slot:
    """A take's outcome: `taken`, or how long until a slot is free and why there is none now.

    `why`: "budget" (the connection's windows are full), "held" (the sweep is draining the
    connection's backlog: new posts join the outbox to be combined), "url" (a per-URL limit of
    this process: a 429's block, DELIVERY_RATE_WORKFLOWS or a legacy window).
    """

    wait: float = 0.0
    why: str = ""

    @property
    def taken(self) -> bool:
        return not self.why


TAKEN = Slot()


@dataclass(frozen=True)
class Usage:
    """One connection as `status` and `admin connection list` show it."""

    name: str
    windows: Windows
    used: int  # posts in the longest window now
    room: int  # posts that fit now
    next_free: float  # seconds until one more fits (0: now)
    posts: int
    combined: int
    overridden: bool
    held: float  # seconds the sweep still holds the connection for its backlog (0: not held)
    short: int  # sweep runs that found it short of budget

    @property
    def budget(self) -> str:
        return describe(self.windows)


class Budget:
    """Takes slots of connections' budgets; one per store in a process (`for_store`)."""

    def __init__(
        self,
        persistence: Persistence,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._persistence = persistence
        self._clock = clock
        self._monotonic = monotonic
        self._cache: dict[str, tuple[ConnectionState, float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._logged: dict[str, float] = {}
        # Originals accepted combined and not yet counted in the row: the next write carries them.
        self._combined: Counter[str] = Counter()
        # The hold this process last set per connection: it ends only its own (another sweep's, or
        # a longer one, stands).
        self._holds: dict[str, float] = {}
        # Slots `reserve` took ahead of a post (monotonic time each), per connection, and when this
        # process's recent takes were (how many to take ahead at once).
        self._reserved: dict[str, list[float]] = {}
        self._used: dict[str, list[float]] = {}

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def _read(self, name: str) -> ConnectionState:
        state = self._persistence.read(name) or ConnectionState(name=name)
        self._cache[name] = (state, self._monotonic())
        return state

    def _cached(self, name: str) -> tuple[ConnectionState, bool]:
        """(state, fresh): from the cache when there is one, else read."""
        found = self._cache.get(name)
        if found is None:
            return self._read(name), True
        return found[0], self._monotonic() - found[1] < CACHE_SECONDS

    def forget(self, name: str | None = None) -> None:
        """Drop the cached rows (tests; `admin connection set`, in its process)."""
        if name is None:
            self._cache.clear()
        else:
            self._cache.pop(name, None)

    def take(self, name: str | None, count: int = 1, *, hold_ok: bool = False) -> Slot:
        """Take `count` slots of connection `name`, or none and say how long until they are free.

        `hold_ok`: the caller is the sweep or a digest, which may post while the connection is
        held for its backlog (`hold`); others are refused then, so that what waits is combined.
        """
        name = name or DEFAULT_CONNECTION
        with self._lock(name):
            if count == 1 and self._use_reserved(name):
                return TAKEN
            return self._take(name, count, hold_ok)

    def reserve(self, name: str | None) -> bool:
        """Have a slot ready for a post about to come (`prefetch`), when the connection has room to
        spare (RESERVE_ROOM): the next `take` within RESERVE_SECONDS uses it without a round trip.
        A busy process takes as many at once as it used in the last RESERVE_SECONDS (at most
        MAX_AHEAD, and a RESERVE_ROOM-th of the room), so a sustained flow of posts costs one
        write per batch. One unused (a duplicate, the flow stopped) is a lost slot, counted as spent."""
        name = name or DEFAULT_CONNECTION
        with self._lock(name):
            mono = self._monotonic()
            ready = self._fresh_reserved(name, mono)
            if ready:
                return True
            state, _ = self._cached(name)
            now = self._clock()
            room = room_in(state.sent, _windows(state), now)
            if state.hold_until > now or room < RESERVE_ROOM:
                return False
            used = self._used.setdefault(name, [])
            used[:] = [t for t in used if mono - t < RESERVE_SECONDS]
            count = max(1, min(len(used), MAX_AHEAD, room // RESERVE_ROOM))
            if not self._take(name, count, False).taken:
                return False
            ready.extend([self._monotonic()] * count)
            return True

    def _fresh_reserved(self, name: str, mono: float) -> list[float]:
        """The connection's slots taken ahead that are still usable (lock held); stale ones are
        dropped: their stamp is too early for a post now (counted as spent, never reused)."""
        found = self._reserved.setdefault(name, [])
        found[:] = [t for t in found if mono - t < RESERVE_SECONDS]
        return found

    def _use_reserved(self, name: str) -> bool:
        """Use a slot `reserve` took lately (lock held)."""
        mono = self._monotonic()
        used = self._used.setdefault(name, [])
        used[:] = [t for t in used if mono - t < RESERVE_SECONDS]
        used.append(mono)
        found = self._fresh_reserved(name, mono)
        if not found:
            return False
        found.pop(0)
        return True

    def _take(self, name: str, count: int, hold_ok: bool) -> Slot:
        """`take` with the connection's lock held."""
        state, fresh = self._cached(name)
        for _ in range(TRIES):
            now = self._clock()
            if not hold_ok and state.hold_until > now:
                if not fresh:
                    state, fresh = self._read(name), True
                    continue
                return Slot(state.hold_until - now, "held")
            windows = _windows(state)
            wait = wait_for(state.sent, windows, now, count)
            if wait > 0 and not fresh:
                state, fresh = self._read(name), True
                continue
            if wait > 0:
                self._short(name, windows, wait)
                return Slot(wait, "budget")
            span = padded(windows[-1][1])
            kept = [t for t in state.sent if t > (now - span) * 1000.0]
            stamp = int(now * 1000)
            pending = self._combined[name]
            new = state.model_copy(
                update={
                    "sent": sorted([*kept, *([stamp] * count)]),
                    "posts": state.posts + count,
                    "combined": state.combined + pending,
                }
            )
            try:
                saved = self._persistence.write(new)
            except (Conflict, NotFound):
                state, fresh = self._read(name), True
                continue
            self._combined[name] -= pending
            self._cache[name] = (saved, self._monotonic())
            return TAKEN
        return Slot(CONTENTION_WAIT, "budget")

    def late(self, name: str | None, at: float) -> None:
        """Count one more post at `at` (epoch seconds), room or not: a post whose answer never came
        may still reach Teams after we gave up on it, so its slot is counted again where it may land
        (`unanswered`). A fact, not a request: it is written even over the budget (later takes wait)."""
        name = name or DEFAULT_CONNECTION
        with self._lock(name):
            state, _ = self._cached(name)
            for _ in range(TRIES):
                span = padded(_windows(state)[-1][1])
                kept = [t for t in state.sent if t > (self._clock() - span) * 1000.0]
                try:
                    saved = self._persistence.write(
                        state.model_copy(update={"sent": sorted([*kept, int(at * 1000)])})
                    )
                except (Conflict, NotFound):
                    state = self._read(name)
                    continue
                self._cache[name] = (saved, self._monotonic())
                return
            log.warning("connection %s: a post without an answer could not be counted again", name)

    def hold(self, name: str | None, until: float) -> None:
        """Keep posts other than the sweep's (and digests') off the connection until `until` (epoch
        seconds; 0 ends the hold): the sweep drains its backlog, combined, with every slot."""
        name = name or DEFAULT_CONNECTION
        stamp = round(float(until), 3)
        with self._lock(name):
            state, _ = self._cached(name)
            for _ in range(TRIES):
                if state.hold_until == stamp:
                    return
                if stamp > 0 and state.hold_until > stamp:
                    return  # another sweep holds it longer: only ever raised
                if stamp == 0 and state.hold_until != self._holds.get(name):
                    return  # not this process's hold (another sweep's, raised or renewed since)
                pending = self._combined[name]
                update: dict[str, float | int] = {"hold_until": stamp, "combined": state.combined + pending}
                if stamp > 0:  # counted where every instance sees it (`admin connection list`)
                    update["short"] = state.short + 1
                try:
                    saved = self._persistence.write(state.model_copy(update=update))
                except (Conflict, NotFound):
                    state = self._read(name)
                    continue
                self._combined[name] -= pending
                self._cache[name] = (saved, self._monotonic())
                if stamp > 0:
                    self._holds[name] = stamp
                else:
                    self._holds.pop(name, None)
                return

    def combined(self, name: str | None, originals: int) -> None:
        """`originals` messages went out in an accepted combined card: counted once, with the
        connection's next write (no round trip of its own)."""
        name = name or DEFAULT_CONNECTION
        with self._lock(name):
            self._combined[name] += originals

    def usage(self, name: str | None, *, read: bool = True) -> Usage:
        """The connection's use now (one read when `read`, else what this process last saw)."""
        name = name or DEFAULT_CONNECTION
        state = self._read(name) if read else self._cached(name)[0]
        return self._usage(state)

    def usage_of(self, state: ConnectionState) -> Usage:
        """The use a row read elsewhere shows now (`report`)."""
        return self._usage(state)

    def _usage(self, state: ConnectionState) -> Usage:
        now = self._clock()
        windows = _windows(state)
        span = padded(windows[-1][1])
        used = sum(1 for t in state.sent if t > (now - span) * 1000.0)
        return Usage(
            name=state.name,
            windows=windows,
            used=used,
            room=room_in(state.sent, windows, now),
            next_free=wait_for(state.sent, windows, now),
            posts=state.posts,
            combined=state.combined,
            overridden=bool(state.budget),
            held=max(0.0, state.hold_until - now),
            short=state.short,
        )

    def room(self, name: str | None) -> tuple[int, float]:
        """(posts that fit now, seconds until the next one fits): one read."""
        found = self.usage(name)
        return found.room, found.next_free

    def _short(self, name: str, windows: Windows, wait: float) -> None:
        SHORT[name] += 1
        now = self._monotonic()
        last = self._logged.get(name)
        if last is None or now - last >= LOG_EVERY_SECONDS:
            self._logged[name] = now
            log.warning(
                "connection %s ran short of its budget (%s): next post in %.1f s; waiting posts are "
                "queued and combined (%d times short in this process)",
                name, describe(windows), wait, SHORT[name],
            )


_budgets: dict[int, tuple[Store, Budget]] = {}
_budgets_lock = threading.Lock()


def for_store(store: Store) -> Budget:
    """The process's `Budget` over `store`'s budgets table."""
    with _budgets_lock:
        found = _budgets.get(id(store))
        if found is None or found[0] is not store:
            found = _budgets[id(store)] = (store, Budget(store.budgets))
        return found[1]


def reset() -> None:
    """Forget every process-local cache (tests)."""
    with _budgets_lock:
        _budgets.clear()
    SHORT.clear()


def gate(store: Store, url: str, connection: str | None, *, hold_ok: bool = False) -> Slot:
    """Take what one post to `url` needs now, or nothing and say how long until it is free.

    Legacy connector URLs: their documented per-URL windows (`ratelimit.LIMITER`). Workflows URLs:
    a slot of the channel's connection, after the per-URL checks of this process (a 429's
    Retry-After block, and `DELIVERY_RATE_WORKFLOWS` when set). `hold_ok`: the caller is the sweep
    (or a digest), which may post while the connection is held for the outbox's backlog.
    """
    from shared.delivery import allowlist
    from shared.delivery.ratelimit import LIMITER, windows_for

    if allowlist.is_legacy(url):
        wait = LIMITER.acquire(url, windows_for(True))
        return Slot(wait, "url") if wait > 0 else TAKEN
    wait = LIMITER.acquire(url, windows_for(False))  # the 429 block, and the optional per-URL cap
    if wait > 0:
        return Slot(wait, "url")
    slot = for_store(store).take(connection, hold_ok=hold_ok)
    if not slot.taken:
        LIMITER.give_back(url)
    return slot


def unanswered(store: Store, url: str, connection: str | None, answer: Answer, waited: float) -> None:
    """After a post to a Workflows URL whose answer never came (a timeout, a dropped connection: the
    post may have arrived, at-least-once), count its slot again as of `waited` seconds from now: Teams
    may still take it as late as it took us to give up. Without it the budget's log would date such a
    post from before it was sent, and a later post could overfill Teams' window. One write, on this
    failure path only; a store outage here only logs (the post's own outcome stands)."""
    from shared.delivery import allowlist
    from shared.delivery.classify import Kind
    from shared.store.errors import StoreUnavailable

    if answer.status is not None or answer.kind is not Kind.TRANSIENT or allowlist.is_legacy(url):
        return
    try:
        for_store(store).late(connection, time.time() + max(0.0, waited))
    except StoreUnavailable:
        log.warning("connection %s: a post without an answer could not be counted again (store unavailable)",
                    connection or DEFAULT_CONNECTION)


class Counting:
    """A transport that counts unanswered posts again in their connection's budget (`unanswered`)."""

    def __init__(self, inner: Transport, store: Store, connection: str | None) -> None:
        self._inner = inner
        self._store = store
        self._connection = connection

    def post(self, url: str, body: bytes, timeout: float, connect_timeout: float | None = None) -> Answer:
        answer = self._inner.post(url, body, timeout, connect_timeout)
        if answer.status is None:
            unanswered(self._store, url, self._connection, answer, timeout)
        return answer


_prefetcher: ThreadPoolExecutor | None = None
_prefetcher_lock = threading.Lock()
#: channels of one post whose slots are taken ahead (more are rare; they take theirs when posting)
PREFETCH_CHANNELS = 4


def prefetch(store: Store, channels: Sequence[str]) -> None:
    """Take the slots a post to `channels` is about to need, in the background (`Budget.reserve`),
    so that the incoming hot path waits on one store round trip (the dedupe claim, at the same
    time), not two. Never raises: a reservation that fails leaves the post to take its own."""
    global _prefetcher
    if not channels:
        return
    with _prefetcher_lock:
        if _prefetcher is None:
            from concurrent.futures import ThreadPoolExecutor

            _prefetcher = ThreadPoolExecutor(max_workers=2, thread_name_prefix="budget-prefetch")
        pool = _prefetcher
    from shared import invocation

    pool.submit(invocation.carry(_reserve_for), store, tuple(channels[:PREFETCH_CHANNELS]))


def _reserve_for(store: Store, channels: Sequence[str]) -> None:
    from shared.delivery import allowlist

    try:
        for name in channels:
            channel = store.channels.find_recent(name)
            if channel is not None and not allowlist.is_legacy(channel.url):
                for_store(store).reserve(channel.connection)
    except Exception as exc:  # the post takes its own slot then; the store's errors show there
        log.debug("budget prefetch skipped (%s)", type(exc).__name__)
