"""The idempotency rules (`shared.idempotency`) over the real dedupe table (Azurite)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from shared.idempotency import Claim, Scope, Status, status_of
from shared.store import Store
from shared.store.models import DedupeRecord, utcnow


def test_claim_complete_release_and_expiry(store: Store) -> None:
    keys = Scope(store, "deliver")
    assert keys.acquire("msg/1#a", 60).held is True
    assert keys.acquire("msg/1#a", 60).held is False
    record = keys.find("msg/1#a")
    assert record is not None and record.status == "IN_PROGRESS"
    keys.complete("msg/1#a", {"status": 202})
    record = keys.find("msg/1#a")
    assert record is not None and record.status == "COMPLETED" and record.data == {"status": 202}
    keys.release("msg/1#a")
    assert keys.find("msg/1#a") is None
    assert keys.acquire("msg/1#a", 60).held is True

    # An expired record is taken over by exactly one of two racing claims.
    assert keys.acquire("old", 0.001).held is True
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def race() -> None:
        barrier.wait()
        results.append(keys.acquire("old", 60).held)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1


def test_hot_path_reads_nothing(store: Store) -> None:
    """A new key costs one insert and one write to complete it: no read on the way."""
    incoming, delivery = Scope(store, "incoming:r"), Scope(store, "deliver")
    store.reads.clear()
    assert incoming.acquire("k1", 60).held
    incoming.complete("k1", {"status": "accepted"})
    assert delivery.acquire("k1#1/1", 60).held
    delivery.complete("k1#1/1", {"status": 202}, ttl_seconds=3600)
    assert store.reads["dedupe"] == 0

    # A taken key hands back its holder with the failed claim (one read, no second lookup).
    claim = incoming.acquire("k1", 60)
    assert not claim.held and not claim.in_progress
    assert claim.holder is not None and claim.holder.status == "COMPLETED"
    assert claim.holder.data == {"status": "accepted"}
    assert store.reads["dedupe"] == 1
    assert delivery.acquire("k2", 60).held
    claim = delivery.acquire("k2", 60)
    assert claim.in_progress and claim.holder is not None and claim.holder.status == Status.IN_PROGRESS


def test_complete_keeps_the_claimed_expiry(store: Store) -> None:
    keys = Scope(store, "s")
    keys.acquire("short", 30)
    claimed = keys.find("short")
    keys.complete("short", {"n": 1})
    done = keys.find("short")
    assert claimed is not None and done is not None
    assert done.expires == claimed.expires and done.status == "COMPLETED" and done.data == {"n": 1}

    # With a TTL the expiry is renewed; a record released meanwhile is written again.
    keys.complete("short", {"n": 2}, ttl_seconds=7200)
    renewed = keys.find("short")
    assert renewed is not None and renewed.expires > claimed.expires + timedelta(minutes=59)
    keys.complete("gone", None)
    back = keys.find("gone")
    assert back is not None and back.status == "COMPLETED" and back.expires > utcnow() + timedelta(hours=23)


def test_release_starts_fresh_expire_takes_over_not_fresh(store: Store) -> None:
    """Release: the work did nothing. Expire: half done, so the next holder keeps its notes."""
    keys = Scope(store, "incoming:r")
    assert keys.acquire("released", 600, {"message": "m1"}) == Claim(True, True, {"message": "m1"})
    keys.release("released")
    assert keys.acquire("released", 600, {"message": "m2"}) == Claim(True, True, {"message": "m2"})

    assert keys.acquire("expired", 600, {"message": "m1"}).fresh
    keys.expire("expired")
    assert keys.find("expired") is None  # expired at once
    taken = keys.acquire("expired", 600, {"message": "m2"})
    assert taken == Claim(True, False, {"message": "m1"})  # not fresh: the first attempt's notes
    keys.expire("never-claimed")  # nothing to expire: no error, nothing written
    assert store.dedupe.read("incoming:r", "never-claimed") is None


def test_completed_and_expired_is_taken_over_fresh(store: Store) -> None:
    keys = Scope(store, "incoming:r")
    keys.acquire("window", 600, {"message": "m1"})
    keys.complete("window", {"status": "accepted"}, ttl_seconds=0.001)
    taken = keys.acquire("window", 600, {"message": "m2"})
    assert taken == Claim(True, True, {"message": "m2"})  # its window is over: new work


def test_complete_all_in_one_transaction(store: Store) -> None:
    keys = Scope(store, "deliver")
    store.batches.clear()
    keys.complete_all({f"k#{i}/3": {"at": i} for i in range(3)}, 3600)
    assert store.batches["dedupe"] == 1
    assert [getattr(keys.find(f"k#{i}/3"), "data", None) for i in range(3)] == [{"at": i} for i in range(3)]


@pytest.mark.unit
def test_expired_is_derived_from_the_expiry_never_stored() -> None:
    now = utcnow()
    live = DedupeRecord(scope="s", key="k", status=Status.COMPLETED, expires=now + timedelta(seconds=1))
    assert status_of(live, now) is Status.COMPLETED
    assert status_of(live, now + timedelta(seconds=1)) is Status.EXPIRED
    with pytest.raises(ValueError):
        DedupeRecord.model_validate({"scope": "s", "key": "k", "status": "EXPIRED", "expires": now})
