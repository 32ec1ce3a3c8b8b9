"""Times on cards, shown in each reader's own time zone and format.

Senders give times as raw ISO 8601 (Alertmanager and Grafana with nanoseconds and an offset:
`2018-03-07T06:33:21.873077559-05:00`), which reads badly and in the sender's zone. Adaptive
Cards' `{{DATE(...)}}` / `{{TIME(...)}}` functions let the Teams client format the time for the
reader, but only for a strict RFC 3339 value (upper case, no spaces inside the braces; fractional
seconds are not reliably understood), so the time is normalised to `YYYY-MM-DDTHH:MM:SSZ` first.
Where a client does not evaluate them (some TextRuns), the normalised UTC time still reads well.
Used in TextBlock text and Fact values only. Pure Python (the bot's cold start may build cards).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

#: date, time, optional seconds and fraction, optional zone; what senders send as ISO 8601
_ISO = re.compile(
    r"^\s*(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)


def parse(value: str | datetime | None) -> datetime | None:
    """The instant an ISO 8601 text (or datetime) names, in UTC; naive means UTC. None for
    anything else and for Go's zero time `0001-01-01T00:00:00Z` (Alertmanager's "no end")."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        match = _ISO.match(value)
        if match is None:
            return None
        day, hour_minute, seconds, fraction, zone = match.groups()
        text = f"{day}T{hour_minute}:{seconds or '00'}"
        if fraction:
            text += "." + fraction[:6]  # datetime keeps microseconds; the rest is noise here
        if zone and zone not in ("Z", "z"):
            text += zone if ":" in zone or len(zone) == 3 else f"{zone[:3]}:{zone[3:]}"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if moment.year <= 1:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def rfc3339(value: str | datetime | None) -> str | None:
    """`2018-03-07T11:33:21Z`: the form Teams' date functions take (UTC, whole seconds)."""
    moment = parse(value)
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def local(value: str | datetime | None) -> str | None:
    """`{{DATE(2018-03-07T11:33:21Z, SHORT)}} {{TIME(2018-03-07T11:33:21Z)}}`: date and time as
    the reader's Teams shows them ("Wed, Mar 7, 2018 6:33 AM" in New York); None when not a time."""
    stamp = rfc3339(value)
    if stamp is None:
        return None
    return f"{{{{DATE({stamp}, SHORT)}}}} {{{{TIME({stamp})}}}}"


def shown(value: str | datetime, otherwise: str | None = None) -> str:
    """`local(value)`, or `otherwise` (default: the value as text) when it is not a time."""
    return local(value) or (otherwise if otherwise is not None else str(value))
