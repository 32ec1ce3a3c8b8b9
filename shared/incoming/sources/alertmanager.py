"""Prometheus Alertmanager webhook (version 4): one card per notification, never one per alert.

Lenient where real senders differ: ``version`` and ``groupKey`` may be missing (older proxies and
the prom2teams test payloads omit them) and an alert without ``status`` takes the notification's.
The notification ``status`` and every alert's ``labels`` are required.

Route settings read: ``max_alerts`` (alerts shown in full before ``+N more``, default 10).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import Field

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
from shared.incoming.vocabulary import severity_of

if TYPE_CHECKING:
    from shared.cards.builders import CardBuilder, Status

DEFAULT_MAX_ALERTS = 10
#: annotations shown as text or buttons, so not repeated as facts
TEXT_ANNOTATIONS = ("summary", "description", "message")
LINK_ANNOTATIONS = ("runbook_url", "runbook", "dashboard_url", "dashboard", "grafana_url")


class Alert(Payload):
    status: str | None = None
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str | None = None
    endsAt: str | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None


class Notification(Payload):
    version: str | None = None
    groupKey: str | None = None
    truncatedAlerts: int = 0
    status: str
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str | None = None
    alerts: list[Alert] = Field(min_length=1)


def severity_status(firing: bool, severity: str | None) -> Status:
    from shared.cards.builders import Status

    if not firing:
        return Status.GOOD
    sev = (severity or "").lower()
    if sev in {"warning", "warn", "minor", "medium"}:
        return Status.WARNING
    if sev in {"info", "informational", "none", "low", "notice"}:
        return Status.ACCENT
    return Status.ATTENTION


def _quoted(value: str) -> str:
    """A label value inside the `{name="value"}` matcher of a silence link: quotes and backslashes escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def silence_url(external_url: str | None, labels: dict[str, str]) -> str | None:
    base = http_url(external_url)
    if not base or not labels:
        return None
    matchers = ",".join(f'{k}="{_quoted(v)}"' for k, v in sorted(labels.items()))
    return f"{base.rstrip('/')}/#/silences/new?filter={quote('{' + matchers + '}', safe='')}"


def _links(annotations: dict[str, str]) -> list[tuple[str, str]]:
    links: list[tuple[str, str]] = []
    for key, title in (
        ("runbook_url", "Runbook"),
        ("runbook", "Runbook"),
        ("dashboard_url", "Dashboard"),
        ("dashboard", "Dashboard"),
        ("grafana_url", "Dashboard"),
    ):
        url = http_url(annotations.get(key))
        if url and title not in {t for t, _ in links}:
            links.append((title, url))
    return links


def _alert_status(alert: Alert, default: str) -> str:
    return (alert.status or default).lower()


def _alert_title(alert: Alert) -> str:
    name = alert.labels.get("alertname") or "alert"
    where = alert.labels.get("instance") or alert.labels.get("pod") or alert.labels.get("job")
    return f"{name} on {where}" if where else name


class AlertmanagerSource:
    name = "alertmanager"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = ()

    def detect(self, req: Incoming) -> bool:
        data = req.data
        return (
            isinstance(data, dict)
            and isinstance(data.get("alerts"), list)
            and ("groupKey" in data or "receiver" in data)
            and "orgId" not in data
        )

    def parse(self, req: Incoming) -> Notification:
        return validate(Notification, req.data, "Alertmanager")

    def dedupe_id(self, n: Notification) -> str:
        alerts = [
            [a.fingerprint or sorted(a.labels.items()), _alert_status(a, n.status), a.startsAt, a.endsAt]
            for a in n.alerts
        ]
        content = json.dumps(alerts, sort_keys=True, separators=(",", ":"))
        group = n.groupKey or f"{n.receiver}:{sorted(n.groupLabels.items() or n.commonLabels.items())}"
        return f"am:{content_hash(group, n.status.lower(), content)}"

    def build(self, n: Notification, req: Incoming, ctx: BuildContext) -> Notice:
        firing_alerts = [a for a in n.alerts if _alert_status(a, n.status) == "firing"]
        resolved_alerts = [a for a in n.alerts if _alert_status(a, n.status) != "firing"]
        firing = n.status.lower() == "firing"
        severity = n.commonLabels.get("severity") or next(
            (a.labels.get("severity") for a in firing_alerts if a.labels.get("severity")), None
        )
        status = severity_status(firing, severity)
        alertname = (
            n.groupLabels.get("alertname") or n.commonLabels.get("alertname") or _alert_title(n.alerts[0])
        )
        count = len(firing_alerts) if firing else len(resolved_alerts)
        word = "FIRING" if firing else "RESOLVED"
        title = f"[{word}:{count}] {alertname}" if count > 1 else f"[{word}] {alertname}"
        subtitle_parts = [p for p in (f"severity {severity}" if severity else None, n.receiver or None) if p]
        card = new_card(title, status, " · ".join(subtitle_parts) or None)

        summary_text = n.commonAnnotations.get("summary")
        description = n.commonAnnotations.get("description") or n.commonAnnotations.get("message")
        if summary_text:
            card.text(f"**{escape(short(summary_text, 300))}**")
        if description:
            card.text(escape(short(description, 1000)))
        if firing and resolved_alerts:
            card.text(f"{len(firing_alerts)} firing, {len(resolved_alerts)} resolved")

        common_facts = facts_of(n.commonLabels, skip=("alertname",))
        common_facts += facts_of(n.commonAnnotations, skip=TEXT_ANNOTATIONS + LINK_ANNOTATIONS)
        if common_facts:
            card.facts(common_facts)

        limit = int_setting(ctx.settings, "max_alerts", DEFAULT_MAX_ALERTS)
        ordered = firing_alerts + resolved_alerts
        common_links = _links(n.commonAnnotations)
        for alert in ordered[:limit]:
            self._alert_section(card, alert, n, common_links)
        hidden = len(ordered) - limit + n.truncatedAlerts
        if hidden > 0:
            more = f"+{hidden} more"
            url = http_url(n.externalURL)
            card.text(link(more, url))

        for label, url in common_links:
            card.button(label, url)
        if len(n.alerts) == 1 and http_url(n.alerts[0].generatorURL):
            card.button("Source", n.alerts[0].generatorURL or "")
        if http_url(n.externalURL):
            card.button("Alertmanager", n.externalURL or "")
        if firing:
            silence = silence_url(n.externalURL, n.groupLabels or n.commonLabels)
            if silence:
                card.button("Silence", silence)

        built = ctx.finish(card, status)
        return Notice(
            cards=[built],
            summary=Summary(
                title=title,
                severity=severity_of(status),
                state="firing" if firing else "resolved",
                source=self.name,
                url=http_url(n.externalURL),
                text=short(summary_text or description or "", 300) or None,
            ),
            dedupe_id=self.dedupe_id(n),
        )

    def _alert_section(
        self, card: CardBuilder, alert: Alert, n: Notification, common_links: list[tuple[str, str]]
    ) -> None:
        state = _alert_status(alert, n.status)
        heading = alert.annotations.get("summary") or _alert_title(alert)
        card.section(f"{'🔥' if state == 'firing' else '✅'} {escape(short(heading, 200))}")
        desc = alert.annotations.get("description") or alert.annotations.get("message")
        shown_above = n.commonAnnotations.get("description") or n.commonAnnotations.get("message")
        if desc and desc != shown_above:  # the card's text already says it
            card.text(escape(short(desc, 600)))
        facts = facts_of(
            {k: v for k, v in alert.labels.items() if n.commonLabels.get(k) != v}, skip=("alertname",)
        )
        facts += facts_of(
            {k: v for k, v in alert.annotations.items() if n.commonAnnotations.get(k) != v},
            skip=TEXT_ANNOTATIONS + LINK_ANNOTATIONS,
        )
        since = times.local(alert.startsAt)
        if since:
            facts.append(("Since", since))
        ended = times.local(alert.endsAt) if state != "firing" else None
        if ended:  # Go's zero time (no end yet) is not a time
            facts.append(("Ended", ended))
        if facts:
            card.facts(facts)
        links = [link(t, u) for t, u in _links(alert.annotations) if (t, u) not in common_links]
        source = http_url(alert.generatorURL)
        if source and len(n.alerts) > 1:
            links.append(link("Source", source))
        if links:
            card.text(" · ".join(links))


SOURCES = {"alertmanager": AlertmanagerSource()}
