"""The request pipeline in process with an in-memory gate: ordering, deadline, failures."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, NoReturn

import pytest

from shared.outgoing import handler
from shared.outgoing.commands import Commands, Context, registry
from shared.outgoing.handler import OutgoingBot
from shared.outgoing.replies import Answer, render_text
from shared.store.errors import StoreUnavailable
from tests.outgoing.helpers import COMMANDS, activity, encode, new_token, sign, stale

pytestmark = pytest.mark.unit


def no_store() -> NoReturn:
    """The store factory of a bot whose commands never reach the store here."""
    raise AssertionError("this code path must not open the store")


class MemoryGate:
    def __init__(self, token: str, delay: float = 0.0, down: bool = False) -> None:
        self.token = token
        self.delay = delay
        self.down = down
        self.claimed: set[str] = set()
        self.completed: list[str] = []
        self.released: list[str] = []
        self.lookups = 0

    def registration(self, team: str) -> handler.Registration | None:
        self.lookups += 1
        if self.down:
            raise StoreUnavailable("table service unreachable")
        time.sleep(self.delay)
        if team != "team":
            return None
        return handler.Registration([self.token], "r1", "19:team@thread.tacv2", "tenant-1")

    def bind(self, team: str, teams_team_id: str, tenant_id: str | None) -> handler.Registration | None:
        return self.registration(team)

    def claim(self, key: str, ttl_seconds: int) -> bool:
        if key in self.claimed:
            return False
        self.claimed.add(key)
        return True

    def complete(self, key: str) -> None:
        self.completed.append(key)

    def release(self, key: str) -> None:
        self.released.append(key)
        self.claimed.discard(key)


def make(delay: float = 0.0, down: bool = False, deadline: float = 2.0) -> tuple[OutgoingBot, MemoryGate]:
    token = new_token()
    gate = MemoryGate(token, delay=delay, down=down)
    return OutgoingBot(gate, no_store, deadline_seconds=deadline), gate


def signed(gate: MemoryGate, text: str = "help", **kwargs: Any) -> tuple[str, bytes]:
    body = encode(activity(text, **kwargs))
    return sign(gate.token, body), body


def test_help_and_bookkeeping() -> None:
    bot, gate = make()
    header, body = signed(gate)
    answer = bot.handle("team", header, body)
    assert answer.status == 200
    assert json.loads(answer.body)["text"] == "What I can do"
    time.sleep(0.05)
    assert len(gate.completed) == 1 and not gate.released


def test_size_and_empty_checks_come_before_the_store() -> None:
    bot, gate = make(down=True)
    assert bot.handle("team", None, b"x" * (1024 * 1024 + 1)).status == 413
    assert bot.handle("team", None, b"{}", content_length=str(2 * 1024 * 1024)).status == 413
    assert bot.handle("team", None, b"  ").status == 400
    assert gate.lookups == 0


def test_unknown_team_still_costs_one_hmac_and_is_401() -> None:
    bot, gate = make()
    header, body = signed(gate)
    assert bot.handle("other", header, body).status == 401
    assert bot.handle("x" * 65, header, body).status == 401


def test_slow_store_answers_still_working_by_the_deadline() -> None:
    bot, gate = make(delay=0.6, deadline=0.2)
    header, body = signed(gate)
    started = time.monotonic()
    answer = bot.handle("team", header, body)
    assert time.monotonic() - started < 0.4
    assert answer.status == 200
    assert "Still working" in json.loads(answer.body)["text"]
    bot.executor().shutdown(wait=True)  # the worker must not outlive the test


def test_store_down_answers_unavailable() -> None:
    bot, gate = make(down=True)
    header, body = signed(gate)
    answer = bot.handle("team", header, body)
    assert answer.status == 200
    assert "can't reach my storage" in json.loads(answer.body)["text"]


def test_a_crashing_listener_is_a_200_message_and_releases_the_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    bot, gate = make()

    def boom(ctx: Context) -> Answer:
        raise RuntimeError("secret detail that must not leak")

    monkeypatch.setattr(registry, "dispatch", boom)
    header, body = signed(gate)
    answer = bot.handle("team", header, body)
    assert answer.status == 200
    assert b"secret detail" not in answer.body
    assert "went wrong" in json.loads(answer.body)["text"]
    assert gate.released and not gate.claimed


def test_late_reply_is_posted_when_the_channel_is_known(monkeypatch: pytest.MonkeyPatch) -> None:
    bot, gate = make(deadline=0.2)
    posted: list[tuple[str, Answer]] = []
    done = threading.Event()

    def slow(ctx: Context) -> Answer:
        ctx.on_channel("ops")
        time.sleep(0.5)
        return Answer("Late answer")

    def post(channel: str, answer: Answer) -> None:
        posted.append((channel, answer))
        done.set()

    monkeypatch.setattr(registry, "dispatch", slow)
    monkeypatch.setattr(bot, "_post_late", post)
    header, body = signed(gate)
    answer = bot.handle("team", header, body)
    assert "post the answer in this channel" in json.loads(answer.body)["text"]
    assert done.wait(3)
    assert posted[0][0] == "ops" and posted[0][1].title == "Late answer"


def test_non_message_activity_gets_an_empty_reply() -> None:
    bot, gate = make()
    header, body = signed(gate, "", type="typing")
    assert bot.handle("team", header, body).body == handler.EMPTY_REPLY.body


def test_registry_is_bolt_style() -> None:
    commands = Commands()

    @commands.command("ping", usage="ping", summary="answers pong", aliases=("p",))
    def ping(ctx: Context) -> Answer:
        return Answer("pong")

    assert commands.get("PING") is commands.get("p")
    assert commands.suggest("pnig") == ["ping"]


def test_every_command_has_a_help_line() -> None:
    assert [entry.name for entry in registry.entries()] == list(COMMANDS)
    assert registry.get("list") is registry.get("subscriptions")
    assert all(entry.summary and entry.usage for entry in registry.entries())


def test_plain_text_fallback_has_no_markdown() -> None:
    answer = Answer("Title", facts=[("Id", "**s1**")])
    answer.add("a \\* b")
    assert render_text(answer) == "Title\n\nId: s1\n\na * b"


def test_pasted_url_is_not_echoed_as_an_unknown_command() -> None:
    bot, gate = make()
    header, body = signed(gate, "https://prod-01.westeurope.logic.azure.com/workflows/abc?sig=topsecret")
    answer = bot.handle("team", header, body)
    assert answer.status == 200
    assert b"logic.azure.com" not in answer.body and b"topsecret" not in answer.body


def test_replay_window_and_deadline_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    token = new_token()
    bot = OutgoingBot(MemoryGate(token), no_store)
    monkeypatch.delenv("OUTGOING_DEADLINE_SECONDS", raising=False)
    monkeypatch.delenv("OUTGOING_REPLAY_WINDOW_SECONDS", raising=False)
    assert bot._deadline() == 4.0 and bot._window() == 300.0
    body = encode(activity("help", timestamp=stale(2)))
    assert bot.handle("team", sign(token, body), body).status == 200
    monkeypatch.setenv("OUTGOING_REPLAY_WINDOW_SECONDS", "60")
    body = encode(activity("help", timestamp=stale(2)))
    answer = bot.handle("team", sign(token, body), body)
    assert answer.status == 401 and b"timestamp" in answer.body


def test_failures_are_logged_without_the_exception_text(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Exception texts quote their input (pydantic's do), which may be a token or a webhook URL."""
    bot, gate = make()

    url = "https://prod-01.westeurope.logic.azure.com/x?sig=" + "s3cr3t"

    def boom(ctx: Context) -> Answer:
        raise ValueError(f"input_value={url!r}")

    monkeypatch.setattr(registry, "dispatch", boom)
    header, body = signed(gate)
    with caplog.at_level("INFO", logger="shared.outgoing.handler"):
        bot.handle("team", header, body)
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "ValueError" in logged and "boom" in logged
    assert "s3cr3t" not in logged
    assert all(r.exc_info is None for r in caplog.records)
