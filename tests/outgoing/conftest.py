"""Fixtures of the outgoing-webhook tests: a registered team and a signed-request client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from tests.conftest import unique
from tests.outgoing.helpers import activity, encode, new_token, sign


@dataclass
class Answer:
    status: int
    body: bytes
    elapsed: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def card(self) -> dict[str, Any]:
        attachments = self.json.get("attachments") or []
        assert attachments, f"no card in {self.body[:300]!r}"
        content: dict[str, Any] = attachments[0]["content"]
        return content

    @property
    def everything(self) -> str:
        """All the text a user could see (reply text and card), for `in` checks."""
        return self.body.decode("utf-8")

    @property
    def card_text(self) -> str:
        return json.dumps(self.card, ensure_ascii=False)


@dataclass
class Bot:
    """One registered team, talking to one dev host from one Teams channel."""

    base_url: str
    team: str
    token: str
    channel_id: str
    extra_tokens: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.base_url}/api/outgoing/{self.team}"

    def post(
        self, body: bytes, authorization: str | None = None, *, team: str | None = None, timeout: float = 15
    ) -> Answer:
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        url = self.url if team is None else f"{self.base_url}/api/outgoing/{team}"
        started = time.monotonic()
        response = requests.post(url, data=body, headers=headers, timeout=timeout)
        return Answer(response.status_code, response.content, time.monotonic() - started)

    def body(self, text: str, **kwargs: Any) -> bytes:
        kwargs.setdefault("channel_id", self.channel_id)
        return encode(activity(text, **kwargs))

    def say(self, text: str, *, token: str | None = None, **kwargs: Any) -> Answer:
        body = self.body(text, **kwargs)
        return self.post(body, sign(token or self.token, body))


def register_team(app_store: Any, team: str, tokens: list[str]) -> None:
    from shared.store.models import Team

    app_store.teams.add(Team(key=team, name=f"Team {team}", tokens=tokens))


@pytest.fixture
def bot(devhost: str, app_store: Any) -> Iterator[Bot]:
    team = unique("team")
    token = new_token()
    register_team(app_store, team, [token])
    yield Bot(devhost, team, token, f"19:{unique('ch')}@thread.tacv2")


@pytest.fixture
def connected(bot: Bot, app_store: Any, sink: Any) -> Bot:
    """`bot` whose Teams channel is already linked to a sink channel (named after the team)."""
    from shared.store.models import Channel

    app_store.channels.save(
        Channel(
            name=bot.team + "-ch",
            url=sink.workflow_url(bot.team),
            teams_channel_id=bot.channel_id,
            team_key=bot.team,
            team_registration=app_store.teams.get(bot.team).registration,
        )
    )
    return bot
