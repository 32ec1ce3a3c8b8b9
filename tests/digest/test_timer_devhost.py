"""The scheduled_connector function through the dev host: real HTTP trigger of the timer."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.conftest import unique
from tests.digest.conftest import make_channel, make_sub
from tools import feed_stub
from tools.feed_stub import FeedStub


def test_timer_via_devhost_posts_due_digests(
    devhost: str, app_store: Any, sink: Any, feeds: FeedStub
) -> None:
    now = datetime.now(UTC)
    ch = make_channel(app_store, sink)
    events = make_sub(app_store, ch, "events", "alerts", due=now - timedelta(minutes=2))
    app_store.events.append(events.id, {"title": "Queue backlog", "status": "firing"})
    app_store.events.append(events.id, {"title": "Queue backlog", "status": "resolved"})
    url = feeds.put(
        unique("dev"),
        feed_stub.rss(
            "Dev blog",
            [
                {"title": "Hello", "link": "https://example.org/hello", "guid": "g1"},
            ],
        ),
    )
    rss = make_sub(app_store, ch, "rss", url, due=now - timedelta(minutes=1))
    later = make_sub(app_store, ch, "events", "later", due=now + timedelta(hours=2), post_empty=True)

    response = requests.post(devhost + "/admin/functions/scheduled_connector", json={}, timeout=10)
    assert response.status_code == 202
    messages = sink.wait_for_messages(ch, 2, timeout=20)
    texts = " ".join(str(m) for m in messages)
    assert "2 events: 1 resolved, 1 still firing" in texts and "Hello" in texts

    def committed() -> bool:  # the run commits after posting; wait for it
        return all(app_store.subscriptions.get(s.id).last_run is not None for s in (events, rss))

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not committed():
        time.sleep(0.1)
    for sub in (events, rss):
        saved = app_store.subscriptions.get(sub.id)
        assert saved.last_run is not None and saved.last_error is None
        assert saved.next_run > now and "_pending" not in saved.cursor
    assert app_store.events.pending(events.id, 10) == []
    assert app_store.subscriptions.get(later.id).last_run is None

    # A second trigger right away finds nothing due: no duplicates.
    assert (
        requests.post(devhost + "/admin/functions/scheduled_connector", json={}, timeout=10).status_code
        == 202
    )
    time.sleep(1.5)
    assert len(sink.messages(ch)) == 2


def test_admin_trigger_rejects_bad_body(devhost: str) -> None:
    response = requests.post(devhost + "/admin/functions/scheduled_connector", data="[1,", timeout=10)
    assert response.status_code == 400 and "error" in response.json()


@pytest.mark.unit
def test_function_passes_past_due_and_schedule_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    from pathlib import Path
    from types import SimpleNamespace

    from azure.functions.timer import TimerRequest

    import scheduled_connector
    from shared.digest import run as digest

    seen: list[bool] = []

    def fake_run(**kwargs: Any) -> digest.RunStats:
        seen.append(kwargs["past_due"])
        return digest.RunStats(past_due=kwargs["past_due"])

    monkeypatch.setattr(digest, "run", fake_run)
    context = SimpleNamespace(invocation_id="test")
    scheduled_connector.main(TimerRequest(past_due=True), context)  # type: ignore[arg-type]
    scheduled_connector.main(TimerRequest(past_due=False), context)  # type: ignore[arg-type]
    assert seen == [True, False]
    binding = json.loads((Path(scheduled_connector.__file__).parent / "function.json").read_text())[
        "bindings"
    ][0]
    assert binding["type"] == "timerTrigger" and binding["schedule"] == "%DIGEST_SCHEDULE%"
    assert binding["useMonitor"] is True
