"""Start the farm on a local port, in-process (Chalice's dev server) or as `chalice local`."""

from __future__ import annotations

import collections
import contextlib
import functools
import http.client
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from chalice.config import Config
from chalice.local import ChaliceRequestHandler, create_local_server

FARM_DIR = Path(__file__).resolve().parent.parent / "farm_api"
START_TIMEOUT_S = 30.0
HOST = "127.0.0.1"
_CHALICE_MAIN = "import sys; from chalice.cli import main; sys.exit(main())"
_PORT_RETRIES = 3

logger = logging.getLogger(__name__)


class FarmStartError(RuntimeError):
    """The farm did not start or did not answer in time; the message carries its output."""


class FarmServer:
    """A running farm: `.url`, `.close()`, and a context manager that closes it."""

    def __init__(self, url: str, stop: Callable[[], None]) -> None:
        self.url = url
        self._stop: Callable[[], None] | None = stop

    def close(self) -> None:
        """Stop the farm; calling it again does nothing."""
        stop, self._stop = self._stop, None
        if stop is not None:
            stop()

    def __enter__(self) -> FarmServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FarmServer(url={self.url!r})"


def start_farm(*, env: Mapping[str, str] | None = None, port: int = 0) -> FarmServer:
    """Start the farm and wait until it answers.

    With `env=None` the farm runs in this process, in a daemon thread, configured from the
    current environment. With `env` it runs `chalice local` (stage dev) as a subprocess
    from `farm_api/` with `env` added to the current environment; variables that the
    stage's `.chalice/config.json` sets (the chaos rates) take the stage's values.
    `port=0` picks a free port.
    """
    if env is None:
        return _start_in_process(port)
    return _start_subprocess(env, port)


class _OpenConnections:
    """The sockets of the in-process server's live connections, so that close() ends them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def shut_all(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _NoDelayRequestHandler(ChaliceRequestHandler):
    """Chalice's request handler with TCP_NODELAY and without a stderr line per request.

    http.server writes the headers and the body in two sends; with Nagle's algorithm on,
    the body waits for the client's delayed ACK (about 40 ms) on keep-alive connections.
    """

    disable_nagle_algorithm = True

    def __init__(
        self,
        request: Any,
        client_address: Any,
        server: Any,
        *,
        app_object: Any,
        config: Config,
        connections: _OpenConnections,
    ) -> None:
        self._connections = connections
        super().__init__(request, client_address, server, app_object, config)

    def setup(self) -> None:
        super().setup()
        self._connections.add(self.connection)

    def finish(self) -> None:
        self._connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("farm %s - " + format, self.address_string(), *args)


def _start_in_process(port: int) -> FarmServer:
    if str(FARM_DIR) not in sys.path:
        sys.path.insert(0, str(FARM_DIR))
    from app import APP_NAME, create_app
    from chalicelib.config import FarmConfig

    app = create_app(FarmConfig.from_env(os.environ))
    config = Config.create(app_name=APP_NAME)
    try:
        dev_server = create_local_server(app, config, HOST, port)
    except OSError as exc:
        raise FarmStartError(f"cannot listen on {HOST}:{port}: {exc}") from exc
    server = dev_server.server
    connections = _OpenConnections()
    server.RequestHandlerClass = functools.partial(
        _NoDelayRequestHandler, app_object=app, config=config, connections=connections
    )
    server.handle_error = _log_handler_error
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="farm", daemon=True
    )
    thread.start()
    url = f"http://{HOST}:{server.server_address[1]}"

    def stop() -> None:
        server.shutdown()
        server.server_close()
        connections.shut_all()
        thread.join(timeout=5)

    try:
        _wait_until_answers(url, lambda: None)
    except FarmStartError:
        stop()
        raise
    return FarmServer(url, stop)


def _log_handler_error(request: Any, client_address: Any) -> None:
    logger.debug("farm connection from %s ended with an error", client_address, exc_info=True)


class _OutputTail:
    """Drains a process's output in a thread, keeping the last lines for error messages."""

    def __init__(self, stream: IO[bytes], max_lines: int = 200) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=max_lines)
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            self._lines.append(line.decode("utf-8", "replace").rstrip())
        stream.close()

    def text(self) -> str:
        """The last lines of output, after the stream ended or one second passed."""
        self._thread.join(timeout=1)
        return "\n".join(self._lines)


def _start_subprocess(env: Mapping[str, str], port: int) -> FarmServer:
    for attempt in range(1, _PORT_RETRIES + 1):
        chosen = port or _free_port()
        command = [sys.executable, "-c", _CHALICE_MAIN, "local", "--host", HOST]
        command += ["--port", str(chosen), "--stage", "dev", "--no-autoreload"]
        process = subprocess.Popen(
            command,
            cwd=FARM_DIR,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert process.stdout is not None
        output = _OutputTail(process.stdout)
        url = f"http://{HOST}:{chosen}"
        stop = functools.partial(_stop_process, process)
        try:
            _wait_until_answers(url, functools.partial(_exit_code, process))
        except FarmStartError as exc:
            stop()
            tail = output.text()
            if port == 0 and attempt < _PORT_RETRIES and "Address already in use" in tail:
                continue
            raise FarmStartError(f"{exc}\n--- chalice local output ---\n{tail}") from None
        return FarmServer(url, stop)
    raise FarmStartError("chalice local found no free port")  # pragma: no cover


def _exit_code(process: subprocess.Popen[bytes]) -> int | None:
    return process.poll()


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_answers(url: str, exit_code: Callable[[], int | None]) -> None:
    """Poll `GET /` until any HTTP answer; FarmStartError on exit or timeout."""
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        code = exit_code()
        if code is not None:
            raise FarmStartError(f"the farm exited with code {code} before answering at {url}")
        connection = http.client.HTTPConnection(host, int(port), timeout=1)
        try:
            connection.request("GET", "/")
            connection.getresponse().read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise FarmStartError(
                    f"the farm did not answer at {url} within {START_TIMEOUT_S:.0f} s"
                ) from None
            time.sleep(0.05)
        finally:
            connection.close()
