"""Idempotency records (the Powertools pattern): claim a key before the work, complete it after.

PartitionKey = scope, RowKey = key. A claim is a conditional insert; an expired record is taken
over with an ETag-guarded replace, so of two callers racing on one key exactly one gets True.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared.store.entities import from_entity, to_entity
from shared.store.errors import Conflict, NotFound
from shared.store.keys import escape, unescape
from shared.store.models import DedupeRecord, utcnow

if TYPE_CHECKING:
    from shared.store.tables import Table

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

    def _read(self, scope: str, key: str) -> DedupeRecord | None:
        entity = self.table.get(escape(scope), escape(key))
        return None if entity is None else self._record(entity)

    def claim(self, scope: str, key: str, ttl_seconds: float) -> bool:
        """True when the key is new (or its record expired): the caller does the work once."""
        record = DedupeRecord(scope=scope, key=key, expires=utcnow() + timedelta(seconds=ttl_seconds))
        entity = to_entity(record, escape(scope), escape(key), skip=_SKIP)
        for _ in range(2):
            try:
                self.table.create(entity)
                return True
            except Conflict:
                pass
            current = self._read(scope, key)
            if current is None:
                continue  # released in between: try the insert once more
            if current.expires > utcnow() or current.etag is None:
                return False
            try:
                self.table.update(entity, current.etag)
                return True
            except (Conflict, NotFound):
                return False
        return False

    def complete(
        self, scope: str, key: str, data: dict[str, Any] | None = None, ttl_seconds: float | None = None
    ) -> None:
        """Mark the work done, keeping `data` (e.g. the reply) for later duplicates."""
        current = self._read(scope, key)
        expires = utcnow() + timedelta(seconds=ttl_seconds) if ttl_seconds is not None else None
        if expires is None:
            expires = current.expires if current is not None else utcnow() + timedelta(days=1)
        record = DedupeRecord(scope=scope, key=key, status="COMPLETED", expires=expires, data=data)
        self.table.upsert(to_entity(record, escape(scope), escape(key), skip=_SKIP))

    def release(self, scope: str, key: str) -> None:
        """The work failed: let the next attempt claim the key again."""
        self.table.delete(escape(scope), escape(key))

    def get(self, scope: str, key: str) -> DedupeRecord | None:
        """The live record for the key, or None when there is none or it expired."""
        record = self._read(scope, key)
        if record is None or record.expires <= utcnow():
            return None
        return record
