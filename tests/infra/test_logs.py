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
from datetime import UTC, datetime, timedelta
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


def test_lines_from_fan_out_and_digest_threads_carry_the_invocation_id(
    host: tuple[DevHost, str], azurite: str, sink: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Application Insights tags a line with its thread's invocation: our worker threads say which."""
    from shared.store import open_store
    from shared.store.models import Channel, Route, Schedule, Subscription

    dev, prefix = host
    store = open_store(connection=azurite, prefix=prefix)
    channels = [unique("fan") for _ in range(3)]
    for channel in channels:
        store.channels.save(Channel(name=channel, url=sink.workflow_url(channel)))
    route = unique("r")
    store.routes.save(Route(name=route, source="alertmanager", auth="bearer", secret=SECRET, channels=channels))
    for channel in channels[:2]:  # two digests due now: run on the timer's worker threads
        store.subscriptions.add(
            Subscription(channel=channel, source="events", target=route, schedule=Schedule(times=["00:00"]),
                         post_empty=True, next_run=datetime.now(UTC) - timedelta(minutes=1))
        )
    caplog.set_level(logging.INFO)

    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"}
    reply = requests.post(f"{dev.url}/api/incoming/{route}", data=payload("alertmanager_firing.json"),
                          headers=headers, timeout=30)
    assert reply.status_code == 202 and len(reply.json()["channels"]) == 3
    dev.invoke("scheduled_connector")

    def invocation_of(prefix: str) -> str:
        [line] = [r for r in caplog.records if r.getMessage().startswith(prefix)]
        found = re.search(r"invocation=([0-9a-f-]{36})", line.getMessage())
        assert found, line.getMessage()
        return found.group(1)

    incoming, timer = invocation_of("incoming_proxy"), invocation_of("scheduled_connector")
    deliveries = [r for r in caplog.records if r.getMessage().startswith("delivery to channel")]
    fanned = [r for r in deliveries if any(f"channel {c}:" in r.getMessage() for c in channels)]
    assert {str(r.threadName).split("_")[0] for r in fanned} >= {"deliver"}  # on the pool's threads
    by_invocation = {getattr(r, "invocation_id", None) for r in fanned}
    assert by_invocation == {incoming, timer}, [(r.getMessage(), getattr(r, "invocation_id", None)) for r in fanned]
