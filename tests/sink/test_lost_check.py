"""The suite-wide lost check (tests/conftest.py): a test whose posts the session sink lost over the Flow bot
budget (202, then never shown) fails at teardown with the reasons, unless marked `lost_ok`; the display
check and the lost check are separate, and each marker turns off only its own.

Like the display check's own test, it runs small tests in a child pytest.
"""

from __future__ import annotations

import os
import subprocess

import pytest
import requests

from tests.sink.conftest import card, envelope
from tools import stack
from tools.teams_sink import TeamsSink

SELFTEST = "SINK_LOST_CHECK_SELFTEST"
in_child = pytest.mark.skipif(os.environ.get(SELFTEST) != "1", reason="run in a child pytest by the test below")


def _over_budget(sink: TeamsSink, channel: str, body: object | None = None) -> None:
    sink.set_budget("1/300", connection=channel)
    for _ in range(2):
        requests.post(sink.workflow_url(channel, connection=channel), json=body or envelope(), timeout=5)


@in_child
def test_child_loses_a_post(sink: TeamsSink) -> None:
    _over_budget(sink, "lostself")
    sink.reset()  # as many fixtures do in their teardown: the check must still see it


@in_child
@pytest.mark.lost_ok
def test_child_loses_one_on_purpose(sink: TeamsSink) -> None:
    _over_budget(sink, "lostpurpose")
    sink.reset()


@in_child
@pytest.mark.undisplayed_ok
def test_child_undisplayed_ok_does_not_cover_a_loss(sink: TeamsSink) -> None:
    _over_budget(sink, "lostmixed", envelope(card("1.5")))
    sink.reset()


@in_child
def test_child_stays_within_the_budget(sink: TeamsSink) -> None:
    requests.post(sink.workflow_url("lostnone"), json=envelope(), timeout=5)


@pytest.mark.slow
def test_a_test_whose_post_was_lost_fails_with_the_reason() -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("TEAMS_SINK_MAX_VERSION",)}
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
    assert "ERROR at teardown of test_child_loses_a_post" in out, out
    assert "ERROR at teardown of test_child_undisplayed_ok_does_not_cover_a_loss" in out, out
    assert out.count("ERROR tests/") == 2 and "FAILED" not in out, out  # the other two passed
    assert "Teams lost 1 post(s) this test sent through the sink (answered 202, never shown)" in out
    assert (
        "#lostself attachment 0: over the Flow bot budget of 1/300 s for connection 'lostself'" in out
    ), out
    assert "mark the test @pytest.mark.lost_ok if losing them is what it tests" in out
    assert "Teams would not display" not in out  # the 1.5 card that reached the channel is undisplayed_ok
