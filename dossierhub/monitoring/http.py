"""A small HTTP server for ``/metrics`` and ``/healthz``, in a daemon thread.

For processes without a web server of their own (the exporter, the sink). The Faust workers
serve the same bytes from a view on their own web server instead (see the README).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dossierhub.errors import ServiceError

from .metrics import CONTENT_TYPE

__all__ = ["Health", "MetricsServer"]

#: () -> (healthy, reason): what ``/healthz`` answers, 200 or 503
Health = Callable[[], tuple[bool, str]]


class MetricsServer:
    """Serves ``render()`` at ``/metrics`` and ``health()`` at ``/healthz`` until closed."""

    def __init__(
        self,
        render: Callable[[], bytes],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        health: Health = lambda: (True, "ok"),
    ) -> None:
        handler = _handler(render, health)
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise ServiceError("metrics", f"cannot listen on {host}:{port} ({exc})") from exc
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-http", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._server.server_address[0])
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handler(render: Callable[[], bytes], health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE, render())
            elif path == "/healthz":
                ok, reason = health()
                body = json.dumps({"healthy": ok, "reason": reason}).encode()
                self._send(200 if ok else 503, "application/json", body)
            else:
                self._send(404, "text/plain", b"not found: try /metrics or /healthz\n")

        def _send(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per scrape would drown the logs

    return Handler
