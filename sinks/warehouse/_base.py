from __future__ import annotations

import datetime as dt
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dossierhub.errors import HubError

Row = tuple[Any, ...]


class WarehouseError(HubError):
    """A warehouse statement failed; keeps the backend's error code when it has one."""

    def __init__(self, target: str, message: str, *, code: int | None = None) -> None:
        super().__init__(f"warehouse {target}: {message}")
        self.target = target
        self.code = code


@dataclass(frozen=True, slots=True)
class ColumnBatch:
    """Rows of one table by column: ``data[i]`` holds every value of column ``names[i]``.

    ``types`` are the columns' ClickHouse types; a backend that must convert (chDB via Arrow)
    uses them, so an all-NULL column still gets its type.
    """

    table: str
    names: tuple[str, ...]
    types: tuple[str, ...]
    data: tuple[list[Any], ...]

    @property
    def rows(self) -> int:
        return len(self.data[0]) if self.data else 0


class Warehouse(ABC):
    """The operations the hub needs from ClickHouse, whichever backend serves them."""

    backend: str

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Run a statement that returns no rows (DDL, INSERT … VALUES/SELECT)."""

    @abstractmethod
    def query(self, sql: str) -> list[Row]:
        """Run a SELECT and return its rows."""

    @abstractmethod
    def query_with_names(self, sql: str) -> tuple[list[str], list[Row]]:
        """Run a SELECT and return its column names and rows."""

    @abstractmethod
    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> int:
        """Insert ``rows`` (tuples in ``columns`` order); returns the number inserted.

        Not ``execute("INSERT … VALUES (…)")``: over the native protocol an 18.16 server
        expects the rows as data blocks after the statement, not inline in it.
        """

    @abstractmethod
    def insert_columns(self, batch: ColumnBatch) -> int:
        """Insert a columnar batch in one statement; returns the number of rows."""

    @abstractmethod
    def version(self) -> str: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sql_literal(value: object) -> str:
    """A ClickHouse SQL literal for a plain Python value (both backends parse it alike)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return f"'{value.strftime('%Y-%m-%d %H:%M:%S')}'"
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(sql_literal(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def plain_value(value: object) -> object:
    """One Python shape for a value from either backend: datetimes as naive UTC, text as str.

    Arrow (chDB) and clickhouse-driver both hand back tz-aware datetimes for DateTime('UTC'),
    but not always the same tzinfo object; naive UTC compares equal everywhere.
    """
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, uuid.UUID):  # clickhouse-driver's UUID; chDB's JSON gives text
        return str(value)
    return value
