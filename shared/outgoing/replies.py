"""What a command answers, as data; rendered once into the outgoing-webhook reply envelope.

Listeners fill a `Reply` instead of touching card JSON, so the same answer can become the
synchronous reply (Adaptive Card + plain-text fallback) or, after the deadline, a Workflows post.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Reply", "Section", "md_escape", "render_card", "render_reply", "render_text"]

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
class Reply:
    """One answer: a title with a status colour, Markdown paragraphs, facts, sections and links."""

    title: str
    status: str = "default"  # good | warning | attention | accent | default
    paragraphs: list[str] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (title, https url): Action.OpenUrl

    def add(self, markdown: str) -> Reply:
        self.paragraphs.append(markdown)
        return self

    def section(self, title: str) -> Section:
        found = Section(title)
        self.sections.append(found)
        return found


def render_text(reply: Reply) -> str:
    """The plain-text fallback: everything the card says, readable without the card."""
    out = [reply.title]
    out.extend(f"{k}: {v}" for k, v in reply.facts)
    out.extend(reply.paragraphs)
    for section in reply.sections:
        out.append(section.title)
        out.extend(f"{k}: {v}" for k, v in section.facts)
        out.extend(f"- {line}" for line in section.lines)
    out.extend(f"{title}: {url}" for title, url in reply.buttons)
    return _PLAIN_RE.sub(r"\1", "\n\n".join(out).replace("**", ""))


def render_card(reply: Reply) -> dict[str, Any]:
    """The Adaptive Card (full width, Action.OpenUrl only, version <= 1.5) as a JSON-ready dict."""
    from shared.cards.builders import CardBuilder, Status

    status = getattr(Status, reply.status.upper(), Status.DEFAULT)
    builder = CardBuilder(reply.title, status=status)
    if reply.facts:
        builder.facts(reply.facts)
    for paragraph in reply.paragraphs:
        builder.text(paragraph)
    for section in reply.sections:
        builder.section(section.title)
        if section.facts:
            builder.facts(section.facts)
        if section.lines:
            builder.bullets(section.lines)
    for title, url in reply.buttons:
        builder.button(title, url)
    card = builder.build()
    # Shown by clients that cannot render the card: the whole answer, not just its title.
    card["fallbackText"] = render_text(reply)
    return card


def render_reply(reply: Reply) -> bytes:
    """The serialised outgoing-webhook reply (one serialiser for the whole project).

    Teams shows a reply's `text` above its card, so `text` is the one-line summary (what
    notifications and card-less clients show) and the full plain text is the card's fallbackText.
    """
    from shared.cards import envelopes

    envelope = envelopes.reply(text=reply.title, card=render_card(reply))
    return envelopes.dumps(envelope)
