"""The composition root: one `Store` per configuration, holding one repository per table.

This is the only module that knows every repository; they know only `table.Table`, so the
dependencies point one way (root -> repositories -> table -> account, translate, errors).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING

from shared import settings
from shared.store.account import Connection, build_service, resolve_connection
from shared.store.budgets import BudgetRepository
from shared.store.dedupe import DedupeRepository
from shared.store.deliveries import DeliveryLog
from shared.store.events import EventRepository
from shared.store.outbox import OutboxRepository
from shared.store.registry import ChannelRepository, RouteRepository, TeamRepository
from shared.store.subscriptions import SubscriptionRepository
from shared.store.table import Table, TableContext

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient

TABLES = (
    "teams",
    "channels",
    "routes",
    "subscriptions",
    "schedule",
    "events",
    "outbox",
    "dedupe",
    "deliveries",
    "budgets",
)


class Store:
    """One repository per table, on one account and prefix; safe to share between threads."""

    def __init__(self, connection: Connection, prefix: str, timeout: float) -> None:
        if not prefix.isalnum() or not prefix[:1].isalpha() or len(prefix) > 40:
            raise ValueError("TABLE_PREFIX must be letters and digits, starting with a letter (at most 40)")
        self.connection = connection
        self.prefix = prefix
        self.timeout = timeout
        self._service: TableServiceClient | None = None
        self._service_lock = threading.Lock()
        self.context = TableContext(service=self.service, prefix=prefix, timeout=timeout)
        self._tables: dict[str, Table] = {name: Table(self.context, name) for name in TABLES}

        self.teams: TeamRepository = TeamRepository(self.table("teams"))
        self.channels: ChannelRepository = ChannelRepository(self.table("channels"))
        self.routes: RouteRepository = RouteRepository(self.table("routes"))
        self.subscriptions: SubscriptionRepository = SubscriptionRepository(
            self.table("subscriptions"), self.table("schedule")
        )
        self.events: EventRepository = EventRepository(self.table("events"))
        self.outbox: OutboxRepository = OutboxRepository(self.table("outbox"))
        self.dedupe: DedupeRepository = DedupeRepository(self.table("dedupe"))
        self.deliveries: DeliveryLog = DeliveryLog(self.table("deliveries"))
        self.budgets: BudgetRepository = BudgetRepository(self.table("budgets"))

    def __repr__(self) -> str:
        return f"Store(prefix={self.prefix!r}, {self.connection!r})"

    @property
    def reads(self) -> Counter[str]:
        """Entities read per table: the benchmark and tests check that lookups read what they must."""
        return self.context.reads

    @property
    def batches(self) -> Counter[str]:
        """Transactions submitted per table."""
        return self.context.batches

    @property
    def dropped_retries(self) -> int:
        """Calls tried again because the server dropped a pooled connection before answering."""
        return self.context.dropped_retries

    def table(self, name: str) -> Table:
        return self._tables[name]

    def count_read(self, table: str, n: int = 1) -> None:
        self.context.count_read(table, n)

    def service(self) -> TableServiceClient:
        """The SDK client, built on first use with short timeouts and at most one quick retry."""
        if self._service is not None:
            return self._service
        with self._service_lock:
            if self._service is None:
                self._service = build_service(self.connection, self.timeout)
        return self._service

    def table_names(self) -> list[str]:
        return [t.name for t in self._tables.values()]

    def drop_tables(self) -> None:
        """Delete every table of this prefix (tests and `admin reset`)."""
        for table in self._tables.values():
            table.drop()


_cache: dict[tuple[Connection, str, float], Store] = {}
_cache_lock = threading.Lock()


def open_store(
    *, connection: str | None = None, prefix: str | None = None, timeout: float | None = None
) -> Store:
    """The Store for the settings (or the arguments), one per process and configuration.

    Nothing is contacted here: the SDK client is built on the first call that needs it.
    """
    resolved = resolve_connection(connection)
    config = settings.store()
    table_prefix = prefix or config.table_prefix
    seconds = timeout if timeout is not None else config.timeout_seconds
    key = (resolved, table_prefix, seconds)
    with _cache_lock:
        store = _cache.get(key)
        if store is None:
            store = _cache[key] = Store(resolved, table_prefix, seconds)
    return store


def reset_cache() -> None:
    """Forget cached stores (tests that change settings)."""
    with _cache_lock:
        _cache.clear()
