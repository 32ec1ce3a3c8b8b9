"""StoreUnavailable comes quickly when the account is unreachable or hangs (no timed assertions
beyond a generous bound: the point is that it does not wait for azure-core's default retries)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from shared.store import StoreUnavailable, open_store
from shared.store.models import Team
from tools.stack import azurite_connection_string, free_port


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def test_closed_port_raises_store_unavailable_fast() -> None:
    store = open_store(connection=azurite_connection_string(free_port()), prefix="closed", timeout=3)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        store.teams.find("any")
    assert time.monotonic() - started < 3
    assert "AccountKey" not in str(info.value)


def test_hanging_account_raises_within_the_timeout(black_hole: int) -> None:
    store = open_store(connection=azurite_connection_string(black_hole), prefix="hang", timeout=1)
    for call in (lambda: store.teams.find("any"), lambda: store.teams.add(Team(key="k"))):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            call()
        assert time.monotonic() - started < 2.5  # one read timeout, no retry
