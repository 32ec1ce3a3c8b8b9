"""Teams, channels and routes: configuration records looked up by name, one partition per table.

They are few (tens to hundreds) and read by point lookup on the hot paths (the outgoing bot reads
one team and its channel's link, the proxy one route), so a single partition per table keeps
`list` a single range read.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Generic, TypeVar

from shared.store.entities import from_entity, to_entity
from shared.store.errors import Conflict, NotFound
from shared.store.keys import escape, unescape
from shared.store.models import Channel, Record, Route, Team

if TYPE_CHECKING:
    from shared.store.table import Table

R = TypeVar("R", bound=Record)

#: how long `find_recent` may answer from memory: a change made by another process (the admin CLI)
#: reaches a warm worker within this time.
RECENT_SECONDS = 10.0
_RECENT_MAX = 1000


class NamedRepository(Generic[R]):
    """Records keyed by one name field; `save` is ETag-guarded when the record was read."""

    model: type[R]
    partition: str
    key_field: str

    def __init__(self, table: Table) -> None:
        self.table = table
        self._recent: dict[str, tuple[float, R]] = {}
        self._recent_lock = threading.Lock()
        self._generation = 0

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
        self.forget(self._key(record))
        return record.model_copy(update={"etag": etag})

    def save(self, record: R) -> R:
        """Write the record: only over the version it was read as (Conflict otherwise) when it has an ETag."""
        entity = self._entity(record)
        etag = self.table.update(entity, record.etag) if record.etag else self.table.upsert(entity)
        self.forget(self._key(record))
        return record.model_copy(update={"etag": etag})

    def _lookup(self, partition: str, name: str) -> R | None:
        """One point read; None also for a name no row can have (empty or over 512 characters)."""
        try:
            key = escape(name)
        except ValueError:
            return None
        entity = self.table.get(partition, key)
        return None if entity is None else self._record(entity)

    def find(self, name: str) -> R | None:
        """The record, or None."""
        return self._lookup(self.partition, name)

    def find_recent(self, name: str, max_age: float = RECENT_SECONDS) -> R | None:
        """`find`, answered from memory when this process read the record less than `max_age` ago.

        For the delivery hot paths (a route per incoming post, a channel per delivery): one table
        read fewer each. Only hits are kept, so a new record is found at once; writes through this
        repository drop the copy, and other processes' changes show within `max_age`.
        """
        now = time.monotonic()
        with self._recent_lock:
            hit = self._recent.get(name)
            generation = self._generation
        if hit is not None and hit[0] > now:
            return hit[1]
        record = self.find(name)
        with self._recent_lock:
            if record is None:
                self._recent.pop(name, None)
            elif generation == self._generation:  # no write here since the read began
                if len(self._recent) >= _RECENT_MAX:
                    self._recent.clear()
                self._recent[name] = (now + max_age, record)
        return record

    def forget(self, name: str) -> None:
        """Drop the copy of `name` (after a write); a read that began before is not kept either."""
        with self._recent_lock:
            self._recent.pop(name, None)
            self._generation += 1

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
        self.forget(name)


class TeamRepository(NamedRepository[Team]):
    model = Team
    partition = "team"
    key_field = "key"

    def add(self, record: Team) -> Team:
        """Insert a new registration, with a registration id of its own (see `Team.registration`)."""
        import secrets

        if not record.registration:
            record = record.model_copy(update={"registration": secrets.token_hex(8)})
        return super().add(record)


class ChannelRepository(NamedRepository[Channel]):
    """Channels by name, plus a link row per Teams channel id so the bot finds its channel in one read.

    Link rows live in partition `link` of the same table (RowKey = escaped Teams channel id) and
    hold a copy of the channel, so `find_by_teams_channel` is a single point read. Every write goes
    through here: the channel row first, then its link row, then the old link row (if the Teams
    channel id changed) is deleted when it still points at this channel. A crash in between leaves
    at worst a link the next save rewrites. When two channels name the same Teams channel, the one
    saved last owns the link.
    """

    model = Channel
    partition = "channel"
    key_field = "name"
    LINK = "link"

    def _record(self, entity: object) -> Channel:
        from collections.abc import Mapping

        assert isinstance(entity, Mapping)
        if entity["PartitionKey"] == self.LINK:
            # A copy: it answers with the channel row's ETag, so the record saves like one read by name.
            channel = from_entity(Channel, entity, name=str(entity["name"]))
            etag = entity.get("channel_etag")
            channel.etag = str(etag) if etag else None
        else:
            channel = super()._record(entity)
        channel._linked = channel.teams_channel_id
        return channel

    def _link_entity(self, channel: Channel) -> dict[str, object]:
        assert channel.teams_channel_id
        entity = to_entity(channel, self.LINK, escape(channel.teams_channel_id))
        if channel.etag:
            entity["channel_etag"] = channel.etag
        return entity

    def _link(self, channel: Channel) -> None:
        if channel.teams_channel_id:
            self.table.upsert(self._link_entity(channel))

    def _unlink(self, teams_channel_id: str, name: str) -> None:
        """Delete the link row of `teams_channel_id` if it still points at channel `name`."""
        try:
            key = escape(teams_channel_id)
        except ValueError:
            return
        row = self.table.get(self.LINK, key)
        if row is None or row.get("name") != name:
            return
        etag = getattr(row, "metadata", {}).get("etag")
        try:
            self.table.delete(self.LINK, key, etag=etag)
        except (Conflict, NotFound):
            pass  # relinked or removed meanwhile: leave it to whoever did that

    def add(self, record: Channel) -> Channel:
        saved = super().add(record)
        self._link(saved)
        saved._linked = saved.teams_channel_id
        return saved

    def save(self, record: Channel) -> Channel:
        """Write the channel (ETag-guarded when read from the store) and keep its link row in step."""
        if record.etag:
            old = record._linked
        else:  # built from scratch: what it replaces may be linked elsewhere
            current = self.find(record.name)
            old = current.teams_channel_id if current is not None else None
        saved = super().save(record)
        self._link(saved)
        if old and old != saved.teams_channel_id:
            self._unlink(old, saved.name)
        saved._linked = saved.teams_channel_id
        return saved

    def remove(self, name: str) -> None:
        """Delete the channel and its link; NotFound when there is no such channel."""
        current = self.get(name)
        # The link first: a crash in between leaves a channel to reconnect, not a dangling link.
        if current.teams_channel_id:
            self._unlink(current.teams_channel_id, name)
        self.table.delete(self.partition, escape(name))
        self.forget(name)

    def find_by_teams_channel(self, teams_channel_id: str) -> Channel | None:
        """The channel linked to a Teams channel id (from an outgoing activity): one point read."""
        return self._lookup(self.LINK, teams_channel_id)

    def relink(self) -> int:
        """Write the link row of every linked channel (after an upgrade, or to repair). Returns how many."""
        return self.table.batch(("upsert", self._link_entity(c)) for c in self.list() if c.teams_channel_id)


class RouteRepository(NamedRepository[Route]):
    model = Route
    partition = "route"
    key_field = "name"

    def for_channel(self, channel: str) -> list[Route]:
        """Routes that deliver to `channel` (channels are a JSON list, so filtered here; routes are few)."""
        return [route for route in self.list() if channel in route.channels]
