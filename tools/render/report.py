"""One HTML page of rendered cards, for people: `make demo`'s "what every channel got" and
`admin preview --out card.html`.

With a Renderer each card is its PNG (written beside the page) and the renderer's complaints; without
one (no Chromium) the page draws the cards itself in the browser with the same official renderer,
loaded from node_modules by relative path. Every card's JSON is under a <details>.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from tools import render

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:70rem;background:#f5f5f5;color:#242424}"
    "pre{background:#fff;padding:.5rem;overflow-x:auto;white-space:pre-wrap;font-size:.8rem}"
    ".meta{color:#555;font-size:.9rem;margin-top:1rem}"
    ".live{width:560px;max-width:100%;border:1px solid #e0e0e0;border-radius:6px;overflow:hidden;"
    "background:#fff}"
    ".problems{color:#a4262c;font-size:.85rem;margin:.2rem 0 .5rem}.ok{color:#107c10;font-size:.85rem}"
    "details summary{cursor:pointer;color:#555;font-size:.85rem}img{display:block;max-width:100%}"
)


@dataclass(frozen=True)
class Item:
    """One card on the page: a heading, the card, and (with a renderer) what it showed."""

    heading: str
    card: dict[str, Any]
    rendered: render.Rendered | None = None


def slug(text: str) -> str:
    """A file-name-safe form of `text`."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60] or "card"


def write_pngs(folder: Path, items: Sequence[Item]) -> list[Path | None]:
    """Each rendered item's PNG in `folder`, numbered in page order (None where there is none)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path | None] = []
    for number, item in enumerate(items, 1):
        if item.rendered is None or item.rendered.png is None:
            paths.append(None)
            continue
        path = folder / f"{number:03d}-{slug(item.heading)}.png"
        path.write_bytes(item.rendered.png)
        paths.append(path)
    return paths


def page(
    title: str, sections: Sequence[tuple[str, Sequence[Item]]], *, folder: Path, note: str | None = None
) -> str:
    """The HTML of the page, to be written into `folder` (PNGs and node_modules are linked relative to it)."""
    items = [item for _, group in sections for item in group]
    pictures = iter(write_pngs(folder, items))
    live = any(item.rendered is None for item in items)
    parts = [
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(title)}</title>',
        f"<style>{_STYLE}{render.SCRIPTS['teams.css'].read_text(encoding='utf-8')}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]
    if note:
        parts.append(f'<p class="meta">{escape(note)}</p>')
    for heading, group in sections:
        parts.append(f"<section><h2>{escape(heading)} <small>({len(group)})</small></h2>")
        if not group:
            parts.append("<p>(nothing)</p>")
        for item in group:
            picture = next(pictures)
            parts.append(f'<div class="meta">{escape(item.heading)}</div>')
            if picture is not None:
                parts.append(f'<img src="{escape(picture.name)}" alt="{escape(item.heading)}">')
            else:
                parts.append('<div class="live"></div>')
            if item.rendered is not None:
                found = item.rendered.problems()
                if found:
                    parts.append(
                        '<ul class="problems">' + "".join(f"<li>{escape(p)}</li>" for p in found) + "</ul>"
                    )
                else:
                    parts.append('<div class="ok">shown as built</div>')
            body = json.dumps(item.card, indent=2, ensure_ascii=False)
            parts.append(f'<details><summary>JSON</summary><pre class="json">{escape(body)}</pre></details>')
        parts.append("</section>")
    if live:
        parts.append(_live_script(folder))
    parts.append("</body></html>")
    return "".join(parts)


def _live_script(folder: Path) -> str:
    """Scripts that draw the cards without PNGs in the browser (relative paths: opens from file://)."""
    sources = [
        os.path.relpath(render.SCRIPTS[name], folder)
        for name in ("markdown-it.min.js", "adaptivecards.min.js", "cards.js")
    ]
    config = render.host_config("light")
    # JSON inside <script> must not close the tag: every "<" is written as \u003c.
    config_js = json.dumps(config).replace("<", "\\u003c")
    tags = "".join(f'<script src="{escape(Path(src).as_posix())}"></script>' for src in sources)
    return tags + (
        "<script>(function(){var config=" + config_js + ";"
        "if(!window.TeamsCards){return;}"
        "document.querySelectorAll('.live').forEach(function(host){"
        "var pre=host.parentNode&&host.nextElementSibling;"
        "while(pre&&!pre.querySelector('pre.json')){pre=pre.nextElementSibling;}"
        "if(!pre){return;}"
        "TeamsCards.renderCard(JSON.parse(pre.querySelector('pre.json').textContent),config,'1.4',host);});"
        "})();</script>"
    )


def write(
    path: Path, title: str, sections: Sequence[tuple[str, Sequence[Item]]], *, note: str | None = None
) -> Path:
    """Write the page (and its PNGs beside it); returns the page's path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(title, sections, folder=path.parent, note=note), encoding="utf-8")
    return path
