"""Datadog monitor messages come from senders: the patterns over them stay linear (review finding).

`^\\s*@webhook-\\S+\\s*$` under MULTILINE let `\\s*` run across line ends from every line start (20 s
for 160 KB of blank lines), and `[A-Za-z0-9.-]*datadoghq\\.` backtracked over every repeat.
"""

from __future__ import annotations

import pytest

from shared.incoming.sources.datadog import MONITOR_LINK, clean_message

pytestmark = [pytest.mark.unit, pytest.mark.timeout(20)]


def test_blank_lines_before_a_mention_cost_what_one_line_does() -> None:
    text = "a" + " \n" * 500_000 + "x"
    cleaned = clean_message(text)
    assert cleaned.startswith("a") and cleaned.endswith("x")


def test_repeated_hosts_in_a_link_are_not_backtracked() -> None:
    assert MONITOR_LINK.findall("(https://" + "datadoghq." * 100_000) == []


def test_links_and_mentions_still_found() -> None:
    text = "Disk full\n  @webhook-teams  \n[[Monitor Status](https://app.datadoghq.eu/monitors/42?from_ts=1)]"
    assert MONITOR_LINK.findall(text) == ["https://app.datadoghq.eu/monitors/42?from_ts=1"]
    assert clean_message(text) == "Disk full"
