from __future__ import annotations

from collections.abc import Sequence

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as DriverError
from clickhouse_driver.errors import ServerException

from sinks.warehouse._base import Row, Warehouse, WarehouseError, plain_value


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

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> int:
        if rows:
            self._run(f"INSERT INTO {table} ({', '.join(columns)}) VALUES", list(rows))
        return len(rows)

    def version(self) -> str:
        return str(self.query("SELECT version()")[0][0])

    def close(self) -> None:
        self._client.disconnect()

    def _run(self, sql: str, rows: list[Row] | None = None) -> object:
        try:
            return (
                self._client.execute(sql, rows) if rows is not None else self._client.execute(sql)
            )
        except ServerException as exc:
            message = str(exc.message).strip().splitlines()[0]
            raise WarehouseError(self.target, message, code=exc.code) from exc
        except (DriverError, OSError, EOFError) as exc:
            raise WarehouseError(self.target, f"cannot reach the server ({exc})") from exc
