"""What the bot's `status` and `admin connection list` show of the connections' budgets.

Read on demand (a few queries), never on a delivery's path: the budget rows (`store.budgets`), the
channels, and the outbox's pending items (count and oldest wait per channel).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shared.delivery import budget
from shared.store.models import DEFAULT_CONNECTION

if TYPE_CHECKING:
    from shared.store import Store


@dataclass(frozen=True)
class ConnectionReport:
    name: str
    channels: list[str]
    usage: budget.Usage
    waiting: int  # posts in the outbox for its channels
    oldest_wait: float | None  # seconds the oldest of them has waited

    def use_text(self) -> str:
        longest = self.usage.windows[-1]
        return f"{self.usage.used} of {longest[0]} in {longest[1]:g} s"


def _oldest(times: list[datetime], now: datetime) -> float | None:
    return max(0.0, (now - min(times)).total_seconds()) if times else None


def connections(store: Store) -> list[ConnectionReport]:
    """Every connection that has channels or a stored row, by name."""
    from shared.delivery import allowlist

    gauge = budget.for_store(store)
    members: dict[str, list[str]] = defaultdict(list)
    connection_of: dict[str, str] = {}
    for channel in store.channels.list():
        if allowlist.is_legacy(channel.url):
            continue  # legacy connector URLs have per-URL windows, no connection
        members[channel.connection].append(channel.name)
        connection_of[channel.name] = channel.connection
    rows = {row.name: row for row in store.budgets.list()}
    waiting: dict[str, list[datetime]] = defaultdict(list)
    for channel_name, created in store.outbox.waiting():
        if channel_name in connection_of:
            waiting[connection_of[channel_name]].append(created)
    now = datetime.now(UTC)
    out = []
    for name in sorted(set(members) | set(rows)):
        state = rows.get(name)
        usage = gauge.usage_of(state if state is not None else budget.ConnectionState(name=name))
        times = waiting[name]
        listed = sorted(members.get(name, []))
        out.append(ConnectionReport(name, listed, usage, len(times), _oldest(times, now)))
    return out


@dataclass(frozen=True)
class ChannelReport:
    connection: str
    usage: budget.Usage
    waiting: int
    oldest_wait: float | None


def channel(store: Store, name: str, connection: str | None) -> ChannelReport:
    """One channel's connection use and what waits for it (two round trips)."""
    conn = connection or DEFAULT_CONNECTION
    usage = budget.for_store(store).usage(conn)
    times = [created for _, created in store.outbox.waiting(name)]
    return ChannelReport(conn, usage, len(times), _oldest(times, datetime.now(UTC)))


def wait_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
