"""A short log of delivery outcomes per channel (PartitionKey = channel, RowKey newest first).

Delivery writes it with `record_later`: nobody waits for a log line, so it is not worth a round
trip before the sender's answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from shared.store.entities import from_entity, to_entity
from shared.store.keys import escape
from shared.store.models import DeliveryRecord
from shared.store.ordering import descending

if TYPE_CHECKING:
    from shared.store.table import Table

_MAX_DETAIL = 2000


class DeliveryLog:
    def __init__(self, table: Table) -> None:
        self.table = table

    def record(self, channel: str, ok: bool, detail: str = "") -> None:
        """Note one outcome; `detail` must not contain the webhook URL (callers pass a masked one)."""
        self.table.create(self._entity(channel, ok, detail))

    def record_later(self, channel: str, ok: bool, detail: str = "") -> None:
        """`record` in the background, batched (`shared.store.behind`); dropped when that queue is full.

        The same outcome repeated while a batch gathers is one row with a `count`.
        """
        from shared.store.behind import BEHIND

        entity = self._entity(channel, ok, detail)
        BEHIND.submit(self.table, "create", entity, fold=(id(self), channel, ok, detail))

    def _entity(self, channel: str, ok: bool, detail: str) -> dict[str, object]:
        entry = DeliveryRecord(channel=channel, ok=ok, detail=detail[:_MAX_DETAIL])
        return to_entity(entry, escape(channel), descending(), skip=frozenset({"channel"}))

    def channels_after(self, after: str, limit: int) -> list[str]:
        """Up to `limit` stored channel keys after `after` ("" from the start), also of channels
        removed since (`Table.partitions_after`: whatever the rows per channel)."""
        return self.table.partitions_after(after, limit)

    def purge_before(self, channel_key: str, before: datetime, limit: int) -> int:
        """Delete up to `limit` rows of one stored channel key written before `before` (one range
        read: the oldest rows sort last). Rows never change once written: no ETag needed."""
        # RowKeys are `ordering.descending()`: 10**20 - nanoseconds, so older rows sort after this.
        bound = f"{10**20 - int(before.timestamp() * 1_000_000_000):020d}"
        rows = self.table.query(
            "PartitionKey eq @pk and RowKey gt @rk",
            {"pk": channel_key, "rk": bound},
            limit=limit,
            select=["PartitionKey", "RowKey"],
        )
        return _delete_rows(self.table, rows) if rows else 0

    def recent(self, channel: str, limit: int = 20) -> list[DeliveryRecord]:
        """The newest `limit` outcomes, newest first."""
        rows = self.table.partition(escape(channel), limit=limit)
        return [from_entity(DeliveryRecord, e, channel=channel) for e in rows]


def _delete_rows(table: Table, rows: list[Mapping[str, object]]) -> int:
    """Delete rows (by keys) in transactions per partition; a chunk that fails because a row went
    meanwhile is done row by row."""
    from shared.store.errors import StoreError, StoreUnavailable

    ops = [("delete", {"PartitionKey": r["PartitionKey"], "RowKey": r["RowKey"]}) for r in rows]
    try:
        table.batch(ops)
    except StoreUnavailable:
        raise
    except StoreError:
        for _, entity in ops:
            table.delete(str(entity["PartitionKey"]), str(entity["RowKey"]))
    return len(ops)
