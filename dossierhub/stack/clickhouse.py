"""The local ClickHouse server: Debian's clickhouse-server (18.16), run as a plain process.

Its users: ``default`` (passwordless, loopback only: the local admin that migrates), ``writer``
(the sink) and ``analyst`` (readonly=1 with query limits, what ``warehouse query`` uses). The
passwords of the last two are generated into ``<home>/credentials/clickhouse`` (mode 600).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path
from urllib.parse import quote, urlsplit

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseDriverError

from dossierhub.errors import MissingDependencyError, ServiceUnreachableError
from dossierhub.security.credentials import (
    CredentialsError,
    new_password,
    read_secret,
    secrets_dir,
    write_secret,
)
from dossierhub.settings import Settings
from dossierhub.stack._service import DEPLOY_LOCAL, Service, render_template

__all__ = [
    "ANALYST_MAX_ROWS",
    "ANALYST_MAX_SECONDS",
    "ClickHouseService",
    "analyst_url",
    "clickhouse_password",
    "find_clickhouse_server",
]

#: the analyst profile's limits: a query runs at most this long and returns at most this many
#: rows (more is an error, not a silent cut)
ANALYST_MAX_SECONDS = 60
ANALYST_MAX_ROWS = 1_000_000
_USERS = ("writer", "analyst")


def _password_path(home: Path, user: str) -> Path:
    return home / "credentials" / "clickhouse" / f"{user}.json"


def clickhouse_password(home: Path, user: str) -> str:
    """The generated password of a local server user; CredentialsError if none yet."""
    password = read_secret(_password_path(home, user)).get("password")
    if password is None:
        raise CredentialsError(_password_path(home, user), "no password in the file")
    return password


def _ensure_password(home: Path, user: str) -> str:
    try:
        return clickhouse_password(home, user)
    except CredentialsError:
        secrets_dir(home, "clickhouse")
        password = new_password()
        write_secret(_password_path(home, user), {"user": user, "password": password})
        return password


def analyst_url(settings: Settings) -> str:
    """The URL ``warehouse query`` connects with: DOSSIERHUB_WAREHOUSE_ANALYST_URL; else, for
    the local stack's server, the warehouse URL as the ``analyst`` user; else the warehouse URL
    (chDB is single-user: the text check of read-only queries is its only guard)."""
    if settings.warehouse_analyst_url:
        return settings.warehouse_analyst_url
    url = settings.effective_warehouse_url
    parts = urlsplit(url)
    if parts.scheme != "clickhouse" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return url
    from dossierhub.stack import load_ports

    ports = load_ports(settings.home) or {}
    if parts.port != ports.get("clickhouse"):
        return url
    try:
        password = clickhouse_password(settings.home, "analyst")
    except CredentialsError:
        return url  # a server started before the hub had users: as before
    netloc = f"analyst:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
    return parts._replace(netloc=netloc).geturl()


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
        passwords = {user: _ensure_password(self.settings.home, user) for user in _USERS}
        values = {
            "dir": self.dir,
            "tcp_port": self.port,
            "http_port": self.ports["clickhouse_http"],
            "writer_sha256": hashlib.sha256(passwords["writer"].encode()).hexdigest(),
            "analyst_sha256": hashlib.sha256(passwords["analyst"].encode()).hexdigest(),
            "analyst_max_seconds": ANALYST_MAX_SECONDS,
            "analyst_max_rows": ANALYST_MAX_ROWS,
        }
        render_template(
            DEPLOY_LOCAL / "clickhouse" / "config.xml.in", self.dir / "config.xml", **values
        )
        render_template(
            DEPLOY_LOCAL / "clickhouse" / "users.xml.in", self.dir / "users.xml", **values
        )
        (self.dir / "users.xml").chmod(0o600)

    def user_url(self, user: str, database: str = "default") -> str:
        """``clickhouse://`` URL of ``writer`` or ``analyst`` (with its password)."""
        password = quote(clickhouse_password(self.settings.home, user), safe="")
        return f"clickhouse://{user}:{password}@127.0.0.1:{self.port}/{database}"

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
