"""Fixtures of the configuration page's tests: a dev host of their own (its public URL is
http://localhost:PORT, which Chromium treats as a secure context, so the page's `Secure` cookie
comes back over plain HTTP), the Open-Meteo stand-in with Berlin, and a bot connected to a sink
channel on it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import start_devhost, unique
from tests.outgoing.conftest import Bot, register_team
from tests.outgoing.helpers import new_token
from tools import stack
from tools.feed_stub import FeedStub


@pytest.fixture(scope="session")
def places(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeedStub]:
    folder: Path = tmp_path_factory.mktemp("configure-feeds")
    with FeedStub(folder=folder) as stub:
        stub.place("Berlin", 52.52, 13.41, country="Germany", timezone="Europe/Berlin")
        stub.place("Bern", 46.95, 7.45, country="Switzerland", timezone="Europe/Zurich")
        yield stub


@pytest.fixture(scope="session")
def page_host(devhost_settings: dict[str, str], places: FeedStub) -> Iterator[str]:
    port = stack.free_port()
    settings = {
        **devhost_settings,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "CONFIGURE_BASE_URL": f"http://localhost:{port}",
        "OPEN_METEO_GEOCODING_URL": places.geocoding_url,
        "OPEN_METEO_FORECAST_URL": places.forecast_url,
    }
    process = start_devhost(settings, port)
    try:
        yield f"http://localhost:{port}"
    finally:
        process.stop()


@pytest.fixture
def page_bot(page_host: str, app_store: Any, sink: Any) -> Bot:
    """A team whose Teams channel is linked to a sink channel, talking to the page's dev host."""
    from shared.store.models import Channel

    team = unique("team")
    token = new_token()
    register_team(app_store, team, [token])
    bot = Bot(page_host.replace("localhost", "127.0.0.1"), team, token, f"19:{unique('ch')}@thread.tacv2")
    app_store.channels.save(
        Channel(
            name=team + "-ch",
            url=sink.workflow_url(team + "-ch"),
            teams_channel_id=bot.channel_id,
            team_key=team,
            team_registration=app_store.teams.get(team).registration,
        )
    )
    return bot


def link_of(card: dict[str, Any], title: str = "Open the configuration page") -> str:
    for action in card.get("actions") or []:
        if action.get("type") == "Action.OpenUrl" and action.get("title") == title:
            return str(action["url"])
    raise AssertionError(f"no {title!r} button in {json.dumps(card)[:400]}")


@dataclass
class Visitor:
    """A browser without the browser: keeps the page's cookie by hand (requests would not send a
    Secure cookie over http) and reads the CSRF token from the page."""

    base: str
    cookie: str = ""

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Cookie": f"tc_configure={self.cookie}"} if self.cookie else {}
        return {**headers, **(extra or {})}

    def get(self, path: str, **params: str) -> requests.Response:
        return requests.get(
            self.base + path, params=params, headers=self._headers(), timeout=15, allow_redirects=False
        )

    def post(
        self, path: str, data: dict[str, Any] | list[tuple[str, str]], **headers: str
    ) -> requests.Response:
        return requests.post(
            self.base + path, data=data, headers=self._headers(headers), timeout=30, allow_redirects=False
        )

    def open(self, link: str) -> requests.Response:
        """GET the link's page, then press Continue: the session cookie is kept."""
        token = link.split("?t=", 1)[1]
        from urllib.parse import unquote

        shown = requests.get(link, timeout=15)
        assert shown.status_code == 200, shown.text[:500]
        answer = requests.post(
            self.base + "/api/configure/open", data={"t": unquote(token)}, timeout=15, allow_redirects=False
        )
        if answer.status_code == 303:
            cookie = SimpleCookie(answer.headers["Set-Cookie"])
            self.cookie = cookie["tc_configure"].value
        return answer

    def csrf(self) -> str:
        page = self.get("/api/configure/channel")
        assert page.status_code == 200, page.text[:500]
        found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert found
        return found.group(1)
