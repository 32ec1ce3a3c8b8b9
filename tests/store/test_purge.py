"""Retention through Azurite (issue 13, item 7): the purge removes what nothing else removes,
a bounded amount per run, and keeps everything still in use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.store import purge
from shared.store.keys import escape
from shared.store.models import DedupeRecord, KeyStatus, Subscription

NOW = datetime.now(UTC)


def _key(store: Any, scope: str, key: str, expires: datetime) -> None:
    store.dedupe.write(DedupeRecord(scope=scope, key=key, status=KeyStatus.COMPLETED, expires=expires))


def _old_delivery(store: Any, channel: str, when: datetime) -> None:
    row = f"{10**20 - int(when.timestamp() * 1_000_000_000):020d}abcdef"
    store.deliveries.table.create({"PartitionKey": escape(channel), "RowKey": row, "ok": True, "detail": "x"})


def _old_event(store: Any, sub_id: str, when: datetime) -> None:
    row = f"{int(when.timestamp() * 1_000_000_000):020d}abcdef"
    store.events.table.create({"PartitionKey": escape(sub_id), "RowKey": row, "data": "{}"})


def _sub(store: Any, sub_id: str) -> Subscription:
    saved: Subscription = store.subscriptions.add(
        Subscription(id=sub_id, channel="ops", source="events", target="alerts")
    )
    return saved


def test_purge_removes_only_what_is_past_retention(store: Any) -> None:
    long_ago = NOW - timedelta(days=60)
    _key(store, "incoming:r", "gone", long_ago)
    _key(store, "outgoing", "replay-gone", long_ago)
    _key(store, "incoming:r", "just-expired", NOW - timedelta(hours=1))  # within the grace
    _key(store, "incoming:r", "live", NOW + timedelta(hours=1))
    store.deliveries.record("ops", True, "new")
    _old_delivery(store, "ops", long_ago)
    _old_delivery(store, "removed-channel", long_ago)
    live = _sub(store, "s" + "a" * 12)
    store.events.append(live.id, {"title": "new"})
    _old_event(store, live.id, long_ago)
    for _ in range(3):
        store.events.append("sgone12", {"title": "orphan"})  # its subscription was removed

    stats = purge.purge(store, NOW)

    assert (stats.keys, stats.deliveries, stats.events) == (2, 2, 4), stats
    assert store.dedupe.read("incoming:r", "gone") is None
    assert store.dedupe.read("outgoing", "replay-gone") is None
    assert store.dedupe.read("incoming:r", "just-expired") is not None
    assert store.dedupe.read("incoming:r", "live") is not None
    assert [r.detail for r in store.deliveries.recent("ops")] == ["new"]
    assert store.deliveries.recent("removed-channel") == []
    assert [e.data for e in store.events.pending(live.id)] == [{"title": "new"}]
    assert store.events.pending("sgone12") == []
    assert purge.purge(store, NOW).as_dict() == {"keys": 0, "deliveries": 0, "events": 0, "partitions": 1}


def test_purge_is_bounded_per_run_and_resumes(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETENTION_PURGE_PER_RUN", "3")
    for i in range(5):
        _key(store, "delivery", f"k{i}", NOW - timedelta(days=30))
        _old_delivery(store, "ops", NOW - timedelta(days=90, minutes=i))
        store.events.append("sorphan", {"n": i})
    first = purge.purge(store, NOW)
    assert (first.keys, first.deliveries, first.events) == (3, 3, 3)
    second = purge.purge(store, NOW)
    assert (second.keys, second.deliveries, second.events) == (2, 2, 2)
    assert store.events.pending("sorphan") == []


def test_the_events_cursor_visits_every_partition(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(purge, "PARTITIONS_PER_RUN", 2)
    for name in ("sa", "sb", "sc", "sd", "se"):
        store.events.append(name, {"x": 1})
    seen = 0
    for _ in range(3):
        seen += purge.purge(store, NOW).partitions
    assert seen == 5
    assert all(store.events.pending(name) == [] for name in ("sa", "sb", "sc", "sd", "se"))


def test_removing_a_subscription_removes_its_events(store: Any) -> None:
    old_style = _sub(store, "s1a2b3c")  # a 24-bit id made before: still found and removable
    other = _sub(store, "s" + "b" * 12)
    for i in range(3):
        store.events.append(old_style.id, {"n": i})
    store.events.append(other.id, {"n": 9})
    removed = purge.remove_subscription(store, "s1a2b3c")
    assert removed.id == "s1a2b3c"
    assert store.subscriptions.find("s1a2b3c") is None
    assert store.events.pending("s1a2b3c") == []
    assert len(store.events.pending(other.id)) == 1  # another subscription's events stay
    again = _sub(store, "s1a2b3c")  # an id used again starts with nothing to drain
    assert store.events.pending(again.id) == []


def test_a_store_failure_is_reported_not_raised(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.store.errors import StoreUnavailable

    def down(*args: Any, **kwargs: Any) -> int:
        raise StoreUnavailable("down")

    monkeypatch.setattr(store.dedupe, "purge_expired", down)
    assert purge.purge(store, NOW).failed == "keys: storage unavailable"


@pytest.mark.unit
def test_bot_subscription_ids_have_48_random_bits() -> None:
    from shared.outgoing.commands import _new_subscription_id

    ids = {_new_subscription_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 13 and i[0] == "s" and int(i[1:], 16) >= 0 for i in ids)


@pytest.mark.unit
def test_retention_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared import settings

    assert settings.retention() == settings.Retention(30, 168, 30, 1000)
    monkeypatch.setenv("RETENTION_PURGE_PER_RUN", "0")
    monkeypatch.setenv("RETENTION_EVENTS_DAYS", "7")
    assert settings.retention().per_run == 1 and settings.retention().events_days == 7
    monkeypatch.setenv("RETENTION_DELIVERY_LOG_DAYS", "x")
    with pytest.raises(settings.SettingError):
        settings.retention()


def test_expired_keys_are_found_a_slice_per_run_wherever_they_are(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETENTION_PURGE_PER_RUN", "4")
    for i in range(6):
        _key(store, "incoming:r", f"old{i}", NOW - timedelta(days=30))
        _key(store, "incoming:r", f"new{i}", NOW + timedelta(days=1))
    for _ in range(6):  # 13 records (with the purge's own), 4 read a run: the walk wraps around
        purge.purge(store, NOW)
    assert [store.dedupe.read("incoming:r", f"old{i}") for i in range(6)] == [None] * 6
    assert all(store.dedupe.read("incoming:r", f"new{i}") is not None for i in range(6))
