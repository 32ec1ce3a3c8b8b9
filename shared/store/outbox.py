"""The outbox: deliveries Teams has not accepted yet, and dead letters.

Pending items live in partition `pending`, dead letters in `dead`, RowKey in creation order. The
sweep reads only pending rows whose next_attempt has come; it takes each with an ETag-guarded
update of next_attempt (a lease), so two sweeps never send the same item at once.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.store.entities import from_entity, to_entity
from shared.store.errors import Conflict, NotFound
from shared.store.keys import escape, unescape
from shared.store.models import OutboxItem, utcnow
from shared.store.ordering import ascending

if TYPE_CHECKING:
    from shared.store.table import Table

PENDING = "pending"
DEAD = "dead"
_SKIP = frozenset({"id", "dead"})
_MAX_ERROR = 1000


def _short(text: str | None) -> str | None:
    return None if text is None else text[:_MAX_ERROR]


class OutboxRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def _entity(self, item: OutboxItem) -> dict[str, Any]:
        return to_entity(item, DEAD if item.dead else PENDING, escape(item.id), skip=_SKIP)

    def _record(self, entity: Mapping[str, Any]) -> OutboxItem:
        return from_entity(
            OutboxItem, entity, id=unescape(str(entity["RowKey"])), dead=entity["PartitionKey"] == DEAD
        )

    def add(self, item: OutboxItem) -> OutboxItem:
        """Queue a message (an id is assigned when it has none)."""
        if not item.id:
            item = item.model_copy(update={"id": ascending()})
        item = item.model_copy(update={"last_error": _short(item.last_error)})
        etag = self.table.create(self._entity(item))
        return item.model_copy(update={"etag": etag})

    def get(self, item_id: str, *, dead: bool = False) -> OutboxItem:
        try:
            key = escape(item_id)
        except ValueError:  # empty or too long: no item can have that id
            key = None
        entity = None if key is None else self.table.get(DEAD if dead else PENDING, key)
        if entity is None:
            raise NotFound(f"no {'dead letter' if dead else 'outbox item'} with id {item_id!r}")
        return self._record(entity)

    def due(
        self, now: datetime | None = None, limit: int = 50, *, after: str | None = None
    ) -> list[OutboxItem]:
        """Pending items whose next_attempt has come, oldest first (`after`: past that item's id)."""
        when = (now or utcnow()).astimezone(UTC)
        if after is None:
            rows = self.table.query(
                "PartitionKey eq @pk and next_attempt le @now", {"pk": PENDING, "now": when}, limit=limit
            )
        else:
            rows = self.table.query(
                "PartitionKey eq @pk and RowKey gt @after and next_attempt le @now",
                {"pk": PENDING, "after": escape(after), "now": when},
                limit=limit,
            )
        return [self._record(e) for e in rows]

    def claim(self, item: OutboxItem, lease_until: datetime) -> OutboxItem | None:
        """Take an item for one attempt (next_attempt moves to `lease_until`); None if another has it."""
        if item.etag is None:
            raise ValueError("claim needs an item read from the store (it has no ETag)")
        leased = item.model_copy(update={"next_attempt": lease_until.astimezone(UTC)})
        try:
            etag = self.table.update(self._entity(leased), item.etag)
        except (Conflict, NotFound):
            return None
        return leased.model_copy(update={"etag": etag})

    def complete(self, item: OutboxItem) -> None:
        """Teams accepted it: forget it."""
        self.table.delete(PENDING, escape(item.id))

    def complete_all(self, items: builtins.list[OutboxItem]) -> int:
        """Forget several accepted items (one transaction per 100; one by one if a row went meanwhile)."""
        from shared.store.errors import StoreUnavailable

        try:
            return self.table.batch(
                ("delete", {"PartitionKey": PENDING, "RowKey": escape(item.id)}) for item in items
            )
        except StoreUnavailable:
            raise
        except (Conflict, NotFound):
            for item in items:
                self.complete(item)
            return len(items)

    def reschedule(self, item: OutboxItem, next_attempt: datetime, error: str | None) -> OutboxItem:
        """Count a failed attempt and try again at `next_attempt` (Conflict if someone else took it)."""
        again = item.model_copy(
            update={
                "attempts": item.attempts + 1,
                "next_attempt": next_attempt.astimezone(UTC),
                "last_error": _short(error),
            }
        )
        entity = self._entity(again)
        etag = self.table.update(entity, item.etag) if item.etag else self.table.upsert(entity)
        return again.model_copy(update={"etag": etag})

    def dead_letter(self, item: OutboxItem, reason: str) -> OutboxItem:
        """Give up on an item: it moves to the dead letters with `reason`."""
        dead = item.model_copy(update={"dead": True, "reason": _short(reason), "etag": None})
        etag = self.table.upsert(self._entity(dead))
        self.table.delete(PENDING, escape(item.id))
        return dead.model_copy(update={"etag": etag})

    def list(self, *, dead: bool = False, limit: int | None = None) -> list[OutboxItem]:
        return [self._record(e) for e in self.table.partition(DEAD if dead else PENDING, limit=limit)]

    def requeue(self, item_id: str) -> OutboxItem:
        """Put a dead letter back in the queue, due now, with its attempts reset.

        `requeued_at` restarts the give-up age, so an old letter gets a full retry window; `created`
        stays, because the sweep orders the parts of a message by it.
        """
        dead = self.get(item_id, dead=True)
        now = utcnow()
        again = dead.model_copy(
            update={
                "dead": False,
                "reason": None,
                "attempts": 0,
                "next_attempt": now,
                "requeued_at": now,
                "etag": None,
            }
        )
        etag = self.table.upsert(self._entity(again))
        self.table.delete(DEAD, escape(item_id))
        return again.model_copy(update={"etag": etag})

    def retry_now(self, now: datetime | None = None) -> int:
        """Make every pending item due now (the next sweep sends them). Returns how many."""
        when = (now or utcnow()).astimezone(UTC)
        rows = self.table.query("PartitionKey eq @pk", {"pk": PENDING}, select=["PartitionKey", "RowKey"])
        ops = [
            ("update", {"PartitionKey": r["PartitionKey"], "RowKey": r["RowKey"], "next_attempt": when})
            for r in rows
        ]
        return self.table.batch(ops)

    def purge(self, *, dead: bool = True) -> int:
        """Delete every dead letter (or every pending item with dead=False). Returns how many."""
        partition = DEAD if dead else PENDING
        rows = self.table.query("PartitionKey eq @pk", {"pk": partition}, select=["PartitionKey", "RowKey"])
        return self.table.batch(
            ("delete", {"PartitionKey": r["PartitionKey"], "RowKey": r["RowKey"]}) for r in rows
        )

    def waiting(self, channel: str | None = None) -> builtins.list[tuple[str, datetime]]:
        """(channel, created) of each pending item (of one channel): counts and oldest waits, one query."""
        select = ["channel", "created"]
        if channel is None:
            rows = self.table.query("PartitionKey eq @pk", {"pk": PENDING}, select=select)
        else:
            rows = self.table.query(
                "PartitionKey eq @pk and channel eq @ch", {"pk": PENDING, "ch": channel}, select=select
            )
        out: builtins.list[tuple[str, datetime]] = []
        for row in rows:
            created = row.get("created")
            if isinstance(created, datetime):
                out.append((str(row.get("channel", "")), created.astimezone(UTC)))
        return out

    def backlog(self, channel: str | None = None) -> int:
        """Pending items (for one channel): the proxy and the bot report it, the sweep watches it."""
        if channel is None:
            rows = self.table.query("PartitionKey eq @pk", {"pk": PENDING}, select=["RowKey"])
        else:
            rows = self.table.query(
                "PartitionKey eq @pk and channel eq @ch", {"pk": PENDING, "ch": channel}, select=["RowKey"]
            )
        return len(rows)
