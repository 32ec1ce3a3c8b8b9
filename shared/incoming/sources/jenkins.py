"""Jenkins' Notification plugin (``notification``, by Tikal): one JSON post per build phase.

``{"name", "url", "build": {"full_url", "number", "phase", "status", "scm": {...}}}``: ``QUEUED``
and ``STARTED`` become "build started", ``COMPLETED`` (and ``FINALIZED``, sent after the build's
post-steps) "build finished" with its status. The plugin signs nothing and sends no custom
header, so routes use ``--auth key`` with ``?code=<secret>`` in the endpoint URL (or ``bearer``
behind a proxy that adds it). The Office 365 Connector plugin's MessageCards are the
``messagecard`` source's, unchanged (README, "Jenkins").

A retry of the same phase of the same build is the same post: the key is job, number and phase,
``COMPLETED`` and ``FINALIZED`` counting as one (with "All Events" both come, seconds apart).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from shared.incoming.sources.base import (
    BuildContext,
    Incoming,
    Notice,
    Payload,
    Summary,
    content_hash,
    http_url,
    literal,
    new_card,
    short,
    validate,
)
from shared.incoming.vocabulary import State, severity_of

if TYPE_CHECKING:
    from shared.cards.builders import Status

MAX_CULPRITS = 8
STARTING = {"QUEUED", "STARTED"}
FINISHING = {"COMPLETED", "FINALIZED"}
RESULT_STATES: dict[str, State] = {
    "SUCCESS": "succeeded",
    "FAILURE": "failed",
    "UNSTABLE": "failed",  # tests failed: a failure to whoever filters on state
    "ABORTED": "cancelled",
}


class Scm(Payload):
    url: str | None = None
    branch: str | None = None
    commit: str | None = None
    changes: list[Any] = Field(default_factory=list)
    culprits: list[Any] = Field(default_factory=list)


class Build(Payload):
    full_url: str | None = None
    number: int
    phase: str
    status: str | None = None
    url: str | None = None
    queue_id: int | None = None
    duration: int | None = None
    scm: Scm | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    notes: str | None = None


class Notification(Payload):
    name: str
    display_name: str | None = None
    url: str | None = None
    build: Build


def status_of(phase: str, result: str | None) -> Status:
    from shared.cards.builders import Status

    if phase in STARTING or (phase not in FINISHING and not result):
        return Status.ACCENT
    return {
        "SUCCESS": Status.GOOD,
        "FAILURE": Status.ATTENTION,
        "UNSTABLE": Status.WARNING,
        "ABORTED": Status.WARNING,
        "NOT_BUILT": Status.DEFAULT,
    }.get(result or "", Status.DEFAULT)


def state_of(phase: str, result: str | None) -> State | None:
    if phase in STARTING:
        return "started"
    if phase not in FINISHING:
        return None
    return RESULT_STATES.get(result or "")


def _seconds(millis: int | None) -> str | None:
    if not millis or millis < 0:
        return None
    total = millis // 1000
    minutes, seconds = divmod(total, 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _names(people: list[Any]) -> list[str]:
    out = []
    for person in people[:MAX_CULPRITS]:
        name = person.get("fullName") or person.get("id") if isinstance(person, dict) else person
        if name:
            out.append(short(name, 60))
    return out


class JenkinsSource:
    name = "jenkins"
    legacy_reply = False
    extra_content_types: tuple[str, ...] = ()

    def detect(self, req: Incoming) -> bool:
        data = req.data
        build = data.get("build") if isinstance(data, dict) else None
        return isinstance(build, dict) and "phase" in build and "number" in build and "name" in data

    def parse(self, req: Incoming) -> Notification:
        return validate(Notification, req.data, "Jenkins Notification plugin")

    def build(self, n: Notification, req: Incoming, ctx: BuildContext) -> Notice:
        b = n.build
        phase = b.phase.strip().upper()
        result = (b.status or "").strip().upper() or None
        status = status_of(phase, result)
        job = n.display_name or n.name
        if phase in STARTING:
            what = "queued" if phase == "QUEUED" else "started"
        elif phase in FINISHING:
            what = f"finished: {result.lower()}" if result else "finished"
        else:  # a phase this source does not know: said as sent
            what = phase.lower()
        title = f"{short(job, 150)} #{b.number} {what}"
        card = new_card(title, status, f"phase {phase}" + (f", status {result}" if result else ""))
        facts: list[tuple[str, str]] = []
        if b.scm:
            if b.scm.branch:
                facts.append(("Branch", short(b.scm.branch, 200)))
            if b.scm.commit:
                facts.append(("Commit", b.scm.commit[:12]))
            culprits = _names(b.scm.culprits)
            if culprits:
                facts.append(("Culprits", ", ".join(culprits)))
            if b.scm.changes:
                facts.append(("Changes", str(len(b.scm.changes))))
        duration = _seconds(b.duration) if phase in FINISHING else None
        if duration:
            facts.append(("Duration", duration))
        if facts:
            card.facts(facts)
        if b.notes:
            card.text(literal(short(b.notes, 600)))
        # FINALIZED follows COMPLETED with the same result: one "finished" card per build
        once = "finished" if phase in FINISHING else phase
        url = http_url(b.full_url)
        card.button("Open build", url)
        if url:
            card.button("Console output", url.rstrip("/") + "/console")
        return Notice(
            cards=[ctx.finish(card, status)],
            summary=Summary(
                title=title,
                severity=severity_of(status),
                state=state_of(phase, result),
                source=self.name,
                url=url,
            ),
            dedupe_id=f"jenkins:{content_hash(n.name, str(b.number), once)}",
            event=f"build.{phase.lower()}",
        )


SOURCES = {"jenkins": JenkinsSource()}
