"""The digest card: one card per digest, built as data (CardBuilder) and serialised once later."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.cards import times
from shared.cards.builders import CardBuilder, Status
from shared.cards.links import http_url
from shared.cards.markdown import escape, link
from shared.digest.feeds.base import Entry, Gathered
from shared.incoming.vocabulary import NEEDS_ATTENTION


def _status(gathered: Gathered) -> Status:
    """Events: a warning while any of them asked for attention (a digest is not an alert), else good."""
    if gathered.source == "events":
        if any(e.severity in NEEDS_ATTENTION for e in gathered.entries):
            return Status.WARNING
        return Status.GOOD if gathered.entries else Status.DEFAULT
    return Status.ACCENT


def _line(entry: Entry) -> str:
    text = link(entry.title, entry.url) if http_url(entry.url) else f"**{escape(entry.title)}**"
    if entry.state:
        text = f"{escape(entry.state)}: {text}"
    if entry.published is not None:
        text += f" ({times.shown(entry.published)})"  # in the reader's zone
    if entry.summary:
        text += " - " + escape(entry.summary)
    return text


def build_digest_card(gathered: Gathered, *, when: datetime | None = None) -> dict[str, Any]:
    """The card for one digest; an empty digest says "nothing new" (posted only when asked)."""
    subtitle = times.local(when) if when else None
    builder = CardBuilder(
        escape(gathered.title), status=_status(gathered), subtitle=subtitle, literal_facts=True
    )
    if gathered.headline:
        builder.text(escape(gathered.headline))
    if gathered.facts:
        builder.facts(gathered.facts)
    if gathered.entries:
        builder.bullets(_line(e) for e in gathered.entries)
        if gathered.more:
            builder.text(f"_+{gathered.more} more_")
    elif not gathered.facts:
        builder.text("Nothing new since the last digest.")
    if gathered.link:
        builder.button("Open source", gathered.link)
    return builder.build()
