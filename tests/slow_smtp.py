"""A real TCP server that trickles an SMTP greeting, one byte every ``interval`` seconds.

Each read gets a byte long before any per-read timeout, so only a deadline over the
whole conversation ends a client's wait. The server itself stops after ``limit``
seconds (or when stopped), so a test against a client without a deadline ends too.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

GREETING = b"220 " + b"s" * 200 + b"\r\n"


class Trickler:
    def __init__(self, interval: float = 1.0, limit: float = 60.0) -> None:
        self.interval = interval
        self.limit = limit
        self.connections = 0
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self._threads = [threading.Thread(target=self._serve, daemon=True)]

    def start(self) -> None:
        self._threads[0].start()

    def stop(self) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._listener.close()

    def _serve(self) -> None:
        ends = time.monotonic() + self.limit
        while not self._stop.is_set() and time.monotonic() < ends:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            self.connected.set()
            worker = threading.Thread(target=self._trickle, args=(conn, ends), daemon=True)
            self._threads.append(worker)
            worker.start()

    def _trickle(self, conn: socket.socket, ends: float) -> None:
        with conn:
            for byte in GREETING:
                if self._stop.wait(self.interval) or time.monotonic() >= ends:
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:  # the client gave up and closed
                    return


@contextmanager
def trickling_server(interval: float = 1.0, limit: float = 60.0) -> Iterator[Trickler]:
    server = Trickler(interval, limit)
    server.start()
    try:
        yield server
    finally:
        server.stop()
