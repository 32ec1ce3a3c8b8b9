"""Azure DevOps service hooks (Web Hooks consumer): tailored cards for builds, pipeline runs, pushes,
pull requests and work items, and for anything else a card from ``detailedMessage.markdown``.

Azure DevOps signs nothing, so routes use basic auth (the subscription's user name and password).
Retries carry the same notification ``id``, which is the de-duplication key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field

from shared.cards.markdown import sender_markdown
from shared.incoming.sources.base import (
    BuildContext,
    Incoming,
    Notice,
    Payload,
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

MD_LINK = re.compile(r"\[([^\]]{1,200})\]\((https?://[^)\s]{1,2000})\)")
MAX_COMMITS = 10


class Message(Payload):
    text: str | None = None
    markdown: str | None = None


class ServiceHook(Payload):
    id: str | None = None
    notificationId: int | None = None
    eventType: str
    publisherId: str | None = None
    message: Message | None = None
    detailedMessage: Message | None = None
    resource: dict[str, Any] = Field(default_factory=dict)
    createdDate: str | None = None


class Identity(Payload):
    displayName: str = ""


class Definition(Payload):
    name: str = ""


class Build(Payload):
    buildNumber: str = ""
    status: str | None = None
    result: str | None = None
    reason: str | None = None
    definition: Definition | None = None
    requestedFor: Identity | None = None
    lastChangedBy: Identity | None = None
    sourceBranch: str | None = None
    links: dict[str, Any] = Field(default_factory=dict, alias="_links")


class RunInfo(Payload):
    name: str = ""
    state: str | None = None
    result: str | None = None
    links: dict[str, Any] = Field(default_factory=dict, alias="_links")


class PipelineRun(Payload):
    run: RunInfo
    pipeline: Definition | None = None


class GitCommit(Payload):
    commitId: str
    comment: str = ""
    url: str | None = None
    author: dict[str, Any] | None = None


class RefUpdate(Payload):
    name: str


class Repo(Payload):
    name: str = ""
    remoteUrl: str | None = None


class GitPush(Payload):
    commits: list[GitCommit] = Field(default_factory=list)
    refUpdates: list[RefUpdate] = Field(min_length=1)
    repository: Repo
    pushedBy: Identity | None = None


class Reviewer(Payload):
    displayName: str = ""
    vote: int = 0


class PullRequest(Payload):
    pullRequestId: int
    title: str
    status: str | None = None
    description: str | None = None
    createdBy: Identity | None = None
    sourceRefName: str | None = None
    targetRefName: str | None = None
    mergeStatus: str | None = None
    repository: Repo | None = None
    reviewers: list[Reviewer] = Field(default_factory=list)


class WorkItem(Payload):
    id: int | None = None
    workItemId: int | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    revision: dict[str, Any] | None = None
    links: dict[str, Any] = Field(default_factory=dict, alias="_links")


def result_status(result: str | None) -> Status:
    from shared.cards.builders import Status

    value = (result or "").lower()
    if value in {"succeeded", "success", "completed"}:
        return Status.GOOD
    if value in {"failed", "failure", "error"}:
        return Status.ATTENTION
    if value in {"partiallysucceeded", "canceled", "cancelled", "stopped"}:
        return Status.WARNING
    if value in {"inprogress", "running", "notstarted", "queued"}:
        return Status.ACCENT
    return Status.DEFAULT


def result_state(result: str | None) -> State | None:
    """What a build or run did, in the words of ``result_status``'s colours.

    ``partiallySucceeded`` (some steps failed but were allowed to) counts as succeeded, as Azure
    DevOps' own "succeeded or partially succeeded" conditions do; its colour stays a warning.
    """
    value = (result or "").lower()
    if value in {"succeeded", "success", "completed", "partiallysucceeded"}:
        return "succeeded"
    if value in {"failed", "failure", "error"}:
        return "failed"
    if value in {"canceled", "cancelled", "stopped"}:
        return "cancelled"
    if value in {"inprogress", "running", "notstarted", "queued"}:
        return "started"
    return None


def _href(links: dict[str, Any], name: str) -> str | None:
    item = links.get(name)
    return http_url(item.get("href")) if isinstance(item, dict) else None


def _branch(ref: str | None) -> str:
    return (ref or "").removeprefix("refs/heads/")


def markdown_links(markdown: str | None) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in MD_LINK.finditer(markdown or "")]


def _first_link(hook: ServiceHook) -> str | None:
    for msg in (hook.message, hook.detailedMessage):
        if msg:
            links = markdown_links(msg.markdown)
            if links:
                return links[0][1]
    return None


def _text(hook: ServiceHook) -> str | None:
    msg = hook.message
    return (msg.text or msg.markdown) if msg else None


Built = tuple["CardBuilder", "Status", str, str | None, State | None]


def _build_complete(hook: ServiceHook) -> Built:
    b = validate(Build, hook.resource, "Azure DevOps build.complete")
    outcome = b.result or b.status or "completed"
    status = result_status(outcome)
    title = f"Build {b.buildNumber} {outcome}"
    name = b.definition.name if b.definition and b.definition.name else None
    card = new_card(title, status, f"pipeline {name}" if name else None)
    who = b.requestedFor or b.lastChangedBy
    facts = [
        (k, v)
        for k, v in (
            ("Reason", b.reason),
            ("Branch", _branch(b.sourceBranch)),
            ("By", who.displayName if who else None),
        )
        if v
    ]
    if facts:
        card.facts(facts)
    url = _href(b.links, "web") or _first_link(hook)
    if url:
        card.button("Open build", url)
    return card, status, title, url, result_state(outcome)


def _run_state_changed(hook: ServiceHook) -> Built:
    r = validate(PipelineRun, hook.resource, "Azure DevOps run-state-changed")
    outcome = r.run.result or r.run.state or "changed"
    status = result_status(outcome)
    pipeline = r.pipeline.name if r.pipeline and r.pipeline.name else "pipeline"
    title = f"{pipeline} run {r.run.name} {outcome}"
    card = new_card(title, status, f"state {r.run.state}" if r.run.state else None)
    url = _href(r.run.links, "web") or _first_link(hook)
    if url:
        card.button("Open run", url)
    pipeline_url = _href(r.run.links, "pipeline.web")
    if pipeline_url:
        card.button("Pipeline", pipeline_url)
    return card, status, title, url, result_state(outcome)


def _git_push(hook: ServiceHook) -> Built:
    from shared.cards.builders import Status
    from shared.cards.markdown import code, escape

    p = validate(GitPush, hook.resource, "Azure DevOps git.push")
    branch = _branch(p.refUpdates[0].name)
    n = len(p.commits)
    title = f"{p.repository.name}: {n} commit{'s' if n != 1 else ''} pushed to {branch}"
    card = new_card(title, Status.ACCENT, f"by {p.pushedBy.displayName}" if p.pushedBy else None)
    lines = []
    for c in p.commits[:MAX_COMMITS]:
        sha = c.commitId[:8]
        first = first_line(c.comment, 120)
        lines.append(f"{code(sha)} {escape(first)}")
    if lines:
        card.bullets(lines)
    if n > MAX_COMMITS:
        card.text(f"+{n - MAX_COMMITS} more")
    url = _first_link(hook) or http_url(p.repository.remoteUrl)
    if url:
        card.button("Open", url)
    return card, Status.ACCENT, title, url, "pushed"


def _pull_request(hook: ServiceHook) -> Built:
    from shared.cards.builders import Status

    pr = validate(PullRequest, hook.resource, f"Azure DevOps {hook.eventType}")
    what = hook.eventType.split(".")[-1]
    status = {"created": Status.ACCENT, "merged": Status.GOOD}.get(what, Status.DEFAULT)
    if (pr.status or "").lower() == "completed" and what != "merged":
        status = Status.GOOD
    if (pr.status or "").lower() == "abandoned":
        status = Status.DEFAULT
    repo = pr.repository.name if pr.repository else "repo"
    title = f"{repo}: PR {pr.pullRequestId} {what}: {short(pr.title, 150)}"
    card = new_card(title, status, f"by {pr.createdBy.displayName}" if pr.createdBy else None)
    if pr.description and what == "created":
        card.text(sender_markdown(short(pr.description.strip(), 800)))  # Markdown in Azure DevOps
    facts = [("Branches", f"{_branch(pr.sourceRefName)} → {_branch(pr.targetRefName)}")]
    if pr.mergeStatus:
        facts.append(("Merge status", pr.mergeStatus))
    votes = {10: "approved", 5: "approved with suggestions", -5: "waiting", -10: "rejected"}
    reviewers = [
        f"{r.displayName} ({votes[r.vote]})" if r.vote in votes else r.displayName for r in pr.reviewers
    ]
    if reviewers:
        facts.append(("Reviewers", ", ".join(reviewers[:8])))
    card.facts(facts)
    url = None
    if pr.repository and http_url(pr.repository.remoteUrl):
        url = f"{pr.repository.remoteUrl}/pullrequest/{pr.pullRequestId}"
    url = url or _first_link(hook)
    if url:
        card.button("Open pull request", url)
    return card, status, title, url, _pull_request_state(what, pr.status)


def _pull_request_state(what: str, status: str | None) -> State | None:
    """``created`` opens, ``merged`` and completing merge, abandoning closes; comments have no state."""
    pr_status = (status or "").lower()
    if what == "created":
        return "opened"
    if what == "merged" or pr_status == "completed":
        return "merged"
    if pr_status == "abandoned":
        return "closed"
    return "updated" if what == "updated" else None


#: work item events by the last part of their type; ``commented`` has no state
_WORK_ITEM_STATES: dict[str, State] = {
    "created": "opened",
    "restored": "opened",
    "updated": "updated",
    "deleted": "closed",
}


def _field(value: Any) -> str | None:
    """A work item field: plain, ``{oldValue,newValue}`` (updates) or an identity object."""
    if isinstance(value, dict):
        if "newValue" in value:
            return _field(value["newValue"])
        return str(value.get("displayName") or value.get("uniqueName") or "") or None
    return None if value in (None, "") else str(value)


def _work_item(hook: ServiceHook) -> Built:
    from shared.cards.builders import Status

    wi = validate(WorkItem, hook.resource, f"Azure DevOps {hook.eventType}")
    revision_fields = wi.revision.get("fields") if isinstance(wi.revision, dict) else None
    fields: dict[str, Any] = dict(revision_fields) if isinstance(revision_fields, dict) else {}
    fields.update({k: v for k, v in wi.fields.items() if not isinstance(v, dict) or "newValue" in v})
    what = hook.eventType.split(".")[-1]
    kind = _field(fields.get("System.WorkItemType")) or "Work item"
    number = (wi.revision or {}).get("id") if isinstance(wi.revision, dict) else None
    number = number or wi.workItemId or wi.id
    title_text = _field(fields.get("System.Title")) or ""
    title = f"{kind} #{number} {what}: {short(title_text, 150)}" if title_text else f"{kind} #{number} {what}"
    status = {"created": Status.ACCENT, "deleted": Status.WARNING, "restored": Status.ACCENT}.get(
        what, Status.DEFAULT
    )
    by = _field(fields.get("System.ChangedBy"))
    card = new_card(title, status, f"by {by}" if by else None)
    if what == "commented":
        comment = _field(fields.get("System.History"))
        if comment:
            card.text(sender_markdown(short(comment, 800)))  # HTML from the discussion
    facts: list[tuple[str, str]] = []
    changed = {k: v for k, v in wi.fields.items() if isinstance(v, dict) and "newValue" in v}
    for key, label in (
        ("System.State", "State"),
        ("System.AssignedTo", "Assigned to"),
        ("Microsoft.VSTS.Common.Severity", "Severity"),
        ("Microsoft.VSTS.Common.Priority", "Priority"),
        ("System.IterationPath", "Iteration"),
    ):
        if key in changed:
            old = _field(changed[key].get("oldValue"))
            new = _field(changed[key].get("newValue")) or "(none)"
            facts.append((label, f"{old} → {new}" if old else new))
        else:
            value = _field(fields.get(key))
            if value:
                facts.append((label, value))
    if facts:
        card.facts(facts)
    url = _href(wi.links, "html") or _first_link(hook)
    if url:
        card.button("Open work item", url)
    return card, status, title, url, _WORK_ITEM_STATES.get(what)


def _generic(hook: ServiceHook) -> Built:
    from shared.cards.builders import Status

    text = (hook.detailedMessage.markdown if hook.detailedMessage else None) or (
        hook.message.markdown if hook.message else None
    )
    plain = _text(hook)
    title = first_line(plain) or first_line(hook.eventType) or "Azure DevOps event"
    card = new_card(title, Status.DEFAULT, hook.eventType)
    if text:
        card.text(sender_markdown(short(text, 1500)))
    url = None
    for label, link in markdown_links(text)[:3]:
        url = url or link
        card.button(short(label, 40), link)
    return card, Status.DEFAULT, title, url, None


HANDLERS: dict[str, Callable[[ServiceHook], Built]] = {
    "build.complete": _build_complete,
    "ms.vss-pipelines.run-state-changed-event": _run_state_changed,
    "git.push": _git_push,
}


def handler_for(event_type: str) -> Callable[[ServiceHook], Built]:
    if event_type in HANDLERS:
        return HANDLERS[event_type]
    if event_type.startswith("git.pullrequest."):
        return _pull_request
    if event_type.startswith("workitem."):
        return _work_item
    return _generic


class AzureDevOpsSource:
    name = "azure_devops"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = ()

    def detect(self, req: Incoming) -> bool:
        data = req.data
        return isinstance(data, dict) and "eventType" in data and "resource" in data

    def parse(self, req: Incoming) -> ServiceHook:
        return validate(ServiceHook, req.data, "Azure DevOps service hook")

    def build(self, hook: ServiceHook, req: Incoming, ctx: BuildContext) -> Notice:
        card, status, title, url, state = handler_for(hook.eventType)(hook)
        key = hook.id or (str(hook.notificationId) if hook.notificationId is not None else None)
        return Notice(
            cards=[ctx.finish(card, status)],
            summary=Summary(
                title=title,
                severity=severity_of(status),
                state=state,
                source=self.name,
                url=url,
                text=short(_text(hook), 300) if _text(hook) else None,
            ),
            dedupe_id=f"ado:{content_hash(key, hook.eventType) if key else content_hash(req.body)}",
            event=hook.eventType,
        )


SOURCES = {"azure_devops": AzureDevOpsSource()}
