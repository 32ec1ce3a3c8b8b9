"""Jira webhooks (Cloud and Data Center): issues with their changelog, comments, sprints and
released versions get a card of their own; any other ``webhookEvent`` the useful generic card.

Retries are recognised by ``X-Atlassian-Webhook-Identifier`` (Jira Cloud keeps it across retries);
Data Center sends no such header, so the body (which carries a ``timestamp``) is the key there.
Jira's links in a payload are REST ``self`` URLs: the browse URL is built from their site part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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
    first_line,
    http_url,
    new_card,
    short,
    validate,
)
from shared.incoming.vocabulary import State, severity_of

if TYPE_CHECKING:
    from shared.cards.builders import CardBuilder, Status

#: Jira Cloud retries a failed delivery for up to about a day under the same identifier
RETRY_WINDOW_SECONDS = 86400
MAX_CHANGES = 12


class User(Payload):
    displayName: str | None = None
    name: str | None = None  # Data Center
    accountId: str | None = None


class Named(Payload):
    name: str | None = None


class Project(Payload):
    key: str | None = None
    name: str | None = None


class Fields(Payload):
    summary: str | None = None
    status: Named | None = None
    priority: Named | None = None
    issuetype: Named | None = None
    assignee: User | None = None
    reporter: User | None = None
    project: Project | None = None
    labels: list[str] = Field(default_factory=list)


class Issue(Payload):
    key: str
    self_: str | None = Field(default=None, alias="self")
    fields: Fields = Field(default_factory=Fields)


class ChangeItem(Payload):
    field: str = ""
    fromString: str | None = None
    toString: str | None = None


class Changelog(Payload):
    items: list[ChangeItem] = Field(default_factory=list)


class Base(Payload):
    webhookEvent: str
    timestamp: int | None = None
    user: User | None = None


class IssueEvent(Base):
    issue: Issue
    changelog: Changelog | None = None
    issue_event_type_name: str | None = None


class Comment(Payload):
    body: Any = None
    author: User | None = None
    updateAuthor: User | None = None
    self_: str | None = Field(default=None, alias="self")
    id: str | None = None


class CommentEvent(Base):
    comment: Comment
    issue: Issue | None = None


class Sprint(Payload):
    name: str
    self_: str | None = Field(default=None, alias="self")
    state: str | None = None
    goal: str | None = None
    startDate: str | None = None
    endDate: str | None = None
    completeDate: str | None = None
    originBoardId: int | None = None


class SprintEvent(Base):
    sprint: Sprint


class Version(Payload):
    name: str
    id: str | None = None
    self_: str | None = Field(default=None, alias="self")
    description: str | None = None
    releaseDate: str | None = None
    projectId: int | None = None


class VersionEvent(Base):
    version: Version


class Other(Base):
    pass


def site(self_url: str | None) -> str | None:
    """``https://acme.atlassian.net`` from a REST ``self`` URL (a Data Center context path kept)."""
    url = http_url(self_url)
    if not url:
        return None
    parts = urlsplit(url)
    path = parts.path.split("/rest/", 1)[0] if "/rest/" in parts.path else ""
    return f"{parts.scheme}://{parts.netloc}{path}"


def browse_url(issue: Issue | None) -> str | None:
    root = site(issue.self_) if issue else None
    return f"{root}/browse/{issue.key}" if root and issue else None


def _who(user: User | None) -> str:
    return (user.displayName or user.name or "someone") if user else "someone"


def _label(issue: Issue) -> str:
    summary = issue.fields.summary
    return f"{issue.key}: {short(summary, 150)}" if summary else issue.key


Built = tuple["CardBuilder", "Status", str, str | None, str | None, State | None]


def _issue_facts(issue: Issue) -> list[tuple[str, str]]:
    f = issue.fields
    return [
        (k, v)
        for k, v in (
            ("Type", f.issuetype.name if f.issuetype else None),
            ("Status", f.status.name if f.status else None),
            ("Priority", f.priority.name if f.priority else None),
            ("Assignee", f.assignee.displayName or f.assignee.name if f.assignee else None),
            ("Project", (f.project.name or f.project.key) if f.project else None),
            ("Labels", ", ".join(f.labels[:10]) if f.labels else None),
        )
        if v
    ]


def _change(item: ChangeItem) -> str:
    old = short(item.fromString, 80) if item.fromString else "(none)"
    new = short(item.toString, 80) if item.toString else "(none)"
    if item.field.lower() == "description":
        return f"{escape(item.field)}: changed"
    return f"{escape(item.field)}: {escape(old)} → {escape(new)}"


def _issue(p: IssueEvent) -> Built:
    from shared.cards.builders import Status

    verb = p.webhookEvent.split("_")[-1]  # created, updated, deleted
    items = p.changelog.items if p.changelog else []
    resolved = any(i.field.lower() == "resolution" and i.toString for i in items)
    state: State
    if verb == "created":
        status, state = Status.ACCENT, "opened"
    elif verb == "deleted":
        status, state = Status.DEFAULT, "closed"
    elif resolved:
        verb, status, state = "resolved", Status.GOOD, "closed"
    else:
        status, state = Status.DEFAULT, "updated"
    title = f"{_label(p.issue)} {verb}"
    card = new_card(title, status, f"by {_who(p.user)}")
    lines = [_change(i) for i in items[:MAX_CHANGES] if i.field]
    if lines and verb != "created":
        card.bullets(lines)
        if len(items) > MAX_CHANGES:
            card.text(f"+{len(items) - MAX_CHANGES} more changes")
    facts = _issue_facts(p.issue)
    if facts:
        card.facts(facts)
    url = browse_url(p.issue) if verb != "deleted" else None
    if url:
        card.button("Open issue", url)
    text = "; ".join(f"{i.field}: {i.fromString or '(none)'} → {i.toString or '(none)'}" for i in items[:3])
    return card, status, title, url, text or None, state


def _comment(p: CommentEvent) -> Built:
    from shared.cards.builders import Status

    verb = {"comment_created": "New comment", "comment_updated": "Comment edited"}.get(
        p.webhookEvent, p.webhookEvent.replace("_", " ").capitalize()
    )
    target = _label(p.issue) if p.issue else "an issue"
    title = f"{verb} on {target}"
    author = p.comment.updateAuthor if p.webhookEvent == "comment_updated" else p.comment.author
    card = new_card(title, Status.DEFAULT, f"by {_who(author or p.comment.author or p.user)}")
    body = p.comment.body if isinstance(p.comment.body, str) else None
    if body and p.webhookEvent != "comment_deleted":
        card.text(escape(short(body, 1000)))
    url = browse_url(p.issue)
    if url and p.comment.id:
        url = f"{url}?focusedCommentId={p.comment.id}"
    if url:
        card.button("Open comment", url)
    return card, Status.DEFAULT, title, url, first_line(body, 120) or None, None


def _sprint(p: SprintEvent) -> Built:
    from shared.cards.builders import Status

    s = p.sprint
    verb = p.webhookEvent.removeprefix("sprint_")
    kinds: dict[str, tuple[Status, State | None]] = {
        "started": (Status.ACCENT, "started"),
        "closed": (Status.GOOD, "succeeded"),
    }
    status, state = kinds.get(verb, (Status.DEFAULT, None))
    title = f"Sprint {short(s.name, 150)} {verb}"
    card = new_card(title, status, f"by {_who(p.user)}" if p.user else None)
    if s.goal:
        card.text(escape(short(s.goal, 600)))
    facts = [
        (k, v[:10] if v else v)
        for k, v in (("Start", s.startDate), ("End", s.endDate), ("Completed", s.completeDate))
        if v
    ]
    if facts:
        card.facts(facts)
    root = site(s.self_)
    url = f"{root}/secure/RapidBoard.jspa?rapidView={s.originBoardId}" if root and s.originBoardId else None
    if url:
        card.button("Open board", url)
    return card, status, title, url, s.goal, state


def _version(p: VersionEvent) -> Built:
    from shared.cards.builders import Status

    v = p.version
    verb = p.webhookEvent.removeprefix("jira:version_")
    released = verb == "released"
    status = Status.GOOD if released else Status.DEFAULT
    title = f"Version {short(v.name, 150)} {verb}"
    card = new_card(title, status, f"by {_who(p.user)}" if p.user else None)
    if v.description:
        card.text(escape(short(v.description, 600)))
    if v.releaseDate:
        card.facts([("Release date", v.releaseDate[:10])])
    root = site(v.self_)
    url = root
    if root and v.projectId and v.id:
        url = f"{root}/secure/ReleaseNote.jspa?projectId={v.projectId}&version={v.id}"
    if url:
        card.button("Open in Jira", url)
    return card, status, title, url, v.description, "released" if released else None


def _generic(p: Other, data: dict[str, Any]) -> Built:
    from shared.cards.builders import Status

    title = f"Jira: {p.webhookEvent.removeprefix('jira:').replace('_', ' ')}"
    card = new_card(title, Status.DEFAULT, f"by {_who(p.user)}" if p.user else None)
    facts: list[tuple[str, str]] = []
    url: str | None = None
    for key, value in data.items():
        if key in {"webhookEvent", "timestamp", "user", "matchedWebhookIds"}:
            continue
        if isinstance(value, dict):
            label = value.get("key") or value.get("name") or value.get("displayName")
            if isinstance(label, (str, int)):
                facts.append((key, short(label, 200)))
            else:  # an object without a name: its first few plain values (a worklog's time, comment)
                facts += [
                    (f"{key} {k}", short(v, 200))
                    for k, v in list(value.items())[:12]
                    if isinstance(v, (str, int, float)) and v != "" and not k.lower().endswith(("self", "id"))
                ][:4]
            url = url or site(value.get("self") if isinstance(value.get("self"), str) else None)
        elif isinstance(value, (str, int, float, bool)) and value != "":
            facts.append((key, short(value, 200)))
        if len(facts) >= 8:
            break
    if facts:
        card.facts(facts)
    if url:
        card.button("Open Jira", url)
    return card, Status.DEFAULT, title, url, None, None


def _model(event: str) -> tuple[type[Base], Callable[[Any], Built]] | None:
    if event.startswith("jira:issue_"):
        return IssueEvent, _issue
    if event in {"comment_created", "comment_updated", "comment_deleted"}:
        return CommentEvent, _comment
    if event.startswith("sprint_"):
        return SprintEvent, _sprint
    if event.startswith("jira:version_"):
        return VersionEvent, _version
    return None


class JiraSource:
    name = "jira"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = ()

    def detect(self, req: Incoming) -> bool:
        if req.header("x-atlassian-webhook-identifier"):
            return True
        data = req.data
        return (
            isinstance(data, dict)
            and isinstance(data.get("webhookEvent"), str)
            and bool({"issue", "sprint", "version", "comment", "issue_event_type_name"} & data.keys())
        )

    def parse(self, req: Incoming) -> Base:
        if not isinstance(req.data, dict):
            raise SourceError("not a valid Jira payload", ["body: must be a JSON object"])
        event = req.data.get("webhookEvent")
        if not isinstance(event, str) or not event.strip():
            raise SourceError("not a valid Jira payload", ["webhookEvent: field required"])
        handler = _model(event.strip())
        model = handler[0] if handler else Other
        return validate(model, req.data, f"Jira {event.strip()[:60]}")

    def build(self, parsed: Base, req: Incoming, ctx: BuildContext) -> Notice:
        handler = _model(parsed.webhookEvent)
        if handler and isinstance(parsed, handler[0]):
            card, status, title, url, text, state = handler[1](parsed)
        else:
            card, status, title, url, text, state = _generic(
                parsed if isinstance(parsed, Other) else Other.model_validate(req.data), req.data
            )
        delivery = (req.header("x-atlassian-webhook-identifier") or "").strip()
        body_hash = content_hash(parsed.webhookEvent, req.body)
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
            dedupe_id=f"jira:{delivery[:100]}" if delivery else f"jira:{body_hash}",
            dedupe_window=RETRY_WINDOW_SECONDS if delivery else None,
            replay_id=f"jira-body:{body_hash}" if delivery else None,
            event=parsed.webhookEvent,
        )


SOURCES = {"jira": JiraSource()}
