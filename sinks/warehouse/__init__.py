"""One warehouse interface, two backends, chosen by ``DOSSIERHUB_WAREHOUSE_URL``.

- ``chdb:///path`` — chDB, the current ClickHouse engine in-process (the embedded default);
- ``clickhouse://user:password@host:port/database`` — a ClickHouse server over the native
  protocol (clickhouse-driver); the local stack runs Debian's 18.16.

The hub's DDL and queries are written once and must run on both (see ``sinks/README.md``).
Rows come back as tuples of plain Python values, the same on both backends: naive UTC
datetimes, ``date`` objects, lists for arrays.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from sinks.warehouse._base import ColumnBatch, Row, Warehouse, WarehouseError

__all__ = ["ColumnBatch", "Row", "Warehouse", "WarehouseError", "connect"]


def connect(url: str, *, read_only: bool = False) -> Warehouse:
    """Open the warehouse at ``url``; raises :class:`WarehouseError` if it cannot.

    ``read_only``: for an embedded warehouse another process holds (the hub's sink), go through
    that process's loopback query server (see :mod:`sinks.warehouse.loopback`).
    """
    parts = urlsplit(url)
    if parts.scheme == "chdb":
        if read_only:
            from sinks.warehouse.loopback import open_for_reading

            return open_for_reading(unquote(parts.path))
        from sinks.warehouse._chdb import ChdbWarehouse

        return ChdbWarehouse(unquote(parts.path))
    if parts.scheme == "clickhouse":
        from sinks.warehouse._server import ServerWarehouse

        return ServerWarehouse(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 9000,
            user=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            database=parts.path.lstrip("/") or "default",
        )
    raise WarehouseError(url, f"unsupported warehouse URL scheme {parts.scheme!r}")
