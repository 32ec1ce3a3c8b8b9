"""The Flow bot's budget per connection (teams-platform.md §3.5), counted as the real flow would drop posts.

A connection is the flow owner's Teams connection: every flow one owner made shares it, whatever channel it
posts to. Each post the flow makes (one per attachment) spends one unit. Microsoft does not say whether its
windows are fixed or sliding, so the sink takes the reading that loses more: a sliding window ("at most N
posts in any S seconds"), so a client that passes here also passes a fixed-window Teams.

Budgets are written as the app's `DELIVERY_BUDGET_WORKFLOWS` is: comma-separated `COUNT/SECONDS`
(default `25/300`); `off` means no budget at all.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

BUDGET_ENV = "DELIVERY_BUDGET_WORKFLOWS"
DEFAULT_BUDGET = "25/300"
DEFAULT_CONNECTION = "default"
OFF = "off"


@dataclass(frozen=True, order=True)
class Window:
    """At most `count` posts in any `seconds`."""

    seconds: float
    count: int

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds:g}"


Budget = tuple[Window, ...]


def parse_budget(text: str) -> Budget:
    """`"25/300,100/3600"` -> windows (shortest first); `"off"` -> (); ValueError says what is wrong."""
    if not isinstance(text, str):
        raise ValueError('a budget is a string of COUNT/SECONDS pairs such as "25/300", or "off"')
    if text.strip().lower() == OFF:
        return ()
    windows: list[Window] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        count, sep, seconds = item.partition("/")
        try:
            window = Window(float(seconds), int(count))
        except ValueError:
            window = Window(0.0, 0)
        if not sep or window.count < 1 or not window.seconds > 0 or window.seconds == float("inf"):
            raise ValueError(
                'a budget is comma-separated COUNT/SECONDS pairs such as "25/300" (or "off"), '
                f"got {item[:40]!r}"
            )
        windows.append(window)
    if not windows:
        raise ValueError('a budget needs at least one COUNT/SECONDS pair such as "25/300" (or "off")')
    return tuple(sorted(windows))


def budget_text(budget: Budget) -> str:
    return ",".join(str(window) for window in budget) if budget else OFF


def describe(budget: Budget) -> str:
    """`25/300 s`, for a reason a person reads."""
    return ", ".join(f"{window} s" for window in budget) if budget else "no budget"


def budget_from_env(environ: Mapping[str, str] | None = None) -> Budget:
    """$DELIVERY_BUDGET_WORKFLOWS (the app's setting), else 25/300."""
    raw = (os.environ if environ is None else environ).get(BUDGET_ENV, "").strip()
    try:
        return parse_budget(raw or DEFAULT_BUDGET)
    except ValueError as exc:
        raise ValueError(f"{BUDGET_ENV}: {exc}") from None


@dataclass
class SlidingLog:
    """The times of one connection's posts that still count, oldest first."""

    times: deque[float] = field(default_factory=deque)

    def full(self, budget: Budget, now: float) -> list[Window]:
        """The windows that have no room for a post at `now` (empty: it may post)."""
        if budget:
            longest = budget[-1].seconds
            while self.times and self.times[0] <= now - longest:
                self.times.popleft()
        # posts in (now - seconds, now]: one that is exactly `seconds` old no longer counts
        return [window for window in budget if self._inside(window, now) >= window.count]

    def _inside(self, window: Window, now: float) -> int:
        return len(self.times) - bisect_right(self.times, now - window.seconds)

    def take(self, budget: Budget, now: float) -> list[Window]:
        """Spend one post when every window has room; else the full windows (nothing spent)."""
        full = self.full(budget, now)
        if not full and budget:
            self.times.append(now)
        return full

    def used(self, budget: Budget, now: float) -> dict[str, int]:
        """Posts counted in each window at `now`, by the window's text."""
        return {str(window): self._inside(window, now) for window in budget}
