"""The digest run against the real store (Azurite), the Teams sink and loopback feeds."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from shared.digest import run as digest
from tests.conftest import unique
from tests.digest.conftest import NOW, make_channel, make_sub
from tests.support.hooks import after_delivery
from tools import feed_stub
from tools.feed_stub import FeedStub


def card_text(message: dict[str, Any]) -> str:
    """All text of a Workflows message's card, for assertions."""
    import json

    return json.dumps(message["attachments"][0]["content"], ensure_ascii=False)


def rss_items(*numbers: int) -> list[dict[str, str]]:
    return [
        {
            "title": f"Post {n}",
            "link": f"https://example.org/posts/{n}",
            "guid": f"urn:post:{n}",
            "pubDate": f"Wed, {n + 1:02d} Jan 2025 10:00:00 GMT",
            "description": f"<p>Body of <b>post {n}</b></p>",
        }
        for n in numbers
    ]


def test_rss_digest_new_entries_only_with_conditional_get(
    store: Any, sink: Any, digest_env: FeedStub
) -> None:
    name = unique("rss")
    url = digest_env.put(name, feed_stub.rss("Blog", rss_items(1, 2, 3)))
    ch = make_channel(store, sink)
    sub = make_sub(store, ch, "rss", url)

    stats = digest.run(store, now=NOW)
    assert stats.sent == 1, stats.as_dict()
    text = card_text(sink.messages(ch)[0])
    assert "Post 3" in text and "Post 1" in text
    assert text.index("Post 3") < text.index("Post 1")  # newest first
    assert "Body of post 3" in text and "<b>" not in text  # HTML summaries become plain text
    saved = store.subscriptions.get(sub.id)
    assert saved.cursor.get("etag") and "_pending" not in saved.cursor
    assert saved.next_run == NOW.replace(hour=8, minute=0, second=0) + timedelta(days=1)
    assert saved.last_error is None

    # Unchanged feed: answered 304, nothing posted (empty digests are skipped by default).
    later = NOW + timedelta(days=1)
    assert digest.run(store, now=later).empty == 1
    assert digest_env.not_modified[name] == 1
    assert len(sink.messages(ch)) == 1

    # One new post: only it is shown.
    digest_env.put(name, feed_stub.rss("Blog", rss_items(1, 2, 3, 4)))
    assert digest.run(store, now=later + timedelta(days=1)).sent == 1
    text = card_text(sink.messages(ch)[1])
    assert "Post 4" in text and "Post 3" not in text


def test_atom_feed_capped_with_more(store: Any, sink: Any, digest_env: FeedStub) -> None:
    name = unique("atom") + ".atom"
    entries = [
        {
            "id": f"tag:x,2025:{n}",
            "title": f"Entry {n}",
            "link": f"https://example.org/{n}",
            "updated": f"2025-01-{n:02d}T10:00:00Z",
        }
        for n in range(1, 4)
    ]
    (digest_env.folder / name).write_text(feed_stub.atom("Atom news", entries), encoding="utf-8")  # type: ignore[operator]
    ch = make_channel(store, sink)
    make_sub(store, ch, "rss", digest_env.url_for(name), settings={"max_items": 2})
    assert digest.run(store, now=NOW).sent == 1
    entries += [
        {"id": f"tag:x,2025:{n}", "title": f"Entry {n}", "updated": f"2025-01-{n:02d}T10:00:00Z"}
        for n in range(4, 9)
    ]
    (digest_env.folder / name).write_text(feed_stub.atom("Atom news", entries), encoding="utf-8")  # type: ignore[operator]
    assert digest.run(store, now=NOW + timedelta(days=1)).sent == 1
    text = card_text(sink.messages(ch)[1])
    assert "Entry 8" in text and "Entry 7" in text and "Entry 6" not in text
    assert "+3 more" in text


def test_weather_geocodes_once_and_shows_range_conditions_rain(
    store: Any, sink: Any, digest_env: FeedStub
) -> None:
    place = unique("Town")
    digest_env.place(
        place, 48.14, 11.58, country="Germany", t_min=-2, t_max=6.5, code=71, rain=1.5, chance=60
    )
    ch = make_channel(store, sink)
    sub = make_sub(store, ch, "weather", place, tz="Europe/Berlin", times=["07:00"])
    before = digest_env.hits["/v1/search"]
    assert digest.run(store, now=NOW).sent == 1
    text = card_text(sink.messages(ch)[0])
    assert "-2 to 6.5 °C" in text and "Slight snow" in text and "1.5 mm (60% chance)" in text
    assert store.subscriptions.get(sub.id).cursor["geo"]["latitude"] == 48.14
    assert digest.run(store, now=NOW + timedelta(days=1)).sent == 1
    assert digest_env.hits["/v1/search"] - before == 1  # resolved once, remembered


def test_weather_imperial_units_and_unknown_place(store: Any, sink: Any, digest_env: FeedStub) -> None:
    place = unique("Ville")
    digest_env.place(place, 40.71, -74.01, t_min=0, t_max=10, code=0, rain=0, chance=0)
    ch = make_channel(store, sink)
    make_sub(store, ch, "weather", place, settings={"units": "imperial"})
    bad = make_sub(store, ch, "weather", "Nowhere " + unique())
    stats = digest.run(store, now=NOW)
    assert stats.sent == 1 and stats.failed == 1
    assert "32 to 50 °F" in card_text(sink.messages(ch)[0])
    assert "not found" in (store.subscriptions.get(bad.id).last_error or "")


def test_json_endpoint_with_field_mapping(store: Any, sink: Any, digest_env: FeedStub) -> None:
    import json

    name = unique("api")
    doc = {
        "data": {
            "releases": [
                {
                    "key": "r1",
                    "name": "Release 1",
                    "html": "https://example.org/r1",
                    "at": "2025-01-10T00:00:00Z",
                },
                {
                    "key": "r2",
                    "name": "Release 2",
                    "html": "https://example.org/r2",
                    "at": "2025-01-12T00:00:00Z",
                },
            ]
        }
    }
    url = digest_env.put(name, json.dumps(doc), "application/json")
    ch = make_channel(store, sink)
    make_sub(
        store,
        ch,
        "json",
        url,
        settings={
            "title": "Releases",
            "items": "data.releases",
            "fields": {"id": "key", "title": "name", "url": "html", "time": "at"},
        },
    )
    assert digest.run(store, now=NOW).sent == 1
    text = card_text(sink.messages(ch)[0])
    assert "Release 2" in text and text.index("Release 2") < text.index("Release 1")
    assert digest.run(store, now=NOW + timedelta(days=1)).empty == 1


def test_events_grouped_and_removed_only_after_delivery(store: Any, sink: Any, digest_env: FeedStub) -> None:
    ch = make_channel(store, sink)
    sub = make_sub(store, ch, "events", "alerts")
    for i in range(12):
        status = "firing" if i in (3, 7, 11) else "resolved"
        store.events.append(sub.id, {"title": f"Alert {i}", "status": status, "source": "alertmanager"})
    sink.fault(ch, count=1, status=404)  # the channel refuses: events must stay buffered
    stats = digest.run(store, now=NOW)
    assert stats.failed == 1
    assert len(store.events.pending(sub.id, 100)) == 12
    assert "delivery failed" in (store.subscriptions.get(sub.id).last_error or "")

    stats = digest.run(store, now=NOW + timedelta(days=1))
    assert stats.sent == 1, stats.as_dict()
    text = card_text(sink.messages(ch)[-1])
    assert "12 events: 9 resolved, 3 still firing" in text
    assert store.events.pending(sub.id, 100) == []
    assert store.subscriptions.get(sub.id).last_error is None


def test_empty_digest_skipped_or_posted_as_nothing_new(store: Any, sink: Any, digest_env: FeedStub) -> None:
    ch = make_channel(store, sink)
    make_sub(store, ch, "events", "quiet")
    loud = make_sub(store, ch, "events", "loud", post_empty=True)
    stats = digest.run(store, now=NOW)
    assert stats.empty == 1 and stats.sent == 1
    (message,) = sink.messages(ch)
    assert "Nothing new" in card_text(message)
    assert store.subscriptions.get(loud.id).next_run > NOW


def test_dead_feed_next_to_healthy_ones(store: Any, sink: Any, digest_env: FeedStub) -> None:
    good = digest_env.put(unique("good"), feed_stub.rss("Good", rss_items(1)))
    broken = digest_env.fail(unique("broken"), status=500)
    ch1, ch2 = make_channel(store, sink), make_channel(store, sink)
    ok_sub = make_sub(store, ch1, "rss", good)
    bad_sub = make_sub(store, ch2, "rss", broken + "?token=s3cret")
    gone = make_sub(store, ch2, "rss", "http://127.0.0.1:9/nothing-listens")
    meta = make_sub(store, ch2, "rss", "http://169.254.169.254/latest/meta-data/")
    stats = digest.run(store, now=NOW)
    assert stats.sent == 1 and stats.failed == 3, stats.as_dict()
    assert len(sink.messages(ch1)) == 1 and sink.messages(ch2) == []
    err = store.subscriptions.get(bad_sub.id).last_error or ""
    assert "could not be read" in err and "s3cret" not in err
    # Loopback is not public: an answer, a refusal and a timeout all read the same (issue 13 item 3).
    assert (store.subscriptions.get(gone.id).last_error or "").endswith("/nothing-listens could not be read")
    assert "HTTP 500" not in err and "unreachable" not in err
    assert "link-local" in (store.subscriptions.get(meta.id).last_error or "")
    assert store.subscriptions.get(ok_sub.id).last_error is None
    # The failing ones move on to their next slot rather than retrying every tick.
    assert store.subscriptions.get(bad_sub.id).next_run > NOW


def test_overlapping_runs_send_each_digest_once(store: Any, sink: Any, digest_env: FeedStub) -> None:
    ch = make_channel(store, sink)
    subs = [make_sub(store, ch, "events", f"t{i}", post_empty=True) for i in range(6)]
    results: list[digest.RunStats] = []
    barrier = threading.Barrier(2)

    def go() -> None:
        barrier.wait()
        results.append(digest.run(store, now=NOW, concurrency=3, sweep_outbox=False))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r.sent + r.queued for r in results) == len(subs)
    assert len(sink.messages(ch)) + len(store.outbox.list()) == len(subs)


class Crash(BaseException):
    """Stands for the process dying: nothing in the run may catch it."""


def test_crash_between_delivery_and_cursor_does_not_post_again(
    store: Any, sink: Any, digest_env: FeedStub
) -> None:
    ch = make_channel(store, sink)
    sub = make_sub(store, ch, "events", "alerts")
    store.events.append(sub.id, {"title": "Disk full", "status": "firing"})

    def die(_sub: Any, _result: Any) -> None:
        raise Crash

    with after_delivery(die), pytest.raises(Crash):
        digest.run(store, now=NOW, concurrency=1)
    assert len(sink.messages(ch)) == 1
    assert len(store.events.pending(sub.id, 10)) == 1  # the cursor did not move

    # Leased, not due again at once; when the lease ends the plan is committed without posting it
    # a second time (the delivery's idempotency record says it went out).
    assert digest.run(store, now=NOW + timedelta(minutes=5)).due == 0
    stats = digest.run(store, now=NOW + timedelta(minutes=11))
    assert stats.recovered == 1 and stats.sent == 0, stats.as_dict()
    assert len(sink.messages(ch)) == 1
    assert store.events.pending(sub.id, 10) == []
    saved = store.subscriptions.get(sub.id)
    assert "_pending" not in saved.cursor and saved.last_error is None
    assert saved.next_run == NOW.replace(hour=8, minute=0, second=0) + timedelta(days=1)
    assert digest.run(store, now=NOW + timedelta(days=1)).empty == 1
    assert len(sink.messages(ch)) == 1


def _many_events(store: Any, sub_id: str, count: int) -> None:
    for i in range(count):
        text = f"event {i} " + "detail " * 60
        store.events.append(sub_id, {"title": f"Alert {i} " + "x" * 150, "text": text, "status": "firing"})


def test_crash_after_a_digest_of_many_parts_does_not_post_again(
    store: Any, sink: Any, digest_env: FeedStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_MARGIN_BYTES", "16384")  # 12 KB messages: the digest needs 3+ parts
    ch = make_channel(store, sink)
    sub = make_sub(store, ch, "events", "alerts", settings={"max_items": 50})
    _many_events(store, sub.id, 50)
    seen: list[Any] = []

    def die(claimed: Any, result: Any) -> None:
        seen.append((claimed, result))
        raise Crash

    with after_delivery(die), pytest.raises(Crash):
        digest.run(store, now=NOW, concurrency=1)
    claimed, result = seen[0]
    posted = len(sink.messages(ch))
    assert result.state == "accepted" and posted == result.parts >= 3
    assert claimed.cursor["_pending"]["parts"] == posted  # the plan knew the number of parts

    stats = digest.run(store, now=NOW + timedelta(minutes=11))
    assert stats.recovered == 1 and stats.sent == 0, stats.as_dict()
    assert len(sink.messages(ch)) == posted
    assert store.events.pending(sub.id, 100) == []


def test_crash_after_a_part_was_split_does_not_post_again(
    store: Any, sink: Any, digest_env: FeedStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Teams refused part 1 as too large, so it went out in pieces; recovery counts the pieces."""
    from shared.delivery.ratelimit import LIMITER

    monkeypatch.setenv("DELIVERY_MARGIN_BYTES", "16384")
    monkeypatch.setenv("DELIVERY_RATE_WORKFLOWS", "1000/1")  # five posts at once: no wait here
    LIMITER.reset()
    ch = make_channel(store, sink)
    sub = make_sub(store, ch, "events", "alerts", settings={"max_items": 50})
    _many_events(store, sub.id, 50)
    sink.fault(ch, count=1, status=413)  # the first post: "too large"
    seen: list[Any] = []

    def die(claimed: Any, result: Any) -> None:
        seen.append(result)
        raise Crash

    with after_delivery(die), pytest.raises(Crash):
        digest.run(store, now=NOW, concurrency=1)
    [result] = seen
    posted = len(sink.messages(ch))
    assert result.state == "accepted" and posted == result.parts > 3, result  # part 1 in two pieces

    stats = digest.run(store, now=NOW + timedelta(minutes=11))
    assert stats.recovered == 1 and stats.sent == 0, stats.as_dict()
    assert len(sink.messages(ch)) == posted  # nothing posted twice
    assert store.events.pending(sub.id, 100) == []


def test_crash_half_way_through_the_parts_posts_the_digest_again(
    store: Any, sink: Any, digest_env: FeedStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.delivery import client

    monkeypatch.setenv("DELIVERY_MARGIN_BYTES", "16384")
    ch = make_channel(store, sink)
    sub = make_sub(store, ch, "events", "alerts", settings={"max_items": 50})
    _many_events(store, sub.id, 50)
    real = client._send_inline
    calls: list[int] = []

    def dies_on_second_part(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise Crash
        return real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(client, "_send_inline", dies_on_second_part)
        with pytest.raises(Crash):
            digest.run(store, now=NOW, concurrency=1)
    assert len(sink.messages(ch)) == 1

    # Only part 1 went out: nothing is lost; the whole digest is posted again (part 1 twice).
    stats = digest.run(store, now=NOW + timedelta(minutes=11))
    assert stats.recovered == 0 and stats.sent == 1, stats.as_dict()
    again = sink.messages(ch)[1:]
    assert len(again) >= 3
    text = " ".join(card_text(m) for m in again)
    assert all(f"Alert {i} " in text for i in range(50))
    assert store.events.pending(sub.id, 100) == []


def test_crash_before_delivery_loses_nothing(
    store: Any, sink: Any, digest_env: FeedStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.delivery import client

    ch = make_channel(store, sink)
    sub = make_sub(store, ch, "events", "alerts")
    store.events.append(sub.id, {"title": "Disk full", "status": "firing"})

    def die(*_args: Any, **_kwargs: Any) -> None:
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(client, "deliver", die)  # the process dies before posting
        with pytest.raises(Crash):
            digest.run(store, now=NOW, concurrency=1)
    assert sink.messages(ch) == []
    # Sent when the lease ends, not a whole period later.
    stats = digest.run(store, now=NOW + timedelta(minutes=11))
    assert stats.recovered == 0 and stats.sent == 1, stats.as_dict()
    assert "Disk full" in card_text(sink.messages(ch)[0])
    saved = store.subscriptions.get(sub.id)
    assert "_pending" not in saved.cursor and saved.next_run > NOW + timedelta(hours=12)


def test_crash_after_handing_to_outbox_does_not_post_again(
    store: Any, sink: Any, digest_env: FeedStub
) -> None:
    ch = make_channel(store, sink)
    sub = make_sub(store, ch, "events", "alerts")
    store.events.append(sub.id, {"title": "Disk full", "status": "firing"})
    sink.fault(ch, count=50, status=503)

    def die(_sub: Any, result: Any) -> None:
        assert result.state == "queued"
        raise Crash

    with after_delivery(die), pytest.raises(Crash):
        digest.run(store, now=NOW, concurrency=1, sweep_outbox=False)
    stats = digest.run(store, now=NOW + timedelta(minutes=11), sweep_outbox=False)
    assert stats.recovered == 1 and stats.sent == 0, stats.as_dict()
    assert store.events.pending(sub.id, 10) == []
    assert sink.messages(ch) == []


def test_throttled_sink_queues_and_cursor_moves(store: Any, sink: Any, digest_env: FeedStub) -> None:
    ch = make_channel(store, sink)
    sub = make_sub(store, ch, "events", "alerts")
    store.events.append(sub.id, {"title": "CPU high", "status": "firing"})
    sink.fault(ch, count=20, status=429)
    stats = digest.run(store, now=NOW)
    assert stats.queued == 1, stats.as_dict()
    assert store.events.pending(sub.id, 10) == []  # the outbox holds it
    assert len(store.outbox.list()) >= 1
    assert store.subscriptions.get(sub.id).last_error is None


def test_past_due_sends_each_missed_digest_once(store: Any, sink: Any, digest_env: FeedStub) -> None:
    ch = make_channel(store, sink)
    hourly = [f"{h:02d}:00" for h in range(24)]
    sub = make_sub(store, ch, "events", "x", times=hourly, due=NOW - timedelta(hours=5), post_empty=True)
    stats = digest.run(store, now=NOW, past_due=True)
    assert stats.sent == 1 and stats.past_due
    assert store.subscriptions.get(sub.id).next_run == NOW.replace(minute=0, second=0) + timedelta(hours=1)
    assert digest.run(store, now=NOW + timedelta(minutes=5), past_due=True).due == 0
    assert len(sink.messages(ch)) == 1


def test_time_budget_leaves_work_for_next_run(store: Any, sink: Any, digest_env: FeedStub) -> None:
    ch = make_channel(store, sink)
    subs = [make_sub(store, ch, "events", f"b{i}", post_empty=True) for i in range(3)]
    stats = digest.run(store, now=NOW, budget_seconds=0)
    assert stats.deferred == 3 and stats.sent == 0
    assert all(store.subscriptions.get(s.id).next_run < NOW for s in subs)  # unclaimed, still due
    assert digest.run(store, now=NOW).sent == 3


def test_budget_is_kept_inside_the_function_timeout(
    store: Any, sink: Any, digest_env: FeedStub, tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from shared import settings

    assert settings.function_timeout_seconds() == 300.0  # this app's host.json
    host_json = tmp_path / "host.json"
    host_json.write_text('{"version": "2.0", "functionTimeout": "00:02:00"}', encoding="utf-8")
    monkeypatch.setattr(settings, "APP_ROOT", tmp_path)
    assert digest.within_function_timeout(30) == 30
    assert digest.within_function_timeout(600) == 60  # half: digests in flight may take longer
    make_sub(store, make_channel(store, sink), "events", unique("route"), post_empty=True)
    stats = digest.run(store, now=NOW, budget_seconds=600)
    assert stats.sent == 1
    assert "leaves too little of functionTimeout (120 s)" in caplog.text
    host_json.write_text('{"version": "2.0", "functionTimeout": "-1"}', encoding="utf-8")
    assert digest.within_function_timeout(600) == 600  # unlimited (dedicated plans)


def test_paused_and_not_yet_due_are_left_alone(store: Any, sink: Any, digest_env: FeedStub) -> None:
    ch = make_channel(store, sink)
    make_sub(store, ch, "events", "later", due=NOW + timedelta(hours=1), post_empty=True)
    paused = make_sub(store, ch, "events", "p", post_empty=True)
    paused.paused = True
    store.subscriptions.save(paused)
    assert digest.run(store, now=NOW).due == 0
    assert sink.messages(ch) == []


def test_send_now(store: Any, sink: Any, digest_env: FeedStub) -> None:
    ch = make_channel(store, sink)
    sub = make_sub(store, ch, "events", "alerts", due=NOW + timedelta(days=3))
    store.events.append(sub.id, {"title": "Build broke", "status": "failed"})
    result = digest.send_now(store, sub.id)
    assert result == digest.DigestResult(digest.Outcome.SENT, sub.id, ch), result
    assert result.delivered
    assert "Build broke" in card_text(sink.messages(ch)[0])
    saved = store.subscriptions.get(sub.id)
    assert saved.next_run == NOW + timedelta(days=3)  # the schedule is untouched
    assert store.events.pending(sub.id, 10) == []
    assert digest.send_now(store, "nope") == digest.DigestResult(digest.Outcome.NOT_FOUND, "nope")


def test_send_now_while_a_run_holds_the_subscription(store: Any, sink: Any, digest_env: FeedStub) -> None:
    """The timer is posting this digest when the bot asks for it: "taken", nothing posted twice."""
    from datetime import UTC, datetime

    ch = make_channel(store, sink)
    sub = make_sub(store, ch, "events", "alerts")
    store.events.append(sub.id, {"title": "Disk full", "status": "firing"})
    asked: list[digest.DigestResult] = []

    def bot_asks(claimed: Any, _result: Any) -> None:
        asked.append(digest.send_now(store, claimed.id))

    now = datetime.now(UTC)  # send_now runs on the real clock: the timer's lease must be live then
    with after_delivery(bot_asks):
        stats = digest.run(store, now=now, concurrency=1)
    assert stats.sent == 1, stats.as_dict()
    [result] = asked
    assert result.outcome is digest.Outcome.TAKEN and not result.delivered, result
    assert result.detail and "held until" in result.detail
    assert len(sink.messages(ch)) == 1
    saved = store.subscriptions.get(sub.id)
    assert "_pending" not in saved.cursor and store.events.pending(sub.id, 10) == []

    # Once the run is done the subscription is free again.
    assert digest.send_now(store, sub.id).outcome is digest.Outcome.SENT
    assert len(sink.messages(ch)) == 2


def test_send_now_failures_are_results(
    store: Any, sink: Any, digest_env: FeedStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.digest.feeds import events

    def broken(self: Any, sub: Any, ctx: Any) -> Any:
        raise events.FeedError("cannot read buffered events (StoreUnavailable)")

    monkeypatch.setattr(events.EventsFeed, "gather", broken)
    sub = make_sub(store, make_channel(store, sink), "events", "alerts")
    result = digest.send_now(store, sub.id)
    assert result.outcome is digest.Outcome.FAILED and not result.delivered
    assert result.detail == "cannot read buffered events (StoreUnavailable)"


def test_source_bug_is_recorded_and_isolated(
    store: Any, sink: Any, digest_env: FeedStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.digest.feeds import jsonfeed

    def broken(self: Any, sub: Any, ctx: Any) -> Any:
        raise RuntimeError("token=s3cret in an unexpected place")

    monkeypatch.setattr(jsonfeed.JsonFeed, "gather", broken)
    ch = make_channel(store, sink)
    bad = make_sub(store, ch, "json", digest_env.url_for("whatever"))
    good = make_sub(store, ch, "events", "ok", post_empty=True)
    stats = digest.run(store, now=NOW)
    assert stats.failed == 1 and stats.sent == 1, stats.as_dict()
    saved = store.subscriptions.get(bad.id)
    assert saved.last_error == "source failed: RuntimeError"  # the type, never the text
    assert saved.next_run > NOW  # not retried on every tick
    assert store.subscriptions.get(good.id).last_error is None


def test_json_endpoint_with_odd_values(store: Any, sink: Any, digest_env: FeedStub) -> None:
    import json

    items = [
        {"id": 1, "title": {"nested": True}, "url": 42, "time": 1e300},
        {"id": 2, "title": "x" * 5000, "url": "javascript:alert(1)", "time": "not a date"},
        {"id": 3, "title": "Fine", "time": 1736899200000},
    ]
    url = digest_env.put(unique("odd"), json.dumps(items), "application/json")
    ch = make_channel(store, sink)
    make_sub(store, ch, "json", url)
    listed = make_sub(store, ch, "json", url, settings={"fields": ["id", "title"]})
    stats = digest.run(store, now=NOW)
    assert stats.sent == 1 and stats.failed == 1, stats.as_dict()
    text = card_text(sink.messages(ch)[0])
    assert "Fine" in text and "javascript" not in text and "x" * 300 not in text
    assert "fields setting" in (store.subscriptions.get(listed.id).last_error or "")


def test_commit_survives_a_concurrent_save(store: Any, sink: Any, digest_env: FeedStub) -> None:
    ch = make_channel(store, sink)
    sub = make_sub(store, ch, "events", "alerts")
    store.events.append(sub.id, {"title": "Disk full", "status": "firing"})

    def pause_meanwhile(claimed: Any, _result: Any) -> None:
        fresh = store.subscriptions.get(claimed.id)  # the bot's `pause` lands between post and commit
        fresh.paused = True
        store.subscriptions.save(fresh)

    with after_delivery(pause_meanwhile):
        stats = digest.run(store, now=NOW, concurrency=1)
    assert stats.sent == 1, stats.as_dict()
    saved = store.subscriptions.get(sub.id)
    assert saved.paused and "_pending" not in saved.cursor and saved.last_run == NOW
    assert store.events.pending(sub.id, 10) == []
