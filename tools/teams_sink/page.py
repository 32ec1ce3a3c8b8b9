"""The sink's HTML overview: what each channel shows, escaped, since bodies are untrusted text.

One `<section class="channel">` per channel, one `<article class="post">` per post (newest first) with
its status, reasons and card JSON in `<pre class="card-json">`; the posts the Flow bot budget lost after
its 202 follow as `<article class="lost">` with the reason (never drawn: the channel never showed them),
and the budget of each connection is summed up at the top. The page's script (`page.js`) draws each
card there with the official Adaptive Cards renderer (Teams light theme). Scripts come from
node_modules through the sink itself (no CDN).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from tools import render as renderer

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5rem;max-width:70rem}"
    "pre{background:#f4f4f4;padding:.5rem;overflow-x:auto;white-space:pre-wrap}"
    ".meta{color:#555;font-size:.9rem}"
    ".post{border-left:4px solid #3a7d44;padding-left:.75rem;margin:1rem 0}"
    ".post.not-displayed{border-color:#b3261e}"
    ".lost{border-left:4px dashed #8a5a00;padding-left:.75rem;margin:1rem 0;color:#5c3d00}"
    ".lost-count{color:#8a5a00}"
    ".status{font-weight:600}.not-displayed .status{color:#b3261e}"
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


def render(
    channels: Mapping[str, Sequence[Mapping[str, Any]]],
    rules: Mapping[str, Any] | None = None,
    *,
    lost: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    budget: Mapping[str, Any] | None = None,
) -> str:
    """One section per channel, newest post first, then its lost posts; every piece of text goes through
    escape()."""
    lost = lost or {}
    parts = [
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Teams sink</title>',
        f"<style>{_STYLE}</style>",
        '<link rel="stylesheet" href="/assets/teams.css">',
        "</head><body><h1>Teams sink</h1>",
        '<p class="meta" id="renderer">Cards are drawn by the official Adaptive Cards renderer '
        "(Teams light host config, version 1.4) once the page's scripts load.</p>",
    ]
    if rules is not None:
        parts.append(f'<p class="rules">{escape(_describe_rules(rules))}</p>')
    if budget is not None:
        parts.append(_budget(budget))
    if not channels:
        parts.append("<p>No messages yet.</p>")
    for channel, records in channels.items():
        posts = [(record, post) for record in records for post in record.get("posts", ())]
        gone = lost.get(channel, ())
        hidden = sum(1 for _, post in posts if not post.get("displayed"))
        count = f"{len(posts)} posts" + (f", {hidden} not displayed" if hidden else "")
        marker = f' <small class="lost-count">{len(gone)} lost</small>' if gone else ""
        parts.append(
            f'<section class="channel" data-channel="{escape(channel)}">'
            f"<h2>{escape(channel)} <small>({escape(count)})</small>{marker}</h2>"
        )
        for record, post in reversed(posts):
            parts.append(_post(post, record.get("body")))
        for item in reversed(gone):
            parts.append(_lost(item))
        parts.append("</section>")
    parts.append(
        '<script src="/assets/markdown-it.min.js"></script>'
        '<script src="/assets/adaptivecards.min.js"></script>'
        '<script src="/assets/cards.js"></script>'
        '<script src="/assets/page.js"></script>'
    )
    parts.append("</body></html>")
    return "".join(parts)


def _post(post: Mapping[str, Any], body: Any) -> str:
    """A post; a flow run that failed before any card (no `attachments`) shows the body it received."""
    displayed = bool(post.get("displayed"))
    status = "displayed" if displayed else f"not displayed; the channel shows {post.get('shown', '')}"
    where = post.get("attachment")
    items = (post.get("time", ""), post.get("mode", ""), "" if where is None else f"attachment {where}")
    meta = " · ".join(str(item) for item in items if item)
    reasons = "".join(f"<li>{escape(str(reason))}</li>" for reason in post.get("reasons", ()))
    card = post.get("card")
    kind = "card-json" if card is not None else "body-json"
    text = _pretty(card if card is not None else body)
    return (
        f'<article class="post {"displayed" if displayed else "not-displayed"}" data-mode="'
        f'{escape(str(post.get("mode", "")))}"><div class="meta">{escape(meta)}</div>'
        f'<div class="status">{escape(status)}</div>'
        + (f'<ul class="reasons">{reasons}</ul>' if reasons else "")
        + '<div class="cards"></div>'
        + f'<details><summary>JSON</summary><pre class="{kind}">{escape(text)}</pre></details></article>'
    )


def _lost(post: Mapping[str, Any]) -> str:
    """A post the budget lost: what was sent and why the channel never showed it."""
    where = post.get("attachment")
    items = (post.get("time", ""), f"connection {post.get('connection', '')}", f"attachment {where}")
    meta = " · ".join(str(item) for item in items if item)
    return (
        f'<article class="lost" data-connection="{escape(str(post.get("connection", "")))}">'
        f'<div class="meta">{escape(meta)}</div>'
        f'<div class="status">lost after 202: {escape(str(post.get("reason", "")))}</div>'
        f'<details><summary>JSON</summary><pre class="lost-json">{escape(_pretty(post.get("card")))}</pre>'
        "</details></article>"
    )


def _budget(view: Mapping[str, Any]) -> str:
    """The Flow bot budget and each connection's use, channels and losses."""
    lines = [
        f"{name}: budget {info.get('budget')}"
        + ("" if not info.get("own_budget") else " (its own)")
        + ", used "
        + (", ".join(f"{used} of {window}" for window, used in info.get("used", {}).items()) or "nothing")
        + f"; channels {', '.join(info.get('channels', ())) or '-'}; {info.get('lost', 0)} lost"
        for name, info in view.get("connections", {}).items()
    ]
    items = "".join(f'<li class="connection">{escape(line)}</li>' for line in lines)
    return (
        f'<div class="budget"><p class="rules">{escape(_describe_budget(view))}</p>'
        + (f"<ul>{items}</ul>" if items else "")
        + "</div>"
    )


def _describe_budget(view: Mapping[str, Any]) -> str:
    budget = view.get("budget")
    if budget == "off":
        return "The Flow bot budget is off: every Workflows post is shown."
    return (
        f"The Flow bot posts at most {budget} (posts/seconds, sliding) per connection; past it a post is "
        f"answered 202 and then lost. URLs without a connection use {view.get('default_connection')!r}."
    )


def _pretty(value: Any) -> str:
    """Indented JSON; a body nested deeper than the indenting encoder's recursion allows comes out flat."""
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except RecursionError:
        try:
            return json.dumps(value, ensure_ascii=False)
        except RecursionError:
            return "(nested too deeply to show)"


def _describe_rules(rules: Mapping[str, Any]) -> str:
    schema = rules.get("schema")
    checked = f"checked against {schema}" if schema else "schema check skipped (../shared/schemas absent)"
    return (
        f"Workflows channels display Adaptive Cards up to {rules.get('workflow_max_version')}, "
        f"only {rules.get('only_action')}, at most {rules.get('max_bytes')} bytes a card, "
        f"{rules.get('max_user_mentions')} user and {rules.get('max_tag_mentions')} tag mentions; {checked}. "
        f"Legacy connector URLs accept up to {rules.get('legacy_max_version')}."
    )
