"""The two fixed vocabularies of an incoming post's summary: how bad it is, and what happened.

``severity`` is the card's colour (``shared.cards.builders.Status`` by value), so it is set for
every post. ``state`` says what happened in words shared by all senders, or is None when none of
them fits (a comment, a ping, a card passed through). Keeping the two apart is what lets a route
filter or a digest treat an Alertmanager alert and a GitHub run alike: both used to share one
``status`` field that held a severity for some senders and the sender's own state for others.

Standard library only: the admin CLI, the pipeline and the digest all read it.
"""

from __future__ import annotations

from typing import Literal, TypeGuard, get_args

Severity = Literal["good", "warning", "attention", "accent", "default"]
State = Literal[
    "firing",  # an alert is active (Alertmanager, Grafana)
    "resolved",  # an alert ended
    "opened",  # a pull request, issue or work item was opened, reopened or made ready for review
    "updated",  # ... was changed otherwise (edited, labelled, new commits, ...)
    "closed",  # ... was closed without a merge (abandoned, deleted)
    "merged",  # a pull request was merged (completed)
    "pushed",  # commits or refs were pushed
    "released",  # a release was published
    "started",  # a build, run or job was queued or is running
    "succeeded",  # ... finished well
    "failed",  # ... failed or timed out
    "cancelled",  # ... was cancelled or stopped
]

SEVERITIES: tuple[Severity, ...] = get_args(Severity)
STATES: tuple[State, ...] = get_args(State)
#: severities that ask someone to look (a digest with one of them is coloured as a warning)
NEEDS_ATTENTION: frozenset[Severity] = frozenset({"attention", "warning"})

# How rows buffered before the split (one ``status`` key) are read: what each source wrote there.
# Alertmanager wrote firing/resolved, Grafana its own state word, every other source a severity.
_OLD_STATUS: dict[str, tuple[Severity, State | None]] = {
    "firing": ("attention", "firing"),
    "alerting": ("attention", "firing"),
    "no_data": ("warning", "firing"),
    "nodata": ("warning", "firing"),
    "pending": ("warning", None),
    "resolved": ("good", "resolved"),
    "ok": ("good", "resolved"),
    "normal": ("good", "resolved"),
    "failed": ("attention", "failed"),
    "succeeded": ("good", "succeeded"),
    "cancelled": ("warning", "cancelled"),
}


def is_severity(value: object) -> TypeGuard[Severity]:
    return isinstance(value, str) and value in SEVERITIES


def is_state(value: object) -> TypeGuard[State]:
    return isinstance(value, str) and value in STATES


def severity_of(value: object) -> Severity:
    """A severity from a ``Status`` (by value) or text; anything else is ``default``."""
    text = str(getattr(value, "value", value) or "").strip().lower()
    return text if is_severity(text) else "default"


def state_of(value: object) -> State | None:
    """A state from text, or None when it is not one of ours."""
    text = str(value or "").strip().lower()
    return text if is_state(text) else None


def from_old_status(value: object) -> tuple[Severity, State | None]:
    """Severity and state of a row buffered with the old single ``status`` key."""
    text = str(value or "").strip().lower()
    if is_severity(text):
        return text, None
    return _OLD_STATUS.get(text, ("default", state_of(text)))
