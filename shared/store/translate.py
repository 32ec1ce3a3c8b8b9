"""The Azure SDK's exceptions read in the store's terms: which error callers get, and what failed.

Apart from `errors` so that importing the errors (every caller does, at cold start) never loads
azure-core: these functions import it when first called, which is after an SDK call failed.
"""

from __future__ import annotations

from shared.store.errors import Conflict, NotFound, StoreError, StoreUnavailable


def translate(exc: Exception, what: str) -> StoreError:
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


def table_missing(exc: Exception) -> bool:
    """True when the call failed because the table does not exist yet (it is created on first write)."""
    code = str(getattr(exc, "error_code", "") or "")
    return code == "TableNotFound" or "TableNotFound" in str(exc)[:300]


def dropped_before_response(exc: BaseException) -> bool:
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
