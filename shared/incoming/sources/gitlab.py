"""GitLab webhooks (``X-Gitlab-Event``; the body's ``object_kind`` says the same): pushes, tag
pushes, merge requests, pipelines, jobs, issues, comments, releases and deployments get a card of
their own, any other hook the useful generic card.

GitLab's pipeline and job hooks do not say what the previous run did, so "fixed" cannot be told
from one post: a success after a failure reads "succeeded". Retries are recognised by
``Idempotency-Key`` (GitLab 17.4+, kept across retries) or ``X-Gitlab-Event-UUID``, with the body's
hash as a second key; without either header the body alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field

from shared.cards.markdown import escape, sender_markdown
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

RETRY_WINDOW_SECONDS = 86400
MAX_COMMITS = 10
ZERO_SHA = "0" * 40


class User(Payload):
    name: str | None = None
    username: str | None = None


class Project(Payload):
    name: str | None = None
    path_with_namespace: str | None = None
    web_url: str | None = None


class Base(Payload):
    object_kind: str
    user: User | None = None
    project: Project | None = None


class Author(Payload):
    name: str | None = None


class Commit(Payload):
    id: str
    message: str = ""
    title: str | None = None
    url: str | None = None
    author: Author | None = None


class Push(Base):
    ref: str
    before: str | None = None
    after: str | None = None
    user_name: str | None = None
    user_username: str | None = None
    commits: list[Commit] = Field(default_factory=list)
    total_commits_count: int | None = None
    message: str | None = None  # a tag's annotation


class Label(Payload):
    title: str = ""


class MergeRequestAttributes(Payload):
    iid: int
    title: str
    description: str | None = None
    state: str | None = None
    action: str | None = None
    source_branch: str | None = None
    target_branch: str | None = None
    url: str | None = None
    draft: bool | None = None


class MergeRequest(Base):
    object_attributes: MergeRequestAttributes
    labels: list[Label] = Field(default_factory=list)


class IssueAttributes(Payload):
    iid: int
    title: str
    description: str | None = None
    state: str | None = None
    action: str | None = None
    url: str | None = None


class Issue(Base):
    object_attributes: IssueAttributes
    labels: list[Label] = Field(default_factory=list)


class NoteAttributes(Payload):
    note: str = ""
    noteable_type: str | None = None
    url: str | None = None


class Noted(Payload):
    iid: int | None = None
    title: str | None = None
    id: str | int | None = None
    message: str | None = None


class Note(Base):
    object_attributes: NoteAttributes
    merge_request: Noted | None = None
    issue: Noted | None = None
    commit: Noted | None = None
    snippet: Noted | None = None


class PipelineAttributes(Payload):
    id: int
    iid: int | None = None
    name: str | None = None
    ref: str | None = None
    tag: bool = False
    sha: str | None = None
    status: str
    source: str | None = None
    duration: float | None = None
    url: str | None = None


class Build(Payload):
    name: str = ""
    stage: str | None = None
    status: str | None = None


class Pipeline(Base):
    object_attributes: PipelineAttributes
    commit: Commit | None = None
    builds: list[Build] = Field(default_factory=list)


class JobRepository(Payload):
    homepage: str | None = None


class Job(Base):
    build_id: int | None = None
    build_name: str
    build_stage: str | None = None
    build_status: str
    build_failure_reason: str | None = None
    build_duration: float | None = None
    ref: str | None = None
    sha: str | None = None
    pipeline_id: int | None = None
    project_name: str | None = None
    repository: JobRepository | None = None


class ReleaseCommit(Payload):
    id: str | None = None


class Release(Base):
    action: str | None = None
    name: str | None = None
    tag: str
    description: str | None = None
    url: str | None = None
    commit: ReleaseCommit | None = None


class Deployment(Base):
    status: str
    environment: str | None = None
    deployable_url: str | None = None
    environment_external_url: str | None = None
    short_sha: str | None = None
    ref: str | None = None
    deployment_id: int | None = None


class Other(Base):
    pass


def _project(p: Base) -> str:
    if p.project and (p.project.path_with_namespace or p.project.name):
        return str(p.project.path_with_namespace or p.project.name)
    if isinstance(p, Job) and p.project_name:
        return p.project_name.replace(" / ", "/")
    return "GitLab"


def _who(user: User | None, fallback: str | None = None) -> str:
    if user and (user.username or user.name):
        return str(user.name or user.username)
    return fallback or "someone"


def _project_url(p: Base) -> str | None:
    url = http_url(p.project.web_url) if p.project else None
    if not url and isinstance(p, Job) and p.repository:
        url = http_url(p.repository.homepage)
    return url


def _ref(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


Built = tuple["CardBuilder", "Status", str, str | None, str | None, State | None]


def run_status(status: str) -> tuple[Status, State | None]:
    from shared.cards.builders import Status

    value = status.lower()
    if value == "success":
        return Status.GOOD, "succeeded"
    if value == "failed":
        return Status.ATTENTION, "failed"
    if value in {"canceled", "cancelled", "skipped"}:
        return Status.WARNING, "cancelled" if value != "skipped" else None
    if value in {"created", "waiting_for_resource", "preparing", "pending", "running", "scheduled"}:
        return Status.ACCENT, "started"
    return Status.DEFAULT, None  # manual, ...


def _push(p: Push) -> Built:
    from shared.cards import markdown
    from shared.cards.builders import Status

    tag = p.object_kind == "tag_push" or p.ref.startswith("refs/tags/")
    name = _ref(p.ref)
    kind = "tag" if tag else "branch"
    who = p.user_name or p.user_username or "someone"
    total = p.total_commits_count if p.total_commits_count is not None else len(p.commits)
    if p.after == ZERO_SHA:
        status, title = Status.DEFAULT, f"{_project(p)}: {kind} {name} deleted"
    elif tag:
        status, title = Status.ACCENT, f"{_project(p)}: new tag {name}"
    elif p.before == ZERO_SHA and not p.commits:
        status, title = Status.ACCENT, f"{_project(p)}: new branch {name}"
    else:
        status = Status.ACCENT
        title = f"{_project(p)}: {total} commit{'s' if total != 1 else ''} pushed to {name}"
    card = new_card(title, status, f"by {who}")
    if tag and p.message:
        card.text(escape(short(p.message, 600)))
    lines = []
    for c in p.commits[:MAX_COMMITS]:
        link = markdown.link(c.id[:8], c.url, code_label=True)
        by = f" ({escape(c.author.name)})" if c.author and c.author.name else ""
        lines.append(f"{link} {escape(first_line(c.title or c.message, 120))}{by}")
    if lines and not tag:
        card.bullets(lines)
    if total > len(p.commits[:MAX_COMMITS]) and not tag:
        card.text(f"+{total - len(p.commits[:MAX_COMMITS])} more")
    root = _project_url(p)
    url = None
    if root and p.after and p.after != ZERO_SHA:
        if tag:
            url = f"{root}/-/tags/{name}"
        elif p.before and p.before != ZERO_SHA:
            url = f"{root}/-/compare/{p.before[:12]}...{p.after[:12]}"
        else:
            url = f"{root}/-/commits/{name}"
    if url:
        card.button("Open tag" if tag else "Compare", url)
    text = first_line(p.commits[0].message, 120) if p.commits else None
    return card, status, title, url, text, "pushed"


MR_VERBS = {
    "open": "opened",
    "reopen": "reopened",
    "close": "closed",
    "merge": "merged",
    "update": "updated",
    "approved": "approved",
    "approval": "approved",
    "unapproved": "unapproved",
    "unapproval": "unapproved",
}


def _merge_request(p: MergeRequest) -> Built:
    from shared.cards.builders import Status

    mr = p.object_attributes
    verb = MR_VERBS.get(mr.action or "", mr.action or mr.state or "updated")
    status: Status
    state: State | None
    if verb == "merged":
        status, state = Status.GOOD, "merged"
    elif verb in {"opened", "reopened"}:
        status, state = Status.ACCENT, "opened"
    elif verb == "approved":
        status, state = Status.GOOD, "updated"
    elif verb == "closed":
        status, state = Status.DEFAULT, "closed"
    else:
        status, state = Status.DEFAULT, "updated"
    title = f"{_project(p)}: MR !{mr.iid} {verb}: {short(mr.title, 150)}"
    card = new_card(title, status, f"by {_who(p.user)}" + (" · draft" if mr.draft else ""))
    if mr.description and verb in {"opened", "reopened"}:
        card.text(sender_markdown(short(mr.description, 800)))
    facts: list[tuple[str, str]] = []
    if mr.source_branch and mr.target_branch:
        facts.append(("Branches", f"{mr.source_branch} → {mr.target_branch}"))
    labels = ", ".join(label.title for label in p.labels if label.title)
    if labels:
        facts.append(("Labels", labels))
    if facts:
        card.facts(facts)
    url = http_url(mr.url)
    if url:
        card.button("Open merge request", url)
    return card, status, title, url, first_line(mr.description, 120) or None, state


def _issue(p: Issue) -> Built:
    from shared.cards.builders import Status

    issue = p.object_attributes
    verb = {"open": "opened", "reopen": "reopened", "close": "closed", "update": "updated"}.get(
        issue.action or "", issue.action or "updated"
    )
    status = {"opened": Status.ACCENT, "reopened": Status.WARNING, "closed": Status.GOOD}.get(
        verb, Status.DEFAULT
    )
    state: State = "opened" if verb in {"opened", "reopened"} else "closed" if verb == "closed" else "updated"
    confidential = " (confidential)" if p.object_kind == "confidential_issue" else ""
    title = f"{_project(p)}: issue #{issue.iid} {verb}{confidential}: {short(issue.title, 150)}"
    card = new_card(title, status, f"by {_who(p.user)}")
    if issue.description and verb in {"opened", "reopened"} and not confidential:
        card.text(sender_markdown(short(issue.description, 800)))
    labels = ", ".join(label.title for label in p.labels if label.title)
    if labels:
        card.facts([("Labels", labels)])
    url = http_url(issue.url)
    if url:
        card.button("Open issue", url)
    return (
        card,
        status,
        title,
        url,
        None if confidential else first_line(issue.description, 120) or None,
        state,
    )


def _note(p: Note) -> Built:
    from shared.cards.builders import Status

    attrs = p.object_attributes
    kind = attrs.noteable_type or "item"
    if p.merge_request and p.merge_request.iid is not None:
        target = f"MR !{p.merge_request.iid}: {short(p.merge_request.title, 120)}"
    elif p.issue and p.issue.iid is not None:
        target = f"issue #{p.issue.iid}: {short(p.issue.title, 120)}"
    elif p.commit and p.commit.id:
        target = f"commit {str(p.commit.id)[:8]}"
    else:
        target = kind.lower()
    title = f"{_project(p)}: New comment on {target}"
    card = new_card(title, Status.DEFAULT, f"by {_who(p.user)}")
    if attrs.note:
        card.text(sender_markdown(short(attrs.note, 1000)))
    url = http_url(attrs.url)
    if url:
        card.button("Open comment", url)
    return card, Status.DEFAULT, title, url, first_line(attrs.note, 120) or None, None


def _pipeline(p: Pipeline) -> Built:
    run = p.object_attributes
    status, state = run_status(run.status)
    name = f" {run.name}" if run.name else ""
    outcome = "succeeded" if run.status == "success" else run.status
    title = f"{_project(p)}: pipeline #{run.iid or run.id}{name} {outcome}"
    subtitle = first_line(p.commit.title or p.commit.message, 150) if p.commit else None
    card = new_card(title, status, subtitle or None)
    failed = [b.name for b in p.builds if (b.status or "") == "failed" and b.name]
    facts = [
        (k, v)
        for k, v in (
            ("Tag" if run.tag else "Branch", run.ref),
            ("Commit", (run.sha or "")[:8]),
            ("Trigger", run.source),
            ("Duration", f"{int(run.duration)} s" if run.duration else None),
            ("Failed jobs", ", ".join(failed[:5]) if failed else None),
            ("By", _who(p.user) if p.user else None),
        )
        if v
    ]
    if facts:
        card.facts(facts)
    root = _project_url(p)
    url = http_url(run.url) or (f"{root}/-/pipelines/{run.id}" if root else None)
    if url:
        card.button("Open pipeline", url)
    return card, status, title, url, ("failed: " + ", ".join(failed[:3])) if failed else None, state


def _job(p: Job) -> Built:
    status, state = run_status(p.build_status)
    outcome = "succeeded" if p.build_status == "success" else p.build_status
    title = f"{_project(p)}: job {p.build_name} {outcome}"
    card = new_card(title, status, f"stage {p.build_stage}" if p.build_stage else None)
    reason = (
        p.build_failure_reason
        if p.build_status == "failed" and p.build_failure_reason != "unknown_failure"
        else None
    )
    facts = [
        (k, v)
        for k, v in (
            ("Branch", p.ref),
            ("Commit", (p.sha or "")[:8]),
            ("Pipeline", f"#{p.pipeline_id}" if p.pipeline_id else None),
            ("Duration", f"{int(p.build_duration)} s" if p.build_duration else None),
            ("Failure", reason.replace("_", " ") if reason else None),
        )
        if v
    ]
    if facts:
        card.facts(facts)
    root = _project_url(p)
    url = f"{root}/-/jobs/{p.build_id}" if root and p.build_id else None
    if url:
        card.button("Open job", url)
    return card, status, title, url, reason, state


def _release(p: Release) -> Built:
    from shared.cards.builders import Status

    action = p.action or "create"
    verb = {"create": "published", "update": "updated", "delete": "deleted"}.get(action, action)
    status = Status.GOOD if verb == "published" else Status.DEFAULT
    title = f"{_project(p)}: release {p.name or p.tag} {verb}"
    card = new_card(title, status, f"tag {p.tag}")
    if p.description:
        card.text(sender_markdown(short(p.description, 1500)))
    url = http_url(p.url) if verb != "deleted" else None
    if url:
        card.button("Open release", url)
    state: State | None = "released" if verb == "published" else "updated" if verb == "updated" else None
    return card, status, title, url, first_line(p.description, 120) or None, state


def _deployment(p: Deployment) -> Built:
    status, state = run_status(p.status)
    env = p.environment or "an environment"
    outcome = "succeeded" if p.status == "success" else p.status
    title = f"{_project(p)}: deployment to {env} {outcome}"
    card = new_card(title, status, f"by {_who(p.user)}")
    facts = [(k, v) for k, v in (("Ref", p.ref), ("Commit", p.short_sha)) if v]
    if facts:
        card.facts(facts)
    url = http_url(p.deployable_url)
    if url:
        card.button("Open job", url)
    site = http_url(p.environment_external_url)
    if site:
        card.button(f"Open {short(env, 40)}", site)
    return card, status, title, url or site, None, state


def _generic(p: Base, data: dict[str, Any]) -> Built:
    from shared.cards.builders import Status

    attrs = data.get("object_attributes")
    action = attrs.get("action") if isinstance(attrs, dict) else None
    title = f"{_project(p)}: {p.object_kind.replace('_', ' ')}" + (
        f" {action}" if isinstance(action, str) else ""
    )
    card = new_card(title, Status.DEFAULT, f"by {_who(p.user)}" if p.user else None)
    facts: list[tuple[str, str]] = []
    url: str | None = None
    source = attrs if isinstance(attrs, dict) else data
    for key, value in source.items():
        if key in {"object_kind", "event_type", "event_name", "user", "project", "repository", "action"}:
            continue
        if isinstance(value, (str, int, float, bool)) and value != "" and not key.endswith(("_id", "_at")):
            if key == "url":
                url = http_url(str(value))
                continue
            facts.append((key.replace("_", " "), short(value, 200)))
        if len(facts) >= 8:
            break
    if facts:
        card.facts(facts)
    url = url or _project_url(p)
    if url:
        card.button("Open on GitLab", url)
    return card, Status.DEFAULT, title, url, None, None


HANDLERS: dict[str, tuple[type[Base], Callable[[Any], Built]]] = {
    "push": (Push, _push),
    "tag_push": (Push, _push),
    "merge_request": (MergeRequest, _merge_request),
    "issue": (Issue, _issue),
    "confidential_issue": (Issue, _issue),
    "work_item": (Issue, _issue),
    "note": (Note, _note),
    "confidential_note": (Note, _note),
    "pipeline": (Pipeline, _pipeline),
    "build": (Job, _job),
    "release": (Release, _release),
    "deployment": (Deployment, _deployment),
}


def event_name(p: Base) -> str:
    """``merge_request.merge``, ``pipeline.failed``, ``push``: what route filters match."""
    if isinstance(p, (MergeRequest, Issue)) and p.object_attributes.action:
        return f"{p.object_kind}.{p.object_attributes.action}"
    if isinstance(p, Pipeline):
        return f"pipeline.{p.object_attributes.status}"
    if isinstance(p, Job):
        return f"build.{p.build_status}"
    if isinstance(p, Deployment):
        return f"deployment.{p.status}"
    if isinstance(p, Release) and p.action:
        return f"release.{p.action}"
    return p.object_kind


class GitLabSource:
    name = "gitlab"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = ()

    def detect(self, req: Incoming) -> bool:
        return bool(req.header("x-gitlab-event"))

    def parse(self, req: Incoming) -> Base:
        if not isinstance(req.data, dict):
            raise SourceError("not a valid GitLab payload", ["body: must be a JSON object"])
        kind = req.data.get("object_kind")
        if not isinstance(kind, str) or not kind.strip():
            raise SourceError("not a valid GitLab payload", ["object_kind: field required"])
        model = HANDLERS[kind][0] if kind in HANDLERS else Other
        return validate(model, req.data, f"GitLab {kind[:60]}")

    def build(self, parsed: Base, req: Incoming, ctx: BuildContext) -> Notice:
        handler = HANDLERS.get(parsed.object_kind)
        if handler and isinstance(parsed, handler[0]):
            card, status, title, url, text, state = handler[1](parsed)
        else:
            card, status, title, url, text, state = _generic(parsed, req.data)
        delivery = (req.header("idempotency-key") or req.header("x-gitlab-event-uuid") or "").strip()
        body_hash = content_hash(parsed.object_kind, req.body)
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
            dedupe_id=f"gl:{delivery[:100]}" if delivery else f"gl:{body_hash}",
            dedupe_window=RETRY_WINDOW_SECONDS if delivery else None,
            # X-Gitlab-Token is a fixed header, not a signature: a captured post replayed under a new
            # UUID is still the same body.
            replay_id=f"gl-body:{body_hash}" if delivery else None,
            event=event_name(parsed),
        )


SOURCES = {"gitlab": GitLabSource()}
