"""Persistence of the connections' shared budgets: PartitionKey "connection", RowKey = its name.

Only storage mechanics live here (entities, ETags); what the send log means and how a post takes
a slot is `shared.delivery.budget`'s. Each method is one round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.store.entities import from_entity, to_entity
from shared.store.keys import escape, unescape
from shared.store.models import ConnectionState

if TYPE_CHECKING:
    from shared.store.table import Table

PARTITION = "connection"
_SKIP = frozenset({"name"})


class BudgetRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    def _record(self, entity: Mapping[str, Any]) -> ConnectionState:
        return from_entity(ConnectionState, entity, name=unescape(str(entity["RowKey"])))

    def _entity(self, state: ConnectionState) -> dict[str, Any]:
        return to_entity(state, PARTITION, escape(state.name), skip=_SKIP)

    def read(self, name: str) -> ConnectionState | None:
        """The stored state with its ETag; None when the connection has none yet."""
        entity = self.table.get(PARTITION, escape(name))
        return None if entity is None else self._record(entity)

    def write(self, state: ConnectionState) -> ConnectionState:
        """Write `state` only if the row still has its ETag (no ETag: only if there is no row).

        Raises `Conflict` when another writer came first (and NotFound when the row went).
        """
        entity = self._entity(state)
        etag = self.table.update(entity, state.etag) if state.etag else self.table.create(entity)
        return state.model_copy(update={"etag": etag})

    def set_budget(self, name: str, budget: str | None) -> None:
        """Override (or with None, stop overriding) the connection's budget; the log is kept."""
        entity: dict[str, Any] = {"PartitionKey": PARTITION, "RowKey": escape(name), "budget": budget or ""}
        self.table.upsert(entity, merge=True)

    def list(self) -> list[ConnectionState]:
        return [self._record(e) for e in self.table.partition(PARTITION)]
