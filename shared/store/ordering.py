"""Row keys that sort in time order, for tables read oldest- or newest-first."""

from __future__ import annotations

import secrets
import threading
import time

_lock = threading.Lock()
_last = 0
_MAX = 10**20


def _tick() -> int:
    """Nanoseconds since the epoch, strictly increasing within this process."""
    global _last
    with _lock:
        now = max(time.time_ns(), _last + 1)
        _last = now
        return now


def ascending() -> str:
    """A key that sorts after every key made before it (per process; by wall clock across processes)."""
    return f"{_tick():020d}{secrets.token_hex(3)}"


def descending() -> str:
    """A key that sorts before every key made before it: newest first."""
    return f"{_MAX - _tick():020d}{secrets.token_hex(3)}"
