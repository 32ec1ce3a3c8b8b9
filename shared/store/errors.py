"""Errors of the store, in the terms callers act on (503, retry, 404), not the SDK's.

Messages never carry connection strings, keys or stored secrets: they are safe to log and to show.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class: something about the store went wrong."""


class StoreUnavailable(StoreError):
    """The account is unreachable, too slow, refused us or answered 5xx: callers answer 503."""


class Conflict(StoreError):
    """The record changed since it was read (ETag) or already exists."""


class NotFound(StoreError):
    """No such record."""
