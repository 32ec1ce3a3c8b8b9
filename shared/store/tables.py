"""azure-data-tables behind a small interface: connection, timeouts, errors, batches, read counts.

Table design (every table is named `<TABLE_PREFIX><name>`; PartitionKey / RowKey, and why):

- teams: `team` / team key. channels: `channel` / name. routes: `route` / name.
  Few rows, read by point lookup on the hot paths (the bot reads one team, the proxy one route);
  one partition per table makes `list` a single range read.
- channels also hold `link` / Teams channel id: a copy of the channel linked to that Teams
  channel, so the bot finds "this channel" with one point read instead of filtering every channel
  on a non-key property. Kept in step by every save and remove.
- subscriptions: `sub` / id. Point reads by id for claim and save; `list(channel)` filters one
  partition (an operator command, not a hot path).
- schedule: due hour `YYYYMMDDHH` / `YYYYMMDDTHHMMSS|<id>`. The due index: one row per active
  subscription at its next_run, so `due(now)` reads only rows whose time has come
  (`PartitionKey le hour(now) and RowKey le stamp(now)`), never the whole subscriptions table.
  Hour buckets spread writes over partitions; the stamp first in the RowKey keeps a total order.
- events: subscription id / arrival time in ns + random. Kept in order per subscription, read
  and deleted in batches of that one partition.
- outbox: `pending` or `dead` / creation time in ns + random. The sweep reads only pending rows
  whose next_attempt has come; dead letters stay apart for `list` and `requeue`.
- dedupe: scope / idempotency key. Point reads and conditional inserts per key.
- deliveries: channel / inverted time. `recent(channel)` is a prefix read, newest first.

A call that fails because the server dropped an idle pooled connection before answering is tried
once more within the same timeout (`Table._call`); nothing else is retried beyond one quick
reconnect, so callers hear of trouble in time to answer 503.

Keys are escaped (`keys.escape`) for the characters Table Storage forbids. Batches are split per
partition and into chunks of 100 (the service limit; Azurite crashes past it). ETag conditions
guard every read-modify-write that two runs can race: claims, cursor moves, outbox items.
Tables are created on first write (a read of a missing table is simply empty), which costs nothing
on the hot path. azure.data.tables is imported on first use, not by `import shared.store`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from shared import settings
from shared.invocation import carry
from shared.store.errors import Conflict, NotFound, StoreError, StoreUnavailable

if TYPE_CHECKING:
    from azure.data.tables import TableClient, TableServiceClient

    from shared.store.dedupe import DedupeRepository
    from shared.store.deliveries import DeliveryLog
    from shared.store.events import EventRepository
    from shared.store.outbox import OutboxRepository
    from shared.store.registry import ChannelRepository, RouteRepository, TeamRepository
    from shared.store.subscriptions import SubscriptionRepository

log = logging.getLogger(__name__)
T = TypeVar("T")

CONNECTION_NAME = "TEAMS_STORAGE"
FALLBACK_CONNECTION_NAME = "AzureWebJobsStorage"
BATCH_LIMIT = 100
# The share of the store timeout a connection attempt may take (the rest is for the answer).
_CONNECT_SHARE = 0.5
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
)


@dataclass(frozen=True)
class Connection:
    """Where the tables live: a connection string, or an endpoint reached with an Entra identity."""

    connection_string: str | None = None
    endpoint: str | None = None
    client_id: str | None = None
    setting: str = CONNECTION_NAME

    def __repr__(self) -> str:  # the connection string holds the account key
        where = self.endpoint or "connection string"
        return f"Connection(setting={self.setting!r}, {where})"


def resolve_connection(connection: str | None = None) -> Connection:
    """Functions conventions: `<name>` (connection string) or `<name>__tableServiceUri` (identity).

    TEAMS_STORAGE is tried first, then AzureWebJobsStorage, so a single-account app needs nothing extra.
    """
    if connection:
        return Connection(connection_string=connection, setting="argument")
    for name in (CONNECTION_NAME, FALLBACK_CONNECTION_NAME):
        text = settings.get(name)
        if text:
            return Connection(connection_string=text, setting=name)
        uri = settings.get(f"{name}__tableServiceUri") or settings.get(f"{name}__serviceUri")
        if uri:
            return Connection(
                endpoint=uri.rstrip("/"), client_id=settings.get(f"{name}__clientId"), setting=name
            )
    raise StoreUnavailable(
        f"no table storage configured: set {CONNECTION_NAME} (a connection string, or "
        f"{CONNECTION_NAME}__tableServiceUri for an identity) or {FALLBACK_CONNECTION_NAME}"
    )


def _translate(exc: Exception, what: str) -> StoreError:
    """The store's error for an SDK exception; the message names the operation, never a secret."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceExistsError,
        ResourceModifiedError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, ResourceModifiedError):
        return Conflict(f"{what}: the record changed since it was read")
    if isinstance(exc, ResourceExistsError):
        return Conflict(f"{what}: the record already exists")
    if isinstance(exc, ResourceNotFoundError):
        return NotFound(f"{what}: not found")
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return StoreUnavailable(f"{what}: table storage did not answer in time or refused the connection")
    if isinstance(exc, ClientAuthenticationError):
        return StoreUnavailable(f"{what}: table storage refused our credentials")
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        if status == 412:
            return Conflict(f"{what}: the record changed since it was read")
        if status == 409:
            return Conflict(f"{what}: the record already exists")
        if status == 404:
            return NotFound(f"{what}: not found")
        if status >= 500 or status in (408, 429) or status == 0:
            return StoreUnavailable(f"{what}: table storage answered {status or 'nothing'}")
        code = getattr(exc, "error_code", None) or status
        return StoreError(f"{what}: table storage rejected the request ({code})")
    if type(exc).__name__ == "CredentialUnavailableError":
        return StoreUnavailable(f"{what}: no usable identity to reach table storage")
    if isinstance(exc, OSError | TimeoutError):
        return StoreUnavailable(f"{what}: table storage is unreachable")
    return StoreError(f"{what}: {type(exc).__name__}")


def _table_missing(exc: Exception) -> bool:
    code = str(getattr(exc, "error_code", "") or "")
    return code == "TableNotFound" or "TableNotFound" in str(exc)[:300]


class Table:
    """One table: counts entities read, maps errors, creates itself on first write."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.logical = name
        self.name = f"{store.prefix}{name}"
        self._client: TableClient | None = None
        self._created = False

    def client(self) -> TableClient:
        if self._client is None:
            self._client = self.store.service().get_table_client(self.name)
        return self._client

    def _ensure(self) -> None:
        if self._created:
            return
        try:
            self.store.service().create_table_if_not_exists(self.name)
        except Exception as exc:
            raise _translate(exc, f"create table {self.logical}") from None
        self._created = True

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
            remaining = self.store.timeout - (time.monotonic() - started)
            if not _dropped_before_response(exc) or remaining < 0.1:
                raise
        log.info("table storage dropped a pooled connection (%s); trying once more", self.logical)
        self.store.dropped_retries += 1
        connect = min(remaining, _CONNECT_SHARE * self.store.timeout)
        return call(self.client(), read_timeout=remaining, connection_timeout=connect)

    def _write(self, what: str, call: Callable[..., T]) -> T:
        try:
            return self._call(call)
        except Exception as exc:
            if not _table_missing(exc):
                raise _translate(exc, what) from None
        self._ensure()
        try:
            return self._call(call)
        except Exception as exc:
            raise _translate(exc, what) from None

    def _read(self, what: str, call: Callable[..., T], missing: T) -> T:
        try:
            return self._call(call)
        except Exception as exc:
            if _table_missing(exc):
                return missing
            raise _translate(exc, what) from None

    # reads -------------------------------------------------------------------------------

    def get(self, partition_key: str, row_key: str) -> Mapping[str, Any] | None:
        def call(client: TableClient, **kw: Any) -> Mapping[str, Any] | None:
            from azure.core.exceptions import ResourceNotFoundError

            try:
                entity = client.get_entity(partition_key, row_key, **kw)
            except ResourceNotFoundError as exc:
                if _table_missing(exc):
                    raise
                return None
            self.store.count_read(self.logical)
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
            self.store.count_read(self.logical, len(out))  # after the last page: a retry counts once
            return out

        return self._read(f"query {self.logical}", call, [])

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
                self.store.batches[self.logical] += 1
        return count


def _submit(chunk: list[tuple[str, Mapping[str, Any]]], client: TableClient, **kw: Any) -> Any:
    return client.submit_transaction(chunk, **kw)


def _dropped_before_response(exc: BaseException) -> bool:
    """True when a request failed because the connection was closed or reset before any answer.

    That is azure-core's ServiceResponseError (not its timeout subclass) with a reset, abort or
    broken pipe underneath; a connection refused or a timeout is something else, and so is an
    answer whose body broke off (`BrokenBody`): the server did take that request.
    """
    from azure.core.exceptions import ServiceResponseError, ServiceResponseTimeoutError

    from shared.connections import BrokenBody

    if not isinstance(exc, ServiceResponseError) or isinstance(exc, ServiceResponseTimeoutError):
        return False
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen or len(seen) > 20:
            continue
        seen.add(id(item))
        if isinstance(item, TimeoutError | BrokenBody):
            return False
        if isinstance(item, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
            return True
        todo += [getattr(item, "inner_exception", None), item.__cause__, item.__context__, *item.args]
    return False


class Store:
    """One repository per table, on one account and prefix; safe to share between threads."""

    def __init__(self, connection: Connection, prefix: str, timeout: float) -> None:
        if not prefix.isalnum() or not prefix[:1].isalpha() or len(prefix) > 40:
            raise ValueError("TABLE_PREFIX must be letters and digits, starting with a letter (at most 40)")
        self.connection = connection
        self.prefix = prefix
        self.timeout = timeout
        # Entities read per table: the benchmark and tests check that lookups read what they must.
        self.reads: Counter[str] = Counter()
        self.batches: Counter[str] = Counter()
        # Calls tried again because the server dropped a pooled connection before answering.
        self.dropped_retries = 0
        self._service: TableServiceClient | None = None
        self._lock = threading.Lock()
        self._service_lock = threading.Lock()
        self._tables: dict[str, Table] = {name: Table(self, name) for name in TABLES}

        from shared.store.dedupe import DedupeRepository
        from shared.store.deliveries import DeliveryLog
        from shared.store.events import EventRepository
        from shared.store.outbox import OutboxRepository
        from shared.store.registry import ChannelRepository, RouteRepository, TeamRepository
        from shared.store.subscriptions import SubscriptionRepository

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

    def __repr__(self) -> str:
        return f"Store(prefix={self.prefix!r}, {self.connection!r})"

    def table(self, name: str) -> Table:
        return self._tables[name]

    def count_read(self, table: str, n: int = 1) -> None:
        with self._lock:
            self.reads[table] += n

    def service(self) -> TableServiceClient:
        """The SDK client, built on first use with short timeouts and at most one quick retry."""
        if self._service is not None:
            return self._service
        with self._service_lock:
            if self._service is None:
                self._service = _build_service(self.connection, self.timeout)
        return self._service

    def table_names(self) -> list[str]:
        return [t.name for t in self._tables.values()]

    def drop_tables(self) -> None:
        """Delete every table of this prefix (tests and `admin reset`)."""
        for table in self._tables.values():
            try:
                self.service().delete_table(table.name)
            except Exception as exc:
                raise _translate(exc, f"drop table {table.logical}") from None
            table._created = False


def client_options(timeout: float) -> dict[str, Any]:
    """azure-core options: fail within about `timeout` so callers can answer 503 in time.

    Connect errors get one quick retry (a refused connection is usually transient); read timeouts
    and 5xx/429 are not retried, because a retry would double the wait or sleep for a Retry-After
    far beyond the 4 s an outgoing webhook has. A pooled connection dropped before any answer is
    retried once by `Table._call`, within the same timeout.
    `use_env_settings=False` stops requests (the transport used with a proxy) from scanning the
    environment (proxies, CA bundle, .netrc) on every call; `_build_service` reads those settings
    once instead.
    """
    return {
        "connection_timeout": max(0.2, timeout * _CONNECT_SHARE),
        "read_timeout": timeout,
        "retry_total": 1,
        "retry_connect": 1,
        "retry_read": 0,
        "retry_status": 0,
        "retry_backoff_factor": 0.1,
        "retry_backoff_max": 1,
        "use_env_settings": False,
    }


def http_environment(url: str) -> dict[str, Any]:
    """What requests would take from the environment for `url`, read once per client.

    Proxies (HTTP(S)_PROXY, honouring NO_PROXY) and a CA bundle (REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE) keep working as before. A .netrc entry is no longer applied: it would have
    replaced the signed Authorization header and made every request fail.
    """
    from requests.utils import get_environ_proxies

    options: dict[str, Any] = {}
    proxies = {k: v for k, v in get_environ_proxies(url).items() if k != "no"}
    if proxies:
        options["proxies"] = proxies
    bundle = settings.get("REQUESTS_CA_BUNDLE") or settings.get("CURL_CA_BUNDLE")
    if bundle:
        options["connection_verify"] = bundle
    return options


# Connections kept per host: the digest run, the fan-out and the bot's parallel reads use up to
# about 16 threads at once; a smaller pool would discard and reopen connections.
POOL_SIZE = 32


def pooled_transport(options: dict[str, Any]) -> Any:
    """An HTTP transport whose connection pool fits our thread counts, with the client's timeouts.

    Our lean http.client transport (`shared.store.transport`), unless the environment names a
    proxy: then requests' transport, which speaks to proxies.
    """
    if options.get("proxies"):
        return _requests_transport(options)
    from shared.store.transport import HttpClientTransport

    return HttpClientTransport(
        connection_timeout=options["connection_timeout"],
        read_timeout=options["read_timeout"],
        connection_verify=options.get("connection_verify", True),
        pool_size=POOL_SIZE,
    )


def _requests_transport(options: dict[str, Any]) -> Any:
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    session.trust_env = False  # proxies and the CA bundle come from `http_environment`, read once
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    transport_options = {
        key: options[key]
        for key in ("connection_timeout", "read_timeout", "connection_verify", "use_env_settings")
        if key in options
    }
    return RequestsTransport(session=session, session_owner=False, **transport_options)


def _build_service(connection: Connection, timeout: float) -> TableServiceClient:
    from azure.data.tables import TableServiceClient

    # The SDK logs every request at INFO; keep Functions logs for our own lines.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    options = client_options(timeout)
    if connection.connection_string is not None:
        conn_str = connection.connection_string
        try:
            service = TableServiceClient.from_connection_string(conn_str, **options)
        except ValueError:
            raise StoreUnavailable(
                f"the {connection.setting} connection string is not valid (expected "
                "UseDevelopmentStorage=true or AccountName=..;AccountKey=..;TableEndpoint=..)"
            ) from None
        # The URL was needed first: now build it with what applies from the environment and the pool.
        options.update(http_environment(service.url))
        transport = pooled_transport(options)
        return TableServiceClient.from_connection_string(conn_str, transport=transport, **options)
    assert connection.endpoint is not None
    from azure.identity import DefaultAzureCredential  # only identity-based apps pay this import

    credential = DefaultAzureCredential(managed_identity_client_id=connection.client_id)
    options.update(http_environment(connection.endpoint))
    return TableServiceClient(
        endpoint=connection.endpoint, credential=credential, transport=pooled_transport(options), **options
    )


_cache: dict[tuple[Any, ...], Store] = {}
_cache_lock = threading.Lock()


def open_store(
    *, connection: str | None = None, prefix: str | None = None, timeout: float | None = None
) -> Store:
    """The Store for the settings (or the arguments), one per process and configuration.

    Nothing is contacted here: the SDK client is built on the first call that needs it.
    """
    resolved = resolve_connection(connection)
    table_prefix = prefix or settings.get("TABLE_PREFIX", "tc") or "tc"
    seconds = timeout if timeout is not None else settings.get_float("STORE_TIMEOUT_SECONDS", 3.0)
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


def run_parallel(items: Sequence[T], call: Callable[[T], Any], workers: int = 8) -> list[Any]:
    """`call` over `items` on a few threads (point reads are latency-bound), results in order."""
    if len(items) <= 2:
        return [call(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(carry(call), items))
