"""GitHub webhooks (``X-GitHub-Event``): a tailored card for the common events and a useful
generic card for any other, so adding an event to the hook never breaks the route.

Retries are recognised by ``X-GitHub-Delivery`` (redeliveries reuse it). Bodies may come as
JSON or as ``application/x-www-form-urlencoded`` with a ``payload`` field (the hook's content type).
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

DELIVERY_WINDOW_SECONDS = 86400
MAX_COMMITS = 10


class User(Payload):
    login: str = ""
    html_url: str | None = None


class Repository(Payload):
    full_name: str
    html_url: str | None = None


class Base(Payload):
    repository: Repository | None = None
    sender: User | None = None
    action: str | None = None


class CommitAuthor(Payload):
    name: str | None = None
    username: str | None = None


class Commit(Payload):
    id: str
    message: str = ""
    url: str | None = None
    author: CommitAuthor | None = None


class Pusher(Payload):
    name: str = ""


class Push(Base):
    ref: str
    before: str | None = None
    after: str | None = None
    created: bool = False
    deleted: bool = False
    forced: bool = False
    compare: str | None = None
    commits: list[Commit] = Field(default_factory=list)
    pusher: Pusher | None = None
    repository: Repository


class Branch(Payload):
    ref: str = ""


class PullRequestBody(Payload):
    number: int
    title: str
    html_url: str | None = None
    user: User | None = None
    body: str | None = None
    merged: bool | None = None
    draft: bool | None = None
    head: Branch | None = None
    base: Branch | None = None
    additions: int | None = None
    deletions: int | None = None
    changed_files: int | None = None


class PullRequest(Base):
    action: str
    pull_request: PullRequestBody


class Label(Payload):
    name: str = ""


class IssueBody(Payload):
    number: int
    title: str
    html_url: str | None = None
    user: User | None = None
    body: str | None = None
    state: str | None = None
    labels: list[Label] = Field(default_factory=list)
    pull_request: dict[str, Any] | None = None


class Issues(Base):
    action: str
    issue: IssueBody


class CommentBody(Payload):
    body: str = ""
    html_url: str | None = None
    user: User | None = None


class IssueComment(Base):
    action: str
    issue: IssueBody
    comment: CommentBody


class ReleaseBody(Payload):
    tag_name: str
    name: str | None = None
    html_url: str | None = None
    body: str | None = None
    prerelease: bool = False
    draft: bool = False
    author: User | None = None


class Release(Base):
    action: str
    release: ReleaseBody


class WorkflowRunBody(Payload):
    name: str | None = None
    display_title: str | None = None
    status: str
    conclusion: str | None = None
    html_url: str | None = None
    head_branch: str | None = None
    head_sha: str | None = None
    event: str | None = None
    run_number: int | None = None
    actor: User | None = None


class WorkflowRun(Base):
    action: str
    workflow_run: WorkflowRunBody


class Step(Payload):
    name: str = ""
    conclusion: str | None = None


class WorkflowJobBody(Payload):
    name: str
    status: str
    conclusion: str | None = None
    html_url: str | None = None
    workflow_name: str | None = None
    head_branch: str | None = None
    head_sha: str | None = None
    steps: list[Step] = Field(default_factory=list)


class WorkflowJob(Base):
    action: str
    workflow_job: WorkflowJobBody


class App(Payload):
    name: str = ""


class CheckSuiteBody(Payload):
    status: str | None = None
    conclusion: str | None = None
    head_branch: str | None = None
    head_sha: str | None = None
    app: App | None = None


class CheckSuite(Base):
    action: str
    check_suite: CheckSuiteBody


class Hook(Payload):
    events: list[str] = Field(default_factory=list)


class Ping(Base):
    zen: str = ""
    hook_id: int | None = None
    hook: Hook | None = None


class Any_(Base):
    pass


def conclusion_status(status: str | None, conclusion: str | None) -> Status:
    from shared.cards.builders import Status

    if (status or "").lower() not in {"completed", ""} and not conclusion:
        return Status.ACCENT
    value = (conclusion or "").lower()
    if value == "success":
        return Status.GOOD
    if value in {"failure", "timed_out", "startup_failure"}:
        return Status.ATTENTION
    if value in {"cancelled", "action_required", "stale"}:
        return Status.WARNING
    return Status.DEFAULT


def conclusion_state(status: str | None, conclusion: str | None) -> State | None:
    """What a run, job or check suite did, in the words of ``conclusion_status``'s colours."""
    if (status or "").lower() not in {"completed", ""} and not conclusion:
        return "started"
    value = (conclusion or "").lower()
    if value == "success":
        return "succeeded"
    if value in {"failure", "timed_out", "startup_failure"}:
        return "failed"
    if value == "cancelled":
        return "cancelled"
    return None  # neutral, skipped, stale, action_required


def github_state(p: Base) -> State | None:
    """The state of an event (None for comments, pings and events without a card of their own)."""
    if isinstance(p, Push):
        return "pushed"
    if isinstance(p, PullRequest):
        if p.action == "closed":
            return "merged" if p.pull_request.merged else "closed"
        return "opened" if p.action in {"opened", "reopened", "ready_for_review"} else "updated"
    if isinstance(p, Issues):
        if p.action in {"opened", "reopened"}:
            return "opened"
        return "closed" if p.action in {"closed", "deleted"} else "updated"
    if isinstance(p, Release):
        if p.action in {"published", "released", "prereleased"}:
            return "released"
        return "updated" if p.action == "edited" else None
    if isinstance(p, WorkflowRun):
        return conclusion_state(p.workflow_run.status, p.workflow_run.conclusion)
    if isinstance(p, WorkflowJob):
        return conclusion_state(p.workflow_job.status, p.workflow_job.conclusion)
    if isinstance(p, CheckSuite):
        return conclusion_state(p.check_suite.status, p.check_suite.conclusion)
    return None


def _repo(p: Base) -> str:
    return p.repository.full_name if p.repository else "GitHub"


def _who(user: User | None) -> str:
    return user.login if user and user.login else "someone"


def _branch(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


Built = tuple["CardBuilder", "Status", str, str | None, str | None]


def _push(p: Push) -> Built:
    from shared.cards import markdown
    from shared.cards.builders import Status

    branch = _branch(p.ref)
    kind = "tag" if p.ref.startswith("refs/tags/") else "branch"
    if p.deleted:
        status, title = Status.DEFAULT, f"{_repo(p)}: {kind} {branch} deleted"
    elif p.created and not p.commits:
        status, title = Status.ACCENT, f"{_repo(p)}: new {kind} {branch}"
    else:
        n = len(p.commits)
        status = Status.WARNING if p.forced else Status.ACCENT
        verb = "force-pushed" if p.forced else "pushed"
        title = f"{_repo(p)}: {n} commit{'s' if n != 1 else ''} {verb} to {branch}"
    who = p.pusher.name if p.pusher and p.pusher.name else _who(p.sender)
    card = new_card(title, status, f"by {who}")
    lines = []
    for c in p.commits[:MAX_COMMITS]:
        sha = c.id[:7]
        link = markdown.link(sha, c.url, code_label=True)
        author = (c.author.username or c.author.name) if c.author else None
        by = f" ({escape(author)})" if author else ""
        lines.append(f"{link} {escape(first_line(c.message, 120))}{by}")
    if lines:
        card.bullets(lines)
    if len(p.commits) > MAX_COMMITS:
        card.text(f"+{len(p.commits) - MAX_COMMITS} more")
    url = http_url(p.compare)
    if url:
        card.button("Compare", url)
    text = first_line(p.commits[-1].message, 120) if p.commits else None
    return card, status, title, url, text


def _pull_request(p: PullRequest) -> Built:
    from shared.cards.builders import Status

    pr = p.pull_request
    action = p.action
    if action == "closed" and pr.merged:
        action, status = "merged", Status.GOOD
    elif action == "closed":
        status = Status.DEFAULT
    elif action in {"opened", "reopened", "ready_for_review"}:
        status = Status.ACCENT
    else:
        status = Status.DEFAULT
    title = f"{_repo(p)}: PR #{pr.number} {action}: {short(pr.title, 150)}"
    card = new_card(title, status, f"by {_who(pr.user)}" + (" · draft" if pr.draft else ""))
    if pr.body and action in {"opened", "reopened", "ready_for_review"}:
        card.text(sender_markdown(short(pr.body, 800)))
    facts: list[tuple[str, str]] = []
    if pr.head and pr.base:
        facts.append(("Branches", f"{pr.head.ref} → {pr.base.ref}"))
    if pr.changed_files is not None:
        facts.append(("Changes", f"{pr.changed_files} files, +{pr.additions or 0} −{pr.deletions or 0}"))
    if p.sender and p.sender.login and (not pr.user or p.sender.login != pr.user.login):
        facts.append(("Action by", p.sender.login))
    if facts:
        card.facts(facts)
    url = http_url(pr.html_url)
    if url:
        card.button("Open pull request", url)
    return card, status, title, url, first_line(pr.body, 120)


def _issues(p: Issues) -> Built:
    from shared.cards.builders import Status

    issue = p.issue
    status = {"opened": Status.ACCENT, "reopened": Status.WARNING, "closed": Status.GOOD}.get(
        p.action, Status.DEFAULT
    )
    title = f"{_repo(p)}: issue #{issue.number} {p.action}: {short(issue.title, 150)}"
    card = new_card(title, status, f"by {_who(p.sender)}")
    if issue.body and p.action in {"opened", "reopened"}:
        card.text(sender_markdown(short(issue.body, 800)))
    labels = ", ".join(label.name for label in issue.labels if label.name)
    if labels:
        card.facts([("Labels", labels)])
    url = http_url(issue.html_url)
    if url:
        card.button("Open issue", url)
    return card, status, title, url, first_line(issue.body, 120)


def _issue_comment(p: IssueComment) -> Built:
    from shared.cards.builders import Status

    kind = "PR" if p.issue.pull_request else "issue"
    verb = {"created": "New comment", "edited": "Comment edited", "deleted": "Comment deleted"}.get(
        p.action, f"Comment {p.action}"
    )
    title = f"{_repo(p)}: {verb} on {kind} #{p.issue.number}: {short(p.issue.title, 120)}"
    card = new_card(title, Status.DEFAULT, f"by {_who(p.comment.user or p.sender)}")
    if p.comment.body and p.action != "deleted":
        card.text(sender_markdown(short(p.comment.body, 1000)))
    url = http_url(p.comment.html_url) or http_url(p.issue.html_url)
    if url:
        card.button("Open comment", url)
    return card, Status.DEFAULT, title, url, first_line(p.comment.body, 120)


def _release(p: Release) -> Built:
    from shared.cards.builders import Status

    r = p.release
    status = Status.GOOD if p.action in {"published", "released"} else Status.DEFAULT
    label = "pre-release" if r.prerelease else "release"
    title = f"{_repo(p)}: {label} {r.name or r.tag_name} {p.action}"
    card = new_card(title, status, f"tag {r.tag_name} · by {_who(r.author or p.sender)}")
    if r.body:
        card.text(sender_markdown(short(r.body, 1500)))
    url = http_url(r.html_url)
    if url:
        card.button("Open release", url)
    return card, status, title, url, first_line(r.body, 120)


def _workflow_run(p: WorkflowRun) -> Built:
    run = p.workflow_run
    status = conclusion_status(run.status, run.conclusion)
    outcome = run.conclusion or run.status
    name = run.name or "workflow"
    number = f" #{run.run_number}" if run.run_number else ""
    title = f"{_repo(p)}: {name}{number} {outcome}"
    card = new_card(title, status, short(run.display_title, 150) if run.display_title else None)
    facts = [
        (k, v)
        for k, v in (
            ("Branch", run.head_branch),
            ("Commit", (run.head_sha or "")[:7]),
            ("Trigger", run.event),
            ("Actor", run.actor.login if run.actor else None),
        )
        if v
    ]
    if facts:
        card.facts(facts)
    url = http_url(run.html_url)
    if url:
        card.button("Open run", url)
    return card, status, title, url, run.display_title


def _workflow_job(p: WorkflowJob) -> Built:
    job = p.workflow_job
    status = conclusion_status(job.status, job.conclusion)
    outcome = job.conclusion or job.status
    title = f"{_repo(p)}: job {job.name} {outcome}"
    card = new_card(title, status, f"workflow {job.workflow_name}" if job.workflow_name else None)
    failed = [s.name for s in job.steps if (s.conclusion or "") in {"failure", "timed_out", "cancelled"}]
    facts = [(k, v) for k, v in (("Branch", job.head_branch), ("Commit", (job.head_sha or "")[:7])) if v]
    if failed:
        facts.append(("Failed step", ", ".join(failed[:5])))
    if facts:
        card.facts(facts)
    url = http_url(job.html_url)
    if url:
        card.button("Open job", url)
    return card, status, title, url, ("failed at " + failed[0]) if failed else None


def _check_suite(p: CheckSuite) -> Built:
    cs = p.check_suite
    status = conclusion_status(cs.status, cs.conclusion)
    app = cs.app.name if cs.app and cs.app.name else "checks"
    title = f"{_repo(p)}: {app} {cs.conclusion or cs.status or p.action}"
    card = new_card(title, status, f"check suite {p.action}")
    facts = [(k, v) for k, v in (("Branch", cs.head_branch), ("Commit", (cs.head_sha or "")[:7])) if v]
    if facts:
        card.facts(facts)
    url = None
    if p.repository and http_url(p.repository.html_url) and cs.head_sha:
        url = f"{p.repository.html_url}/commit/{cs.head_sha}/checks"
        card.button("Open checks", url)
    return card, status, title, url, None


def _ping(p: Ping) -> Built:
    from shared.cards.builders import Status

    title = f"{_repo(p)}: webhook connected"
    card = new_card(title, Status.GOOD, f"hook {p.hook_id}" if p.hook_id else None)
    if p.zen:
        card.text(f"_{escape(short(p.zen, 200))}_")
    if p.hook and p.hook.events:
        card.facts([("Events", ", ".join(p.hook.events[:30]))])
    url = http_url(p.repository.html_url) if p.repository else None
    if url:
        card.button("Open repository", url)
    return card, Status.GOOD, title, url, p.zen or None


def _generic(event: str, p: Base, data: dict[str, Any]) -> Built:
    from shared.cards.builders import Status

    action = f" {p.action}" if p.action else ""
    title = f"{_repo(p)}: {event.replace('_', ' ')}{action}"
    card = new_card(title, Status.DEFAULT, f"by {_who(p.sender)}")
    facts: list[tuple[str, str]] = []
    url: str | None = None
    for key, value in data.items():
        if key in {"repository", "sender", "organization", "installation", "enterprise", "action"}:
            continue
        if isinstance(value, dict):
            label = value.get("title") or value.get("name") or value.get("tag_name") or value.get("login")
            if label:
                facts.append((key.replace("_", " "), short(label, 200)))
            url = url or http_url(value.get("html_url"))
        elif isinstance(value, (str, int, float, bool)) and value != "":
            facts.append((key.replace("_", " "), short(value, 200)))
        if len(facts) >= 8:
            break
    if facts:
        card.facts(facts)
    url = url or (http_url(p.repository.html_url) if p.repository else None)
    if url:
        card.button("Open on GitHub", url)
    return card, Status.DEFAULT, title, url, None


HANDLERS: dict[str, tuple[type[Base], Callable[[Any], Built]]] = {
    "push": (Push, _push),
    "pull_request": (PullRequest, _pull_request),
    "issues": (Issues, _issues),
    "issue_comment": (IssueComment, _issue_comment),
    "release": (Release, _release),
    "workflow_run": (WorkflowRun, _workflow_run),
    "workflow_job": (WorkflowJob, _workflow_job),
    "check_suite": (CheckSuite, _check_suite),
    "ping": (Ping, _ping),
}


class GitHubSource:
    name = "github"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = ("application/x-www-form-urlencoded",)

    def detect(self, req: Incoming) -> bool:
        return bool(req.header("x-github-event"))

    def parse(self, req: Incoming) -> tuple[str, Base]:
        event = (req.header("x-github-event") or "").strip().lower()
        if not event:
            raise SourceError("missing X-GitHub-Event header", ["X-GitHub-Event: field required"])
        if not isinstance(req.data, dict):
            raise SourceError("not a valid GitHub payload", ["body: must be a JSON object"])
        model = HANDLERS[event][0] if event in HANDLERS else Any_
        return event, validate(model, req.data, f"GitHub {event}")

    def build(self, parsed: tuple[str, Base], req: Incoming, ctx: BuildContext) -> Notice:
        event, payload = parsed
        if event in HANDLERS:
            card, status, title, url, text = HANDLERS[event][1](payload)
        else:
            card, status, title, url, text = _generic(event, payload, req.data)
        delivery = req.header("x-github-delivery")
        body_hash = content_hash(event, req.body)
        dedupe_id = f"gh:{delivery.strip()[:100]}" if delivery else f"gh:{body_hash}"
        return Notice(
            cards=[ctx.finish(card, status)],
            summary=Summary(
                title=title,
                severity=severity_of(status),
                state=github_state(payload),
                source=self.name,
                url=url,
                text=short(text, 300) if text else None,
            ),
            dedupe_id=dedupe_id,
            dedupe_window=DELIVERY_WINDOW_SECONDS if delivery else None,
            # The delivery header is not signed, the body is: a replay under a fresh id is the same
            # body. (A redelivery from GitHub keeps its id, and two real events differ in body.)
            replay_id=f"gh-body:{body_hash}" if delivery else None,
            event=f"{event}.{payload.action}" if payload.action else event,
        )


SOURCES = {"github": GitHubSource()}
