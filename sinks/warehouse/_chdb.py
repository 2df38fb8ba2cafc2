from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sinks.warehouse._base import ColumnBatch, Row, Warehouse, WarehouseError, sql_literal
from sinks.warehouse._json_types import from_json


class ChdbWarehouse(Warehouse):
    """chDB in-process. One process per database path: a second one fails to open it."""

    backend = "chdb"

    def __init__(self, path: str) -> None:
        from chdb import session

        Path(path).mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        try:
            self._session = session.Session(path)
        except Exception as exc:  # chDB raises a bare RuntimeError/ChdbError
            raise WarehouseError(
                f"chdb://{path}",
                f"cannot open ({exc}); is another process (dossierhub run?) holding it?",
            ) from exc

    def execute(self, sql: str) -> None:
        self._run(sql, "CSV")

    def query(self, sql: str) -> list[Row]:
        return self.query_with_names(sql)[1]

    def query_with_names(self, sql: str) -> tuple[list[str], list[Row]]:
        return parse_json_compact(self.query_json(sql))

    def query_json(self, sql: str) -> bytes:
        """The result in ClickHouse's JSONCompact format (what the loopback server relays)."""
        raw: bytes = self._run(sql, "JSONCompact").bytes()
        return raw

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> int:
        if rows:
            values = ", ".join("(" + ", ".join(sql_literal(v) for v in row) + ")" for row in rows)
            self.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}")
        return len(rows)

    def insert_columns(self, batch: ColumnBatch) -> int:
        """One ``INSERT … SELECT`` from an Arrow table: chDB reads it in place (no SQL text)."""
        if not batch.rows:
            return 0
        from sinks.warehouse._arrow import arrow_table

        try:
            dh_batch = arrow_table(batch)  # found by name by chDB's Python() table function
        except (ValueError, TypeError, OverflowError) as exc:
            raise WarehouseError(f"chdb://{self.path}", f"{batch.table}: {exc}") from exc
        columns = ", ".join(batch.names)
        with self._lock:
            self._run(
                f"INSERT INTO {batch.table} ({columns}) SELECT {columns} FROM Python(dh_batch)",
                "CSV",
            )
        del dh_batch
        return batch.rows

    def version(self) -> str:
        return str(self.query("SELECT version()")[0][0])

    def close(self) -> None:
        self._session.close()

    def _run(self, sql: str, fmt: str) -> Any:
        # One session, used by the sink's thread and the loopback server's: one query at a time.
        with self._lock:
            try:
                return self._session.query(sql, fmt)
            except Exception as exc:
                raise WarehouseError(f"chdb://{self.path}", _first_line(exc)) from exc


def parse_json_compact(raw: bytes) -> tuple[list[str], list[Row]]:
    """Column names and typed rows of a JSONCompact result.

    JSONCompact carries each column's ClickHouse type, so values come back typed the way
    clickhouse-driver types them (Arrow, for one, hands DateTime over as a bare UInt32).
    """
    if not raw.strip():
        return [], []
    result = json.loads(raw)
    types = [column["type"] for column in result["meta"]]
    names = [str(column["name"]) for column in result["meta"]]
    return names, [
        tuple(from_json(t, v) for t, v in zip(types, row, strict=True)) for row in result["data"]
    ]


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
