"""The farm app served over TLS with a throwaway CA, for clients that insist on https."""

from __future__ import annotations

import functools
import ssl
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import trustme
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, create_local_server

from local.farm_server import FARM_DIR, HOST


@dataclass(frozen=True)
class TlsFarm:
    """A farm at `url` (https) whose certificate `ca_file` trusts."""

    url: str
    ca_file: str


class _HttpsRequestHandler(ChaliceRequestHandler):
    """Tells the app the request came over https, as a TLS-terminating proxy would."""

    disable_nagle_algorithm = True

    def parse_request(self) -> bool:
        ok = super().parse_request()
        if ok:
            del self.headers["X-Forwarded-Proto"]
            self.headers["X-Forwarded-Proto"] = "https"
        return ok

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_farm_tls(config: Any, tmp_dir: str) -> Iterator[TlsFarm]:
    """Serve `create_app(config)` over TLS on a free port until the block ends."""
    if str(FARM_DIR) not in sys.path:
        sys.path.insert(0, str(FARM_DIR))
    from app import APP_NAME, create_app

    ca = trustme.CA()
    server_cert = ca.issue_cert(HOST, "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    ca_file = f"{tmp_dir}/farm-ca.pem"
    ca.cert_pem.write_to_path(ca_file)

    app = create_app(config)
    chalice_config = Config.create(app_name=APP_NAME)
    server = create_local_server(app, chalice_config, HOST, 0).server
    server.RequestHandlerClass = functools.partial(
        _HttpsRequestHandler, app_object=app, config=chalice_config
    )
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield TlsFarm(f"https://{HOST}:{server.server_address[1]}", ca_file)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
