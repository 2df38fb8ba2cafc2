"""Seeding the dimension tables from the directory's reference files (``dossierhub/directory``).

Run by :func:`sinks.warehouse.migrate.migrate` after the SQL migrations, so every migrated
warehouse — the live one, a rebuild target, a test's — holds the same dimensions. Each file is
seeded once per content: ``reference_seeds`` records its checksum; a file that is new or changed
has its old rows deleted (waited for: ``ALTER … DELETE`` is asynchronous on both backends) and
is inserted again. Deleting first also makes a seed interrupted before its record exact when
run again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Final

from dossierhub.directory import agency_rows, unit_rows
from sinks.warehouse._base import Row, Warehouse, WarehouseError, sql_literal

__all__ = ["SEED_TABLES", "SeedError", "seed_reference"]

_UNIT_COLUMNS: Final = ("code", "name", "type", "parent_code", "valid_from", "valid_to")
_AGENCY_COLUMNS: Final = (
    "code",
    "name",
    "level",
    "parent_code",
    "admin_unit_code",
    "valid_from",
    "valid_to",
)
_SOURCE_COLUMNS: Final = ("code_source", "name_source", "seed_file")
#: seed table -> (columns from the file, the directory's rows of every file)
SEED_TABLES: Final[dict[str, tuple[tuple[str, ...], Callable[[], tuple[dict[str, str], ...]]]]] = {
    "dim_admin_units_seed": (_UNIT_COLUMNS, unit_rows),
    "dim_agencies_seed": (_AGENCY_COLUMNS, agency_rows),
}
_DATES: Final = frozenset({"valid_from", "valid_to"})
_NULLABLE: Final = frozenset({"parent_code", "admin_unit_code", "valid_to"})


class SeedError(WarehouseError):
    """The rows of a changed reference file could not be replaced."""


def _value(column: str, text: str) -> object:
    if not text and column in _NULLABLE:
        return None
    return dt.date.fromisoformat(text) if column in _DATES else text


def _rows_by_file(columns: Sequence[str], rows: tuple[dict[str, str], ...]) -> dict[str, list[Row]]:
    by_file: dict[str, list[Row]] = {}
    for row in rows:
        values = tuple(_value(c, row[c]) for c in columns)
        by_file.setdefault(row["_file"], []).append(
            (*values, row["code_source"], row["name_source"], row["_file"])
        )
    return by_file


def _checksum(rows: list[Row]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def seed_reference(warehouse: Warehouse, *, delete_timeout_s: float = 60.0) -> list[str]:
    """Seed the reference files not seeded yet (or changed since); returns their names."""
    seeded = {
        str(file): str(checksum)
        for file, checksum in warehouse.query(
            "SELECT seed_file, argMax(checksum, seeded_at) FROM reference_seeds GROUP BY seed_file"
        )
    }
    done: list[str] = []
    for table, (columns, read) in SEED_TABLES.items():
        for file, rows in _rows_by_file(columns, read()).items():
            checksum = _checksum(rows)
            if seeded.get(file) == checksum:
                continue
            _delete_file(warehouse, table, file, delete_timeout_s)
            warehouse.insert_rows(table, (*columns, *_SOURCE_COLUMNS), rows)
            warehouse.insert_rows(
                "reference_seeds",
                ("seed_file", "checksum", "rows", "seeded_at"),
                [(file, checksum, len(rows), dt.datetime.now(dt.UTC).replace(microsecond=0))],
            )
            done.append(file)
    return done


def _delete_file(warehouse: Warehouse, table: str, file: str, timeout_s: float) -> None:
    where = f"seed_file = {sql_literal(file)}"
    if not warehouse.query(f"SELECT count() FROM {table} WHERE {where}")[0][0]:
        return
    warehouse.execute(f"ALTER TABLE {table} DELETE WHERE {where}")
    deadline = time.monotonic() + timeout_s
    pause = 0.02
    while left := warehouse.query(f"SELECT count() FROM {table} WHERE {where}")[0][0]:
        if time.monotonic() > deadline:
            raise SeedError(
                table, f"{left} rows of {file} still there {timeout_s:.0f}s after DELETE"
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
