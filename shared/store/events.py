"""Events buffered for digests: one partition per subscription, RowKey in arrival order.

A digest run reads the oldest `limit` events of its subscription with one range read and deletes
what it posted in batches of that same partition.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.store.entities import from_entity, to_entity
from shared.store.keys import escape
from shared.store.models import Event
from shared.store.ordering import ascending

if TYPE_CHECKING:
    from shared.store.table import Table


class EventRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def append(self, subscription_id: str, data: dict[str, Any]) -> str:
        """Buffer one event; returns its id (which sorts after earlier ones)."""
        event = Event(id=ascending(), subscription_id=subscription_id, data=data)
        self.table.create(
            to_entity(event, escape(subscription_id), event.id, skip=frozenset({"id", "subscription_id"}))
        )
        return event.id

    def pending(self, subscription_id: str, limit: int = 100) -> list[Event]:
        """The oldest `limit` events of the subscription, oldest first."""
        rows = self.table.partition(escape(subscription_id), limit=limit)
        return [from_entity(Event, e, id=str(e["RowKey"]), subscription_id=subscription_id) for e in rows]

    def count(self, subscription_id: str) -> int:
        rows = self.table.query("PartitionKey eq @pk", {"pk": escape(subscription_id)}, select=["RowKey"])
        return len(rows)

    def remove_all(self, subscription_id: str, limit: int = 1000) -> int:
        """Delete up to `limit` buffered events of the subscription, oldest first (the purge takes
        the rest of a partition whose subscription is gone). Returns how many went."""
        rows = self.table.query(
            "PartitionKey eq @pk", {"pk": escape(subscription_id)}, limit=limit, select=["RowKey"]
        )
        return self.remove(subscription_id, [str(r["RowKey"]) for r in rows]) if rows else 0

    def remove_before(self, subscription_id: str, before: datetime, limit: int) -> int:
        """Delete up to `limit` events buffered before `before` (RowKeys sort by arrival time)."""
        bound = f"{int(before.timestamp() * 1_000_000_000):020d}"
        rows = self.table.query(
            "PartitionKey eq @pk and RowKey lt @rk",
            {"pk": escape(subscription_id), "rk": bound},
            limit=limit,
            select=["RowKey"],
        )
        return self.remove(subscription_id, [str(r["RowKey"]) for r in rows]) if rows else 0

    def subscriptions_after(self, after: str, limit: int) -> list[str]:
        """Up to `limit` subscription ids that have buffered events, in key order after the
        escaped key `after` ("" from the start); the cost does not grow with the number of events
        (`Table.partitions_after`)."""
        from shared.store.keys import unescape

        return [unescape(key) for key in self.table.partitions_after(after, limit)]

    def remove(self, subscription_id: str, ids: list[str]) -> int:
        """Delete events by id (batched); ids already gone are skipped. Returns how many were asked."""
        from shared.store.errors import NotFound, StoreError

        pk = escape(subscription_id)
        ops = [("delete", {"PartitionKey": pk, "RowKey": i}) for i in dict.fromkeys(ids)]
        try:
            self.table.batch(ops)
        except (NotFound, StoreError):
            # One missing row fails its whole chunk; fall back to single deletes, which ignore it.
            for _, entity in ops:
                self.table.delete(pk, str(entity["RowKey"]))
        return len(ops)
