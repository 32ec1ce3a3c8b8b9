"""The sink's HTML overview: what each channel received, each card drawn by the official Adaptive
Cards renderer (Teams light theme) in the browser, with its JSON under a <details>.

Bodies are untrusted text: everything goes through escape(); the page's script reads each message
back from its escaped JSON. Scripts come from node_modules through the sink itself (no CDN).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from tools import render as renderer

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:70rem;background:#f5f5f5}"
    "pre{background:#fff;padding:.5rem;overflow-x:auto;white-space:pre-wrap}"
    ".meta{color:#555;font-size:.9rem;margin-top:1rem}"
    ".card{width:560px;max-width:100%;margin:.3rem 0;border:1px solid #e0e0e0;border-radius:6px;"
    "overflow:hidden;background:#fff}"
    ".problems{color:#a4262c;font-size:.85rem;margin:.2rem 0 .5rem}"
    "details summary{cursor:pointer;color:#555;font-size:.85rem}"
)
#: what GET /assets/<name> serves: the renderer's scripts (node_modules, tools/render), this page's
#: script, and Teams' host configs from ../shared/hostconfig (never copied into the repo)
ASSETS: dict[str, tuple[Path, str]] = {
    name: (path, "text/css" if name.endswith(".css") else "text/javascript")
    for name, path in renderer.SCRIPTS.items()
}
ASSETS["page.js"] = (Path(__file__).with_name("page.js"), "text/javascript")
for _theme in renderer.THEMES:
    ASSETS[f"hostconfig-{_theme}.json"] = (renderer.hostconfig_path(_theme), "application/json")


def asset(name: str) -> tuple[bytes, str] | None:
    """The bytes and content type of one of ASSETS (None when unknown or not installed)."""
    known = ASSETS.get(name)
    if known is None or not known[0].is_file():
        return None
    return known[0].read_bytes(), known[1] + ("; charset=utf-8" if not name.endswith(".json") else "")


def render(channels: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """One section per channel, newest message first; every piece of text goes through escape()."""
    parts = [
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Teams sink</title>',
        f"<style>{_STYLE}</style>",
        '<link rel="stylesheet" href="/assets/teams.css">',
        "</head><body><h1>Teams sink</h1>",
        '<p class="meta" id="renderer">Cards are drawn by the official Adaptive Cards renderer '
        "(Teams light host config, version 1.4) once the page's scripts load.</p>",
    ]
    if not channels:
        parts.append("<p>No messages yet.</p>")
    for channel, records in channels.items():
        parts.append(f"<section><h2>{escape(channel)} <small>({len(records)})</small></h2>")
        for record in reversed(records):
            body = json.dumps(record.get("body"), indent=2, ensure_ascii=False)
            parts.append(
                f'<div class="message"><div class="meta">{escape(str(record.get("time", "")))} · '
                f"{escape(str(record.get('mode', '')))}</div>"
                '<div class="cards"></div>'
                f'<details><summary>JSON</summary><pre class="json">{escape(body)}</pre></details></div>'
            )
        parts.append("</section>")
    parts.append(
        '<script src="/assets/markdown-it.min.js"></script>'
        '<script src="/assets/adaptivecards.min.js"></script>'
        '<script src="/assets/cards.js"></script>'
        '<script src="/assets/page.js"></script>'
    )
    parts.append("</body></html>")
    return "".join(parts)
