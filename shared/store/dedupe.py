"""Idempotency records (the Powertools pattern): claim a key before the work, complete it after.

PartitionKey = scope, RowKey = key. A claim is a conditional insert; an expired record is taken
over with an ETag-guarded replace, so of two callers racing on one key exactly one gets True.
Hot paths pay one round trip per claim and one per completion: nothing is read unless the key is
already taken.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared.store.entities import from_entity, to_entity
from shared.store.errors import Conflict, NotFound
from shared.store.keys import escape, unescape
from shared.store.models import DedupeRecord, utcnow

if TYPE_CHECKING:
    from shared.store.table import Table

_SKIP = frozenset({"scope", "key"})


@dataclass(frozen=True)
class Claim:
    """The outcome of `acquire`.

    `held`: the caller now holds the key. `fresh`: no earlier attempt left work half done under
    it (the key was new, or its last holder completed); False after taking over an attempt that
    died or gave up, whose partial work the caller must check. `data`: what the record now holds
    (after such a takeover, the unfinished attempt's notes). `holder`: when not held, the record
    that holds the key (in this process it may be a completion not written yet: no ETag then).
    """

    held: bool
    fresh: bool = False
    data: dict[str, Any] | None = None
    holder: DedupeRecord | None = None


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
        """None when the caller now holds the key; otherwise the live record that holds it."""
        claim = self.acquire(scope, key, ttl_seconds)
        return None if claim.held else claim.holder

    def acquire(self, scope: str, key: str, ttl_seconds: float, data: dict[str, Any] | None = None) -> Claim:
        """Claim the key, noting `data` in the record: one round trip when it is new (a conditional insert).

        On a conflict the record is read once and handed back, so callers need no second read to
        tell "in progress" from "done"; an expired one is taken over with an ETag-guarded replace.
        Taking over unfinished work keeps its `data`, which says what that work was.
        """
        expires = utcnow() + timedelta(seconds=ttl_seconds)
        record = DedupeRecord(scope=scope, key=key, expires=expires, data=data)
        entity = to_entity(record, escape(scope), escape(key), skip=_SKIP)
        holder = record  # what we report if the key keeps changing hands under us
        for _ in range(3):
            try:
                self.table.create(entity)
                return Claim(held=True, fresh=True, data=data)
            except Conflict:
                pass
            current = self._read(scope, key)
            if current is None:
                continue  # released in between: try the insert once more
            holder = current
            if current.expires > utcnow() or current.etag is None:
                if current.status == "IN_PROGRESS":
                    # Done here already, its completion still on the way (`complete_later`)?
                    current = self._pending_completion(scope, key) or current
                return Claim(held=False, holder=current)
            fresh = current.status == "COMPLETED"
            kept = data if fresh or current.data is None else current.data
            takeover = record.model_copy(update={"data": kept})
            try:
                self.table.update(to_entity(takeover, escape(scope), escape(key), skip=_SKIP), current.etag)
                return Claim(held=True, fresh=fresh, data=kept)
            except (Conflict, NotFound):
                continue  # another caller took it over (or released it): see who holds it now
        return Claim(held=False, holder=holder)

    def _completed(
        self, scope: str, key: str, data: dict[str, Any] | None, ttl_seconds: float
    ) -> dict[str, Any]:
        expires = utcnow() + timedelta(seconds=ttl_seconds)
        record = DedupeRecord(scope=scope, key=key, status="COMPLETED", expires=expires, data=data)
        return to_entity(record, escape(scope), escape(key), skip=_SKIP)

    def complete(
        self, scope: str, key: str, data: dict[str, Any] | None = None, ttl_seconds: float | None = None
    ) -> None:
        """Mark the work done, keeping `data` (e.g. the reply) for later duplicates.

        No read: with `ttl_seconds` the record is written whole; without, status and data are merged
        into the claimed record (keeping its expiry), and only a record gone meanwhile is rewritten.
        """
        if ttl_seconds is not None:
            self.table.upsert(self._completed(scope, key, data, ttl_seconds))
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

    def complete_all(
        self, scope: str, done: Mapping[str, dict[str, Any] | None], ttl_seconds: float
    ) -> None:
        """`complete` (with a new expiry) for several keys of one scope: one transaction per 100."""
        entities = [self._completed(scope, key, data, ttl_seconds) for key, data in done.items()]
        self.table.batch(("upsert", entity) for entity in entities)

    def complete_later(
        self, scope: str, key: str, data: dict[str, Any] | None = None, *, ttl_seconds: float
    ) -> None:
        """`complete` (with a new expiry), written behind the caller (`shared.store.behind`).

        For the incoming proxy's hot path. Until the write lands, `acquire` in this process sees
        it, and other processes see the claim "in progress". If it is lost (the process ends
        within a moment, or the store fails the write twice), the claim's lease runs out and the
        next attempt takes the key over as not `fresh`. Written inline when that queue is full.
        """
        from shared.store.behind import BEHIND

        entity = self._completed(scope, key, data, ttl_seconds)
        if not BEHIND.submit(self.table, "upsert", entity):
            self.table.upsert(entity)

    def _pending_completion(self, scope: str, key: str) -> DedupeRecord | None:
        from shared.store.behind import BEHIND

        entity = BEHIND.pending(self.table, escape(scope), escape(key))
        return None if entity is None else self._record(entity)

    def release(self, scope: str, key: str) -> None:
        """The work failed: let the next attempt claim the key again."""
        self.table.delete(escape(scope), escape(key))

    def expire(self, scope: str, key: str) -> None:
        """The work failed half done: the next attempt claims the key at once, but not `fresh`."""
        changes = {"PartitionKey": escape(scope), "RowKey": escape(key), "expires": utcnow()}
        try:
            self.table.update(changes, None, merge=True)
        except NotFound:
            pass

    def get(self, scope: str, key: str) -> DedupeRecord | None:
        """The live record for the key, or None when there is none or it expired."""
        record = self._read(scope, key)
        if record is None or record.expires <= utcnow():
            return None
        return record
