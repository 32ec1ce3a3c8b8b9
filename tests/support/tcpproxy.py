"""A TCP proxy in front of a local port that a test can take down for a while: a store outage.

`down()` closes every open connection (a request in flight is cut off, as when a storage node
fails over) and refuses new ones (each accepted socket is closed at once, so the client's call
fails fast instead of hanging); `up()` lets connections through again. Threads only, no third-party code.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class TcpProxy:
    """127.0.0.1:<port> forwarding to 127.0.0.1:`target`; a context manager."""

    def __init__(self, target: int) -> None:
        self.target = target
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._down = False
        self._closed = False
        self.refused = 0  # connections refused while down
        self._thread = threading.Thread(target=self._accept, name="tcpproxy", daemon=True)

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def down(self) -> None:
        with self._lock:
            self._down = True
            live, self._open = list(self._open), set()
        for sock in live:
            _close(sock)

    def up(self) -> None:
        with self._lock:
            self._down = False

    @contextmanager
    def outage(self) -> Iterator[None]:
        self.down()
        try:
            yield
        finally:
            self.up()

    def stop(self) -> None:
        self._closed = True
        self.down()
        _close(self._listener)
        self._thread.join(5)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refuse = self._down
                if refuse:
                    self.refused += 1
            if refuse:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
