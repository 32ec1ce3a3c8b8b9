"""One table behind a small interface: errors mapped, batches split, reads counted, created on write.

The repositories are written against `Table` only. A table gets what it shares with the other
tables of its store as a `TableContext` (the SDK client, the timeout, the counters), never the
`Store` itself, so this module knows nothing of the layer composed above it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from shared.store.account import CONNECT_SHARE
from shared.store.errors import NotFound
from shared.store.translate import dropped_before_response, table_missing, translate

if TYPE_CHECKING:
    from azure.data.tables import TableClient, TableServiceClient

# The name these log lines had before the store was split into modules: filters on it keep working.
log = logging.getLogger(__name__)
T = TypeVar("T")

# Operations per transaction: the service limit (Azurite crashes past it).
BATCH_LIMIT = 100


@dataclass(eq=False)
class TableContext:
    """What the tables of one store share: how to reach the account, the timeout, the counters."""

    service: Callable[[], TableServiceClient]  # the SDK client, built on first use
    prefix: str
    timeout: float
    # Entities read per table: the benchmark and tests check that lookups read what they must.
    reads: Counter[str] = field(default_factory=Counter)
    batches: Counter[str] = field(default_factory=Counter)
    # Calls tried again because the server dropped a pooled connection before answering.
    dropped_retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def count_read(self, table: str, n: int = 1) -> None:
        with self._lock:
            self.reads[table] += n


class Table:
    """One table: counts entities read, maps errors, creates itself on first write."""

    def __init__(self, context: TableContext, name: str) -> None:
        self.context = context
        self.logical = name
        self.name = f"{context.prefix}{name}"
        self._client: TableClient | None = None
        self._created = False

    def client(self) -> TableClient:
        if self._client is None:
            self._client = self.context.service().get_table_client(self.name)
        return self._client

    def _ensure(self) -> None:
        if self._created:
            return
        try:
            self.context.service().create_table_if_not_exists(self.name)
        except Exception as exc:
            raise translate(exc, f"create table {self.logical}") from None
        self._created = True

    def drop(self) -> None:
        """Delete the table (tests and `admin reset`); the next write creates it again."""
        try:
            self.context.service().delete_table(self.name)
        except Exception as exc:
            raise translate(exc, f"drop table {self.logical}") from None
        self._created = False

    def _call(self, call: Callable[..., T]) -> T:
        """Run one SDK call; once more if the server dropped a pooled connection as it went out.

        An idle keep-alive connection that the server closes just as we reuse it fails at once with
        no response (a reset or an empty read): the server did not take the request. Even if it had,
        no Table Storage request applies twice (a repeated insert or If-Match update is refused with
        409/412, a repeated upsert or delete changes nothing), so the worst case is a Conflict, never
        a double write. The retry runs on a fresh connection with what is left of the timeout, so
        the caller's deadline holds. Timeouts, refusals and every answer from the server are not
        retried here.
        """
        started = time.monotonic()
        try:
            return call(self.client())
        except Exception as exc:
            remaining = self.context.timeout - (time.monotonic() - started)
            if not dropped_before_response(exc) or remaining < 0.1:
                raise
        log.info("table storage dropped a pooled connection (%s); trying once more", self.logical)
        self.context.dropped_retries += 1
        connect = min(remaining, CONNECT_SHARE * self.context.timeout)
        return call(self.client(), read_timeout=remaining, connection_timeout=connect)

    def _write(self, what: str, call: Callable[..., T]) -> T:
        try:
            return self._call(call)
        except Exception as exc:
            if not table_missing(exc):
                raise translate(exc, what) from None
        self._ensure()
        try:
            return self._call(call)
        except Exception as exc:
            raise translate(exc, what) from None

    def _read(self, what: str, call: Callable[..., T], missing: T) -> T:
        try:
            return self._call(call)
        except Exception as exc:
            if table_missing(exc):
                return missing
            raise translate(exc, what) from None

    # reads -------------------------------------------------------------------------------

    def get(self, partition_key: str, row_key: str) -> Mapping[str, Any] | None:
        def call(client: TableClient, **kw: Any) -> Mapping[str, Any] | None:
            from azure.core.exceptions import ResourceNotFoundError

            try:
                entity = client.get_entity(partition_key, row_key, **kw)
            except ResourceNotFoundError as exc:
                if table_missing(exc):
                    raise
                return None
            self.context.count_read(self.logical)
            return entity

        return self._read(f"read {self.logical}", call, None)

    def query(
        self,
        query_filter: str,
        parameters: dict[str, Any] | None = None,
        *,
        limit: int | None = None,
        select: list[str] | None = None,
    ) -> list[Mapping[str, Any]]:
        """Entities matching the OData filter, in key order; stops reading after `limit`."""

        def call(client: TableClient, **kw: Any) -> list[Mapping[str, Any]]:
            pages = client.query_entities(
                query_filter,
                parameters=parameters,
                select=select,
                results_per_page=min(limit, 1000) if limit else None,
                **kw,
            )
            out: list[Mapping[str, Any]] = []
            for entity in pages:
                out.append(entity)
                if limit is not None and len(out) >= limit:
                    break
            self.context.count_read(self.logical, len(out))  # after the last page: a retry counts once
            return out

        return self._read(f"query {self.logical}", call, [])


    def partitions_after(self, after: str, limit: int) -> list[str]:
        """Up to `limit` PartitionKeys after `after` ("" from the start), in key order: one one-row
        read each (a skip scan), so the cost does not grow with the rows in each partition."""
        found: list[str] = []
        key = after
        for _ in range(limit):
            rows = self.query("PartitionKey gt @pk", {"pk": key}, limit=1, select=["PartitionKey"])
            if not rows:
                break
            key = str(rows[0]["PartitionKey"])
            found.append(key)
        return found
    def partition(self, partition_key: str, *, limit: int | None = None) -> list[Mapping[str, Any]]:
        return self.query("PartitionKey eq @pk", {"pk": partition_key}, limit=limit)

    # writes ------------------------------------------------------------------------------

    def create(self, entity: Mapping[str, Any]) -> str:
        """Insert; Conflict when the row exists. Returns the new ETag."""
        result = self._write(f"add to {self.logical}", lambda c, **kw: c.create_entity(entity, **kw))
        return str(result.get("etag", ""))

    def upsert(self, entity: Mapping[str, Any], *, merge: bool = False) -> str:
        from azure.data.tables import UpdateMode

        mode = UpdateMode.MERGE if merge else UpdateMode.REPLACE
        result = self._write(
            f"save to {self.logical}", lambda c, **kw: c.upsert_entity(entity, mode=mode, **kw)
        )
        return str(result.get("etag", ""))

    def update(self, entity: Mapping[str, Any], etag: str | None, *, merge: bool = False) -> str:
        """Replace (or merge) only if the row still has `etag`; Conflict otherwise, NotFound if gone.

        `etag=None` updates whatever version is there (If-Match: *): still NotFound if the row is
        gone, so a caller can change a row it owns without reading it first.
        """
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        mode = UpdateMode.MERGE if merge else UpdateMode.REPLACE
        condition = MatchConditions.Unconditionally if etag is None else MatchConditions.IfNotModified
        result = self._write(
            f"update {self.logical}",
            lambda c, **kw: c.update_entity(entity, mode=mode, etag=etag, match_condition=condition, **kw),
        )
        return str(result.get("etag", ""))

    def delete(self, partition_key: str, row_key: str, *, etag: str | None = None) -> None:
        """Delete; a missing row is fine unless `etag` is given (then Conflict/NotFound tell the caller)."""
        from azure.core import MatchConditions

        def call(client: TableClient, **kw: Any) -> None:
            if etag is None:
                client.delete_entity(partition_key, row_key, **kw)
            else:
                client.delete_entity(
                    partition_key, row_key, etag=etag, match_condition=MatchConditions.IfNotModified, **kw
                )

        try:
            self._read("delete in " + self.logical, call, None)
        except NotFound:
            if etag is not None:
                raise

    def batch(self, operations: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        """Submit (operation, entity) pairs as transactions per partition, 100 at a time.

        Operations are "create", "upsert", "update" (merge) or "delete". Each chunk is atomic;
        chunks are not atomic with each other. Returns the number of operations submitted.
        """
        by_partition: dict[str, list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
        for op, entity in operations:
            by_partition[str(entity["PartitionKey"])].append((op, entity))
        count = 0
        for ops in by_partition.values():
            for start in range(0, len(ops), BATCH_LIMIT):
                chunk = ops[start : start + BATCH_LIMIT]
                self._write(f"batch on {self.logical}", partial(_submit, chunk))
                count += len(chunk)
                self.context.batches[self.logical] += 1
        return count


def _submit(chunk: list[tuple[str, Mapping[str, Any]]], client: TableClient, **kw: Any) -> Any:
    return client.submit_transaction(chunk, **kw)
