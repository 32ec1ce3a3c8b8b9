"""Persistence of idempotency records: PartitionKey = scope, RowKey = key.

Only storage mechanics live here (key escaping, entities, ETags, the write-behind queue); what the
records mean, when a key may be taken over and what survives a takeover is `shared.idempotency`.
Each method is one round trip (none for `pending`); nothing is read unless a caller asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.store.entities import from_entity, to_entity
from shared.store.errors import Conflict, NotFound
from shared.store.keys import escape, unescape
from shared.store.models import DedupeRecord

if TYPE_CHECKING:
    from shared.store.table import Table

_SKIP = frozenset({"scope", "key"})


class DedupeRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def _record(self, entity: Mapping[str, Any]) -> DedupeRecord:
        return from_entity(
            DedupeRecord,
            entity,
            scope=unescape(str(entity["PartitionKey"])),
            key=unescape(str(entity["RowKey"])),
        )

    def _entity(self, record: DedupeRecord) -> dict[str, Any]:
        return to_entity(record, escape(record.scope), escape(record.key), skip=_SKIP)

    def insert(self, record: DedupeRecord) -> bool:
        """Write `record` unless its key exists (a conditional insert): False when it does."""
        try:
            self.table.create(self._entity(record))
        except Conflict:
            return False
        return True

    def read(self, scope: str, key: str) -> DedupeRecord | None:
        """The stored record, expired or not, with its ETag; None when there is none."""
        entity = self.table.get(escape(scope), escape(key))
        return None if entity is None else self._record(entity)

    def pending(self, scope: str, key: str) -> DedupeRecord | None:
        """The record this process queued behind (`write_later`) and not written yet; no ETag."""
        from shared.store.behind import BEHIND

        entity = BEHIND.pending(self.table, escape(scope), escape(key))
        return None if entity is None else self._record(entity)

    def replace(self, record: DedupeRecord, etag: str) -> bool:
        """Replace the stored record if it still has `etag`: False when it changed or went."""
        try:
            self.table.update(self._entity(record), etag)
        except (Conflict, NotFound):
            return False
        return True

    def write(self, record: DedupeRecord) -> None:
        """Write `record` whole, whatever is stored (no read)."""
        self.table.upsert(self._entity(record))

    def merge(self, record: DedupeRecord) -> bool:
        """Merge every field of `record` but its expiry into the stored one: False when none is stored."""
        changes = {name: value for name, value in self._entity(record).items() if name != "expires"}
        try:
            self.table.update(changes, None, merge=True)
        except NotFound:
            return False
        return True

    def set_expiry(self, scope: str, key: str, expires: datetime) -> bool:
        """Change only the stored record's expiry: False when none is stored."""
        changes = {"PartitionKey": escape(scope), "RowKey": escape(key), "expires": expires}
        try:
            self.table.update(changes, None, merge=True)
        except NotFound:
            return False
        return True

    def delete(self, scope: str, key: str) -> None:
        self.table.delete(escape(scope), escape(key))

    def write_all(self, records: Iterable[DedupeRecord]) -> None:
        """`write` for several records: transactions per scope, 100 records each."""
        self.table.batch(("upsert", self._entity(record)) for record in records)

    def purge_expired(
        self, before: datetime, limit: int, after: tuple[str, str] = ("", "")
    ) -> tuple[int, tuple[str, str] | None]:
        """Read up to `limit` records in key order after the stored keys `after` and delete those
        whose expiry is before `before` (the purge's cut-off, well after expiry): the table has no
        time order, so the purge walks it a bounded slice per run. Each delete is conditional on
        the ETag read, so a record taken over since is kept. Returns (deleted, the keys to go on
        after, or None at the end of the table)."""
        from shared.invocation import run_parallel

        pk, rk = after
        rows = self.table.query(
            "PartitionKey gt @pk or ( PartitionKey eq @pk and RowKey gt @rk )",  # blanks round @rk: the SDK
            {"pk": pk, "rk": rk},
            limit=limit,
            select=["PartitionKey", "RowKey", "expires"],
        )
        last = (str(rows[-1]["PartitionKey"]), str(rows[-1]["RowKey"])) if len(rows) >= limit else None
        rows = [r for r in rows if _before(r.get("expires"), before)]

        def delete(entity: Mapping[str, Any]) -> bool:
            metadata = getattr(entity, "metadata", None)
            etag = metadata.get("etag") if isinstance(metadata, Mapping) else None
            try:
                self.table.delete(str(entity["PartitionKey"]), str(entity["RowKey"]), etag=etag)
            except (Conflict, NotFound):
                return False
            return True

        return sum(run_parallel(rows, delete, name="purge-dedupe")), last

    def write_later(self, record: DedupeRecord) -> None:
        """`write`, behind the caller (`shared.store.behind`); inline when that queue is full."""
        from shared.store.behind import BEHIND

        entity = self._entity(record)
        if not BEHIND.submit(self.table, "upsert", entity):
            self.table.upsert(entity)


def _before(value: object, cutoff: datetime) -> bool:
    """An entity's `expires` (a datetime, or its ISO text from some emulators) before `cutoff`."""
    from datetime import UTC

    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
    if not isinstance(value, datetime):
        return False
    return (value if value.tzinfo else value.replace(tzinfo=UTC)) < cutoff
