"""Subscriptions and their due index.

The `schedule` table holds one row per active subscription at its next_run (PartitionKey = the
hour, RowKey = second-precision stamp + id), so `due(now)` is one range read of rows whose time has
come plus one point read per due subscription: reads grow with the number due, not the number
stored. The index is written before the subscription and the old row deleted after, so a crash
leaves at worst an extra row; `due` recognises such stale rows (the subscription's next_run no
longer matches) and deletes them once the subscription has moved past them.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.invocation import run_parallel
from shared.store.entities import from_entity, to_entity
from shared.store.errors import Conflict, NotFound
from shared.store.keys import escape, unescape
from shared.store.models import Subscription

if TYPE_CHECKING:
    from shared.store.table import Table

PARTITION = "sub"
_SKIP = frozenset({"id"})
# An index row whose subscription is missing is only removed once it is this old, so that a
# subscription being added right now (index first, then the record) is not cut from the index.
_ORPHAN_GRACE = timedelta(minutes=5)


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


def _bucket(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%d%H")


def _index_keys(sub_id: str, when: datetime) -> tuple[str, str]:
    return _bucket(when), f"{_stamp(when)}|{escape(sub_id)}"


class SubscriptionRepository:
    """Subscriptions, with next_run mirrored in the due index."""

    def __init__(self, table: Table, index: Table) -> None:
        self.table = table
        self.index = index

    # conversions ----------------------------------------------------------------------------

    def _entity(self, sub: Subscription) -> dict[str, Any]:
        return to_entity(sub, PARTITION, escape(sub.id), skip=_SKIP)

    def _record(self, entity: Mapping[str, Any]) -> Subscription:
        sub = from_entity(Subscription, entity, id=unescape(str(entity["RowKey"])))
        sub._indexed = sub.next_run if not sub.paused else None
        return sub

    @staticmethod
    def _indexable(sub: Subscription) -> datetime | None:
        return None if sub.paused or sub.next_run is None else sub.next_run

    def _index_entity(self, sub_id: str, when: datetime) -> dict[str, Any]:
        pk, rk = _index_keys(sub_id, when)
        return {"PartitionKey": pk, "RowKey": rk, "sub": sub_id}

    # reads ----------------------------------------------------------------------------------

    def find(self, sub_id: str) -> Subscription | None:
        try:
            key = escape(sub_id)
        except ValueError:
            return None
        entity = self.table.get(PARTITION, key)
        return None if entity is None else self._record(entity)

    def get(self, sub_id: str) -> Subscription:
        sub = self.find(sub_id)
        if sub is None:
            raise NotFound(f"no subscription with id {sub_id!r}")
        return sub

    def list(self, channel: str | None = None) -> builtins.list[Subscription]:
        if channel is None:
            rows = self.table.partition(PARTITION)
        else:
            rows = self.table.query(
                "PartitionKey eq @pk and channel eq @ch", {"pk": PARTITION, "ch": channel}
            )
        return [self._record(e) for e in rows]

    def following_route(self, route_name: str) -> builtins.list[Subscription]:
        """Subscriptions that digest the events of one incoming route (source events:<route>)."""
        rows = self.table.query(
            "PartitionKey eq @pk and source eq 'events' and target eq @t", {"pk": PARTITION, "t": route_name}
        )
        return [self._record(e) for e in rows]

    def due(self, now: datetime, limit: int = 100) -> builtins.list[Subscription]:
        """Active subscriptions whose next_run <= now, earliest first, at most `limit`.

        Reads `limit`-bounded index rows and one subscription per row, never the whole table.
        """
        now = now.astimezone(UTC)
        rows = self.index.query(
            "PartitionKey le @pk and RowKey le @rk",
            {"pk": _bucket(now), "rk": _stamp(now) + "~"},
            limit=limit,
        )
        subs = run_parallel(rows, lambda row: self.find(str(row["sub"])))
        out: builtins.list[Subscription] = []
        for row, sub in zip(rows, subs, strict=True):
            stamp = str(row["RowKey"]).split("|", 1)[0]
            when = datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
            if (
                sub is not None
                and not sub.paused
                and sub.next_run is not None
                and _stamp(sub.next_run) == stamp
            ):
                out.append(sub)
                continue
            # A stale row: delete it only when nothing can still be about to match it.
            moved_on = sub is not None and sub.next_run is not None and sub.next_run > when
            orphan = sub is None and now - when > _ORPHAN_GRACE
            if moved_on or orphan:
                self.index.delete(str(row["PartitionKey"]), str(row["RowKey"]))
        out.sort(key=lambda s: s.next_run or now)
        return out

    # writes ---------------------------------------------------------------------------------

    def add(self, sub: Subscription) -> Subscription:
        """Insert a new subscription (Conflict when the id exists) and index its next_run."""
        etag = self.table.create(self._entity(sub))
        when = self._indexable(sub)
        if when is not None:
            self.index.upsert(self._index_entity(sub.id, when))
        saved = sub.model_copy(update={"etag": etag})
        saved._indexed = when
        return saved

    def add_many(self, subs: builtins.list[Subscription]) -> int:
        """Bulk insert (batches of 100 per partition): imports and the benchmark."""
        count = self.table.batch(("create", self._entity(s)) for s in subs)
        self.index.batch(
            ("upsert", self._index_entity(s.id, when))
            for s in subs
            if (when := self._indexable(s)) is not None
        )
        return count

    def save(self, sub: Subscription) -> Subscription:
        """Write the subscription over the version it was read as (Conflict when it changed since).

        This is the guard for moving a cursor or next_run: two runs that read the same version
        cannot both save. Without an ETag (a record built from scratch) it is a plain upsert.
        """
        old = sub._indexed
        new = self._indexable(sub)
        if new is not None and (old is None or _index_keys(sub.id, old) != _index_keys(sub.id, new)):
            self.index.upsert(self._index_entity(sub.id, new))
        entity = self._entity(sub)
        etag = self.table.update(entity, sub.etag) if sub.etag else self.table.upsert(entity)
        if old is not None and (new is None or _index_keys(sub.id, old) != _index_keys(sub.id, new)):
            self.index.delete(*_index_keys(sub.id, old))
        saved = sub.model_copy(update={"etag": etag})
        saved._indexed = new
        return saved

    def claim(self, sub: Subscription, lease_until: datetime) -> Subscription | None:
        """Take a due subscription for one run: next_run moves to `lease_until` under its ETag.

        Returns the claimed version (save it with the real next_run when done), or None when
        another run claimed or changed it first. If this run dies, the lease expires and the
        subscription is due again at `lease_until`.
        """
        if sub.etag is None:
            raise ValueError("claim needs a subscription read from the store (it has no ETag)")
        leased = sub.model_copy(update={"next_run": lease_until.astimezone(UTC)})
        try:
            return self.save(leased)
        except (Conflict, NotFound):
            return None

    def remove(self, sub_id: str) -> None:
        """Delete the subscription and its index row; NotFound when there is none."""
        sub = self.get(sub_id)
        self.table.delete(PARTITION, escape(sub_id))
        if sub._indexed is not None:
            self.index.delete(*_index_keys(sub_id, sub._indexed))
