"""Sentry integration-platform webhooks (``Sentry-Hook-Resource``): issues (created, resolved,
assigned, ...), issue alerts (``event_alert``) and metric alerts (critical, warning, resolved) get a
card of their own; any other resource (``error``, ``comment``, ``installation``) the generic card.

A retry is recognised by ``Request-ID`` and by the ids in the body: an issue alert names the event
it fired for (``event_id``), so the same alert for the same event is shown once even under a new
request id; for the other resources the (signed) body's hash is that second key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from pydantic import Field

from shared.cards.markdown import escape
from shared.incoming.sources.base import (
    BuildContext,
    Incoming,
    Notice,
    Payload,
    SourceError,
    Summary,
    content_hash,
    http_url,
    new_card,
    short,
    validate,
)
from shared.incoming.vocabulary import State, severity_of

if TYPE_CHECKING:
    from shared.cards.builders import CardBuilder, Status


class Actor(Payload):
    type: str | None = None
    name: str | None = None


class Project(Payload):
    slug: str | None = None
    name: str | None = None


class Assignee(Payload):
    name: str | None = None
    email: str | None = None
    type: str | None = None


class IssueBody(Payload):
    id: str | int
    shortId: str | None = None
    title: str
    culprit: str | None = None
    level: str | None = None
    status: str | None = None
    substatus: str | None = None
    project: Project | None = None
    assignedTo: Assignee | None = None
    count: str | int | None = None
    userCount: int | None = None
    firstSeen: str | None = None
    web_url: str | None = None
    permalink: str | None = None


class IssueData(Payload):
    issue: IssueBody


class IssueHook(Payload):
    action: str
    actor: Actor | None = None
    data: IssueData


class EventBody(Payload):
    event_id: str | None = None
    title: str | None = None
    message: str | None = None
    level: str | None = None
    culprit: str | None = None
    environment: str | None = None
    release: str | None = None
    tags: list[Any] = Field(default_factory=list)
    web_url: str | None = None
    issue_id: str | int | None = None


class EventAlertData(Payload):
    event: EventBody
    triggered_rule: str | None = None


class EventAlertHook(Payload):
    action: str = "triggered"
    data: EventAlertData


class AlertRule(Payload):
    name: str | None = None
    aggregate: str | None = None
    query: str | None = None
    time_window: int | None = None
    environment: str | None = None
    projects: list[str] = Field(default_factory=list)


class MetricAlertBody(Payload):
    id: str | int | None = None
    identifier: str | int | None = None
    title: str | None = None
    alert_rule: AlertRule | None = None
    date_started: str | None = None
    date_closed: str | None = None


class MetricAlertData(Payload):
    metric_alert: MetricAlertBody
    description_title: str | None = None
    description_text: str | None = None
    web_url: str | None = None


class MetricAlertHook(Payload):
    action: str
    data: MetricAlertData


class OtherHook(Payload):
    action: str | None = None
    actor: Actor | None = None
    data: dict[str, Any] = Field(default_factory=dict)


Hook = IssueHook | EventAlertHook | MetricAlertHook | OtherHook
Built = tuple["CardBuilder", "Status", str, str | None, str | None, State | None]


def level_status(level: str | None) -> Status:
    from shared.cards.builders import Status

    value = (level or "").lower()
    if value in {"fatal", "error"}:
        return Status.ATTENTION
    if value == "warning":
        return Status.WARNING
    return Status.ACCENT if value == "info" else Status.DEFAULT


def _tag(event: EventBody, name: str) -> str | None:
    for pair in event.tags:
        if isinstance(pair, (list, tuple)) and len(pair) == 2 and pair[0] == name and pair[1] is not None:
            return str(pair[1])
        if isinstance(pair, dict) and pair.get("key") == name and pair.get("value") is not None:
            return str(pair["value"])
    return None


def _issue(p: IssueHook) -> Built:
    from shared.cards.builders import Status

    issue = p.data.issue
    project = issue.project.slug or issue.project.name if issue.project else None
    label = f"{issue.shortId}: " if issue.shortId else ""
    state: State | None
    if p.action == "created":
        status, state = level_status(issue.level), "opened"
    elif p.action == "resolved":
        status, state = Status.GOOD, "closed"
    elif p.action == "unresolved":
        status, state = Status.WARNING, "opened"
    else:  # assigned, archived, ignored
        status, state = Status.DEFAULT, "updated"
    verb = {"created": "new issue", "unresolved": "issue unresolved"}.get(p.action, f"issue {p.action}")
    title = f"{project or 'Sentry'}: {verb}: {label}{short(issue.title, 150)}"
    actor = p.actor.name if p.actor and p.actor.name and p.actor.type == "user" else None
    card = new_card(title, status, short(issue.culprit, 200) if issue.culprit else None)
    assignee = issue.assignedTo.name or issue.assignedTo.email if issue.assignedTo else None
    facts = [
        (k, v)
        for k, v in (
            ("Level", issue.level),
            ("Status", issue.substatus or issue.status),
            ("Assigned to", assignee),
            ("Events", str(issue.count) if issue.count not in (None, "") else None),
            ("Users", str(issue.userCount) if issue.userCount else None),
            ("By", actor),
        )
        if v
    ]
    if facts:
        card.facts(facts)
    url = http_url(issue.web_url) or http_url(issue.permalink)
    if url:
        card.button("Open in Sentry", url)
    return card, status, title, url, issue.culprit, state


def _event_alert(p: EventAlertHook) -> Built:
    event = p.data.event
    status = level_status(event.level or "error")
    rule = p.data.triggered_rule or "Issue alert"
    title = f"{short(rule, 100)}: {short(event.title or event.message or 'an event', 150)}"
    card = new_card(title, status, short(event.culprit, 200) if event.culprit else None)
    if event.message and event.message != event.title:
        card.text(escape(short(event.message, 400)))
    facts = [
        (k, v)
        for k, v in (
            ("Level", event.level),
            ("Environment", event.environment or _tag(event, "environment")),
            ("Release", event.release or _tag(event, "release")),
            ("Event", (event.event_id or "")[:12]),
        )
        if v
    ]
    if facts:
        card.facts(facts)
    url = http_url(event.web_url)
    if url:
        card.button("Open event", url)
    return card, status, title, url, event.culprit, "firing"


def _metric_alert(p: MetricAlertHook) -> Built:
    from shared.cards.builders import Status

    alert = p.data.metric_alert
    rule = alert.alert_rule
    name = (rule.name if rule else None) or alert.title or "Metric alert"
    kinds: dict[str, tuple[Status, State | None]] = {
        "critical": (Status.ATTENTION, "firing"),
        "warning": (Status.WARNING, "firing"),
        "resolved": (Status.GOOD, "resolved"),
    }
    status, state = kinds.get(p.action, (Status.DEFAULT, None))
    title = p.data.description_title or f"{p.action.capitalize()}: {name}"
    card = new_card(short(title, 200), status, f"metric alert {short(name, 120)}")
    if p.data.description_text:
        card.text(
            "\n\n".join(escape(short(line, 300)) for line in p.data.description_text.splitlines()[:5] if line)
        )
    facts = [
        (k, v)
        for k, v in (
            ("Metric", rule.aggregate if rule else None),
            ("Query", rule.query if rule else None),
            ("Window", f"{rule.time_window} min" if rule and rule.time_window else None),
            ("Environment", rule.environment if rule else None),
            ("Projects", ", ".join(rule.projects[:5]) if rule and rule.projects else None),
            ("Started", (alert.date_started or "")[:16].replace("T", " ")),
        )
        if v
    ]
    if facts:
        card.facts(facts)
    url = http_url(p.data.web_url)
    if url:
        card.button("Open alert", url)
    return card, status, short(title, 200), url, p.data.description_text, state


def _generic(resource: str, p: OtherHook) -> Built:
    from shared.cards.builders import Status

    action = f" {p.action}" if p.action else ""
    title = f"Sentry: {resource.replace('_', ' ')}{action}"
    card = new_card(title, Status.DEFAULT, f"by {p.actor.name}" if p.actor and p.actor.name else None)
    facts: list[tuple[str, str]] = []
    url: str | None = None
    for key, value in p.data.items():
        if not isinstance(value, dict):
            if isinstance(value, (str, int, float)) and value != "":
                facts.append((key.replace("_", " "), short(value, 200)))
            continue
        for field_name in ("title", "shortId", "comment", "level", "culprit", "status", "issue_id"):
            inner = value.get(field_name)
            if isinstance(inner, (str, int, float)) and inner != "":
                facts.append((f"{key} {field_name}", short(inner, 200)))
        url = url or http_url(value.get("web_url") if isinstance(value.get("web_url"), str) else None)
        if len(facts) >= 8:
            break
    if facts:
        card.facts(facts[:8])
    if url:
        card.button("Open in Sentry", url)
    return card, Status.DEFAULT, title, url, None, None


HANDLERS: dict[str, tuple[type[Payload], Callable[[Any], Built]]] = {
    "issue": (IssueHook, _issue),
    "event_alert": (EventAlertHook, _event_alert),
    "metric_alert": (MetricAlertHook, _metric_alert),
}


class SentrySource:
    name = "sentry"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = ()

    def detect(self, req: Incoming) -> bool:
        return bool(req.header("sentry-hook-resource"))

    def parse(self, req: Incoming) -> tuple[str, Hook]:
        resource = (req.header("sentry-hook-resource") or "").strip().lower()
        if not resource:
            raise SourceError("missing Sentry-Hook-Resource header", ["Sentry-Hook-Resource: field required"])
        if not isinstance(req.data, dict):
            raise SourceError("not a valid Sentry payload", ["body: must be a JSON object"])
        model = HANDLERS[resource][0] if resource in HANDLERS else OtherHook
        return resource, cast(Hook, validate(model, req.data, f"Sentry {resource[:60]}"))

    def build(self, parsed: tuple[str, Hook], req: Incoming, ctx: BuildContext) -> Notice:
        resource, hook = parsed
        if resource in HANDLERS and isinstance(hook, HANDLERS[resource][0]):
            card, status, title, url, text, state = HANDLERS[resource][1](hook)
        else:
            card, status, title, url, text, state = _generic(resource, OtherHook.model_validate(req.data))
        if isinstance(hook, EventAlertHook) and hook.data.event.event_id:
            body_key = (
                f"sentry-event:{content_hash(hook.data.event.event_id, hook.data.triggered_rule or '')}"
            )
        else:
            body_key = f"sentry-body:{content_hash(resource, req.body)}"
        request_id = (req.header("request-id") or "").strip()
        action = getattr(hook, "action", None)
        return Notice(
            cards=[ctx.finish(card, status)],
            summary=Summary(
                title=title,
                severity=severity_of(status),
                state=state,
                source=self.name,
                url=url,
                text=short(text, 300) if text else None,
            ),
            dedupe_id=f"sentry:{request_id[:100]}" if request_id else body_key,
            replay_id=body_key if request_id else None,
            event=f"{resource}.{action}" if action else resource,
        )


SOURCES = {"sentry": SentrySource()}
