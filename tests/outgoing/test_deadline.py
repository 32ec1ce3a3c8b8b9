"""The 5-second rule: a slow or absent store still gets Teams an answer in time, never a 5xx.

A second dev host reaches Azurite through a proxy that delays traffic on purpose; a third one
points at a closed port.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import start_devhost, unique
from tests.outgoing.conftest import Bot, register_team
from tests.outgoing.helpers import new_token
from tests.outgoing.slowproxy import SlowProxy
from tools import stack

DEADLINE = 1.5

pytestmark = pytest.mark.slow


def _via_port(connection: str, port: int) -> str:
    return re.sub(r"(TableEndpoint=http://127\.0\.0\.1:)\d+", rf"\g<1>{port}", connection)


@pytest.fixture(scope="module")
def proxy(azurite: str) -> Iterator[SlowProxy]:
    table_port = int(re.search(r"TableEndpoint=http://127\.0\.0\.1:(\d+)", azurite).group(1))  # type: ignore[union-attr]
    server = SlowProxy(table_port).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def slow_host(devhost_settings: dict[str, str], proxy: SlowProxy) -> Iterator[str]:
    settings = dict(devhost_settings)
    settings["TEAMS_STORAGE"] = _via_port(settings["TEAMS_STORAGE"], proxy.port)
    settings["OUTGOING_DEADLINE_SECONDS"] = str(DEADLINE)
    port = stack.free_port()
    process = start_devhost(settings, port)
    yield f"http://127.0.0.1:{port}"
    process.stop()


@pytest.fixture(scope="module")
def down_host(devhost_settings: dict[str, str]) -> Iterator[str]:
    settings = dict(devhost_settings)
    settings["TEAMS_STORAGE"] = _via_port(settings["TEAMS_STORAGE"], stack.free_port())  # nobody listens
    settings["OUTGOING_DEADLINE_SECONDS"] = str(DEADLINE)
    port = stack.free_port()
    process = start_devhost(settings, port)
    yield f"http://127.0.0.1:{port}"
    process.stop()


def _connected_bot(base_url: str, app_store: Any, sink: Any) -> Bot:
    from shared.store.models import Channel

    team = unique("team")
    token = new_token()
    register_team(app_store, team, [token])
    bot = Bot(base_url, team, token, f"19:{unique('ch')}@thread.tacv2")
    app_store.channels.save(
        Channel(
            name=team + "-ch",
            url=sink.workflow_url(team),
            teams_channel_id=bot.channel_id,
            team_key=team,
            team_registration=app_store.teams.get(team).registration,
        )
    )
    return bot


def test_slow_store_answers_in_time_and_posts_the_result_later(
    slow_host: str, proxy: SlowProxy, app_store: Any, sink: Any
) -> None:
    bot = _connected_bot(slow_host, app_store, sink)
    proxy.delay = 0.0
    warm = bot.say("status")  # imports, tables and connections ready: the test is about the store
    assert warm.status == 200 and warm.json["text"] == "Status", warm.body

    proxy.delay = 0.7
    try:
        answer = bot.say("status")
        assert answer.status == 200, answer.body
        assert answer.elapsed < DEADLINE + 0.5
        assert "Still working" in answer.json["text"]
        messages = sink.wait_for_messages(bot.team, 1, timeout=20)
    finally:
        proxy.delay = 0.0
    posted = json.dumps(messages[-1], ensure_ascii=False)
    assert "Status" in posted and bot.team + "-ch" in posted


def test_slow_store_without_a_link_still_answers_in_time(
    slow_host: str, proxy: SlowProxy, app_store: Any
) -> None:
    team = unique("team")
    token = new_token()
    register_team(app_store, team, [token])
    bot = Bot(slow_host, team, token, f"19:{unique('ch')}@thread.tacv2")
    proxy.delay = 1.0
    try:
        answer = bot.say("subscriptions")
    finally:
        proxy.delay = 0.0
    assert answer.status == 200
    assert answer.elapsed < DEADLINE + 0.5
    assert "Still working" in answer.json["text"]
    assert "no Workflows link" in answer.json["text"]  # so nobody waits for a post that never comes


def test_store_down_answers_temporarily_unavailable(down_host: str) -> None:
    bot = Bot(down_host, unique("team"), new_token(), "19:x@thread.tacv2")
    for text in ("help", "status"):
        answer = bot.say(text)
        assert answer.status == 200, answer.body
        assert answer.elapsed < DEADLINE + 0.5
        assert "can't reach my storage" in answer.json["text"]


def test_size_and_empty_checks_need_no_store(down_host: str) -> None:
    bot = Bot(down_host, unique("team"), new_token(), "19:x@thread.tacv2")
    started = time.monotonic()
    assert bot.post(b"", None).status == 400
    assert bot.post(b"x" * (1024 * 1024 + 1), None).status == 413
    assert time.monotonic() - started < 2
