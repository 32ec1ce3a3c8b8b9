"""The official renderer in headless Chromium, started once per session (tools/render)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import shared_path
from tests.outgoing.conftest import bot  # noqa: F401  (the bot-reply test talks to the dev host as a team)


@pytest.fixture(scope="session")
def renderer() -> Iterator[Any]:
    from tools import render

    reason = render.missing()
    if reason:
        pytest.skip(f"the card renderer cannot run: {reason}")
    shared_path("hostconfig", "microsoft-teams-light.json")  # skips when ../shared is absent
    with render.Renderer() as started:
        yield started
