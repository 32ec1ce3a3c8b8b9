"""Datadog webhooks integration: the default payload (``$EVENT_TITLE``, ``$EVENT_MSG``,
``$EVENT_TYPE``, ``$ID``, ...) and custom payloads that users write with Datadog's variables.

A custom payload may name its fields as it likes; this source reads the names in use (the
variable's name in lower case, ``alert_transition``, with or without its ``alert_``/``event_``
prefix, or the README's recommended payload) and tells a monitor's alert, warning, recovery and
no-data notifications apart: from the transition field when there is one, else the title's
``[Triggered]``/``[Warn]``/``[Recovered]``/``[No Data]`` prefix, else ``alert_type``. A variable
Datadog left unfilled (the text ``$ALERT_SCOPE``) counts as absent.

Datadog retries a post that got a 5xx; ``$ID`` is the notification's event id, so a retry is
recognised by it (else by the body). Datadog does not sign its webhooks: routes use a custom
header (``bearer``/``key``) or basic authentication.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.cards.markdown import sender_markdown
from shared.incoming.sources.base import (
    BuildContext,
    Incoming,
    Notice,
    SourceError,
    Summary,
    content_hash,
    first_line,
    http_url,
    new_card,
    short,
)
from shared.incoming.vocabulary import State, severity_of

if TYPE_CHECKING:
    from shared.cards.builders import Status

#: the field names read for each part of the card, first found wins (compared in lower case)
FIELDS: dict[str, tuple[str, ...]] = {
    "title": ("title", "event_title", "alert_title", "monitor_name", "name"),
    "monitor": ("alert_title", "monitor_name", "monitor"),
    "transition": ("alert_transition", "transition", "alert_state", "state"),
    "type": ("alert_type", "type", "severity"),
    "text": ("text_only_msg", "text", "message", "body", "event_msg", "msg"),
    "link": ("link", "url", "event_link", "monitor_url"),
    "id": ("id", "event_id", "notification_id"),
    "monitor_id": ("alert_id", "monitor_id"),
    "priority": ("alert_priority", "priority"),
    "scope": ("alert_scope", "scope"),
    "metric": ("alert_metric", "metric"),
    "query": ("alert_query", "query"),
    "status": ("alert_status", "status"),
    "host": ("hostname", "host"),
    "tags": ("tags",),
    "event_type": ("event_type",),
    "snapshot": ("snapshot", "graph"),
    "org": ("org_name", "org"),
}

#: (prefix of a transition, as Datadog words it) -> kind
TRANSITIONS = (
    ("re-triggered", "alert"),
    ("retriggered", "alert"),
    ("triggered", "alert"),
    ("alert", "alert"),
    ("renotify", "alert"),
    ("re-warn", "warn"),
    ("warn", "warn"),
    ("recovered", "recovery"),
    ("recovery", "recovery"),
    ("resolved", "recovery"),
    ("ok", "recovery"),
    ("re-no data", "no_data"),
    ("no data", "no_data"),
    ("nodata", "no_data"),
    ("no_data", "no_data"),
)
ALERT_TYPES = {"error": "alert", "warning": "warn", "success": "recovery", "info": "info"}
KIND_WORDS = {
    "alert": "Triggered",
    "warn": "Warning",
    "recovery": "Recovered",
    "no_data": "No data",
    "info": "",
}
TITLE_PREFIX = re.compile(r"^\s*((?:\[[^\]]{1,80}\]\s*)+)")
PLACEHOLDER = re.compile(r"^\$[A-Z][A-Z0-9_.]*$")
# Linear in the text: every repeat is bounded, and no repeat can run across a line end.
MONITOR_LINK = re.compile(
    r"\((https://(?:[A-Za-z0-9-]{1,63}\.){0,5}datadoghq\.[a-z]{2,6}(?:\.[a-z]{2,6})?/monitors[^)\s]{0,500})\)"
)
WEBHOOK_MENTION = re.compile(r"^[ \t]*@webhook-\S+[ \t]*$", re.MULTILINE)
#: the most of a monitor message the patterns read (the card shows 1,500 characters)
MESSAGE_READ_LIMIT = 20_000


def _value(data: Mapping[str, Any], part: str) -> Any:
    lowered = {str(k).lower(): v for k, v in data.items()}
    for name in FIELDS[part]:
        value = lowered.get(name)
        if isinstance(value, str):
            value = value.strip()
            if not value or PLACEHOLDER.match(value):
                continue
        if value not in (None, "", [], {}):
            return value
    return None


def _text(data: Mapping[str, Any], part: str) -> str | None:
    value = _value(data, part)
    if isinstance(value, Mapping):
        name = value.get("name")
        return str(name) if name else None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value if v not in (None, ""))
    return None if value is None else str(value)


def _spaced(value: str | None) -> str | None:
    """``a:1,b:2`` as ``a:1, b:2``: a fact wraps only at spaces, and scopes and queries are long."""
    return re.sub(r",\s*", ", ", value) if value else None


def kind_of(data: Mapping[str, Any], title: str) -> str:
    """alert, warn, recovery, no_data or info: what the monitor did."""
    said = (_text(data, "transition") or "").strip().lower()
    for prefix, kind in TRANSITIONS:
        if said.startswith(prefix):
            return kind
    match = TITLE_PREFIX.match(title)
    if match:
        words = match.group(1).lower()
        for prefix, kind in TRANSITIONS:
            if f"[{prefix}" in words:
                return kind
    return ALERT_TYPES.get((_text(data, "type") or "").strip().lower(), "info")


def _status(kind: str) -> tuple[Status, State | None]:
    from shared.cards.builders import Status

    kinds: dict[str, tuple[Status, State | None]] = {
        "alert": (Status.ATTENTION, "firing"),
        "warn": (Status.WARNING, "firing"),
        "no_data": (Status.WARNING, "firing"),
        "recovery": (Status.GOOD, "resolved"),
    }
    return kinds.get(kind, (Status.DEFAULT, None))


def clean_message(text: str) -> str:
    """A monitor message without Datadog's ``%%%`` fences, ``@webhook-...`` lines, rules and the
    trailing ``[[Monitor Status](...)]`` links (those become the buttons)."""
    out = text.replace("%%%", "")
    out = WEBHOOK_MENTION.sub("", out)
    lines = [
        line
        for line in out.splitlines()
        if line.strip() not in {"- - -", "---"} and not line.strip().startswith("[[Monitor Status]")
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class DatadogSource:
    name = "datadog"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = ()

    def detect(self, req: Incoming) -> bool:
        data = req.data
        if not isinstance(data, dict):
            return False
        keys = {str(k).lower() for k in data}
        if "alert_transition" in keys:
            return True
        return {"event_type", "title", "org"} <= keys and isinstance(data.get("org"), dict)

    def parse(self, req: Incoming) -> dict[str, Any]:
        if not isinstance(req.data, dict):
            raise SourceError("not a valid Datadog payload", ["body: must be a JSON object"])
        if _text(req.data, "title") is None:
            raise SourceError(
                "not a valid Datadog payload",
                ["title: field required (the default payload's $EVENT_TITLE, or alert_title)"],
            )
        return req.data

    def build(self, parsed: dict[str, Any], req: Incoming, ctx: BuildContext) -> Notice:
        title = short(_text(parsed, "title") or "Datadog", 200)
        kind = kind_of(parsed, title)
        status, state = _status(kind)
        monitor = _text(parsed, "monitor")
        shown = title
        if not TITLE_PREFIX.match(title) and KIND_WORDS[kind]:
            shown = f"[{KIND_WORDS[kind]}] {title}"  # a custom title without Datadog's own prefix
        subtitle = f"monitor {monitor}" if monitor and monitor not in title else None
        card = new_card(shown, status, short(subtitle, 200) if subtitle else None)
        raw = (_text(parsed, "text") or "")[:MESSAGE_READ_LIMIT]  # bounded before any pattern runs
        links = MONITOR_LINK.findall(raw)
        message = clean_message(raw)
        if message:
            card.text(sender_markdown(short(message, 1500)))
        facts = [
            (label, short(value, 300))
            for label, value in (
                ("Priority", _text(parsed, "priority")),
                ("Scope", _spaced(_text(parsed, "scope"))),
                ("Host", _text(parsed, "host")),
                ("Metric", _text(parsed, "metric")),
                ("Query", _spaced(_text(parsed, "query"))),
                ("Condition", None if _text(parsed, "query") else _spaced(_text(parsed, "status"))),
                ("Tags", _spaced(_text(parsed, "tags"))),
                ("Organisation", _text(parsed, "org")),
            )
            if value
        ]
        if facts:
            card.facts(facts)
        monitor_id = _text(parsed, "monitor_id")
        link = http_url(_text(parsed, "link"))
        monitor_url = http_url(links[0]) if links else None
        if not monitor_url and monitor_id and monitor_id.isdigit() and link:
            monitor_url = f"{link.split('/event', 1)[0].split('/monitors', 1)[0]}/monitors/{monitor_id}"
        url = monitor_url or link
        if monitor_url:
            card.button("Open monitor", monitor_url)
        if link and link != monitor_url:
            card.button("Open event", link)
        snapshot = http_url(_text(parsed, "snapshot"))
        if snapshot:
            card.button("Open graph", snapshot)
        event_id = _text(parsed, "id")
        body_hash = content_hash(req.body)
        event_type = _text(parsed, "event_type")
        return Notice(
            cards=[ctx.finish(card, status)],
            summary=Summary(
                title=shown,
                severity=severity_of(status),
                state=state,
                source=self.name,
                url=url,
                text=short(first_line(message, 300), 300) if message else None,
            ),
            dedupe_id=f"dd:{short(event_id, 100)}" if event_id else f"dd:{body_hash}",
            replay_id=f"dd-body:{body_hash}" if event_id else None,
            event=f"{event_type}.{kind}" if event_type else kind,
        )


SOURCES = {"datadog": DatadogSource()}
