"""Teams' per-URL request windows, counted the way the connector docs describe them.

Each window is fixed: it opens at the first request after the previous one expired and counts up; once a
window is full every request is refused until it closes. A client that keeps every sliding interval under
the limits is therefore never refused, and a token bucket that bursts is, as with Teams.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

# (window seconds, max requests) per webhook URL: connectors-using.md's table.
TEAMS_WINDOWS: tuple[tuple[float, int], ...] = (
    (1.0, 4),
    (30.0, 60),
    (3600.0, 100),
    (7200.0, 150),
    (86400.0, 1800),
)


def normalise_windows(windows: Sequence[Sequence[float]]) -> tuple[tuple[float, int], ...]:
    """Validate `[(seconds, max), ...]`; raises ValueError with a readable reason."""
    result: list[tuple[float, int]] = []
    for item in windows:
        if len(item) != 2:
            raise ValueError("each window is [seconds, max_requests]")
        seconds, limit = item
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
            raise ValueError("window seconds must be a number > 0")
        if isinstance(limit, bool) or not isinstance(limit, int | float) or int(limit) != limit or limit < 1:
            raise ValueError("window max_requests must be an integer >= 1")
        result.append((float(seconds), int(limit)))
    return tuple(result)


@dataclass
class WindowCounter:
    """The counters of one URL: per window, when it opened and how many requests it let through."""

    starts: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)

    def admit(self, windows: Sequence[tuple[float, int]], now: float) -> float | None:
        """Count a request and return None, or return the seconds until the full window(s) reopen."""
        if len(self.starts) != len(windows):
            self.starts = [now] * len(windows)
            self.counts = [0] * len(windows)
        wait = 0.0
        for index, (seconds, limit) in enumerate(windows):
            if now >= self.starts[index] + seconds:
                self.starts[index] = now
                self.counts[index] = 0
            if self.counts[index] >= limit:
                wait = max(wait, self.starts[index] + seconds - now)
        if wait > 0:
            return wait
        for index in range(len(windows)):
            self.counts[index] += 1
        return None


def retry_after_header(wait: float) -> str:
    """Whole seconds, at least 1, never early: `Retry-After` has no fractions."""
    return str(max(1, math.ceil(wait)))
