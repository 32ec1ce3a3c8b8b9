"""Teams' Markdown subset: escaping user data and converting what Teams does not render."""

from __future__ import annotations

import random
from typing import Any

import pytest

from shared.cards.markdown import WORD_JOINER, defuse_mentions, escape, to_teams

pytestmark = pytest.mark.unit
WJ = WORD_JOINER


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        # Not Markdown-looking: left exactly as typed (no stray backslashes on any client).
        ("[FIRING:2] HighErrorRate", "[FIRING:2] HighErrorRate"),
        ("feature_branch_x", "feature_branch_x"),
        ("C:\\temp\\new", "C:\\temp\\new"),
        ("plain text, 3-4 items. ok", "plain text, 3-4 items. ok"),
        ("2 * 3 = 6, a ~ b, it`s", "2 * 3 = 6, a ~ b, it`s"),
        ("x < y && y > z", "x < y && y > z"),
        ("*note", "*note"),
        ("1.5 GB", "1.5 GB"),
        # Would become formatting: escaped.
        ("2*3*4", "2\\*3\\*4"),
        ("a **bold** claim", "a \\*\\*bold\\*\\* claim"),
        ("snake_case and _x_", "snake_case and \\_x\\_"),
        ("~~gone~~", "\\~\\~gone\\~\\~"),
        ("[link](http://x)", "[link\\](http://x)"),
        ("![img](http://x/i.png)", "![img\\](http://x/i.png)"),
        ("`code` here", "\\`code\\` here"),
        ("back\\*slash*", "back\\\\\\*slash\\*"),
        (
            "- item\n# head\n> quote\n1. one\n+ plus\n* star",
            "\\- item\n\\# head\n\\> quote\n1\\. one\n\\+ plus\n\\* star",
        ),
        ("title\n===\n---\n***", "title\n\\===\n\\---\n\\***"),
        ("```\nfence", "\\```\nfence"),
        ("[ref]: http://x", "\\[ref]: http://x"),
        ("a | b\n--- | ---", "a | b\n\\--- | ---"),
        ("[multi\nline]: http://x", "\\[multi\nline]: http://x"),
        ("line end\\", "line end\\\\"),
        # Tags and entities: a word joiner, so `<at>` cannot match a mention and `<b>` stays text.
        ("<at>Ops</at>", f"<{WJ}at>Ops<{WJ}/at>"),
        ("<b>x</b> &amp; &#60;", f"<{WJ}b>x<{WJ}/b> &{WJ}amp; &{WJ}#60;"),
        ("", ""),
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped


@pytest.mark.parametrize(
    ("raw", "teams"),
    [
        ("# Title\ntext", "**Title**\n\ntext"),
        ("### Sub ###", "**Sub**"),
        ("# C#", "**C#**"),
        ("Title\n===\ntext", "**Title**\n\ntext"),
        ("line one\nline two", "line one\n\nline two"),
        ("- a\n- b\n1. c", "- a\n- b\n1. c"),
        ("| h1 | h2 |\n|---|:--:|\n| 1 | 2 |\n| 3 | 4 |", "- h1: 1, h2: 2\n- h1: 3, h2: 4"),
        ("a | b\n--- | ---\n1 | 2", "- a: 1, b: 2"),
        ("| a \\| b | c |\n|---|---|\n| x | y |", "- a \\| b: x, c: y"),
        ("> quoted\n> more", "quoted\n\nmore"),
        ("```\ncode here\n```", "code here"),
        ("see ![diagram](https://x/y.png)", "see [diagram](https://x/y.png)"),
        ("<p>Hi <strong>there</strong><br/><i>you</i></p>", "Hi **there**\n\n_you_"),
        ('<a href="https://x">x</a> &amp; <at>Bob</at>', "[x](https://x) & <at>Bob</at>"),
        ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
        ("<h2>Head</h2>body", "**Head**\n\nbody"),
        ('<img src="https://x/i.png" alt="chart">', "[chart](https://x/i.png)"),
        ("use <value> and <none>", "use <value> and <none>"),
        ("<b>x</b> AT&T &copy", "**x** AT&T &copy"),
        ("**bold** _it_ [l](https://x)", "**bold** _it_ [l](https://x)"),
        ("", ""),
    ],
)
def test_to_teams(raw: str, teams: str) -> None:
    assert to_teams(raw) == teams


@pytest.mark.parametrize(
    ("text", "teams"),
    [
        ("a|b\n---", "**a|b**"),  # a setext heading in CommonMark: no pipe in the delimiter row
        ("x | y\n|---|---|---|", "x | y\n\n|---|---|---|"),  # cell counts differ
        ("version 1 | 2\n\n---", "version 1 | 2\n\n---"),
    ],
)
def test_to_teams_needs_a_real_table(text: str, teams: str) -> None:
    assert to_teams(text) == teams


def test_to_teams_keeps_every_word() -> None:
    raw = "# A\n| k | v |\n|--|--|\n| x | y |\n<div>z <em>w</em></div>\n```\nq\n```\n<unknown>u</unknown>"
    out = to_teams(raw)
    for word in ["A", "k", "v", "x", "y", "z", "w", "q", "<unknown>u</unknown>"]:
        assert word in out


def test_sender_mentions_are_defused_but_ours_are_kept() -> None:
    ours = to_teams("cc <at>Ops</at>")
    assert ours == "cc <at>Ops</at>"
    theirs = to_teams("cc <at>Ops</at> &lt;at&gt;Sly&lt;/at&gt;", mentions=False)
    assert "<at>" not in theirs and "</at>" not in theirs
    assert theirs.replace(WJ, "") == "cc <at>Ops</at> <at>Sly</at>"
    assert defuse_mentions("<AT>x</AT>") == f"<{WJ}AT>x<{WJ}/AT>"


def test_escaped_text_survives_to_teams() -> None:
    """Builders run every text through to_teams: escaped user data must come out unchanged."""
    for raw in ["# h", "> q", "a|b\n|-|-|", "x\n|-|", "<b>x</b>", "&lt;at&gt;", "![i](u)", "```", "t\n==="]:
        assert to_teams(escape(raw)).replace("\n\n", "\n") == escape(raw)


def test_pathological_input_stays_linear() -> None:
    """Inputs that made the old patterns backtrack for minutes (the suite's timeout guards this)."""
    for text in [
        "<b>" * 20000,
        "<strong " * 20000,
        "<a href='x'>" * 5000,
        "![" * 20000,
        "![a](" * 20000,
        '![a](b "' * 20000,
        "# " + " " * 20000 + "x",
        "\n" * 20000 + "x",
        "*a" * 20000,
    ]:
        assert to_teams(text) is not None
        assert to_teams(escape(text)) is not None


# --- CommonMark oracle -------------------------------------------------------------------------

_ALPHABET = [
    *"*_~`[]()!#>-+=|\\<&;:.1ab  \n",
    "at",
    "amp",
    "http://x",
    "é",
]


def _visible_lines(md: Any, text: str) -> tuple[list[str], list[str]]:
    """The text lines a CommonMark renderer shows, and any token that is formatting."""
    lines: list[str] = []
    formatting: list[str] = []
    for token in md.parse(text):
        if token.type in ("paragraph_open", "paragraph_close"):
            continue
        if token.type != "inline":
            formatting.append(token.type)
            continue
        current = ""
        for child in token.children or []:
            if child.type == "text":
                current += child.content
            elif child.type in ("softbreak", "hardbreak"):
                lines.append(current)
                current = ""
            else:
                formatting.append(child.type)
        lines.append(current)
    shown = "\n".join(lines).replace(WJ, "")
    return [line.strip() for line in shown.split("\n") if line.strip()], formatting


@pytest.mark.parametrize("seed", range(20))
def test_escape_renders_literally_in_commonmark(seed: int) -> None:
    """A CommonMark renderer (markdown-it-py, tables and strikethrough on) shows escaped text as
    typed, with no formatting, both as is and after to_teams."""
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py is a dev-only oracle")
    md = markdown_it.MarkdownIt("commonmark").enable(["strikethrough", "table"])
    rng = random.Random(seed)
    for _ in range(150):
        raw = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 25)))
        expected = [line.strip() for line in raw.split("\n") if line.strip()]
        for out in (escape(raw), to_teams(escape(raw))):
            lines, formatting = _visible_lines(md, out)
            assert (lines, formatting) == (expected, []), f"{raw!r} -> {out!r}"
