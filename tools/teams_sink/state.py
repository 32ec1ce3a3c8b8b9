"""The sink's memory: messages, request log, faults, throttle counters, the Flow bot's budget per connection
and the posts it lost, bounded and thread-safe.

Kept apart from the HTTP layer so the bounds and the fault queue can be reasoned about (and tested)
without sockets; every public method takes the one lock.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tools.teams_sink.budget import (
    DEFAULT_CONNECTION,
    OFF,
    Budget,
    SlidingLog,
    budget_text,
    describe,
    parse_budget,
)
from tools.teams_sink.rules import MAX_BYTES
from tools.teams_sink.throttle import TEAMS_WINDOWS, WindowCounter, normalise_windows

WORKFLOW = "workflow"
LEGACY = "legacy"
# Accepted bodies kept in all, by their size on the wire: `keep` x `max_channels` alone would allow
# gigabytes (20 000 messages of up to 28 KB, larger again as Python objects).
MAX_STORED_BYTES = 32 * 1024 * 1024
# Not-displayed posts remembered for `not_displayed_since`, across resets (a test's fixtures reset the sink
# in their teardown, before the check that runs last); only the newest are kept.
JOURNAL_SIZE = 500


@dataclass(frozen=True)
class Fault:
    """What to do to one request: wait `delay` seconds, then drop the socket or answer `status`/`body`."""

    status: int | None = None
    delay: float = 0.0
    drop: bool = False
    body: str | None = None


@dataclass
class _PendingFault:
    fault: Fault
    remaining: int


@dataclass
class Limits:
    """What `set_limits` changes at run time; `reset` restores the values given at start."""

    windows: tuple[tuple[float, int], ...]
    delay: float

    def to_dict(self) -> dict[str, Any]:
        return {"windows": [list(window) for window in self.windows], "delay": self.delay}


@dataclass
class _Channel:
    messages: deque[dict[str, Any]]
    requests: deque[dict[str, Any]]
    stored: int = 0  # wire bytes of `messages`
    faults: deque[_PendingFault] = field(default_factory=deque)
    counters: dict[str, WindowCounter] = field(default_factory=dict)
    lost: deque[dict[str, Any]] = field(default_factory=deque)
    connection: str | None = None  # the connection its last Workflows post went through


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_fault(
    count: int = 1,
    status: int | None = None,
    delay: float | None = None,
    drop: bool = False,
    body: str | None = None,
) -> tuple[Fault, int]:
    """Validate fault parameters (ValueError says which is wrong); no status/drop/delay means a 500."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError("count must be an integer >= 1")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
    ):
        raise ValueError("status must be an HTTP status code (100-599)")
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0):
        raise ValueError("delay must be a number of seconds >= 0")
    if not isinstance(drop, bool):
        raise ValueError("drop must be true or false")
    if body is not None and not isinstance(body, str):
        raise ValueError("body must be a string")
    if drop and (status is not None or body is not None):
        raise ValueError("a dropped connection has no status or body")
    if status is None and not drop and (not delay or body is not None):
        status = 500
    return Fault(status=status, delay=float(delay or 0.0), drop=drop, body=body), count


def parse_windows(windows: Any) -> tuple[tuple[float, int], ...]:
    """`None`/"default" -> Teams' table, [] -> no throttling, else validated pairs."""
    if windows is None or windows == "default":
        return TEAMS_WINDOWS
    if not isinstance(windows, list | tuple):
        raise ValueError('windows must be a list of [seconds, max_requests] pairs, [] or "default"')
    if not all(isinstance(item, list | tuple) for item in windows):
        raise ValueError("each window is [seconds, max_requests]")
    return normalise_windows(windows)


def check_delay(delay: Any) -> float:
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise ValueError("delay must be a number of seconds >= 0")
    return float(delay)


class SinkState:
    """Everything the sink remembers, bounded: the last `keep` entries per channel, `max_channels`
    channels, and at most `max_stored_bytes` of accepted bodies in all (oldest dropped first)."""

    def __init__(
        self,
        *,
        windows: Sequence[Sequence[float]] | None = None,
        max_bytes: int = MAX_BYTES,
        keep: int = 200,
        delay: float = 0.0,
        max_channels: int = 100,
        max_stored_bytes: int = MAX_STORED_BYTES,
        budget: str = OFF,
        budgets: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if keep < 1 or max_channels < 1 or max_bytes < 1 or max_stored_bytes < 1:
            raise ValueError("keep, max_channels, max_bytes and max_stored_bytes must be >= 1")
        self.max_stored_bytes = max_stored_bytes
        self._stored = 0
        self.max_bytes = max_bytes
        self.keep = keep
        self.max_channels = max_channels
        self._initial = Limits(parse_windows(None if windows is None else list(windows)), check_delay(delay))
        self.limits = Limits(self._initial.windows, self._initial.delay)
        self._channels: OrderedDict[str, _Channel] = OrderedDict()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._journal: deque[tuple[int, dict[str, Any]]] = deque(maxlen=JOURNAL_SIZE)
        self._undisplayed = 0  # not-displayed posts ever recorded: the marks of `not_displayed_since`
        # The Flow bot's budget: one default for every connection, overrides per connection, and the
        # channels named to a connection by a control call (a URL's own connection wins over both).
        self._clock = clock
        self._initial_budget = parse_budget(budget)
        self.budget: Budget = self._initial_budget
        self._initial_budgets = {
            _connection_name(name): parse_budget(text) for name, text in (budgets or {}).items()
        }
        self._budgets: dict[str, Budget] = dict(self._initial_budgets)
        self._connections: dict[str, str] = {}
        # at most `max_channels` logs (the least recently used go): URLs may name any number of connections
        self._logs: OrderedDict[str, SlidingLog] = OrderedDict()
        self._lost_journal: deque[tuple[int, dict[str, Any]]] = deque(maxlen=JOURNAL_SIZE)
        self._lost_total = 0  # lost posts ever recorded: the marks of `lost_since`

    # -- channel bookkeeping (lock held by callers) --

    def _channel(self, name: str) -> _Channel:
        channel = self._channels.get(name)
        if channel is None:
            channel = _Channel(
                messages=deque(), requests=deque(maxlen=self.keep), lost=deque(maxlen=self.keep)
            )
            self._channels[name] = channel
            while len(self._channels) > self.max_channels:
                self._stored -= self._channels.popitem(last=False)[1].stored
        else:
            self._channels.move_to_end(name)
        return channel

    # -- used by the HTTP handler --

    def take_fault(self, name: str) -> Fault | None:
        with self._lock:
            channel = self._channels.get(name)
            if channel is None or not channel.faults:
                return None
            pending = channel.faults[0]
            pending.remaining -= 1
            if pending.remaining <= 0:
                channel.faults.popleft()
            return pending.fault

    def admit(self, mode: str, name: str) -> float | None:
        """None when the URL may post now, else seconds until its full window reopens."""
        with self._lock:
            windows = self.limits.windows
            if not windows:
                return None
            counter = self._channel(name).counters.setdefault(mode, WindowCounter())
            return counter.admit(windows, time.monotonic())

    def log_request(
        self,
        mode: str,
        name: str,
        *,
        status: int,
        teams_status: int,
        size: int,
        error: str | None = None,
        fault: bool = False,
        throttled: bool = False,
        body: Any = None,
        accepted: bool = False,
        posts: Sequence[dict[str, Any]] = (),
        connection: str | None = None,
    ) -> list[dict[str, Any]]:
        """Record one request; when `accepted`, also keep its body as a message of the channel, with the
        `posts` the channel made of it (what it displayed or not, and why). An accepted Workflows body
        spends its connection's budget (`connection` from the URL, else the control map, else the
        default), one unit per attachment the flow posts; the posts past it are lost, not shown, and
        returned."""
        stamp, iso = time.time(), now_iso()
        stamped = [{"channel": name, "mode": mode, "time": iso, "ts": stamp, **post} for post in posts]
        lost: list[dict[str, Any]] = []
        with self._lock:
            channel = self._channel(name)
            if mode == WORKFLOW and accepted:
                channel.connection = connection or self._connections.get(name, DEFAULT_CONNECTION)
                stamped, lost = self._spend(channel.connection, stamped)
            undisplayed = [post for post in stamped if not post["displayed"]]
            channel.requests.append(
                {
                    "channel": name,
                    "mode": mode,
                    "status": status,
                    "teams_status": teams_status,
                    "size": size,
                    "error": error,
                    "fault": fault,
                    "throttled": throttled,
                    "not_displayed": len(undisplayed),
                    "lost": len(lost),
                    "time": iso,
                    "ts": stamp,
                }
            )
            for post in undisplayed:
                self._undisplayed += 1
                self._journal.append((self._undisplayed, {k: v for k, v in post.items() if k != "card"}))
            for post in lost:
                self._lost_total += 1
                channel.lost.append(post)
                self._lost_journal.append((self._lost_total, {k: v for k, v in post.items() if k != "card"}))
            if accepted:
                channel.messages.append(
                    {
                        "channel": name,
                        "mode": mode,
                        "time": iso,
                        "ts": stamp,
                        "body": body,
                        "size": size,
                        "displayed": not undisplayed and not lost,
                        "posts": stamped,
                        "lost": lost,
                    }
                )
                channel.stored += size
                self._stored += size
                if len(channel.messages) > self.keep:
                    self._drop_oldest(channel)
                while self._stored > self.max_stored_bytes and self._drop_oldest(self._oldest_holder()):
                    pass
                self._arrived.notify_all()
        return lost

    def _spend(
        self, connection: str, posts: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Split a flow run's posts into those the connection's budget lets through and those it loses
        (lock held). A run that fails before its loop (no attachments) calls the connector for nothing."""
        budget = self._budgets.get(connection, self.budget)
        log = self._logs.setdefault(connection, SlidingLog())
        self._logs.move_to_end(connection)
        while len(self._logs) > self.max_channels:
            self._logs.popitem(last=False)
        shown: list[dict[str, Any]] = []
        lost: list[dict[str, Any]] = []
        for post in posts:
            post["connection"] = connection
            full = log.take(budget, self._clock()) if post["attachment"] is not None else []
            if not full:
                shown.append(post)
                continue
            reason = (
                f"over the Flow bot budget of {describe(tuple(full))} for connection {connection!r}: "
                "the flow answered 202, then its post action was throttled until the run failed"
            )
            lost.append(
                {
                    key: post.get(key)
                    for key in ("channel", "connection", "mode", "time", "ts", "attachment", "card", "size")
                }
                | {"reason": reason}
            )
        return shown, lost

    def _drop_oldest(self, channel: _Channel | None) -> bool:
        """Forget the channel's oldest message (lock held); False when there was none."""
        if channel is None or not channel.messages:
            return False
        size = int(channel.messages.popleft()["size"])
        channel.stored -= size
        self._stored -= size
        return True

    def _oldest_holder(self) -> _Channel | None:
        """The channel holding the oldest message of all (lock held)."""
        holders = [channel for channel in self._channels.values() if channel.messages]
        return min(holders, key=lambda channel: float(channel.messages[0]["ts"]), default=None)

    # -- used by TeamsSink and the control endpoints --

    def add_fault(self, name: str, fault: Fault, count: int) -> None:
        with self._lock:
            self._channel(name).faults.append(_PendingFault(fault, count))

    def set_limits(self, windows: Any = None, delay: Any = None) -> Limits:
        """None leaves a value as it is; new windows restart every throttle counter."""
        new_windows = None if windows is None else parse_windows(windows)
        new_delay = None if delay is None else check_delay(delay)
        with self._lock:
            if new_windows is not None:
                self.limits.windows = new_windows
                for channel in self._channels.values():
                    channel.counters.clear()
            if new_delay is not None:
                self.limits.delay = new_delay
            return Limits(self.limits.windows, self.limits.delay)

    def reset(self) -> None:
        """Forget channels, lost posts, connections and budget use, and restore limits and the budget; the
        not-displayed and lost journals stay (see JOURNAL_SIZE)."""
        with self._lock:
            self._channels.clear()
            self._stored = 0
            self.limits = Limits(self._initial.windows, self._initial.delay)
            self.budget = self._initial_budget
            self._budgets = dict(self._initial_budgets)
            self._connections.clear()
            self._logs.clear()

    def set_budget(self, budget: Any, connection: Any = None) -> dict[str, Any]:
        """`budget` for one connection (None drops its own), or for every connection without one
        ("default": the start value); a change restarts the counting of the connections it touches."""
        if connection is not None:
            connection = _connection_name(connection)
        if budget is None and connection is None:
            raise ValueError('budget must be COUNT/SECONDS pairs such as "25/300", "off" or "default"')
        with self._lock:
            parsed = None if budget is None else (
                self._initial_budget if budget == "default" else parse_budget(budget)
            )
            if connection is None:
                assert parsed is not None
                self.budget = parsed
                for name in [name for name in self._logs if name not in self._budgets]:
                    del self._logs[name]
            else:
                if parsed is None:
                    self._budgets.pop(connection, None)
                else:
                    self._budgets[connection] = parsed
                self._logs.pop(connection, None)
        return self.budget_view()

    def set_connections(self, mapping: Mapping[str, Any]) -> dict[str, str]:
        """Name channels' connections ({channel: connection}; None forgets one) for URLs without one."""
        checked: dict[str, str | None] = {}
        for channel, connection in mapping.items():
            if not channel:
                raise ValueError("channel names must be non-empty strings")
            if connection is not None and (not isinstance(connection, str) or not connection):
                raise ValueError(f"the connection of {channel[:80]!r} must be a non-empty string or null")
            checked[channel] = connection
        with self._lock:
            for channel, connection in checked.items():
                if connection is None:
                    self._connections.pop(channel, None)
                else:
                    self._connections[channel] = connection
            return dict(self._connections)

    def connection_map(self) -> dict[str, str]:
        with self._lock:
            return dict(self._connections)

    def budget_view(self) -> dict[str, Any]:
        """The default budget, each connection's own, and every known connection's use and losses."""
        with self._lock:
            now = self._clock()
            names = set(self._logs) | set(self._budgets) | set(self._connections.values())
            names |= {channel.connection for channel in self._channels.values() if channel.connection}
            connections: dict[str, Any] = {}
            for name in sorted(names):
                budget = self._budgets.get(name, self.budget)
                log = self._logs.get(name, SlidingLog())
                connections[name] = {
                    "budget": budget_text(budget),
                    "own_budget": name in self._budgets,
                    "used": log.used(budget, now),
                    "channels": sorted(
                        channel for channel, held in self._channels.items() if held.connection == name
                    ),
                    "lost": sum(
                        post["connection"] == name for held in self._channels.values() for post in held.lost
                    ),
                }
            return {
                "budget": budget_text(self.budget),
                "default_connection": DEFAULT_CONNECTION,
                "connections": connections,
            }

    def lost(self, name: str | None = None) -> list[dict[str, Any]]:
        """The posts the budget lost, of one channel (every channel: None), oldest first."""
        with self._lock:
            if name is None:
                found = [dict(post) for channel in self._channels.values() for post in channel.lost]
                return sorted(found, key=lambda post: float(post["ts"]))
            channel = self._channels.get(name)
            return [dict(post) for post in channel.lost] if channel else []

    def lost_mark(self) -> int:
        with self._lock:
            return self._lost_total

    def lost_since(self, mark: int) -> tuple[list[dict[str, Any]], int]:
        """Posts lost after `mark` (without their cards), and how many more the journal no longer holds."""
        with self._lock:
            held = [dict(post) for number, post in self._lost_journal if number > mark]
            return held, max(0, self._lost_total - mark - len(held))

    def records(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            channel = self._channels.get(name)
            return [_copy(record) for record in channel.messages] if channel else []

    def posts(self, name: str | None = None) -> list[dict[str, Any]]:
        """The posts of one channel (every channel: None), oldest first."""
        with self._lock:
            if name is None:
                channels = list(self._channels.values())
            else:
                channels = [self._channels[name]] if name in self._channels else []
            found = [
                dict(post) for channel in channels for record in channel.messages for post in record["posts"]
            ]
        return found if name is not None else sorted(found, key=lambda post: float(post["ts"]))

    def mark(self) -> int:
        with self._lock:
            return self._undisplayed

    def not_displayed_since(self, mark: int) -> tuple[list[dict[str, Any]], int]:
        """Posts recorded as not displayed after `mark` (without their cards), and how many more there
        were that the journal no longer holds."""
        with self._lock:
            held = [dict(post) for number, post in self._journal if number > mark]
            return held, max(0, self._undisplayed - mark - len(held))

    def requests(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            channel = self._channels.get(name)
            return [dict(record) for record in channel.requests] if channel else []

    def channel_names(self) -> list[str]:
        with self._lock:
            return list(self._channels)

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every channel's messages, for the HTML page."""
        with self._lock:
            return {name: [_copy(r) for r in channel.messages] for name, channel in self._channels.items()}

    def lost_snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every channel's lost posts (channels without any left out), for the HTML page."""
        with self._lock:
            return {
                name: [dict(post) for post in channel.lost]
                for name, channel in self._channels.items()
                if channel.lost
            }

    def wait_for(self, name: str, count: int, timeout: float) -> list[dict[str, Any]]:
        """Block until `name` holds at least `count` messages or `timeout` passes; returns the records."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                channel = self._channels.get(name)
                held = len(channel.messages) if channel else 0
                remaining = deadline - time.monotonic()
                if held >= count or remaining <= 0:
                    return [_copy(record) for record in channel.messages] if channel else []
                self._arrived.wait(remaining)


def _connection_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError("connection must be a non-empty string")
    return name


def _copy(record: dict[str, Any]) -> dict[str, Any]:
    """A message record a caller may change without changing the sink's."""
    return {
        **record,
        "posts": [dict(post) for post in record.get("posts", ())],
        "lost": [dict(post) for post in record.get("lost", ())],
    }
