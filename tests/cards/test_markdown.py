"""Teams' Markdown subset: escaping user data and converting what Teams does not render."""

from __future__ import annotations

import pytest

from shared.cards.markdown import escape, to_teams

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("feature_branch_x", "feature\\_branch\\_x"),
        ("2*3*4", "2\\*3\\*4"),
        ("[link](http://x)", "\\[link\\](http://x)"),
        ("back\\slash", "back\\\\slash"),
        ("`code` ~strike~ a|b", "\\`code\\` \\~strike\\~ a\\|b"),
        ("- item\n# head\n> quote\n1. one", "\\- item\n\\# head\n\\> quote\n\\1. one"),
        ("plain text, 3-4 items. ok", "plain text, 3-4 items. ok"),
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
        ("line one\nline two", "line one\n\nline two"),
        ("- a\n- b\n1. c", "- a\n- b\n1. c"),
        ("| h1 | h2 |\n|---|:--:|\n| 1 | 2 |\n| 3 | 4 |", "- h1: 1, h2: 2\n- h1: 3, h2: 4"),
        ("> quoted\n> more", "quoted\n\nmore"),
        ("```\ncode here\n```", "code here"),
        ("see ![diagram](https://x/y.png)", "see [diagram](https://x/y.png)"),
        ("<p>Hi <strong>there</strong><br/><i>you</i></p>", "Hi **there**\n\n_you_"),
        ('<a href="https://x">x</a> &amp; <at>Bob</at>', "[x](https://x) & <at>Bob</at>"),
        ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
        ("**bold** _it_ [l](https://x)", "**bold** _it_ [l](https://x)"),
        ("", ""),
    ],
)
def test_to_teams(raw: str, teams: str) -> None:
    assert to_teams(raw) == teams


def test_to_teams_keeps_every_word() -> None:
    raw = "# A\n| k | v |\n|--|--|\n| x | y |\n<div>z <em>w</em></div>\n```\nq\n```"
    out = to_teams(raw)
    for word in ["A", "k", "v", "x", "y", "z", "w", "q"]:
        assert word in out
