"""The end of `make demo`: one HTML page of what every channel of the sink got, as Teams would show
it (PNGs from the official renderer when Chromium is there), in .demo/ (gitignored)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tools import render, stack
from tools.render import report

OUT = stack.ROOT / ".demo"
ADAPTIVE = "application/vnd.microsoft.card.adaptive"


def cards_of(message: Any) -> list[dict[str, Any]]:
    attachments = message.get("attachments") if isinstance(message, dict) else None
    return [
        a["content"]
        for a in attachments or []
        if isinstance(a, dict) and a.get("contentType") == ADAPTIVE and isinstance(a.get("content"), dict)
    ]


def write(sink: Any, out: Path = OUT) -> Path:
    """Render every card the sink's channels hold and write the page; returns its path."""
    shutil.rmtree(out, ignore_errors=True)
    sections: list[tuple[str, list[report.Item]]] = []
    for channel in sink.channels():
        items = [
            report.Item(f"#{channel} · message {number}" + (f" · card {i + 1}" if i else ""), card)
            for number, message in enumerate(sink.messages(channel), 1)
            for i, card in enumerate(cards_of(message))
        ]
        sections.append((f"#{channel}", items))
    reason = render.missing()
    note = "Rendered by the official Adaptive Cards renderer with Teams' light host config, for version 1.4."
    if reason is None:
        with render.Renderer() as renderer:
            sections = [
                (heading, [report.Item(i.heading, i.card, renderer.render(i.card)) for i in items])
                for heading, items in sections
            ]
    else:
        note += f" No PNGs: {reason}; the page draws the cards in your browser instead."
    if render.host_config("light") is None:
        note += f" Teams' host config is absent ({render.HOSTCONFIG_DIR}): the renderer's defaults are used."
    return report.write(out / "index.html", "What every channel got (make demo)", sections, note=note)
