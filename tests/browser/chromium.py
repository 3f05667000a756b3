"""Headless Chromium driven over the DevTools protocol (on a pipe, no port, no extra package).

The page is served from a loopback HTTP server; Chromium runs with every host name
resolving nowhere except that server, and the DevTools `Network` domain reports every
request the page itself makes (the browser's own update or time checks are not the
page's and are not reported there).
"""

from __future__ import annotations

import http.server
import json
import os
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import missing

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def chromium_binary() -> str:
    """Path of the distribution's Chromium; fails in CI, skips elsewhere, when missing."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    message = "headless Chromium required (apt-get install chromium)"
    missing(message)


@contextmanager
def serve_page(page: bytes) -> Iterator[str]:
    """Serve `page` at http://127.0.0.1:<port>/report.html; every other path is a 404."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/report.html":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/report.html"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class PageVisit:
    """What the page did: the URLs it requested, its load, and values read from it."""

    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    loaded: bool = False
    values: dict[str, Any] = field(default_factory=dict)
    screenshot_png: bytes = b""


class _Pipe:
    """DevTools messages over --remote-debugging-pipe (NUL-terminated JSON on fds 3 and 4)."""

    def __init__(self, to_browser: int, from_browser: int) -> None:
        self._out = to_browser
        self._in = from_browser
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> int:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        return self._next

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str = "",
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._in], [], [], left)
            if ready:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise AssertionError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        if "method" in message:
            self.events.append(message)
        return message

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event["method"] == method:
                return event
        while True:
            message = self.receive(deadline)
            if message.get("method") == method:
                return message


def visit(binary: str, url: str, profile: str, expressions: dict[str, str]) -> PageVisit:
    """Load `url`, wait for its load event, evaluate `expressions`, take a screenshot."""
    import base64

    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()

    def plumb() -> None:  # Chromium reads commands on fd 3 and writes answers on fd 4
        os.dup2(to_browser_r, 3)
        os.dup2(from_browser_w, 4)

    process = subprocess.Popen(
        [
            binary,
            *FLAGS,
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--window-size=1200,2400",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=plumb,
        pass_fds=(3, 4),
    )
    os.close(to_browser_r)
    os.close(from_browser_w)
    pipe = _Pipe(to_browser_w, from_browser_r)
    result = PageVisit()
    try:
        target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        pipe.call("Network.enable", session=session)
        pipe.call("Page.enable", session=session)
        pipe.call("Page.navigate", {"url": url}, session=session)
        pipe.wait_for("Page.loadEventFired")
        result.loaded = True
        time.sleep(0.5)
        for name, expression in expressions.items():
            answer = pipe.call(
                "Runtime.evaluate",
                {"expression": expression, "returnByValue": True},
                session=session,
            )
            result.values[name] = answer["result"].get("value")
        shot = pipe.call("Page.captureScreenshot", {"format": "png"}, session=session)
        result.screenshot_png = base64.b64decode(shot["data"])
        for event in pipe.events:
            if event.get("sessionId") != session:
                continue
            if event["method"] == "Network.requestWillBeSent":
                result.requests.append(event["params"]["request"]["url"])
            elif event["method"] == "Network.loadingFailed":
                result.failed.append(event["params"].get("errorText", ""))
        pipe.send("Browser.close")
    finally:
        os.close(to_browser_w)
        os.close(from_browser_r)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return result
