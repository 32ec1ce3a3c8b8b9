"""What a command answers (`Answer`), as data; rendered once into the outgoing-webhook reply envelope.

Listeners fill an `Answer` instead of touching card JSON, so the same answer can become the
synchronous reply (Adaptive Card + plain-text fallback) or, after the deadline, a Workflows post.
The HTTP reply around it is `shared.web.Reply`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAX_REPLY_BYTES",
    "Answer",
    "Section",
    "fit_answer",
    "md_escape",
    "render_card",
    "render_reply",
    "render_text",
]

#: Teams takes about 40 KB in a bot message (platform doc §2.3); a reply stays under this, with a
#: margin for what Teams adds around it. A late answer posted through Workflows is split by delivery.
MAX_REPLY_BYTES = 36 * 1024

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


def _serialise(answer: Answer) -> bytes:
    from shared.cards import envelopes

    return envelopes.dumps(envelopes.reply(text=answer.title, card=render_card(answer)))


def fit_answer(answer: Answer, max_bytes: int = MAX_REPLY_BYTES) -> tuple[Answer, bytes]:
    """The answer cut to fit `max_bytes` when serialised, and its bytes: lines go from the end of
    the longest section, which then says how many are not shown. Listeners page long lists
    themselves (`subscriptions page 2`); this is the guard that every reply fits."""
    body = _serialise(answer)
    hidden: dict[int, int] = {}
    while len(body) > max_bytes:
        cuttable = [i for i, s in enumerate(answer.sections) if len(s.lines) > (1 if hidden.get(i) else 0)]
        if not cuttable:
            break  # nothing left to cut: what is left is bounded by the listeners
        index = max(cuttable, key=lambda i: sum(len(line) for line in answer.sections[i].lines))
        lines = answer.sections[index].lines
        if hidden.get(index):
            lines.pop()  # the "and N more" line of the last round
        average = max(1, sum(len(line.encode("utf-8")) for line in lines) // len(lines))
        # Each line shows twice (card and fallback text), and JSON escapes some characters.
        drop = min(len(lines), (len(body) - max_bytes) // (2 * average) + 1)
        del lines[len(lines) - drop :]
        hidden[index] = hidden.get(index, 0) + drop
        lines.append(f"… and {hidden[index]} more not shown here")
        body = _serialise(answer)
    if len(body) > max_bytes:
        # Still too long: the title, paragraphs or facts echo something huge. Cut them too.
        answer.title = _cut(answer.title, 200)
        answer.paragraphs = [_cut(p, 2_000) for p in answer.paragraphs[:8]]
        answer.facts = [(_cut(k, 100), _cut(v, 500)) for k, v in answer.facts[:20]]
        body = _serialise(answer)
    if len(body) > max_bytes:
        answer = Answer("That answer is too long to show here", status="warning")
        body = _serialise(answer)
    return answer, body


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_reply(answer: Answer) -> bytes:
    """The serialised outgoing-webhook reply (one serialiser for the whole project), under
    MAX_REPLY_BYTES.

    Teams shows a reply's `text` above its card, so `text` is the one-line summary (what
    notifications and card-less clients show) and the full plain text is the card's fallbackText.
    """
    return fit_answer(answer)[1]
