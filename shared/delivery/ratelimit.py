"""Client-side rate limits per destination URL, so that we never earn Teams' multi-hour lockouts.

Each destination has a set of windows ("at most N posts in any S seconds"); a post is allowed only
when every window has room. Counting is a sliding log of send times per destination, shared by all
threads of the process (one lock; the fan-out uses threads).

The count is per process, in memory: it is not shared between worker processes
(FUNCTIONS_WORKER_PROCESS_COUNT, 1 by default) or scaled-out instances, and starts from zero after
a restart. The ceiling Teams can see is therefore the budget times the number of processes running
at once, which is why the defaults below are conservative and why a 429 still goes through the
normal retry path.

Legacy connector URLs (`DELIVERY_RATE_LEGACY`, default `4/1,60/30,100/3600,150/7200,1800/86400`):
the thresholds Microsoft documented for incoming webhooks: 4 per second, 60 per 30 s, 100 per hour,
150 per 2 hours and 1800 per day, per webhook. Going over them gave lockouts of hours.

Workflows URLs are limited by their connection's budget, shared by every process through the
store (`shared.delivery.budget`, `DELIVERY_BUDGET_WORKFLOWS`, default 25 posts in 300 s per flow
owner): that is the throttle that drops cards after a 202. `DELIVERY_RATE_WORKFLOWS` is now only an
optional extra cap per URL, in this process (unset by default: no per-URL cap); the 429 block below
applies to every URL either way.

Every window is counted 0.5 s + 2 % longer than stated, since network delay can bring two posts
closer together at Teams than they were here (4/1 becomes 4 in any 1.52 s).

Format of both settings: comma-separated `COUNT/SECONDS` pairs. When a destination's budget is
spent, delivery puts the message in the outbox with the time the limiter names instead of waiting.
A 429 from Teams also blocks the destination here until its Retry-After (or a default cool-down)
has passed, so other threads and the outbox sweep back off too.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from shared import settings

LEGACY_SETTING = "DELIVERY_RATE_LEGACY"
WORKFLOWS_SETTING = "DELIVERY_RATE_WORKFLOWS"
LEGACY_DEFAULT = "4/1,60/30,100/3600,150/7200,1800/86400"
WORKFLOWS_DEFAULT = ""  # no per-URL cap: the connection budget (shared.delivery.budget) rules

Windows = tuple[tuple[int, float], ...]


def parse_windows(raw: str, name: str = "rate") -> Windows:
    """`"4/1,60/30"` -> ((4, 1.0), (60, 30.0)); a bad value names the setting."""
    windows: list[tuple[int, float]] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        count, sep, seconds = item.partition("/")
        try:
            parsed = (int(count), float(seconds))
        except ValueError:
            parsed = (0, 0.0)
        if not sep or parsed[0] < 1 or parsed[1] <= 0:
            raise settings.SettingError(
                f"setting {name} must be comma-separated COUNT/SECONDS pairs such as 4/1,60/30, got {item!r}"
            )
        windows.append(parsed)
    return tuple(sorted(windows, key=lambda w: w[1]))


_parsed: dict[tuple[str, str], Windows] = {}


def windows_for(legacy: bool) -> Windows:
    """The configured windows for a kind of destination (parsed once per setting value); () for
    Workflows URLs unless DELIVERY_RATE_WORKFLOWS sets an extra per-URL cap."""
    section = settings.delivery()
    if legacy:
        name, raw = LEGACY_SETTING, section.rate_legacy or LEGACY_DEFAULT
    else:
        name, raw = WORKFLOWS_SETTING, section.rate_workflows or WORKFLOWS_DEFAULT
    key = (name, raw)
    found = _parsed.get(key)
    if found is None:
        found = parse_windows(raw, name)
        _parsed[key] = found
    return found


def padded(seconds: float) -> float:
    """A window as we count it: longer than Teams' by 0.5 s + 2 %, because posts reach Teams with
    varying delay, and two sends 1.0 s apart here can land 0.8 s apart there."""
    return seconds + 0.5 + 0.02 * seconds


@dataclass
class _Destination:
    sent: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class RateLimiter:
    """Sliding-window limiter keyed by destination; thread-safe."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._lock = threading.Lock()
        self._destinations: dict[str, _Destination] = {}
        self._clock = clock or time.monotonic

    def now(self) -> float:
        return float(self._clock())

    def _wait(self, dest: _Destination, windows: Windows, now: float) -> float:
        longest = padded(windows[-1][1]) if windows else 0.0
        while dest.sent and dest.sent[0] <= now - longest:
            dest.sent.popleft()
        wait = max(0.0, dest.blocked_until - now)
        n = len(dest.sent)
        for count, seconds in windows:
            if n < count:
                continue
            # The count-th newest send must leave the window before another fits.
            oldest_in_way = dest.sent[n - count]
            wait = max(wait, oldest_in_way + padded(seconds) - now)
        return wait

    def acquire(self, key: str, windows: Windows, now: float | None = None) -> float:
        """Take a slot and return 0.0, or take nothing and return the seconds until one is free."""
        with self._lock:
            now = self.now() if now is None else now
            dest = self._destinations.setdefault(key, _Destination())
            wait = self._wait(dest, windows, now)
            if wait > 0:
                return wait
            dest.sent.append(now)
            return 0.0

    def give_back(self, key: str) -> None:
        """Return the newest slot taken for `key` (its post did not go: another limit said no)."""
        with self._lock:
            dest = self._destinations.get(key)
            if dest is not None and dest.sent:
                dest.sent.pop()

    def peek(self, key: str, windows: Windows, now: float | None = None) -> float:
        """Seconds until a slot is free, without taking it."""
        with self._lock:
            now = self.now() if now is None else now
            dest = self._destinations.get(key)
            return 0.0 if dest is None else self._wait(dest, windows, now)

    def block(self, key: str, seconds: float, now: float | None = None) -> None:
        """Hold every post to `key` back for `seconds` (after a 429)."""
        with self._lock:
            now = self.now() if now is None else now
            dest = self._destinations.setdefault(key, _Destination())
            dest.blocked_until = max(dest.blocked_until, now + max(0.0, seconds))

    def reset(self) -> None:
        with self._lock:
            self._destinations.clear()


# One limiter per process: every thread and every call of deliver/sweep shares it.
LIMITER = RateLimiter()
