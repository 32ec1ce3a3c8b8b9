"""Teams, channels and routes: configuration records looked up by name, one partition per table.

They are few (tens to hundreds) and read by point lookup on the hot paths (the outgoing bot reads
one team, the proxy one route), so a single partition per table keeps `list` a single range read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from shared.store.entities import from_entity, to_entity
from shared.store.errors import NotFound
from shared.store.keys import escape, unescape
from shared.store.models import Channel, Record, Route, Team

if TYPE_CHECKING:
    from shared.store.tables import Table

R = TypeVar("R", bound=Record)


class NamedRepository(Generic[R]):
    """Records keyed by one name field; `save` is ETag-guarded when the record was read."""

    model: type[R]
    partition: str
    key_field: str

    def __init__(self, table: Table) -> None:
        self.table = table

    def _key(self, record: R) -> str:
        return str(getattr(record, self.key_field))

    def _entity(self, record: R) -> dict[str, object]:
        return to_entity(record, self.partition, escape(self._key(record)), skip=frozenset({self.key_field}))

    def _record(self, entity: object) -> R:
        from collections.abc import Mapping

        assert isinstance(entity, Mapping)
        return from_entity(self.model, entity, **{self.key_field: unescape(str(entity["RowKey"]))})

    def add(self, record: R) -> R:
        """Insert a new record; Conflict when one with that name exists."""
        etag = self.table.create(self._entity(record))
        return record.model_copy(update={"etag": etag})

    def save(self, record: R) -> R:
        """Write the record: only over the version it was read as (Conflict otherwise) when it has an ETag."""
        entity = self._entity(record)
        etag = self.table.update(entity, record.etag) if record.etag else self.table.upsert(entity)
        return record.model_copy(update={"etag": etag})

    def find(self, name: str) -> R | None:
        """The record, or None (also for a name no record can have: empty or over 512 characters)."""
        try:
            key = escape(name)
        except ValueError:
            return None
        entity = self.table.get(self.partition, key)
        return None if entity is None else self._record(entity)

    def get(self, name: str) -> R:
        record = self.find(name)
        if record is None:
            raise NotFound(f"no {self.table.logical[:-1]} named {name!r}")
        return record

    def list(self) -> list[R]:
        return [self._record(e) for e in self.table.partition(self.partition)]

    def remove(self, name: str) -> None:
        """Delete; NotFound when there is no such record."""
        if self.find(name) is None:
            raise NotFound(f"no {self.table.logical[:-1]} named {name!r}")
        self.table.delete(self.partition, escape(name))


class TeamRepository(NamedRepository[Team]):
    model = Team
    partition = "team"
    key_field = "key"


class ChannelRepository(NamedRepository[Channel]):
    model = Channel
    partition = "channel"
    key_field = "name"

    def find_by_teams_channel(self, teams_channel_id: str) -> Channel | None:
        """The channel linked to a Teams channel id (from an outgoing activity), if any."""
        rows = self.table.query(
            "PartitionKey eq @pk and teams_channel_id eq @id",
            {"pk": self.partition, "id": teams_channel_id},
            limit=1,
        )
        return self._record(rows[0]) if rows else None


class RouteRepository(NamedRepository[Route]):
    model = Route
    partition = "route"
    key_field = "name"

    def for_channel(self, channel: str) -> list[Route]:
        """Routes that deliver to `channel` (channels are a JSON list, so filtered here; routes are few)."""
        return [route for route in self.list() if channel in route.channels]
