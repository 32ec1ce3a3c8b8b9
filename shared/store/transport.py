"""The Table SDK's HTTP transport: http.client with a small keep-alive pool, nothing else.

azure-core's default transport goes through requests and urllib3, which cost about 1 ms of CPU per
table call on top of the SDK's own work: most of the time of an incoming post, where the table
calls are all that is slow. This transport sends the request the SDK prepared (headers already
signed) over a pooled connection and hands back the whole body; redirects, retries and error
mapping stay in the SDK's pipeline.

Errors are raised as azure-core's: `ServiceRequestError` when no connection could be made (the
server never saw the request), `ServiceResponseError` when it broke off after sending, and their
timeout subclasses. A pooled connection the server closed while idle shows up as a
`ServiceResponseError` over a `ConnectionResetError`, which `Table._call` retries once.

Proxies are not spoken here: `account.pooled_transport` keeps the requests transport when the
environment names one.
"""

from __future__ import annotations

import http.client
from typing import Any

from azure.core.exceptions import (
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest._http_response_impl import RestHttpClientTransportResponse

from shared.connections import BrokenBody, Pool, split_url


class _Response(RestHttpClientTransportResponse):
    """A response whose body was read whole before its connection went back to the pool."""

    def __init__(self, *, request: Any, internal_response: http.client.HTTPResponse, content: bytes) -> None:
        super().__init__(request=request, internal_response=internal_response)
        self._content = content


class HttpClientTransport(HttpTransport):
    """The SDK's requests over `shared.connections.Pool`, with the client's timeouts."""

    def __init__(
        self,
        *,
        connection_timeout: float,
        read_timeout: float,
        connection_verify: bool | str = True,
        pool_size: int = 32,
    ) -> None:
        self.connection_timeout = connection_timeout
        self.read_timeout = read_timeout
        self.pool = Pool(verify=connection_verify, size=pool_size)

    def open(self) -> None:
        pass

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> HttpClientTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, request: Any, **kwargs: Any) -> _Response:
        connect_timeout = kwargs.get("connection_timeout") or self.connection_timeout
        read_timeout = kwargs.get("read_timeout") or self.read_timeout
        try:
            origin, target = split_url(request.url)
        except http.client.InvalidURL as exc:
            raise ServiceRequestError(exc, error=exc) from exc
        body = request.data
        if isinstance(body, str):
            body = body.encode("utf-8")
        try:
            conn = self.pool.checkout(origin, connect_timeout)
        except TimeoutError as exc:
            raise ServiceRequestTimeoutError(exc, error=exc) from exc
        except OSError as exc:
            raise ServiceRequestError(exc, error=exc) from exc
        try:
            raw, content = self.pool.exchange(
                origin, conn, request.method, target, body, dict(request.headers), read_timeout
            )
        except BrokenBody as exc:  # an answer arrived: not a connection dropped before it
            timeout = isinstance(exc.cause, TimeoutError)
            kind = ServiceResponseTimeoutError if timeout else ServiceResponseError
            raise kind(exc, error=exc) from None
        except TimeoutError as exc:
            raise ServiceResponseTimeoutError(exc, error=exc) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise ServiceResponseError(exc, error=exc) from exc
        return _Response(request=request, internal_response=raw, content=content)
