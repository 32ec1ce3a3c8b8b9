"""Which storage account the tables live in, and the SDK client that reaches it in time.

Settings follow the Functions conventions (`resolve_connection`); the client gets short timeouts,
at most one quick reconnect and a connection pool sized for our threads, so a caller hears of
trouble in time to answer 503. azure.data.tables is imported when a client is first built.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared import settings
from shared.store.errors import StoreUnavailable

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient

CONNECTION_NAME = "TEAMS_STORAGE"
FALLBACK_CONNECTION_NAME = "AzureWebJobsStorage"
# The share of the store timeout a connection attempt may take (the rest is for the answer).
CONNECT_SHARE = 0.5
# Connections kept per host: the digest run, the fan-out and the bot's parallel reads use up to
# about 16 threads at once; a smaller pool would discard and reopen connections.
POOL_SIZE = 32


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


def client_options(timeout: float) -> dict[str, Any]:
    """azure-core options: fail within about `timeout` so callers can answer 503 in time.

    Connect errors get one quick retry (a refused connection is usually transient); read timeouts
    and 5xx/429 are not retried, because a retry would double the wait or sleep for a Retry-After
    far beyond the 4 s an outgoing webhook has. A pooled connection dropped before any answer is
    retried once by `Table._call`, within the same timeout.
    `use_env_settings=False` stops requests (the transport used with a proxy) from scanning the
    environment (proxies, CA bundle, .netrc) on every call; `build_service` reads those settings
    once instead.
    """
    return {
        "connection_timeout": max(0.2, timeout * CONNECT_SHARE),
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


def build_service(connection: Connection, timeout: float) -> TableServiceClient:
    """The SDK client for `connection`: nothing is contacted until its first call."""
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
