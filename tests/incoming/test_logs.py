"""What the incoming path writes to logs and replies never holds a secret (peers.md §3, pain point 10).

In process against the real store and sink: the route's sender secret, a wrong credential a sender
presented, and the channel's webhook URL must not appear in any log line or reply, also when Teams
fails and when our own code breaks.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from shared.delivery.ratelimit import LIMITER
from shared.incoming import pipeline
from tests.conftest import unique
from tests.incoming.helpers import payload

SECRET = "Sec" + "ret-" + "5b7e21c9d4"
PRESENTED = "Wrong" + "-" + "8c1f0a"


def test_no_secret_in_logs_or_replies(
    store: Any, sink: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from shared.incoming.sources import alertmanager
    from shared.store.models import Channel, Route

    monkeypatch.setenv("DELIVERY_EXTRA_ALLOWED_URLS", sink.url + "/")
    monkeypatch.setenv("DELIVERY_BUDGET_SECONDS", "1")
    LIMITER.reset()
    sink.reset()
    sink.set_limits(windows=[])
    channel, route = unique("ch"), unique("r")
    url = sink.workflow_url(channel)
    store.channels.save(Channel(name=channel, url=url))
    store.routes.save(Route(name=route, source="alertmanager", auth="bearer", secret=SECRET, channels=[channel]))
    body = payload("alertmanager_firing.json")
    good = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"}
    caplog.set_level(logging.DEBUG)

    replies = [pipeline.handle(route, {**good, "Authorization": f"Bearer {PRESENTED}"}, body, store=store)]
    sink.fault(channel, count=20, status=500)  # Teams fails: retried, then the outbox
    replies.append(pipeline.handle(route, good, body, store=store))
    assert [r.status for r in replies] == [401, 202]
    assert replies[1].json()["channels"] == ["queued"]

    def broken(self: Any, n: Any, req: Any, ctx: Any) -> Any:
        raise RuntimeError(f"bug while holding {SECRET} for {url}")

    monkeypatch.setattr(alertmanager.AlertmanagerSource, "build", broken)
    replies.append(pipeline.handle(route, good, body.replace(b"firing", b"resolved"), store=store))
    assert replies[2].status == 500 and replies[2].json() == {"error": "internal error"}
    assert "RuntimeError at test_logs.py" in caplog.text  # enough to find the bug

    assert "delivery to channel" in caplog.text and "queued" in caplog.text
    sink_path = url.split("://", 1)[1]
    for text in [caplog.text, *(r.body.decode() for r in replies), json.dumps(replies[0].headers)]:
        assert SECRET not in text and PRESENTED not in text
        assert sink_path not in text
    LIMITER.reset()
    sink.reset()


def test_a_route_name_from_the_url_cannot_forge_or_flood_log_lines(
    store: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shared.incoming.pipeline")
    name = "alerts\n2026-12-01 INFO incoming admin: 202 in 1.0 ms" + "x" * 10_000
    reply = pipeline.handle(name, {"content-type": "application/json"}, b"{}", store=store)
    assert reply.status == 401  # an unknown route answers as a known one to a wrong credential
    lines = [record.getMessage() for record in caplog.records if record.name == "shared.incoming.pipeline"]
    assert lines, "the request was logged"
    for line in lines:
        assert "\n" not in line and len(line) < 200, line
