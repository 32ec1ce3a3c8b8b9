"""Card text comes from senders: `escape` and `to_teams` stay linear on pathological input.

The old table-delimiter pattern had two `[ \\t]*` meeting around an optional `|`: a line of blanks
with a pipe took quadratic time (minutes for a few hundred kilobytes).
"""

from __future__ import annotations

import pytest

from shared.cards.markdown import escape, to_teams

pytestmark = [pytest.mark.unit, pytest.mark.timeout(20)]

BLANKS = " " * 300_000


def test_escape_of_blanks_before_a_pipe() -> None:
    text = BLANKS + "|x\n-"
    assert escape(text) == BLANKS + "|x\n\\-"


def test_escape_and_to_teams_of_a_delimiter_row_with_trailing_blanks() -> None:
    text = "a|b\n|---" + BLANKS + "x"
    assert escape(text) == text
    assert to_teams(text).endswith("x") and "---" in to_teams(text)


def test_tables_still_convert() -> None:
    assert to_teams("a | b\n|---|:-:|\n1 | 2") == "- a: 1, b: 2"
    assert to_teams("a | b\n --- | --- \n1 | 2") == "- a: 1, b: 2"
    assert escape("|---|") == "|\\---|"
