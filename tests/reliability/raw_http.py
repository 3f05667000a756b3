"""A loopback TCP server that answers each HTTP request with bytes a test writes by hand."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from .redis_server import free_port

Answer = Callable[[socket.socket, bytes], None]


class RawHttpServer:
    """Accepts connections on 127.0.0.1, reads one request head, hands the socket to `answer`."""

    def __init__(self, answer: Answer) -> None:
        self._answer = answer
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", free_port()))
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        self.port = int(self._listener.getsockname()[1])
        self.heads: list[bytes] = []
        self.closing = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL, no trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self.closing.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(None)
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            head = b""
            try:
                while b"\r\n\r\n" not in head:
                    data = connection.recv(65536)
                    if not data:
                        return
                    head += data
                self.heads.append(head)
                self._answer(connection, head)
            except OSError:
                return

    def close(self) -> None:
        """Stop accepting and end answers still being written."""
        self.closing.set()
        self._thread.join(timeout=5)
        self._listener.close()


def respond(connection: socket.socket, status: str, body: bytes, *headers: str) -> None:
    """Write one complete response with a Content-Length."""
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close", *headers]
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
