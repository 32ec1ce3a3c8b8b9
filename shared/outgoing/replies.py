"""What a command answers (`Answer`), as data; rendered once into the outgoing-webhook reply envelope.

Listeners fill an `Answer` instead of touching card JSON, so the same answer can become the
synchronous reply (Adaptive Card + plain-text fallback) or, after the deadline, a Workflows post.
The HTTP reply around it is `shared.web.Reply`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answer", "Section", "md_escape", "render_card", "render_reply", "render_text"]

# Markdown escapes (`\*`) read as noise in plain text.
_PLAIN_RE = re.compile(r"\\([\\`*_\[\]~|#>+-])")


def md_escape(value: object) -> str:
    """User-typed text shown literally in Teams' Markdown subset (no accidental bold or links)."""
    from shared.cards.markdown import escape

    return escape(str(value))


@dataclass
class Section:
    title: str
    lines: list[str] = field(default_factory=list)  # Markdown, one bullet each
    facts: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Answer:
    """A bot command's answer: a title with a status colour, Markdown paragraphs, facts, sections, links."""

    title: str
    status: str = "default"  # good | warning | attention | accent | default
    paragraphs: list[str] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (title, https url): Action.OpenUrl

    def add(self, markdown: str) -> Answer:
        self.paragraphs.append(markdown)
        return self

    def section(self, title: str) -> Section:
        found = Section(title)
        self.sections.append(found)
        return found


def render_text(answer: Answer) -> str:
    """The plain-text fallback: everything the card says, readable without the card."""
    out = [answer.title]
    out.extend(f"{k}: {v}" for k, v in answer.facts)
    out.extend(answer.paragraphs)
    for section in answer.sections:
        out.append(section.title)
        out.extend(f"{k}: {v}" for k, v in section.facts)
        out.extend(f"- {line}" for line in section.lines)
    out.extend(f"{title}: {url}" for title, url in answer.buttons)
    return _PLAIN_RE.sub(r"\1", "\n\n".join(out).replace("**", ""))


def render_card(answer: Answer) -> dict[str, Any]:
    """The Adaptive Card (full width, Action.OpenUrl only, version <= 1.5) as a JSON-ready dict."""
    from shared.cards.builders import CardBuilder, Status

    status = getattr(Status, answer.status.upper(), Status.DEFAULT)
    builder = CardBuilder(answer.title, status=status)
    if answer.facts:
        builder.facts(answer.facts)
    for paragraph in answer.paragraphs:
        builder.text(paragraph)
    for section in answer.sections:
        builder.section(section.title)
        if section.facts:
            builder.facts(section.facts)
        if section.lines:
            builder.bullets(section.lines)
    for title, url in answer.buttons:
        builder.button(title, url)
    card = builder.build()
    # Shown by clients that cannot render the card: the whole answer, not just its title.
    card["fallbackText"] = render_text(answer)
    return card


def render_reply(answer: Answer) -> bytes:
    """The serialised outgoing-webhook reply (one serialiser for the whole project).

    Teams shows a reply's `text` above its card, so `text` is the one-line summary (what
    notifications and card-less clients show) and the full plain text is the card's fallbackText.
    """
    from shared.cards import envelopes

    envelope = envelopes.reply(text=answer.title, card=render_card(answer))
    return envelopes.dumps(envelope)
