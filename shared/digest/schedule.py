"""Digest schedules: parse what users type and compute the next run in their time zone.

Wall-clock rules across daylight-saving changes:
- a local time that does not exist that day (spring forward) runs once, at the first valid minute
  after the gap;
- a local time that happens twice (fall back) runs once, at its first occurrence.
Times are mapped from naive local wall-clock values, so both rules fall out of one mapping
function (`_to_utc`) that is monotonic in wall-clock time.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DAY_NAMES",
    "ScheduleLike",
    "check_cron",
    "check_tz",
    "describe",
    "next_run",
    "parse_days",
    "parse_times",
]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES = {
    "mon": 0,
    "monday": 0,
    "tue": 1,
    "tues": 1,
    "tuesday": 1,
    "wed": 2,
    "wednesday": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "thursday": 3,
    "fri": 4,
    "friday": 4,
    "sat": 5,
    "saturday": 5,
    "sun": 6,
    "sunday": 6,
}
_DAY_GROUPS = {
    "daily": list(range(7)),
    "everyday": list(range(7)),
    "all": list(range(7)),
    "*": list(range(7)),
    "weekdays": [0, 1, 2, 3, 4],
    "workdays": [0, 1, 2, 3, 4],
    "weekends": [5, 6],
    "weekend": [5, 6],
}
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
# Enough to find a slot for any valid schedule (weekly at worst, plus DST slack).
_SEARCH_DAYS = 16
_CRON_MAX_STEPS = 100_000
#: times of day one subscription may have (one an hour): more is a flood, not a digest
MAX_TIMES = 24


class ScheduleLike(Protocol):
    """What next_run needs; shared.store.models.Schedule satisfies it."""

    times: list[str]
    days: list[int]
    tz: str
    cron: str | None


def parse_times(text: str) -> list[str]:
    """Parse "8:00, 17:30" into sorted, de-duplicated "HH:MM" strings (ValueError on bad input)."""
    parts = [p.strip() for p in re.split(r"[,\s;]+", text or "") if p.strip()]
    if not parts:
        raise ValueError("no times given; expected HH:MM values like 08:00,17:00")
    out: set[str] = set()
    for part in parts:
        m = _TIME_RE.match(part)
        if not m:
            raise ValueError(f"invalid time {part[:40]!r}; expected HH:MM (24-hour)")
        hour, minute = int(m.group(1)), int(m.group(2))
        if hour > 23 or minute > 59:
            raise ValueError(f"invalid time {part[:40]!r}; hours 00-23, minutes 00-59")
        out.add(f"{hour:02d}:{minute:02d}")
        if len(out) > MAX_TIMES:
            raise ValueError(f"at most {MAX_TIMES} times a day per subscription")
    return sorted(out)


def parse_days(text: str) -> list[int]:
    """Parse "mon-fri", "mon,wed,fri", "weekdays" or "daily" into sorted weekday numbers (0=Mon)."""
    spec = (text or "").strip().lower()
    if not spec:
        raise ValueError("no days given; expected e.g. daily, weekdays, mon-fri or mon,wed,fri")
    days: set[int] = set()
    for part in (p.strip() for p in re.split(r"[,\s;]+", spec) if p.strip()):
        if part in _DAY_GROUPS:
            days.update(_DAY_GROUPS[part])
            continue
        if "-" in part:
            start_s, _, end_s = part.partition("-")
            start, end = _day(start_s), _day(end_s)
            # Ranges may wrap the week: "fri-mon" = fri, sat, sun, mon.
            i = start
            while True:
                days.add(i)
                if i == end:
                    break
                i = (i + 1) % 7
            continue
        days.add(_day(part))
    return sorted(days)


def _day(token: str) -> int:
    token = token.strip().lower()
    if token in _DAY_ALIASES:
        return _DAY_ALIASES[token]
    raise ValueError(f"unknown day {token[:40]!r}; use mon, tue, wed, thu, fri, sat, sun")


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def check_tz(name: str) -> str:
    """Return the IANA zone name if it exists; ValueError with a hint otherwise."""
    if not name or not isinstance(name, str):
        raise ValueError("time zone is empty; use an IANA name like Europe/Berlin or UTC")
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = name[:60]
        raise ValueError(f"unknown time zone {shown!r}; use an IANA name like Europe/Berlin or UTC") from None
    return name


def check_cron(expr: str) -> str:
    """Return the normalised 5-field cron expression; ValueError if it is not one."""
    fields = (expr or "").split()
    if len(fields) != 5:
        raise ValueError(
            f"cron expression must have 5 fields (minute hour day month weekday), got {len(fields)}"
        )
    from croniter import croniter  # deferred: only schedules with cron pay its import

    normalised = " ".join(fields)
    if not croniter.is_valid(normalised):
        raise ValueError(f"invalid cron expression {normalised!r}")
    return normalised


def _exists(local: datetime, tz: ZoneInfo) -> bool:
    aware = local.replace(tzinfo=tz, fold=0)
    back = aware.astimezone(UTC).astimezone(tz)
    return back.replace(tzinfo=None) == local


def _to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """Map a naive wall-clock time to UTC: first occurrence if ambiguous, next valid minute if skipped."""
    if not _exists(local, tz):
        probe = local.replace(second=0, microsecond=0)
        for _ in range(24 * 60):
            probe += timedelta(minutes=1)
            if _exists(probe, tz):
                local = probe
                break
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def next_run(schedule: ScheduleLike, after: datetime) -> datetime:
    """First scheduled instant strictly after `after`, in UTC.

    A cron expression, when set, wins over times/days. Naive `after` values are taken as UTC.
    """
    tz = _zone(check_tz(schedule.tz or "UTC"))
    after_utc = _as_utc(after)
    local_after = after_utc.astimezone(tz).replace(tzinfo=None)
    if schedule.cron:
        return _next_cron(check_cron(schedule.cron), tz, after_utc, local_after)
    times = [time.fromisoformat(t) for t in parse_times(",".join(schedule.times or []))]
    days = set(schedule.days or [])
    if not days or not days <= set(range(7)):
        raise ValueError("schedule needs at least one day between 0 (Mon) and 6 (Sun)")
    # Start a day early: a slot on the previous local date can still lie ahead after a DST jump.
    start: date = local_after.date() - timedelta(days=1)
    for offset in range(_SEARCH_DAYS):
        day = start + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        for t in times:
            candidate = _to_utc(datetime.combine(day, t), tz)
            if candidate > after_utc:
                return candidate
    raise ValueError("schedule has no upcoming run")  # unreachable for valid input


def _next_cron(expr: str, tz: ZoneInfo, after_utc: datetime, local_after: datetime) -> datetime:
    from croniter import croniter

    # Iterate naive wall-clock times so cron follows local time; the mapping handles DST.
    it = croniter(expr, local_after - timedelta(hours=3))
    for _ in range(_CRON_MAX_STEPS):
        local = it.get_next(datetime)
        candidate = _to_utc(local, tz)
        if candidate > after_utc:
            return candidate
    raise ValueError(f"cron expression {expr!r} has no upcoming run")


def describe(schedule: ScheduleLike) -> str:
    """Human-readable summary for bot replies and status lines."""
    tz = schedule.tz or "UTC"
    if schedule.cron:
        return f"cron '{schedule.cron}' ({tz})"
    days = sorted(set(schedule.days or []))
    if days == list(range(7)):
        day_text = "daily"
    elif days == [0, 1, 2, 3, 4]:
        day_text = "weekdays"
    elif days == [5, 6]:
        day_text = "weekends"
    else:
        day_text = ",".join(DAY_NAMES[d] for d in days if 0 <= d < 7)
    return f"{day_text} at {', '.join(schedule.times or [])} ({tz})"
