"""Idempotency records (the Powertools pattern): claim a key before the work, complete it after.

PartitionKey = scope, RowKey = key. A claim is a conditional insert; an expired record is taken
over with an ETag-guarded replace, so of two callers racing on one key exactly one gets True.
Hot paths pay one round trip per claim and one per completion: nothing is read unless the key is
already taken.
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
        return self.try_claim(scope, key, ttl_seconds) is None

    def try_claim(self, scope: str, key: str, ttl_seconds: float) -> DedupeRecord | None:
        """None when the caller now holds the key; otherwise the live record that holds it.

        One round trip when the key is new (a conditional insert). On a conflict the record is read
        once, and handed back so that callers need no second read to tell "in progress" from "done".
        """
        record = DedupeRecord(scope=scope, key=key, expires=utcnow() + timedelta(seconds=ttl_seconds))
        entity = to_entity(record, escape(scope), escape(key), skip=_SKIP)
        holder = record  # what we report if the key keeps changing hands under us
        for _ in range(3):
            try:
                self.table.create(entity)
                return None
            except Conflict:
                pass
            current = self._read(scope, key)
            if current is None:
                continue  # released in between: try the insert once more
            holder = current
            if current.expires > utcnow() or current.etag is None:
                return current
            try:
                self.table.update(entity, current.etag)
                return None
            except (Conflict, NotFound):
                continue  # another caller took it over (or released it): see who holds it now
        return holder

    def complete(
        self, scope: str, key: str, data: dict[str, Any] | None = None, ttl_seconds: float | None = None
    ) -> None:
        """Mark the work done, keeping `data` (e.g. the reply) for later duplicates.

        No read: with `ttl_seconds` the record is written whole; without, status and data are merged
        into the claimed record (keeping its expiry), and only a record gone meanwhile is rewritten.
        """
        if ttl_seconds is not None:
            expires = utcnow() + timedelta(seconds=ttl_seconds)
            record = DedupeRecord(scope=scope, key=key, status="COMPLETED", expires=expires, data=data)
            self.table.upsert(to_entity(record, escape(scope), escape(key), skip=_SKIP))
            return
        record = DedupeRecord(
            scope=scope, key=key, status="COMPLETED", expires=utcnow() + timedelta(days=1), data=data
        )
        entity = to_entity(record, escape(scope), escape(key), skip=_SKIP)
        changes = {name: value for name, value in entity.items() if name != "expires"}
        try:
            self.table.update(changes, None, merge=True)
        except NotFound:
            self.table.upsert(entity)

    def release(self, scope: str, key: str) -> None:
        """The work failed: let the next attempt claim the key again."""
        self.table.delete(escape(scope), escape(key))

    def get(self, scope: str, key: str) -> DedupeRecord | None:
        """The live record for the key, or None when there is none or it expired."""
        record = self._read(scope, key)
        if record is None or record.expires <= utcnow():
            return None
        return record
