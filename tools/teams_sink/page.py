"""The sink's HTML overview: what each channel received, escaped, since bodies are untrusted text."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:70rem}"
    "pre{background:#f4f4f4;padding:.5rem;overflow-x:auto;white-space:pre-wrap}"
    ".meta{color:#555;font-size:.9rem}"
)


def render(channels: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """One section per channel, newest message first; every piece of text goes through escape()."""
    parts = [
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Teams sink</title>',
        f"<style>{_STYLE}</style></head><body><h1>Teams sink</h1>",
    ]
    if not channels:
        parts.append("<p>No messages yet.</p>")
    for channel, records in channels.items():
        parts.append(f"<section><h2>{escape(channel)} <small>({len(records)})</small></h2>")
        for record in reversed(records):
            body = json.dumps(record.get("body"), indent=2, ensure_ascii=False)
            parts.append(
                f'<div class="meta">{escape(str(record.get("time", "")))} · '
                f"{escape(str(record.get('mode', '')))}</div><pre>{escape(body)}</pre>"
            )
        parts.append("</section>")
    parts.append("</body></html>")
    return "".join(parts)
