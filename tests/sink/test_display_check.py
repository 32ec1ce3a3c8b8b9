"""The suite-wide display check (tests/conftest.py): a test that posts, through the session sink, what
Teams would not display fails at teardown with the reasons, unless marked `undisplayed_ok`.

The check is a fixture of the suite itself, so it is tested by running two small tests in a child pytest.
"""

from __future__ import annotations

import os
import subprocess

import pytest
import requests

from tests.sink.conftest import card, envelope
from tools import stack
from tools.teams_sink import TeamsSink

SELFTEST = "SINK_DISPLAY_CHECK_SELFTEST"
in_child = pytest.mark.skipif(os.environ.get(SELFTEST) != "1", reason="run in a child pytest by the test below")


@in_child
def test_child_posts_a_card_teams_would_not_display(sink: TeamsSink) -> None:
    requests.post(sink.workflow_url("selftest"), json=envelope(card("1.5")), timeout=5)
    requests.post(sink.workflow_url("selftest"), json=envelope(card("1.4")), timeout=5)
    sink.reset()  # as many fixtures do in their teardown: the check must still see it


@in_child
@pytest.mark.undisplayed_ok
def test_child_posts_it_on_purpose(sink: TeamsSink) -> None:
    requests.post(sink.workflow_url("selftest"), json={"text": "not a card"}, timeout=5)


@in_child
def test_child_posts_only_displayable_cards(sink: TeamsSink) -> None:
    requests.post(sink.workflow_url("selftest"), json=envelope(card("1.4")), timeout=5)


@pytest.mark.slow
def test_a_test_that_posted_an_undisplayable_card_fails_with_the_reason() -> None:
    env = {key: value for key, value in os.environ.items() if key != "TEAMS_SINK_MAX_VERSION"}
    env[SELFTEST] = "1"
    result = subprocess.run(
        [stack.python_exe(), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-k", "child", __file__],
        env=env,
        cwd=str(stack.ROOT),
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = result.stdout
    assert result.returncode == 1, out
    assert "ERROR at teardown of test_child_posts_a_card_teams_would_not_display" in out, out
    assert out.count("ERROR tests/") == 1 and "FAILED" not in out, out  # the other two passed
    assert "Teams would not display 1 post(s) this test sent through the sink" in out
    assert "#selftest attachment 0 (workflow): attachments[0].content: card version '1.5' is above 1.4" in out
