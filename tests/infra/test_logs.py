"""Operations: every invocation logs its id with the route or team, and no secret reaches the logs.

The dev host runs in this process here (its subprocess fixture discards output), over real HTTP,
with the real store (Azurite) and the Teams sink.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import unique
from tests.incoming.helpers import payload
from tools.devhost import DevHost

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Log" + "sec-" + "5e2a9d0c7f"
WRONG = "Wrong" + "Value-1b3d"
INVOCATION = r"invocation=[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def host(azurite: str, sink: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[DevHost, str]]:
    monkeypatch.setattr(os, "environ", dict(os.environ))  # the host applies its settings here
    monkeypatch.setattr(sys, "path", list(sys.path))
    prefix = unique("lg")
    settings = {
        "AzureWebJobsStorage": azurite,
        "TEAMS_STORAGE": azurite,
        "TABLE_PREFIX": prefix,
        "DELIVERY_EXTRA_ALLOWED_URLS": sink.url + "/",
        "DIGEST_SCHEDULE": "0 0 0 1 1 *",
        "DEVHOST_FUNCTION_KEY": "",
        "DEVHOST_MASTER_KEY": "",
    }
    dev = DevHost(ROOT, settings, timers=False, access_log=None)
    dev.serve("127.0.0.1", 0)
    try:
        yield dev, prefix
    finally:
        dev.stop()


def test_invocations_log_their_id_and_route_or_team_but_no_secret(
    host: tuple[DevHost, str], azurite: str, sink: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from shared.store import open_store
    from shared.store.models import Channel, Route

    dev, prefix = host
    store = open_store(connection=azurite, prefix=prefix)
    channel = unique("ch")
    webhook = sink.workflow_url(channel)
    store.channels.save(Channel(name=channel, url=webhook))
    route = unique("r")
    store.routes.save(Route(name=route, source="alertmanager", auth="bearer", secret=SECRET, channels=[channel]))
    caplog.set_level(logging.INFO)

    url = f"{dev.url}/api/incoming/{route}"
    body = payload("alertmanager_firing.json")
    headers = {"Content-Type": "application/json"}
    assert requests.post(url, data=body, headers={**headers, "Authorization": f"Bearer {WRONG}"}, timeout=30).status_code == 401
    assert requests.post(url, data=body, headers={**headers, "Authorization": f"Bearer {SECRET}"}, timeout=30).status_code == 202
    reply = requests.post(f"{dev.url}/api/outgoing/contoso", data=b'{"type": "message"}',
                          headers={**headers, "Authorization": f"HMAC {WRONG}"}, timeout=30)
    assert reply.status_code in {401, 403, 404}
    dev.invoke("scheduled_connector")

    lines = [r.getMessage() for r in caplog.records]
    text = "\n".join(lines)
    assert re.search(rf"incoming_proxy {INVOCATION} route='{route}' status=401", text), text
    assert re.search(rf"incoming_proxy {INVOCATION} route='{route}' status=202", text), text
    assert re.search(rf"outgoing_handler {INVOCATION} team='contoso' status={reply.status_code}", text), text
    assert re.search(rf"scheduled_connector {INVOCATION} ", text), text
    for secret in (SECRET, WRONG, webhook, webhook.split("://", 1)[1]):
        assert secret not in text
