from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as DriverError
from clickhouse_driver.errors import ServerException

from sinks.warehouse._base import ColumnBatch, Row, Warehouse, WarehouseError, plain_value


class ServerWarehouse(Warehouse):
    """A ClickHouse server over the native protocol."""

    backend = "clickhouse"

    def __init__(self, host: str, port: int, user: str, password: str, database: str) -> None:
        self.target = f"clickhouse://{user}@{host}:{port}/{database}"
        self._client = Client(
            host,
            port=port,
            user=user,
            password=password,
            database=database,
            connect_timeout=5,
            send_receive_timeout=300,
        )

    def execute(self, sql: str) -> None:
        self._run(sql)

    def query(self, sql: str) -> list[Row]:
        rows = self._run(sql)
        return [tuple(plain_value(v) for v in r) for r in rows] if isinstance(rows, list) else []

    def query_with_names(self, sql: str) -> tuple[list[str], list[Row]]:
        result = self._run(sql, with_types=True)
        if not isinstance(result, tuple):
            return [], []
        rows, types = result
        return [str(name) for name, _type in types], [
            tuple(plain_value(v) for v in r) for r in rows
        ]

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> int:
        if rows:
            self._run(f"INSERT INTO {table} ({', '.join(columns)}) VALUES", list(rows))
        return len(rows)

    def insert_columns(self, batch: ColumnBatch) -> int:
        """DateTime columns go as Unix seconds (clickhouse-driver takes ints as they are);
        Date columns as days, turned into ``date`` here because the driver wants those."""
        if batch.rows:
            data = [
                _dates(values, ch_type) if _is_date(ch_type) else values
                for ch_type, values in zip(batch.types, batch.data, strict=True)
            ]
            self._run(
                f"INSERT INTO {batch.table} ({', '.join(batch.names)}) VALUES",
                data,
                columnar=True,
            )
        return batch.rows

    def version(self) -> str:
        return str(self.query("SELECT version()")[0][0])

    def close(self) -> None:
        self._client.disconnect()

    def _run(
        self,
        sql: str,
        rows: list[Any] | None = None,
        *,
        columnar: bool = False,
        with_types: bool = False,
    ) -> object:
        try:
            if rows is None:
                return self._client.execute(sql, with_column_types=with_types)
            return self._client.execute(sql, rows, columnar=columnar)
        except ServerException as exc:
            message = str(exc.message).strip().splitlines()[0]
            raise WarehouseError(self.target, message, code=exc.code) from exc
        except (DriverError, OSError, EOFError) as exc:
            raise WarehouseError(self.target, f"cannot reach the server ({exc})") from exc


_EPOCH = dt.date(1970, 1, 1)


def _is_date(ch_type: str) -> bool:
    bare = ch_type.removeprefix("Nullable(").removeprefix("Array(").rstrip(")")
    return bare == "Date"


@functools.lru_cache(maxsize=65_536)
def _date(days: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=days)


def _date_of(value: Any) -> Any:
    return _date(value) if type(value) is int else value


def _dates(values: list[Any], ch_type: str) -> list[Any]:
    if ch_type.startswith("Array("):
        return [[_date_of(v) for v in items] for items in values]
    return [_date_of(v) for v in values]
