"""The local ClickHouse server: Debian's clickhouse-server (18.16), run as a plain process."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseDriverError

from dossierhub.errors import MissingDependencyError, ServiceUnreachableError
from dossierhub.stack._service import DEPLOY_LOCAL, Service, render_template

__all__ = ["ClickHouseService", "find_clickhouse_server"]

# clickhouse-driver logs every refused connection with a traceback; readiness polling expects
# refusals, and failures reach the caller as ServiceUnreachableError anyway.
logging.getLogger("clickhouse_driver").setLevel(logging.CRITICAL)

_CANDIDATES = ("clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server")


def find_clickhouse_server() -> str:
    for candidate in _CANDIDATES:
        path = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if path:
            return path
    raise MissingDependencyError(
        "clickhouse-server not found",
        hint="apt-get install clickhouse-server (`make setup` does it), or point "
        "DOSSIERHUB_WAREHOUSE_URL at a running server",
    )


class ClickHouseService(Service):
    name = "clickhouse"

    @property
    def port(self) -> int:
        return self.ports["clickhouse"]

    @property
    def url(self) -> str:
        return f"clickhouse://default@127.0.0.1:{self.port}/default"

    def prepare(self) -> None:
        find_clickhouse_server()
        for sub in ("data", "tmp", "user_files", "format_schemas", "logs"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        values = {
            "dir": self.dir,
            "tcp_port": self.port,
            "http_port": self.ports["clickhouse_http"],
        }
        render_template(
            DEPLOY_LOCAL / "clickhouse" / "config.xml.in", self.dir / "config.xml", **values
        )
        render_template(
            DEPLOY_LOCAL / "clickhouse" / "users.xml.in", self.dir / "users.xml", **values
        )

    def launch(self) -> None:
        self.process.start(
            [find_clickhouse_server(), f"--config-file={self.dir / 'config.xml'}"],
            log=self.launch_log,
            cwd=self.dir,
        )

    def probe(self) -> str:
        client = Client("127.0.0.1", port=self.port, connect_timeout=2, send_receive_timeout=5)
        try:
            rows = client.execute("SELECT version()")
        except (ClickHouseDriverError, OSError, EOFError) as exc:
            raise ServiceUnreachableError(self.name, f"127.0.0.1:{self.port}", str(exc)) from exc
        finally:
            client.disconnect()
        return str(rows[0][0])
