"""Every repository operation against Azurite (fresh table prefix per test)."""

from __future__ import annotations

import base64
import os
import threading
from datetime import UTC, datetime, timedelta

import pytest

from shared.store import Conflict, NotFound, Store
from shared.store.models import Channel, OutboxItem, Route, Schedule, Subscription, Team, utcnow


def token() -> str:
    return base64.b64encode(os.urandom(32)).decode()


NOW = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)


def sub(channel: str = "ops", when: datetime | None = NOW, **kw: object) -> Subscription:
    return Subscription(
        channel=channel,
        source="rss",
        target="https://example.org/feed",
        schedule=Schedule(times=["08:00"], tz="Europe/Berlin"),
        next_run=when,
        **kw,
    )


# --- teams, channels, routes ---------------------------------------------------------------------


def test_reads_of_a_fresh_prefix_are_empty_and_writes_create_tables(store: Store) -> None:
    assert store.teams.list() == [] and store.teams.find("x") is None
    assert store.subscriptions.due(NOW) == [] and store.outbox.due(NOW) == []
    with pytest.raises(NotFound):
        store.teams.get("x")
    store.teams.add(Team(key="x", name="X", tokens=[token()]))
    assert [t.key for t in store.teams.list()] == ["x"]


def test_team_add_get_save_remove_with_awkward_keys(store: Store) -> None:
    key = "contoso/ops#1?\\ü\t"
    first, second = token(), token()
    added = store.teams.add(Team(key=key, name="Ops", tokens=[first]))
    assert added.etag
    with pytest.raises(Conflict):
        store.teams.add(Team(key=key, name="again", tokens=[first]))
    team = store.teams.get(key)
    assert team.key == key and team.tokens == [first] and team.name == "Ops"
    team.tokens = [first, second]
    saved = store.teams.save(team)
    assert store.teams.get(key).tokens == [first, second]
    # The version read before the save is stale now: a second writer gets Conflict.
    team.name = "stale"
    with pytest.raises(Conflict):
        store.teams.save(team)
    assert store.teams.save(saved.model_copy(update={"name": "Ops 2"})).name == "Ops 2"
    store.teams.remove(key)
    with pytest.raises(NotFound):
        store.teams.remove(key)


def test_channels_by_name_and_by_teams_channel_id(store: Store) -> None:
    store.channels.add(
        Channel(name="ops", url="https://a.logic.azure.com/x?sig=1", teams_channel_id="19:abc@thread.tacv2")
    )
    store.channels.add(Channel(name="dev", url="https://a.logic.azure.com/y?sig=2"))
    assert store.channels.get("ops").url.endswith("sig=1")
    found = store.channels.find_by_teams_channel("19:abc@thread.tacv2")
    assert found is not None and found.name == "ops"
    assert store.channels.find_by_teams_channel("19:none") is None
    assert sorted(c.name for c in store.channels.list()) == ["dev", "ops"]
    store.channels.remove("dev")
    assert [c.name for c in store.channels.list()] == ["ops"]


def test_find_by_teams_channel_is_one_point_read_kept_in_step(store: Store) -> None:
    t1, t2 = "19:one@thread.tacv2", "19:two/#?@thread.tacv2"
    for i in range(30):  # other channels must not be read
        store.channels.add(Channel(name=f"c{i}", url=f"https://a.logic.azure.com/{i}?sig=x"))
    store.channels.add(Channel(name="ops", url="https://a.logic.azure.com/o?sig=1", teams_channel_id=t1))
    store.reads.clear()
    found = store.channels.find_by_teams_channel(t1)
    assert found is not None and found.name == "ops" and found.url.endswith("sig=1")
    assert store.reads.total() == 1
    assert len(store.channels.list()) == 31  # link rows are not channels

    # The record found through the link saves like one read by name (its ETag is the channel's).
    found.teams_channel_id = t2
    moved = store.channels.save(found)
    assert store.channels.find_by_teams_channel(t1) is None
    assert store.channels.find_by_teams_channel(t2).name == "ops"  # type: ignore[union-attr]
    found.url = "https://a.logic.azure.com/stale"
    with pytest.raises(Conflict):
        store.channels.save(found)

    # A record built from scratch (the bot's `connect`, `channel add --replace`) moves the link too.
    store.channels.save(Channel(name="ops", url="https://a.logic.azure.com/o?sig=2", teams_channel_id=t1))
    assert store.channels.find_by_teams_channel(t2) is None
    relinked = store.channels.find_by_teams_channel(t1)
    assert relinked is not None and relinked.url.endswith("sig=2") and relinked.etag != moved.etag
    store.channels.save(relinked.model_copy(update={"teams_channel_id": None}))
    assert store.channels.find_by_teams_channel(t1) is None

    # Two channels naming one Teams channel: the last saved owns the link; removing the other keeps it.
    store.channels.save(Channel(name="a", url="https://a.logic.azure.com/a", teams_channel_id=t1))
    store.channels.save(Channel(name="b", url="https://a.logic.azure.com/b", teams_channel_id=t1))
    assert store.channels.find_by_teams_channel(t1).name == "b"  # type: ignore[union-attr]
    store.channels.remove("a")
    assert store.channels.find_by_teams_channel(t1).name == "b"  # type: ignore[union-attr]
    store.channels.remove("b")
    assert store.channels.find_by_teams_channel(t1) is None
    assert store.channels.find_by_teams_channel("") is None


def test_relink_rebuilds_missing_link_rows(store: Store) -> None:
    """Channels saved before link rows existed (or a crash between the writes) are repaired."""
    store.channels.add(Channel(name="ops", url="https://a.logic.azure.com/o", teams_channel_id="19:a@x"))
    store.channels.add(Channel(name="dev", url="https://a.logic.azure.com/d"))
    store.table("channels").delete("link", "19:a@x")
    assert store.channels.find_by_teams_channel("19:a@x") is None
    assert store.channels.relink() == 1
    found = store.channels.find_by_teams_channel("19:a@x")
    assert found is not None and found.name == "ops" and found.etag == store.channels.get("ops").etag


def test_routes_round_trip_and_for_channel(store: Store) -> None:
    store.routes.add(
        Route(
            name="am",
            source="alertmanager",
            auth="bearer",
            secret="s",
            channels=["ops", "dev"],
            filters={"severity": ["attention"]},
        )
    )
    store.routes.add(Route(name="gh", source="github", channels=["dev"], mode="digest", settings={"x": 1}))
    route = store.routes.get("am")
    assert (
        route.secret == "s"
        and route.channels == ["ops", "dev"]
        and route.filters == {"severity": ["attention"]}
    )
    assert [r.name for r in store.routes.for_channel("ops")] == ["am"]
    assert sorted(r.name for r in store.routes.for_channel("dev")) == ["am", "gh"]
    assert store.routes.get("gh").mode == "digest"


# --- subscriptions -------------------------------------------------------------------------------


def test_subscription_crud_and_following_route(store: Store) -> None:
    a = store.subscriptions.add(sub("ops"))
    d = store.subscriptions.add(sub("dev"))
    ev = store.subscriptions.add(
        Subscription(
            channel="ops", source="events", target="am", next_run=NOW, created_by="Ann", cursor={"k": 1}
        )
    )
    got = store.subscriptions.get(a.id)
    assert got.schedule.tz == "Europe/Berlin" and got.next_run == NOW and got.etag
    assert {s.id for s in store.subscriptions.list()} == {a.id, d.id, ev.id}
    assert {s.id for s in store.subscriptions.list(channel="ops")} == {a.id, ev.id}
    assert [s.id for s in store.subscriptions.following_route("am")] == [ev.id]
    with pytest.raises(Conflict):
        store.subscriptions.add(sub("ops", id=a.id))
    store.subscriptions.remove(a.id)
    with pytest.raises(NotFound):
        store.subscriptions.get(a.id)
    assert a.id not in {s.id for s in store.subscriptions.due(NOW)}


def test_due_reads_grow_with_due_not_stored(store: Store) -> None:
    due = [sub(when=NOW - timedelta(minutes=i)) for i in range(5)]
    later = [sub(when=NOW + timedelta(minutes=1 + i)) for i in range(150)]  # > 100: chunked batches
    store.subscriptions.add_many(due + later)
    store.reads.clear()
    found = store.subscriptions.due(NOW, limit=100)
    assert sorted(s.id for s in found) == sorted(s.id for s in due)
    assert [s.next_run for s in found] == sorted(s.next_run for s in found)  # type: ignore[type-var]
    assert store.reads["schedule"] == len(due)
    assert store.reads["subscriptions"] == len(due)
    assert store.reads.total() == 2 * len(due)
    assert len(store.subscriptions.due(NOW, limit=2)) == 2


def test_paused_and_unscheduled_are_never_due(store: Store) -> None:
    store.subscriptions.add(sub(paused=True))
    store.subscriptions.add(sub(when=None))
    live = store.subscriptions.add(sub())
    assert [s.id for s in store.subscriptions.due(NOW)] == [live.id]
    live.paused = True
    store.subscriptions.save(live)
    assert store.subscriptions.due(NOW) == []


def test_two_claims_one_wins(store: Store) -> None:
    store.subscriptions.add(sub())
    (first,) = store.subscriptions.due(NOW)
    (second,) = store.subscriptions.due(NOW)
    lease = NOW + timedelta(minutes=10)
    won = store.subscriptions.claim(first, lease)
    assert won is not None and won.next_run == lease
    assert store.subscriptions.claim(second, lease) is None
    assert store.subscriptions.due(NOW) == []
    # The lease expires: due again at lease_until, once.
    assert [s.id for s in store.subscriptions.due(lease)] == [won.id]


def test_parallel_claims_have_exactly_one_winner(store: Store) -> None:
    store.subscriptions.add(sub())
    copies = [store.subscriptions.due(NOW)[0] for _ in range(6)]
    results: list[object] = []
    barrier = threading.Barrier(len(copies))

    def claim(s: Subscription) -> None:
        barrier.wait()
        results.append(store.subscriptions.claim(s, NOW + timedelta(minutes=5)))

    threads = [threading.Thread(target=claim, args=(c,)) for c in copies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1


def test_save_moves_the_index_and_stale_etag_conflicts(store: Store) -> None:
    store.subscriptions.add(sub())
    (s,) = store.subscriptions.due(NOW)
    claimed = store.subscriptions.claim(s, NOW + timedelta(minutes=5))
    assert claimed is not None
    claimed.next_run = NOW + timedelta(days=1)
    claimed.cursor = {"last": "guid-1"}
    done = store.subscriptions.save(claimed)
    assert store.subscriptions.due(NOW + timedelta(hours=1)) == []
    assert [x.id for x in store.subscriptions.due(NOW + timedelta(days=1))] == [done.id]
    # Moving the cursor from a stale read is refused.
    claimed.cursor = {"last": "guid-0"}
    with pytest.raises(Conflict):
        store.subscriptions.save(claimed)
    assert store.subscriptions.get(done.id).cursor == {"last": "guid-1"}
    store.reads.clear()
    store.subscriptions.due(NOW + timedelta(days=1))
    assert store.reads["schedule"] == 1  # the conflicting save left no extra due row before its time


def test_stale_index_rows_are_cleaned_up(store: Store) -> None:
    s = store.subscriptions.add(sub())
    # A record rebuilt without its read state moves next_run but cannot delete the old row.
    fresh = Subscription(**s.model_dump(exclude={"etag"}))
    fresh.next_run = NOW + timedelta(hours=2)
    store.subscriptions.save(fresh)
    assert store.subscriptions.due(NOW) == []  # the old row is recognised as stale...
    store.reads.clear()
    assert store.subscriptions.due(NOW) == []
    assert store.reads["schedule"] == 0  # ...and was deleted


# --- events --------------------------------------------------------------------------------------


def test_events_in_order_and_removed_in_chunked_batches(store: Store) -> None:
    sid = "sub/1#x"
    ids = [store.events.append(sid, {"n": i, "text": "ü" * 10}) for i in range(120)]
    assert ids == sorted(ids)
    pending = store.events.pending(sid, limit=50)
    assert [e.data["n"] for e in pending] == list(range(50))
    assert store.events.count(sid) == 120
    before = store.batches["events"]
    store.events.remove(sid, [*ids[:110], "missing-id"])
    assert [e.data["n"] for e in store.events.pending(sid)] == list(range(110, 120))
    assert store.batches["events"] - before >= 1
    store.events.remove(sid, ids[110:])
    assert store.events.pending(sid) == []


def test_batches_are_chunked_to_100(store: Store) -> None:
    subs = [sub(when=NOW + timedelta(days=30)) for _ in range(250)]
    assert store.subscriptions.add_many(subs) == 250
    assert store.batches["subscriptions"] == 3
    assert len(store.subscriptions.list()) == 250


# --- outbox --------------------------------------------------------------------------------------


def test_outbox_lifecycle(store: Store) -> None:
    big = '{"text":"' + "x" * 40_000 + '"}'
    a = store.outbox.add(OutboxItem(channel="ops", message=big, idempotency_key="k1", next_attempt=NOW))
    b = store.outbox.add(OutboxItem(channel="dev", message="{}", next_attempt=NOW + timedelta(hours=1)))
    assert a.id < b.id
    due = store.outbox.due(NOW)
    assert [i.id for i in due] == [a.id] and due[0].message == big and due[0].idempotency_key == "k1"
    assert store.outbox.backlog("ops") == 1 and store.outbox.backlog() == 2

    claimed = store.outbox.claim(due[0], NOW + timedelta(minutes=1))
    assert claimed is not None
    assert store.outbox.claim(due[0], NOW + timedelta(minutes=1)) is None  # the other sweep loses
    again = store.outbox.reschedule(claimed, NOW + timedelta(minutes=2), "503 from Teams")
    assert again.attempts == 1 and store.outbox.get(a.id).last_error == "503 from Teams"
    with pytest.raises(Conflict):
        store.outbox.reschedule(claimed, NOW, "stale")

    dead = store.outbox.dead_letter(again, "gave up after 8 attempts")
    assert dead.dead and [i.id for i in store.outbox.list(dead=True)] == [a.id]
    assert [i.id for i in store.outbox.list()] == [b.id]
    requeued = store.outbox.requeue(a.id)
    assert requeued.attempts == 0 and not requeued.dead and store.outbox.list(dead=True) == []
    stored = store.outbox.get(a.id)
    assert stored.requeued_at is not None and stored.requeued_at > stored.created

    assert store.outbox.retry_now(NOW) == 2
    assert {i.id for i in store.outbox.due(NOW)} == {a.id, b.id}
    first = store.outbox.due(NOW)[0]
    store.outbox.complete(first)
    store.outbox.complete(first)  # twice is fine
    assert store.outbox.backlog() == 1

    store.outbox.add(OutboxItem(channel="ops", message="{}", dead=True, reason="no such channel"))
    assert store.outbox.purge(dead=True) == 1
    assert store.outbox.purge(dead=False) == 1
    assert store.outbox.backlog() == 0
    with pytest.raises(NotFound):
        store.outbox.requeue("nope")


# --- dedupe and deliveries -----------------------------------------------------------------------


def test_dedupe_persistence_insert_read_replace_merge_delete(store: Store) -> None:
    """Storage only (the rules are `shared.idempotency`'s, tested in test_idempotency.py)."""
    from shared.idempotency import Status
    from shared.store.models import DedupeRecord

    record = DedupeRecord(scope="deliver", key="msg/1#a", expires=utcnow() + timedelta(minutes=1))
    assert store.dedupe.insert(record) is True
    assert store.dedupe.insert(record) is False  # a conditional insert
    stored = store.dedupe.read("deliver", "msg/1#a")
    assert stored is not None and stored.status == Status.IN_PROGRESS and stored.etag

    done = record.model_copy(update={"status": Status.COMPLETED, "data": {"n": 1}, "expires": utcnow()})
    assert store.dedupe.merge(done) is True  # everything but the expiry
    merged = store.dedupe.read("deliver", "msg/1#a")
    assert merged is not None and merged.status == "COMPLETED" and merged.data == {"n": 1}
    assert merged.expires == stored.expires
    assert store.dedupe.replace(record, stored.etag) is False  # the ETag moved on
    assert store.dedupe.replace(record, merged.etag or "") is True

    when = utcnow() - timedelta(seconds=1)
    assert store.dedupe.set_expiry("deliver", "msg/1#a", when) is True
    expired = store.dedupe.read("deliver", "msg/1#a")  # read hands back expired records too
    assert expired is not None and expired.expires == when and expired.status == "IN_PROGRESS"
    store.dedupe.delete("deliver", "msg/1#a")
    assert store.dedupe.read("deliver", "msg/1#a") is None
    assert store.dedupe.merge(done) is False and store.dedupe.set_expiry("deliver", "msg/1#a", when) is False

    store.dedupe.write_all([record.model_copy(update={"key": f"k{i}"}) for i in range(3)])
    assert all(store.dedupe.read("deliver", f"k{i}") is not None for i in range(3))


def test_deliveries_recent_newest_first(store: Store) -> None:
    for i in range(5):
        store.deliveries.record("ops", i % 2 == 0, f"try {i}")
    recent = store.deliveries.recent("ops", 3)
    assert [r.detail for r in recent] == ["try 4", "try 3", "try 2"]
    assert recent[0].ok is True and recent[1].ok is False
    assert store.deliveries.recent("nobody") == []
