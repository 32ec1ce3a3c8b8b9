"""Grafana alerting webhook contact point (unified alerting, ``version: "1"``) and the legacy
(pre-8) Grafana webhook (``ruleName``, ``evalMatches``), both read by one tolerant model.

Shown: state, title, message (unless it is Grafana's default template text, which only repeats
what the per-alert sections show), values, start and end times, and links to panel, dashboard,
silence, rule and image.
Route settings read: ``max_alerts`` (default 10).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from shared.cards import times
from shared.cards.markdown import escape, link
from shared.incoming.sources.base import (
    BuildContext,
    Incoming,
    Notice,
    Payload,
    Summary,
    content_hash,
    facts_of,
    http_url,
    int_setting,
    new_card,
    short,
    validate,
)
from shared.incoming.vocabulary import State, severity_of

if TYPE_CHECKING:
    from shared.cards.builders import CardBuilder, Status

DEFAULT_MAX_ALERTS = 10
SKIP_ANNOTATIONS = ("summary", "description", "runbook_url", "__dashboardUid__", "__panelId__", "__orgId__")


class GrafanaAlert(Payload):
    status: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str | None = None
    endsAt: str | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None
    silenceURL: str | None = None
    dashboardURL: str | None = None
    panelURL: str | None = None
    imageURL: str | None = None
    values: dict[str, Any] | None = None
    valueString: str | None = None


class EvalMatch(Payload):
    value: float | int | str | None = None
    metric: str = ""


class GrafanaNotification(Payload):
    title: str | None = None
    state: str | None = None
    status: str | None = None
    message: str | None = None
    orgId: int | None = None
    groupKey: str | None = None
    externalURL: str | None = None
    truncatedAlerts: int = 0
    commonLabels: dict[str, str] = Field(default_factory=dict)
    alerts: list[GrafanaAlert] = Field(default_factory=list)
    # legacy webhook
    ruleName: str | None = None
    ruleUrl: str | None = None
    imageUrl: str | None = None
    evalMatches: list[EvalMatch] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_state(self) -> GrafanaNotification:
        if not (self.status or self.state):
            raise ValueError("status or state is required")
        if not (self.title or self.ruleName or self.alerts):
            raise ValueError("title, ruleName or alerts is required")
        return self


def grafana_status(state: str, severity: str | None) -> Status:
    from shared.cards.builders import Status

    value = state.lower()
    if value in {"ok", "resolved", "normal"}:
        return Status.GOOD
    if value in {"no_data", "nodata", "pending", "unknown"}:
        return Status.WARNING
    if value == "paused":
        return Status.DEFAULT
    if (severity or "").lower() in {"warning", "warn"}:
        return Status.WARNING
    if (severity or "").lower() == "info":
        return Status.ACCENT
    return Status.ATTENTION


#: Grafana's state words (unified alerting's firing/resolved, the legacy webhook's alerting/ok/no_data)
_STATES: dict[str, State] = {
    "firing": "firing",
    "alerting": "firing",
    "no_data": "firing",  # an alert about missing data, notified like any other
    "nodata": "firing",
    "resolved": "resolved",
    "ok": "resolved",
    "normal": "resolved",
}


def grafana_state(state: str) -> State | None:
    """Our state for Grafana's; pending, paused and unknown rules have none."""
    return _STATES.get(state.lower())


#: the lines of Grafana's default notification template (`default.message`): the state words, then
#: per alert `Value:`, `Labels:`, `Annotations:`, ` - name = value` and the `Source:`/`Silence:`/
#: `Dashboard:`/`Panel:` links
_DEFAULT_LINE = re.compile(
    r"^(\*\*(Firing|Resolved)\*\*|Value: .*|Labels:|Annotations:|\s*- .* = .*|"
    r"(Source|Silence|Dashboard|Panel): \S+)$"
)


def is_default_message(message: str) -> bool:
    """True when `message` is Grafana's default template text: the alert sections show all of it
    (labels, annotations, values, links), so the card does not repeat it. A custom message stays."""
    lines = [line.rstrip() for line in message.strip().splitlines() if line.strip()]
    starts = bool(lines) and lines[0] in ("**Firing**", "**Resolved**")
    return starts and all(_DEFAULT_LINE.match(line) for line in lines)


def _fmt_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _alert_links(alert: GrafanaAlert) -> list[tuple[str, str]]:
    pairs = (
        ("Panel", alert.panelURL),
        ("Dashboard", alert.dashboardURL),
        ("Silence", alert.silenceURL if (alert.status or "firing") == "firing" else None),
        ("Runbook", alert.annotations.get("runbook_url")),
        ("Rule", alert.generatorURL),
        ("Image", alert.imageURL),
    )
    return [(t, u) for t, u in pairs if http_url(u)]  # type: ignore[misc]


class GrafanaSource:
    name = "grafana"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = ()

    def detect(self, req: Incoming) -> bool:
        data = req.data
        return isinstance(data, dict) and (
            ("orgId" in data and ("alerts" in data or "state" in data)) or "evalMatches" in data
        )

    def parse(self, req: Incoming) -> GrafanaNotification:
        return validate(GrafanaNotification, req.data, "Grafana")

    def build(self, g: GrafanaNotification, req: Incoming, ctx: BuildContext) -> Notice:
        state = (g.status or g.state or "").lower()
        severity = g.commonLabels.get("severity")
        status = grafana_status(state, severity)
        title = (
            g.title
            or g.ruleName
            or (g.alerts[0].labels.get("alertname") if g.alerts else None)
            or "Grafana alert"
        )
        card = new_card(short(title, 200), status, f"Grafana · {state}")
        if g.message and not (g.alerts and is_default_message(g.message)):
            card.text(escape(short(g.message, 1200)))  # the rule's text: Grafana shows it as is
        if g.evalMatches:
            card.facts([(m.metric or "value", _fmt_value(m.value)) for m in g.evalMatches[:20]])

        limit = int_setting(ctx.settings, "max_alerts", DEFAULT_MAX_ALERTS)
        for alert in g.alerts[:limit]:
            self._alert_section(card, alert, g)
        hidden = len(g.alerts) - limit + g.truncatedAlerts
        if hidden > 0:
            card.text(f"+{hidden} more")

        buttons: list[tuple[str, str]] = []
        if g.alerts:
            buttons = _alert_links(g.alerts[0]) if len(g.alerts) == 1 else []
        for label, url in (("Rule", g.ruleUrl), ("Image", g.imageUrl), ("Grafana", g.externalURL)):
            if http_url(url) and label not in {b[0] for b in buttons}:
                buttons.append((label, url or ""))
        for label, url in buttons[:6]:
            card.button(label, url)

        alerts_key = json.dumps(
            [[a.fingerprint or sorted(a.labels.items()), a.status, a.startsAt, a.endsAt] for a in g.alerts],
            separators=(",", ":"),
        )
        dedupe = content_hash(g.groupKey or title, state, alerts_key, req.body if not g.alerts else b"")
        return Notice(
            cards=[ctx.finish(card, status)],
            summary=Summary(
                title=title,
                severity=severity_of(status),
                state=grafana_state(state),
                source=self.name,
                url=http_url(g.externalURL) or http_url(g.ruleUrl),
                text=short(g.message, 300) if g.message else None,
            ),
            dedupe_id=f"grafana:{dedupe}",
        )

    def _alert_section(self, card: CardBuilder, alert: GrafanaAlert, g: GrafanaNotification) -> None:
        firing = (alert.status or g.status or "firing").lower() == "firing"
        heading = alert.annotations.get("summary") or alert.labels.get("alertname") or "alert"
        card.section(f"{'🔥' if firing else '✅'} {escape(short(heading, 200))}")
        if alert.annotations.get("description"):
            card.text(escape(short(alert.annotations["description"], 600)))
        facts = [(k, _fmt_value(v)) for k, v in (alert.values or {}).items()][:10]
        facts += facts_of(
            {k: v for k, v in alert.labels.items() if g.commonLabels.get(k) != v}, skip=("alertname",)
        )
        facts += facts_of(alert.annotations, skip=SKIP_ANNOTATIONS)
        since = times.local(alert.startsAt)
        if since:
            facts.append(("Since", since))
        ended = None if firing else times.local(alert.endsAt)
        if ended:  # Go's zero time (no end yet) is not a time
            facts.append(("Ended", ended))
        if facts:
            card.facts(facts)
        if len(g.alerts) > 1:
            links = [link(t, u) for t, u in _alert_links(alert)]
            if links:
                card.text(" · ".join(links))


SOURCES = {"grafana": GrafanaSource()}
