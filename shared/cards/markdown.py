"""Teams' Markdown subset for card text.

Teams renders only bold `**`, italic `_`, lists (`- ` / `1. `) and links `[t](url)` in TextBlock
and Fact text, with a CommonMark parser; headers, tables, images, code blocks, blockquotes and
HTML show up as raw noise. `to_teams` rewrites those into the subset (keeping every word visible)
and `escape` makes user data render literally.

`escape` adds a backslash only where the text would otherwise turn into formatting (CommonMark
rules: a `*`/`_` pair that can open and close, `](`, a list or quote marker starting a line...),
because Teams' mobile clients have shown backslash escapes literally: `[FIRING:2] HighErrorRate`,
`snake_case` or `C:\\temp` stay as they are. Tag-like `<x` and entity-like `&x;` get an invisible
word joiner after `<`/`&` instead: that is what stops a sender's `<at>Ops</at>` from matching a
real mention entity (a backslash would leave the markup intact) and `<b>` from becoming bold.

Every pattern here is linear in the input (bounded or non-overlapping), since card text comes
from senders.
"""

from __future__ import annotations

import html
import re
import unicodedata

WORD_JOINER = "\u2060"


class Markdown(str):
    """Text already in Teams' Markdown: escaped sender text or markup we wrote. Builders that
    take sender values (`CardBuilder(literal_facts=True)`) escape every other `str` they get, so
    a value is never escaped twice nor shown raw."""

    __slots__ = ()


# --- escape ---------------------------------------------------------------------------------------

_TAG_START_RE = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY_START_RE = re.compile(r"&(?=#?[A-Za-z0-9]{1,32};)")
_MENTION_START_RE = re.compile(r"<(?=/?at[\s>])", re.IGNORECASE)
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_EMPHASIS = "*_~"
# Line starts that would become a list, header, quote, fence, link definition, setext underline
# or thematic break: each match ends right before the character that gets the backslash.
_BLOCK_START_RE = re.compile(
    r"^[ \t]*(?:"
    r"(?=[-+*](?:[ \t]|$))"
    r"|\d{1,9}(?=[.)](?:[ \t]|$))"
    r"|(?=#{1,6}(?:[ \t]|$))"
    r"|(?=>)"
    r"|(?=```|~~~)"
    r"|(?=\[[^\[\]]{1,999}\]:)"
    r"|(?=([-=])[ \t]*(?:\1[ \t]*)*$)"
    r"|(?=([*_])[ \t]*(?:\2[ \t]*){2,}$)"
    r")",
    re.MULTILINE,
)
# No two `[ \t]*` meet without a required `|` between them: linear on runs of blanks.
_TABLE_SEP_RE = re.compile(r"^[ \t]*(?:\|[ \t]*)?:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*(?:\|[ \t]*)?$")
_UNESCAPED_PIPE_RE = re.compile(r"(?<!\\)\|")


def _is_space(ch: str) -> bool:
    return ch.isspace()


def _is_punct(ch: str) -> bool:
    return ch in _ASCII_PUNCT or unicodedata.category(ch)[0] in "PS"


def _emphasis_marks(text: str, marks: set[int]) -> None:
    """Add the positions of `*`, `_` and `~` runs that could pair up into formatting."""
    for char in _EMPHASIS:
        if char not in text:
            continue
        runs: list[tuple[int, int, bool, bool]] = []
        for match in re.finditer(re.escape(char) + "+", text):
            start, end = match.span()
            before = text[start - 1] if start else "\n"
            after = text[end] if end < len(text) else "\n"
            left = not _is_space(after) and (not _is_punct(after) or _is_space(before) or _is_punct(before))
            right = not _is_space(before) and (not _is_punct(before) or _is_space(after) or _is_punct(after))
            if char == "_":
                opens = left and (not right or _is_punct(before))
                closes = right and (not left or _is_punct(after))
            else:
                opens, closes = left, right
            runs.append((start, end, opens, closes))
        openers = [start for start, _, opens, _ in runs if opens]
        closers = [start for start, _, _, closes in runs if closes]
        if not openers or not closers or openers[0] >= closers[-1]:
            continue  # nothing can pair up: every mark shows as typed
        for start, end, opens, closes in runs:
            if (opens and start < closers[-1]) or (closes and start > openers[0]):
                marks.update(range(start, end))


def escape(text: str) -> Markdown:
    """Make arbitrary user text render literally in a TextBlock or Fact (and through `to_teams`)."""
    if not text:
        return Markdown(text)
    marks: set[int] = set()
    # A backslash is literal in CommonMark unless punctuation (or a line end) follows it.
    for match in re.finditer(r"\\(?=[!-/:-@\[-`{-~\n]|$)", text):
        marks.add(match.start())
    _emphasis_marks(text, marks)
    # `]` directly followed by `(` closes a link or image.
    marks.update(match.start() for match in re.finditer(r"\](?=\()", text))
    if text.count("`") > 1 and len(re.findall(r"`+", text)) > 1:
        marks.update(match.start() for match in re.finditer("`", text))  # code spans
    marks.update(match.end() for match in _BLOCK_START_RE.finditer(text))
    if "|" in text and "-" in text:
        # A table needs a delimiter row (`|---|`); one with an escaped dash is just text.
        offset = 0
        for line in text.split("\n"):
            if "|" in line and _TABLE_SEP_RE.match(line):
                marks.add(offset + line.index("-"))
            offset += len(line) + 1
    out: list[str] = []
    last = 0
    for position in sorted(marks):
        out.append(text[last:position])
        out.append("\\")
        last = position
    out.append(text[last:])
    escaped = "".join(out)
    escaped = _TAG_START_RE.sub("<" + WORD_JOINER, escaped)
    return Markdown(_ENTITY_START_RE.sub("&" + WORD_JOINER, escaped))


def escape_piece(text: str) -> Markdown:
    """`escape` for a piece that other text will be put beside (a template's `{{ value }}`):
    also a `]` at its end and a `(` at its start, which could close a link with what follows
    or precedes it. Emphasis across pieces may still pair up; links and mentions cannot."""
    escaped = escape(text)
    if escaped.endswith("]") and not escaped.endswith("\\]"):
        escaped = Markdown(escaped[:-1] + "\\]")
    if escaped.startswith("("):
        escaped = Markdown("\\" + escaped)
    return escaped


# Characters a link destination cannot hold unescaped (they would end it or open another).
_URL_UNSAFE = {ord(c): f"%{ord(c):02X}" for c in "()<>\\ \t\n\r\"'`"}


def code(text: str) -> Markdown:
    """A short code span (a commit id): literal inside backticks, escaped text when it cannot be."""
    if text and len(text) <= 200 and "`" not in text and "\n" not in text and text.strip() == text:
        return Markdown(f"`{text}`")
    return escape(text)


def link(label: str, url: str | None, *, code_label: bool = False) -> Markdown:
    """A Markdown link whose label renders literally and whose URL cannot break out of it;
    the label alone (escaped) when `url` is not an absolute http(s) URL."""
    from shared.cards.links import http_url

    shown = code(label) if code_label else escape_piece(label)
    target = http_url(url)
    if target is None:
        return shown
    return Markdown(f"[{shown or 'link'}]({target.translate(_URL_UNSAFE)})")


# --- links and mentions in Markdown we pass on ---------------------------------------------------

# A link destination after `](`: `<...>` or up to a blank or parenthesis (enough to see its scheme).
_DESTINATION_RE = re.compile(r"[ \t]{0,20}(?:<([^<>\n]{0,2100})>|([^\s()<>]{0,2100}))")
# A link reference definition `[ref]: ...` (reference links are the only way to a link without
# `](`): its `[` gets a backslash wherever it is (inside a list item is a line start too); a `[`
# after a backslash is no definition (escaped, or not at a line start).
_LINK_DEFINITION_RE = re.compile(r"(?<!\\)\[(?=[^\[\]\n]{1,999}\]:)")
# An autolink `<scheme:...>` or `<user@host>` of any scheme but http(s).
_AUTOLINK_RE = re.compile(
    r"<(?=(?![Hh][Tt][Tt][Pp][Ss]?:)[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]{0,2100}>"
    r"|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]{1,64}@[A-Za-z0-9][A-Za-z0-9.\-]{0,253}>)"
)
_MENTION_RE = re.compile(r"<at>[^<>\n]{0,300}</at>", re.IGNORECASE)


def _inline_links_http_only(text: str) -> str:
    """Every `](` (each inline link or image has one, however its label nests) whose destination
    is not an absolute http(s) URL gets a backslash before its `]`, so it is no link at all."""
    from shared.cards.links import http_url

    out: list[str] = []
    last = 0
    position = text.find("](")
    while position != -1:
        slashes = 0
        while position - slashes > 0 and text[position - slashes - 1] == "\\":
            slashes += 1  # each `](` counts only its own run: linear overall
        if slashes % 2 == 0:  # an escaped `\]` closes nothing
            found = _DESTINATION_RE.match(text, position + 2)
            destination = (found.group(1) or found.group(2) or "") if found else ""
            if http_url(destination) is None:
                out.append(text[last:position])
                out.append("\\")
                last = position
        position = text.find("](", position + 2)
    out.append(text[last:])
    return "".join(out)


def http_links_only(text: str) -> str:
    """Markdown with every link limited to absolute http(s) URLs: other inline links and images
    show as text, as do all reference definitions and autolinks of other schemes."""
    if not text:
        return text
    if "]:" in text:
        text = _LINK_DEFINITION_RE.sub(r"\\[", text)
    if "](" in text:
        text = _inline_links_http_only(text)
    if "<" in text:
        text = _AUTOLINK_RE.sub("<" + WORD_JOINER, text)
    return text


def only_mentions(text: str, allowed: frozenset[str] | set[str]) -> str:
    """Break every `<at>...</at>` that is not one of the card's own mention texts (`allowed`)."""
    if "<" not in text or not _MENTION_START_RE.search(text):
        return text
    kept = {markup.lower() for markup in allowed}
    out: list[str] = []
    last = 0
    for match in _MENTION_RE.finditer(text):
        if match.group(0).lower() in kept:
            out.append(defuse_mentions(text[last : match.start()]))
            out.append(match.group(0))
            last = match.end()
    out.append(defuse_mentions(text[last:]))
    return "".join(out)


def sender_markdown(text: str) -> Markdown:
    """A sender's own Markdown (a pull request body, a MessageCard with `markdown: true`) in
    Teams' subset, with links limited to http(s) and no `<at>` mention of its own."""
    return Markdown(http_links_only(to_teams(text, mentions=False)))


def defuse_mentions(text: str) -> str:
    """Break `<at>` mention markup (a word joiner after `<`) so it cannot match a mention entity."""
    return _MENTION_START_RE.sub("<" + WORD_JOINER, text)


# --- to_teams -------------------------------------------------------------------------------------

_HEADER_RE = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t]+(.*))?$")
_SETEXT_RE = re.compile(r"^[ \t]{0,3}(?:=+|-+)[ \t]*$")
_QUOTE_RE = re.compile(r"^[ \t]{0,3}>[ \t]?(.*)$")
_FENCE_RE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_IMAGE_RE = re.compile(
    r"!\[([^\[\]\n]{0,500})(?<!\\)\]\([ \t]*([^()\s]{1,2000})(?:[ \t]+\"[^\"\n]{0,300}\")?[ \t]*\)"
)
_LIST_RE = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])[ \t]+")
_ENTITY_RE = re.compile(r"&#?[a-zA-Z0-9]{1,32};")
_HTML_HINT_RE = re.compile(r"<[a-zA-Z/!]|&#?[a-zA-Z0-9]{1,32};")
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]{0,15})((?:[\s/][^<>]{0,2000})?)>")
_HREF_RE = re.compile(r"""\bhref\s*=\s*["']([^"'\s]{1,2000})["']""", re.IGNORECASE)
_SRC_RE = re.compile(r"""\bsrc\s*=\s*["']([^"'\s]{1,2000})["']""", re.IGNORECASE)
_ALT_RE = re.compile(r"""\balt\s*=\s*["']([^"']{0,300})["']""", re.IGNORECASE)
# HTML elements whose tags go (their text stays); any other `<word>` is text and is kept.
# fmt: off
_HTML_TAGS = frozenset({
    "a", "abbr", "address", "article", "aside", "b", "big", "blockquote", "body", "br", "caption",
    "center", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt",
    "em", "figcaption", "figure", "font", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "head",
    "header", "hr", "html", "i", "img", "ins", "kbd", "li", "main", "mark", "nav", "ol", "p", "pre",
    "q", "s", "samp", "section", "small", "span", "strike", "strong", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var",
})
# fmt: on


def _html_to_markdown(text: str) -> str:
    """HTML tags to their Markdown equivalents, one tag at a time (no pairing: stays linear)."""
    out: list[str] = []
    pos = 0
    href: str | None = None
    for match in _TAG_RE.finditer(text):
        name = match.group(2).lower()
        if name not in _HTML_TAGS:
            continue
        out.append(text[pos : match.start()])
        pos = match.end()
        closing, attrs = match.group(1) == "/", match.group(3)
        if name in ("br", "p", "div", "tr", "table", "ul", "ol", "blockquote", "pre", "hr"):
            out.append("\n")
        elif name == "li":
            out.append("" if closing else "\n- ")
        elif name in ("b", "strong"):
            out.append("**")
        elif name in ("i", "em"):
            out.append("_")
        elif name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            out.append("**\n" if closing else "\n**")
        elif name in ("td", "th"):
            out.append("" if closing else " ")
        elif name == "a" and not closing:
            found = _HREF_RE.search(attrs)
            href = found.group(1) if found else None
            if href:
                out.append("[")
        elif name == "a" and href:
            out.append(f"]({href})")
            href = None
        elif name == "img":
            src, alt = _SRC_RE.search(attrs), _ALT_RE.search(attrs)
            if src:
                out.append(f"[{(alt.group(1) if alt else '') or 'image'}]({src.group(1)})")
    out.append(text[pos:])
    # Only complete references (`&amp;`, `&#39;`): `html.unescape` would also turn `&copy` into ©.
    return _ENTITY_RE.sub(lambda m: html.unescape(m.group(0)), "".join(out))


def _cells(line: str) -> list[str]:
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return [cell.strip() for cell in _UNESCAPED_PIPE_RE.split(body)]


def _is_table(line: str, separator: str) -> bool:
    """GFM: a header row with a pipe, then a delimiter row with a pipe and as many cells."""
    return (
        _UNESCAPED_PIPE_RE.search(line) is not None
        and "|" in separator
        and _TABLE_SEP_RE.match(separator) is not None
        and len(_cells(line)) == len(_cells(separator))
    )


def _heading_text(content: str | None) -> str:
    text = (content or "").strip()
    stripped = text.rstrip("#")
    if stripped != text and (not stripped or stripped[-1] in " \t"):
        text = stripped.strip()
    return text


def to_teams(text: str, *, mentions: bool = True) -> str:
    """Rewrite general Markdown/HTML into what Teams renders, dropping no visible text.

    Headers become bold lines, tables become one line per row (`header: value` pairs), images
    become links, fences and quote markers go (their text stays), HTML tags become their Markdown
    equivalents, and single newlines outside lists become paragraph breaks (`\\n\\n`), since
    Teams would otherwise join the lines. `mentions=False` defuses `<at>` markup: for text from
    senders, whose markup must not match the mention entities a route adds.
    """
    if not text:
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _HTML_HINT_RE.search(text):
        text = _html_to_markdown(text)
    if not mentions:
        text = defuse_mentions(text)
    text = _IMAGE_RE.sub(lambda m: f"[{m.group(1) or 'image'}]({m.group(2)})", text)

    lines = text.split("\n")
    out: list[str] = []  # logical lines; "" marks a paragraph break
    i = 0
    while i < len(lines):
        line = lines[i]
        following = lines[i + 1] if i + 1 < len(lines) else None
        if _FENCE_RE.match(line):
            i += 1
            continue
        if following is not None and _is_table(line, following):
            header = _cells(line)
            i += 2
            while i < len(lines) and _UNESCAPED_PIPE_RE.search(lines[i]) and lines[i].strip():
                pairs = [
                    f"{header[k] if k < len(header) and header[k] else k + 1}: {cell}"
                    for k, cell in enumerate(_cells(lines[i]))
                ]
                out.append("- " + ", ".join(pairs))
                i += 1
            continue
        heading = _HEADER_RE.match(line)
        if heading:
            title = _heading_text(heading.group(1))
            out.append(f"**{title}**" if title else "")
            i += 1
            continue
        if (
            following is not None
            and line.strip()
            and _SETEXT_RE.match(following)
            and not _LIST_RE.match(line)
            and not _QUOTE_RE.match(line)
        ):
            out.append(f"**{line.strip()}**")
            i += 2
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
