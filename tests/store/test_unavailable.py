"""StoreUnavailable comes quickly when the account is unreachable or hangs (no timed assertions
beyond a generous bound: the point is that it does not wait for azure-core's default retries)."""

from __future__ import annotations

import socket
import struct
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


class DroppingProxy:
    """A TCP relay to Azurite that can close a kept-alive connection just as the next request arrives.

    That is the race a server's idle timeout causes: the client reuses a pooled connection, sends,
    and the connection is gone before any answer (`reset=True` sends an RST instead of a FIN).
    """

    def __init__(self, upstream_port: int, *, reset: bool = False) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.reset = reset
        self.drop = 0  # how many requests on reused connections to drop
        self.also_fresh = False  # drop the first request of a new connection too
        self.dropped = 0
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._relay, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _relay(self, client: socket.socket) -> None:
        import select

        upstream = socket.create_connection(self.upstream)
        answered = False  # a response went back and the client has not sent since: the connection is idle
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([client, upstream], [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is upstream:
                        client.sendall(data)
                        answered = True
                        continue
                    with self._lock:
                        take = (answered or self.also_fresh) and self.drop > 0
                        if take:
                            self.drop -= 1
                            self.dropped += 1
                    if take:
                        if self.reset:
                            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        return
                    answered = False
                    upstream.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        for thread in self._threads:
            thread.join(2)


@pytest.fixture(params=[False, True], ids=["fin", "rst"])
def dropping(request: pytest.FixtureRequest, azurite: str) -> Iterator[DroppingProxy]:
    port = int(azurite.split("TableEndpoint=http://127.0.0.1:")[1].split("/")[0])
    proxy = DroppingProxy(port, reset=request.param)
    yield proxy
    proxy.close()


def test_a_dropped_pooled_connection_is_retried_once(dropping: DroppingProxy) -> None:
    from tests.conftest import unique

    store = open_store(connection=azurite_connection_string(dropping.port), prefix=unique("drop"), timeout=2)
    store.teams.add(Team(key="k"))  # warms the pool (and creates the table)
    calls = (
        lambda: store.teams.get("k"),  # GET
        lambda: store.teams.add(Team(key="k2")),  # POST (insert)
        lambda: store.teams.save(store.teams.get("k2")),  # PUT with If-Match
        lambda: store.table("teams").delete("team", "k2"),  # DELETE
        lambda: store.teams.list(),  # query
    )
    for call in calls:
        before = dropping.dropped
        dropping.drop = 1
        started = time.monotonic()
        call()
        assert dropping.dropped == before + 1
        assert time.monotonic() - started < 1.5
    assert store.dropped_retries == len(calls)
    assert store.teams.find("k2") is None and store.teams.get("k").key == "k"

    # Only once: a second drop in a row is StoreUnavailable, quickly and without a secret.
    dropping.drop, dropping.also_fresh = 2, True
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        store.teams.get("k")
    assert time.monotonic() - started < 1.5 and "AccountKey" not in str(info.value)
