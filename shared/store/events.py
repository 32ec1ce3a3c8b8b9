"""Events buffered for digests: one partition per subscription, RowKey in arrival order.

A digest run reads the oldest `limit` events of its subscription with one range read and deletes
what it posted in batches of that same partition.
"""

from __future__ import annotations

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
