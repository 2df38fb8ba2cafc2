"""Read-only queries on an embedded warehouse that another process holds.

chDB allows one process per database path: while the hub's sink holds ``chdb:///path``, a second
process (``dossierhub warehouse query``, an analyst's script) cannot open it. So the process that
holds it serves read-only queries over HTTP on 127.0.0.1, on a free port, and writes where (port,
pid, a random token) into ``<path>/.dossierhub-query.json`` (mode 0600: only the hub's own user
can read the token). :func:`open_for_reading` goes through that server when it answers, and opens
the path itself otherwise.

The server runs each statement through :func:`readonly.check_read_only` and relays chDB's
JSONCompact result as is, so rows come back typed exactly as a direct query types them.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from sinks.warehouse._base import ColumnBatch, Row, Warehouse, WarehouseError
from sinks.warehouse._chdb import ChdbWarehouse, parse_json_compact
from sinks.warehouse.readonly import NotReadOnlyError, check_read_only

__all__ = ["ENDPOINT_FILE", "LoopbackServer", "LoopbackWarehouse", "open_for_reading"]

ENDPOINT_FILE: Final = ".dossierhub-query.json"
_TOKEN_HEADER: Final = "X-Dossierhub-Token"
log = logging.getLogger(__name__)


class LoopbackServer:
    """Serves ``POST /query`` (body: one read-only statement) for a held chDB warehouse."""

    def __init__(self, warehouse: ChdbWarehouse) -> None:
        self.warehouse = warehouse
        self.token = secrets.token_hex(16)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self.port = int(self._http.server_address[1])
        self.endpoint = Path(warehouse.path) / ENDPOINT_FILE
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="warehouse-loopback", daemon=True
        )

    def start(self) -> LoopbackServer:
        self._thread.start()
        descriptor = os.open(self.endpoint, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump({"port": self.port, "pid": os.getpid(), "token": self.token}, out)
        log.info("read-only queries served on http://127.0.0.1:%d/query", self.port)
        return self

    def close(self) -> None:
        self.endpoint.unlink(missing_ok=True)
        self._http.shutdown()
        self._http.server_close()

    def answer(self, sql: str) -> tuple[int, bytes]:
        try:
            return 200, self.warehouse.query_json(check_read_only(sql))
        except NotReadOnlyError as exc:
            return 400, str(exc).encode()
        except WarehouseError as exc:
            return 500, str(exc).encode()


def _handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/query" or self.headers.get(_TOKEN_HEADER) != server.token:
                self._reply(403, b"forbidden")
                return
            length = int(self.headers.get("Content-Length", "0"))
            status, body = server.answer(self.rfile.read(length).decode("utf-8"))
            self._reply(status, body)

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

    return Handler


class LoopbackWarehouse(Warehouse):
    """A held embedded warehouse, read through its holder's loopback server."""

    backend = "chdb"

    def __init__(self, path: str, port: int, token: str, *, timeout_s: float = 300) -> None:
        self.target = f"chdb://{path} (via 127.0.0.1:{port})"
        self._url = f"http://127.0.0.1:{port}/query"
        self._token = token
        self._timeout_s = timeout_s

    def query_with_names(self, sql: str) -> tuple[list[str], list[Row]]:
        request = urllib.request.Request(
            self._url, data=sql.encode(), method="POST", headers={_TOKEN_HEADER: self._token}
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                return parse_json_compact(response.read())
        except urllib.error.HTTPError as exc:
            message = exc.read().decode("utf-8", errors="replace")
            if exc.code == 400:
                raise NotReadOnlyError(sql, message) from exc
            raise WarehouseError(self.target, message) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise WarehouseError(self.target, f"the holder does not answer ({exc})") from exc

    def query(self, sql: str) -> list[Row]:
        return self.query_with_names(sql)[1]

    def execute(self, sql: str) -> None:
        raise WarehouseError(self.target, "read-only: the warehouse is held by another process")

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> int:
        raise WarehouseError(self.target, "read-only: the warehouse is held by another process")

    def insert_columns(self, batch: ColumnBatch) -> int:
        raise WarehouseError(self.target, "read-only: the warehouse is held by another process")

    def version(self) -> str:
        return str(self.query("SELECT version()")[0][0])

    def close(self) -> None:
        pass


def open_for_reading(path: str) -> Warehouse:
    """The holder's loopback server if a live process serves ``path``, else chDB itself."""
    endpoint = Path(path) / ENDPOINT_FILE
    try:
        served = json.loads(endpoint.read_text("utf-8"))
        pid, port, token = int(served["pid"]), int(served["port"]), str(served["token"])
    except (OSError, ValueError, KeyError, TypeError):
        return ChdbWarehouse(path)
    if not _alive(pid) or not _listening(port):  # a holder killed with -9 leaves its file
        return ChdbWarehouse(path)
    return LoopbackWarehouse(path, port, token)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
