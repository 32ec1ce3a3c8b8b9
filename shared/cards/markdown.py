"""Teams' Markdown subset for card text.

Teams renders only bold `**`, italic `_`, lists (`- ` / `1. `) and links `[t](url)` in TextBlock
and Fact text; headers, tables, images, code blocks, blockquotes and HTML show up as raw noise.
`to_teams` rewrites those into the subset (keeping every word visible) and `escape` neutralises
user data so that `*`, `_` or `[` in a branch name do not turn into formatting.
"""

from __future__ import annotations

import html
import re

# Characters that start or end formatting in Teams' renderer (CommonMark backslash escapes work).
_ESCAPE_RE = re.compile(r"([\\`*_\[\]~|])")
# Line starts that would become a list, header or quote.
_LINE_START_RE = re.compile(r"^(\s*)([-+#>]|\d+[.)])(?=\s|$)", re.MULTILINE)


def escape(text: str) -> str:
    """Make arbitrary user text render literally in a TextBlock or Fact."""
    escaped = _ESCAPE_RE.sub(r"\\\1", text)
    return _LINE_START_RE.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)


_HEADER_RE = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_TABLE_SEP_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_QUOTE_RE = re.compile(r"^\s{0,3}>\s?(.*)$")
_FENCE_RE = re.compile(r"^\s{0,3}(```|~~~)")
_IMAGE_RE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_LIST_RE = re.compile(r"^\s*([-*+]|\d+[.)])\s+")
_BR_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)
_P_RE = re.compile(r"</?(p|div)(\s[^>]*)?>", re.IGNORECASE)
_LI_RE = re.compile(r"<li(\s[^>]*)?>", re.IGNORECASE)
_BOLD_RE = re.compile(r"<(b|strong)(\s[^>]*)?>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_ITALIC_RE = re.compile(r"<(i|em)(\s[^>]*)?>(.*?)</\1>", re.IGNORECASE | re.DOTALL)
_LINK_RE = re.compile(r"<a\s[^>]*href=[\"']([^\"']+)[\"'][^>]*>(.*?)</a>", re.IGNORECASE | re.DOTALL)
_HEADING_TAG_RE = re.compile(r"<h[1-6](\s[^>]*)?>(.*?)</h[1-6]>", re.IGNORECASE | re.DOTALL)
# Any other tag, but not Teams' own `<at>` mention markup.
_TAG_RE = re.compile(r"</?(?!at>|at\s)[a-zA-Z][^<>]*>")
_HTML_HINT_RE = re.compile(r"<[a-zA-Z/!]|&[a-zA-Z#0-9]+;")


def _split_cells(line: str) -> list[str]:
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|"):
        body = body[:-1]
    return [cell.strip() for cell in body.split("|")]


def _html_to_markdown(text: str) -> str:
    text = _BR_RE.sub("\n", text)
    text = _HEADING_TAG_RE.sub(lambda m: f"\n**{m.group(2).strip()}**\n", text)
    text = _P_RE.sub("\n", text)
    text = _LI_RE.sub("\n- ", text)
    text = _BOLD_RE.sub(lambda m: f"**{m.group(3)}**", text)
    text = _ITALIC_RE.sub(lambda m: f"_{m.group(3)}_", text)
    text = _LINK_RE.sub(lambda m: f"[{m.group(2)}]({m.group(1)})", text)
    text = _TAG_RE.sub("", text)
    return html.unescape(text)


def to_teams(text: str) -> str:
    """Rewrite general Markdown/HTML into what Teams renders, dropping no visible text.

    Headers become bold lines, tables become one line per row (`header: value` pairs), images
    become links, fences and quote markers go (their text stays), HTML tags become their Markdown
    equivalents, and single newlines outside lists become paragraph breaks (`\\n\\n`), since
    Teams would otherwise join the lines.
    """
    if not text:
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _HTML_HINT_RE.search(text):
        text = _html_to_markdown(text)
    text = _IMAGE_RE.sub(lambda m: f"[{m.group(1) or 'image'}]({m.group(2)})", text)

    lines = text.split("\n")
    out: list[str] = []  # logical lines; "" marks a paragraph break
    header: list[str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE_RE.match(line):
            i += 1
            continue
        if "|" in line and i + 1 < len(lines) and _TABLE_SEP_RE.match(lines[i + 1]):
            header = _split_cells(line)
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                cells = _split_cells(lines[i])
                pairs = [
                    f"{header[k] if k < len(header) and header[k] else k + 1}: {cell}"
                    for k, cell in enumerate(cells)
                ]
                out.append("- " + ", ".join(pairs))
                i += 1
            continue
        heading = _HEADER_RE.match(line)
        if heading:
            out.append(f"**{heading.group(1)}**" if heading.group(1) else "")
            i += 1
            continue
        quote = _QUOTE_RE.match(line)
        if quote:
            line = quote.group(1)
        out.append(line.rstrip())
        i += 1

    # Join: list items stay on single newlines; everything else gets a paragraph break.
    result: list[str] = []
    broken = False
    for line in out:
        if not line.strip():
            broken = True
            continue
        if not result:
            result.append(line)
        elif not broken and _LIST_RE.match(line) and _LIST_RE.match(result[-1]):
            result.append("\n" + line)
        else:
            result.append("\n\n" + line)
        broken = False
    return "".join(result).strip("\n")
