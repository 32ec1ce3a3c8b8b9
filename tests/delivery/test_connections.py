"""Connections' budgets through the real store and sink: bursts end combined, within budget, nothing lost."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

import shared.delivery as delivery
from shared.delivery import budget
from shared.delivery.sweep import sweep
from shared.store import behind
from shared.store.models import Channel, Route
from tests.conftest import unique
from tests.delivery.conftest import card, secret_url


def over_budget(times: list[float], count: int, seconds: float) -> int:
    """The most posts beyond `count` that arrived in any `seconds` (0: the budget held at the sink)."""
    times = sorted(times)
    return max((sum(1 for u in times[i:] if u < t + seconds) - count for i, t in enumerate(times)), default=0)


def arrivals(sink: Any, *channels: str) -> list[float]:
    return [float(r["ts"]) for ch in channels for r in sink.records(ch)]


def text_of(sink: Any, channel: str) -> str:
    return json.dumps(sink.messages(channel), ensure_ascii=False)


@pytest.fixture
def tight(monkeypatch: pytest.MonkeyPatch, env: None) -> Iterator[None]:
    monkeypatch.setenv("DELIVERY_BUDGET_WORKFLOWS", "4/3")
    budget.reset()
    yield
    budget.reset()


def add_channel(store: Any, sink: Any, connection: str = "default") -> str:
    name = unique("ch")
    store.channels.add(Channel(name=name, url=secret_url(sink, name), connection=connection))
    return name


def test_burst_to_one_channel_ends_as_few_combined_posts(store: Any, sink: Any, tight: None) -> None:
    channel = add_channel(store, sink)
    titles = [f"Alert number {i} on host-{i}" for i in range(30)]
    results = [delivery.deliver(store, channel, card(t), budget_seconds=0.5) for t in titles]
    states = [r.state for r in results]
    assert states.count("accepted") == 4 and states.count("queued") == 26
    stats = sweep(store, budget_seconds=20)
    assert store.outbox.backlog() == 0, stats
    # Slots free one by one in a sliding window: the first one carries what waits, combined (a
    # round with more room would post some on their own and combine the rest in its last slot).
    assert stats.sent + stats.combined == 26 and stats.combined >= 20, stats
    got = text_of(sink, channel)
    assert all(t in got for t in titles)  # every original's title reached the channel
    posts = len(sink.messages(channel))
    assert posts == 4 + stats.sent + stats.combined_posts < 10
    assert f"{stats.combined} updates" in got
    assert over_budget(arrivals(sink, channel), 4, 3.0) == 0
    # Each original is accepted once: a second sweep sends nothing again.
    before = len(sink.messages(channel))
    assert sweep(store, budget_seconds=2).sent == 0 and len(sink.messages(channel)) == before
    row = store.budgets.read("default")
    assert row is not None and (row.combined, row.posts) == (stats.combined, posts)
    assert row.short == 1 and row.hold_until == 0  # one run found it short; the hold ended with it


def test_a_combined_card_stands_for_its_parts_in_their_records(store: Any, sink: Any, tight: None) -> None:
    from shared.delivery.records import PartRecords, is_accepted

    channel = add_channel(store, sink)
    for i in range(4):
        delivery.deliver(store, channel, card(f"fill {i}"), budget_seconds=0.2)
    keys = [f"k{i}" for i in range(6)]
    for key in keys:
        assert delivery.deliver(store, channel, card(f"waiting {key}"), key=key, budget_seconds=0.2).state == "queued"
    sweep(store, budget_seconds=15)
    for key in keys:
        assert is_accepted(PartRecords(store, channel, key).find("1/1"))
        # the sender's retry under the same key posts nothing
        assert delivery.deliver(store, channel, card(f"waiting {key}"), key=key).detail == "accepted"
    assert text_of(sink, channel).count("waiting k3") == 1


def test_two_connections_are_independent(store: Any, sink: Any, tight: None) -> None:
    first = add_channel(store, sink, "owner-a")
    second = add_channel(store, sink, "owner-b")
    same_owner = add_channel(store, sink, "owner-a")
    for i in range(4):
        assert delivery.deliver(store, first, card(f"a {i}"), budget_seconds=0.2).ok
    assert delivery.deliver(store, same_owner, card("a shares it"), budget_seconds=0.2).state == "queued"
    for i in range(4):
        assert delivery.deliver(store, second, card(f"b {i}"), budget_seconds=0.2).ok
    assert over_budget(arrivals(sink, first, same_owner), 4, 3.0) == 0


def test_fair_shares_keep_a_quiet_channel_going(store: Any, sink: Any, tight: None) -> None:
    noisy = add_channel(store, sink)
    quiet = add_channel(store, sink)
    for i in range(4):
        delivery.deliver(store, noisy, card(f"fill {i}"), budget_seconds=0.2)
    for i in range(40):
        delivery.deliver(store, noisy, card(f"noisy {i}"), budget_seconds=0.2, origin="loud-route")
    delivery.deliver(store, quiet, card("quiet one"), budget_seconds=0.2, origin="calm-route")
    stats = sweep(store, budget_seconds=15)
    assert store.outbox.backlog() == 0, stats
    assert "quiet one" in text_of(sink, quiet)
    noisy_text = text_of(sink, noisy)
    assert all(f"noisy {i}" in noisy_text for i in range(40))
    assert over_budget(arrivals(sink, noisy, quiet), 4, 3.0) == 0


@pytest.mark.parametrize("origin", ["digest", "bot"])
def test_a_digest_is_never_combined_and_goes_first(store: Any, sink: Any, tight: None, origin: str) -> None:
    channel = add_channel(store, sink)
    for i in range(4):
        delivery.deliver(store, channel, card(f"fill {i}"), budget_seconds=0.2)
    for i in range(10):
        delivery.deliver(store, channel, card(f"alert {i}"), budget_seconds=0.2)
    digest = delivery.deliver(store, channel, card("Morning digest"), budget_seconds=0.2, origin=origin)
    assert digest.state == "queued"
    sweep(store, budget_seconds=15)
    messages = sink.messages(channel)
    digests = [m for m in messages if "Morning digest" in json.dumps(m)]
    assert len(digests) == 1 and "updates" not in json.dumps(digests[0])
    assert messages.index(digests[0]) == 4  # the first post after the window freed


def test_a_failed_combined_post_loses_nothing(store: Any, sink: Any, tight: None) -> None:
    channel = add_channel(store, sink)
    for i in range(4):
        delivery.deliver(store, channel, card(f"fill {i}"), budget_seconds=0.2)
    for i in range(8):
        delivery.deliver(store, channel, card(f"kept {i}"), budget_seconds=0.2)
    sink.fault(channel, 1, status=503)
    first = sweep(store, budget_seconds=6)
    assert first.requeued >= 1 or first.combined < 8
    assert store.outbox.backlog() > 0 or all(f"kept {i}" in text_of(sink, channel) for i in range(8))
    from datetime import UTC, datetime, timedelta

    sweep(store, now=datetime.now(UTC) + timedelta(hours=1), budget_seconds=15)
    assert store.outbox.backlog() == 0
    got = text_of(sink, channel)
    assert all(f"kept {i}" in got for i in range(8))


# --- through the dev host: HTTP in, the timer's sweep, the sink's arrival times ----------------------


def test_an_http_burst_through_the_dev_host_arrives_combined_within_budget(
    devhost: str, app_store: Any, sink: Any
) -> None:
    sink.set_limits(windows=[])
    connection = unique("owner")
    channel = unique("ch")
    app_store.channels.save(Channel(name=channel, url=sink.workflow_url(channel), connection=connection))
    app_store.budgets.set_budget(connection, "3/4")  # stored: the dev host sees it on its first read
    route = unique("r")
    app_store.routes.save(Route(name=route, source="generic", channels=[channel]))
    titles = [f"Build {i} of service-{i} failed" for i in range(25)]
    for title in titles:
        reply = requests.post(f"{devhost}/api/incoming/{route}", json={"title": title, "text": "details"}, timeout=15)
        assert reply.status_code == 202, reply.text
    assert behind.flush()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert requests.post(f"{devhost}/admin/functions/outbox_sweep", json={}, timeout=10).status_code == 202
        time.sleep(3)
        got = text_of(sink, channel)
        if all(t in got for t in titles):
            break
    got = text_of(sink, channel)
    missing = [t for t in titles if t not in got]
    assert not missing, missing
    assert len(sink.messages(channel)) < len(titles)
    assert over_budget(arrivals(sink, channel), 3, 4.0) == 0
    assert sink.not_displayed(channel) == []


@pytest.mark.parametrize("status", [429, 413])
def test_a_refused_combined_post_loses_nothing(
    store: Any, sink: Any, tight: None, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    monkeypatch.setenv("DELIVERY_BUDGET_WORKFLOWS", "1/2")  # one slot: what waits goes combined
    channel = add_channel(store, sink)
    assert delivery.deliver(store, channel, card("fill"), budget_seconds=0.2).ok
    for i in range(9):
        delivery.deliver(store, channel, card(f"held {i}"), budget_seconds=0.2)
    sink.fault(channel, 1, status=status)  # the first combined post is refused
    sweep(store, budget_seconds=6)
    sweep(store, now=datetime.now(UTC) + timedelta(hours=1), budget_seconds=30)
    assert store.outbox.list(dead=True) == []
    assert store.outbox.backlog() == 0
    got = text_of(sink, channel)
    assert all(f"held {i}" in got for i in range(9))
    assert [r["status"] for r in sink.requests(channel)][1] == status
    assert over_budget(arrivals(sink, channel), 1, 2.0) == 0


def test_sweeps_racing_post_each_original_once_within_budget(store: Any, sink: Any, tight: None) -> None:
    import threading

    from shared.store.root import Store

    channels = [add_channel(store, sink, "owner-a") for _ in range(3)]
    titles = {ch: [f"{ch} event {i:02d}." for i in range(15)] for ch in channels}
    for ch in channels:
        for title in titles[ch]:
            delivery.deliver(store, ch, card(title), budget_seconds=0.1)
    queued = store.outbox.backlog()
    # A second process: its own Store and so its own cache of the budget rows (the same tables).
    other = Store(store.connection, store.prefix, store.timeout)
    results: list[Any] = []

    def run(on: Any) -> None:
        results.append(sweep(on, budget_seconds=12))

    threads = [threading.Thread(target=run, args=(s,)) for s in (store, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.outbox.backlog() == 0, results
    assert sum(r.sent + r.combined for r in results) == queued, results  # each original counted once
    for ch in channels:
        got = text_of(sink, ch)
        assert all(got.count(title) == 1 for title in titles[ch]), got  # and shown once
    assert over_budget(arrivals(sink, *channels), 4, 3.0) == 0


def test_a_full_page_of_one_connections_backlog_does_not_starve_the_items_behind_it(
    store: Any, sink: Any, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review: the sweep read only the oldest page of due items; when every one waited for a
    connection with no room, items of other connections behind them were never read."""
    from shared.delivery import sweep as sweeping
    from shared.delivery.handoff import queue_parts
    from shared.delivery.parts import make_parts

    monkeypatch.setenv("DELIVERY_BUDGET_WORKFLOWS", "4/300")
    budget.reset()
    monkeypatch.setattr(sweeping, "PAGE", 3)
    busy = add_channel(store, sink, "owner-a")
    for i in range(4):  # owner-a's budget spent for the next five minutes
        assert delivery.deliver(store, busy, card(f"fill {i}"), budget_seconds=0.2).ok
    for i in range(6):  # two full pages of owner-a's backlog, oldest first
        assert delivery.deliver(store, busy, card(f"backlog {i}"), budget_seconds=0.2).state == "queued"
    quiet = add_channel(store, sink, "owner-b")
    queue_parts(store, quiet, "quiet-1", make_parts(card("behind the backlog"), 20_000), 0.0, "test")
    stats = sweep(store, budget_seconds=3)
    assert "behind the backlog" in text_of(sink, quiet), stats
    assert len(sink.messages(busy)) == 4  # nothing over owner-a's budget
    budget.reset()
