"""Route filters: which posts of a route are delivered; the others are acknowledged and dropped.

Stored in ``Route.filters`` as ``{"event": [...], "severity": [...], "state": [...]}`` and set with
``python -m shared.admin route add|set ... --filter KEY=VALUE[,VALUE...]``. A post passes when it
matches every key given (and), and a key when it matches any of its values (or):

- ``event``: shell patterns (``*``, ``?``, ``[...]``) against the sender's event name, GitHub's
  ``<event>.<action>`` (``pull_request.opened``; ``pull_request`` alone matches every action) and
  Azure DevOps' event type (``build.complete``). Other senders name no event, so an event filter
  drops their posts.
- ``severity``: the card's colour, ``shared.incoming.vocabulary.SEVERITIES``.
- ``state``: what happened, ``shared.incoming.vocabulary.STATES``; a post without a state never
  matches a state filter.

Routes saved before the CLI could set filters may hold ``events`` (read as ``event``) and
``statuses`` (matches the severity or the state). Standard library only: the admin CLI uses it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase

from shared.incoming.vocabulary import SEVERITIES, STATES

FILTER_KEYS = ("event", "severity", "state")
#: read from routes saved before ``FILTER_KEYS``; never written
LEGACY_KEYS = ("events", "statuses")
MAX_VALUES = 20
_EVENT_PATTERN = re.compile(r"^[a-z0-9_.*?\[\]!-]{1,100}$")


class FilterError(ValueError):
    """A ``--filter`` the pipeline could not apply; the message says what is allowed."""


def _words(value: object) -> list[str]:
    """A stored filter's values as lower-case text (a list; a bare string counts as one value)."""
    items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    return [str(item).strip().lower() for item in items if str(item).strip()]


def check_values(key: str, values: Iterable[str]) -> list[str]:
    """The values of one filter key, lower-cased, de-duplicated and checked against its vocabulary."""
    if key not in FILTER_KEYS:
        raise FilterError(f"unknown filter {key!r}: use one of {', '.join(FILTER_KEYS)}")
    checked = list(dict.fromkeys(v.strip().lower() for v in values if v.strip()))
    allowed = {"severity": SEVERITIES, "state": STATES}.get(key)
    if allowed is not None:
        unknown = [v for v in checked if v not in allowed]
        if unknown:
            raise FilterError(f"unknown {key} {', '.join(map(repr, unknown))}: use {', '.join(allowed)}")
    else:
        bad = [v for v in checked if not _EVENT_PATTERN.match(v)]
        if bad:
            raise FilterError(
                f"event pattern {bad[0][:100]!r} not allowed: up to 100 letters, digits, '.', '_', '-' "
                "and the wildcards * ? [ ]"
            )
    if len(checked) > MAX_VALUES:
        raise FilterError(f"at most {MAX_VALUES} values per filter, {key} has {len(checked)}")
    return checked


def parse(spec: str) -> tuple[str, list[str]]:
    """``KEY=VALUE[,VALUE...]`` -> (key, values); ``KEY=`` gives no values (clears that key)."""
    key, sep, values = spec.partition("=")
    key = key.strip().lower()
    if not sep or not key:
        raise FilterError(f"a filter is KEY=VALUE[,VALUE...] with KEY one of {', '.join(FILTER_KEYS)}")
    return key, check_values(key, values.split(","))


def normalized(filters: Mapping[str, object] | None) -> dict[str, list[str]]:
    """Stored filters with their values as lists of words; ``events`` read as ``event``."""
    out: dict[str, list[str]] = {}
    for key, value in (filters or {}).items():
        name = "event" if key == "events" else key
        if name in FILTER_KEYS or name in LEGACY_KEYS:
            words = _words(value)
            if words:
                out[name] = list(dict.fromkeys([*out.get(name, []), *words]))
    return out


def update(
    current: Mapping[str, object] | None, specs: Iterable[str], *, clear: bool = False
) -> dict[str, list[str]]:
    """``current`` changed by ``--filter`` specs: a key given replaces that key (a repeated key adds
    values), ``KEY=`` removes it, ``clear`` starts from no filters. Raises FilterError."""
    result = {} if clear else normalized(current)
    given: dict[str, list[str]] = {}
    for spec in specs:
        key, values = parse(spec)
        given[key] = list(dict.fromkeys([*given.get(key, []), *values]))
    for key, values in given.items():
        if values:
            result[key] = check_values(key, values)  # the limit applies to the merged list
        else:
            result.pop(key, None)
    return result


def describe(filters: Mapping[str, object] | None) -> str:
    """``event=push,pull_request.* severity=attention`` (empty when the route delivers everything)."""
    return " ".join(f"{key}={','.join(values)}" for key, values in normalized(filters).items())


def _event_matches(event: str, patterns: list[str]) -> bool:
    kind = event.split(".", 1)[0]
    return any(fnmatchcase(event, p) or fnmatchcase(kind, p) for p in patterns)


def matches(
    filters: Mapping[str, object] | None, *, event: str | None, severity: str, state: str | None
) -> bool:
    """Whether a post passes the route's filters (no filters: every post does)."""
    wanted = normalized(filters)
    if "event" in wanted and not _event_matches((event or "").lower(), wanted["event"]):
        return False
    if "severity" in wanted and severity not in wanted["severity"]:
        return False
    if "state" in wanted and (state is None or state not in wanted["state"]):
        return False
    return "statuses" not in wanted or severity in wanted["statuses"] or state in wanted["statuses"]
