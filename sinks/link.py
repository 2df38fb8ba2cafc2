"""Links to other databases: a PostgreSQL table imported into the warehouse, incrementally.

Why an import and not a table function: chDB (current engine) has ``postgresql()``, but
Debian's ClickHouse 18.16 has neither the ``postgresql()`` table function nor a PostgreSQL
dictionary source (checked: ``Unknown table function postgresql``); its only road to PostgreSQL
is ODBC through ``clickhouse-odbc-bridge`` plus a system ODBC driver. One mechanism that works on
both backends is a scheduled import, so analysts JOIN a local table on either backend, and a
PostgreSQL that is down does not break their queries.

``link add`` reads the source table's columns, creates ``link_<name>_rows`` (a
``ReplacingMergeTree`` on the key, versioned by the watermark) and the view ``link_<name>``
(``FINAL``: one row per key, the newest), and records the link in ``links``. ``link sync``
selects the rows whose watermark column (a timestamp such as ``updated_at``) is past the one the
last sync reached, inserts them, then records the new watermark in ``link_syncs``. A sync killed
between the two re-imports those rows next time: the newest version per key is the same row,
so the view is unchanged. Rows deleted in PostgreSQL are not seen (a soft-delete column is).
A transaction that commits after a sync with an ``updated_at`` older than the watermark that
sync reached is missed: stamp ``updated_at`` at commit (a trigger) or sync with some lag.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlsplit

from dossierhub.errors import HubError
from sinks.columns import is_raw_personal_data
from sinks.warehouse import Warehouse
from sinks.warehouse._base import Row, sql_literal

__all__ = [
    "Link",
    "LinkError",
    "LinkStatus",
    "SyncResult",
    "add_link",
    "list_links",
    "sync_all",
    "sync_link",
]

_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,40}")
_BATCH_ROWS: Final = 10_000
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# information_schema.columns.data_type -> ClickHouse type; anything else is imported as text
_TYPES: Final = {
    "smallint": "Int32",
    "integer": "Int32",
    "bigint": "Int64",
    "boolean": "UInt8",
    "real": "Float32",
    "double precision": "Float64",
    "numeric": "Float64",
    "date": "Date",
    "timestamp with time zone": "DateTime('UTC')",
    "timestamp without time zone": "DateTime('UTC')",
}
_WATERMARK_TYPES: Final = frozenset({"timestamp with time zone", "timestamp without time zone"})


class LinkError(HubError):
    """A link cannot be added or synced; names the link and what to fix."""

    def __init__(self, name: str, problem: str, *, hint: str | None = None) -> None:
        super().__init__(f"link {name!r}: {problem}", hint=hint)
        self.name = name


@dataclass(frozen=True, slots=True)
class Link:
    name: str
    dsn: str
    source_table: str
    key_column: str
    watermark_column: str
    columns: tuple[str, ...]
    types: tuple[str, ...]

    @property
    def rows_table(self) -> str:
        return f"link_{self.name}_rows"

    @property
    def view(self) -> str:
        return f"link_{self.name}"


@dataclass(frozen=True, slots=True)
class LinkStatus:
    link: Link
    syncs: int
    last_synced_at: dt.datetime | None
    watermark: str | None
    rows_imported: int

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.link.name,
            "dsn": self.link.dsn,
            "table": self.link.source_table,
            "key": self.link.key_column,
            "watermark_column": self.link.watermark_column,
            "view": self.link.view,
            "syncs": self.syncs,
            "last_synced_at": self.last_synced_at.isoformat() if self.last_synced_at else None,
            "watermark": self.watermark,
            "rows_imported": self.rows_imported,
        }


@dataclass(frozen=True, slots=True)
class SyncResult:
    name: str
    rows: int
    watermark: str | None
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "rows": self.rows,
            "watermark": self.watermark,
            "seconds": round(self.seconds, 3),
        }


def _connect(name: str, dsn: str) -> Any:
    import psycopg

    try:
        return psycopg.connect(dsn, connect_timeout=10)
    except psycopg.Error as exc:
        raise LinkError(name, f"cannot connect to {dsn}: {' '.join(str(exc).split())}") from exc


def _split_table(name: str, table: str) -> tuple[str, str]:
    schema, _, relation = table.rpartition(".")
    if not relation:
        raise LinkError(name, f"--table {table!r} is empty", hint="e.g. --table business_registry")
    return schema or "public", relation


def _source_columns(name: str, connection: Any, table: str) -> list[tuple[str, str, bool]]:
    schema, relation = _split_table(name, table)
    rows = connection.execute(
        "SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, relation),
    ).fetchall()
    if not rows:
        raise LinkError(name, f"table {schema}.{relation} not found (or has no columns)")
    return [(str(c), str(t), bool(n)) for c, t, n in rows]


def _ch_type(data_type: str, nullable: bool) -> str:
    base = _TYPES.get(data_type, "String")
    return f"Nullable({base})" if nullable else base


def add_link(
    warehouse: Warehouse,
    name: str,
    *,
    dsn: str,
    table: str,
    key: str,
    watermark: str = "updated_at",
) -> Link:
    """Record a link and create its tables; raises :class:`LinkError` on anything off."""
    if not _NAME.fullmatch(name):
        raise LinkError(name, "not a link name", hint="lower-case letters, digits, _ (a-z first)")
    if urlsplit(dsn).password or "password=" in dsn:
        raise LinkError(
            name,
            "the DSN carries a password, which would be stored in the warehouse",
            hint="drop it from --dsn; put it in ~/.pgpass or the file PGPASSFILE names",
        )
    if warehouse.query(f"SELECT count() FROM links WHERE name = {sql_literal(name)}")[0][0]:
        raise LinkError(name, "exists already", hint="choose another name")
    with _connect(name, dsn) as connection:
        found = _source_columns(name, connection, table)
    by_name = {column: (data_type, nullable) for column, data_type, nullable in found}
    for role, column in (("--key", key), ("--watermark", watermark)):
        if column not in by_name:
            raise LinkError(
                name, f"{role} {column!r} is not a column of {table}: {sorted(by_name)}"
            )
    if by_name[watermark][0] not in _WATERMARK_TYPES:
        raise LinkError(
            name,
            f"--watermark {watermark!r} is {by_name[watermark][0]}, not a timestamp",
            hint="name a column the source stamps on every change, e.g. updated_at",
        )
    # the warehouse never holds raw personal data: such columns are not imported
    kept = [(c, t, n) for c, t, n in found if c == key or not is_raw_personal_data(c, {})]
    link = Link(
        name=name,
        dsn=dsn,
        source_table=table,
        key_column=key,
        watermark_column=watermark,
        columns=tuple(c for c, _, _ in kept),
        types=tuple(_ch_type(t, n and c != key) for c, t, n in kept),
    )
    _create_tables(warehouse, link)
    warehouse.insert_rows(
        "links",
        (
            "name",
            "dsn",
            "source_table",
            "key_column",
            "watermark_column",
            "columns",
            "types",
            "added_at",
        ),
        [
            (
                name,
                dsn,
                table,
                key,
                watermark,
                list(link.columns),
                list(link.types),
                dt.datetime.now(dt.UTC).replace(microsecond=0),
            )
        ],
    )
    return link


def _create_tables(warehouse: Warehouse, link: Link) -> None:
    columns = ",\n".join(f"    {c} {t}" for c, t in zip(link.columns, link.types, strict=True))
    warehouse.execute(
        f"CREATE TABLE IF NOT EXISTS {link.rows_table}\n(\n{columns},\n"
        "    _watermark_us UInt64,\n    _synced_at DateTime('UTC')\n)\n"
        f"ENGINE = ReplacingMergeTree(_watermark_us)\nORDER BY {link.key_column}"
    )
    warehouse.execute(
        f"CREATE VIEW IF NOT EXISTS {link.view} AS SELECT {', '.join(link.columns)}, "
        f"_synced_at FROM {link.rows_table} FINAL"
    )


def _links(warehouse: Warehouse, name: str | None = None) -> list[Link]:
    where = f"WHERE name = {sql_literal(name)}" if name is not None else ""
    rows = warehouse.query(
        "SELECT name, dsn, source_table, key_column, watermark_column, columns, types "
        f"FROM links {where} ORDER BY name"
    )
    return [
        Link(str(n), str(d), str(t), str(k), str(w), tuple(cs), tuple(ts))
        for n, d, t, k, w, cs, ts in rows
    ]


def list_links(warehouse: Warehouse) -> list[LinkStatus]:
    """Every link with its last sync."""
    syncs = {
        str(row[0]): row[1:]
        for row in warehouse.query(
            "SELECT name, count(), max(synced_at), argMax(watermark, watermark_us), sum(rows) "
            "FROM link_syncs GROUP BY name"
        )
    }
    statuses = []
    for link in _links(warehouse):
        count, last, watermark, rows = syncs.get(link.name, (0, None, None, 0))
        statuses.append(
            LinkStatus(link, int(count), last, str(watermark) if count else None, int(rows))
        )
    return statuses


def _micros(value: dt.datetime) -> int:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return (aware - _EPOCH) // dt.timedelta(microseconds=1)


def _plain(value: Any) -> Any:
    """A PostgreSQL value as the warehouse column takes it."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
    if isinstance(value, int | float | str | dt.date) or value is None:
        return value
    return str(value)  # uuid, json, arrays …: as text


def _changed_rows(connection: Any, link: Link, after: dt.datetime | None) -> Iterator[list[Row]]:
    from psycopg import sql

    schema, relation = _split_table(link.name, link.source_table)
    query = sql.SQL("SELECT {cols}, {wm} FROM {table} {where} ORDER BY {wm}").format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in link.columns),
        wm=sql.Identifier(link.watermark_column),
        table=sql.Identifier(schema, relation),
        where=sql.SQL("WHERE {wm} > %s").format(wm=sql.Identifier(link.watermark_column))
        if after is not None
        else sql.SQL(""),
    )
    # a named (server-side) cursor: a first sync of a big table streams instead of loading it all
    with connection.cursor(name=f"dossierhub_link_{link.name}") as cursor:
        cursor.execute(query, (after,) if after is not None else None)
        while batch := cursor.fetchmany(_BATCH_ROWS):
            yield [tuple(row) for row in batch]


def sync_link(warehouse: Warehouse, name: str) -> SyncResult:
    """Import the rows changed since the last sync of ``name``; record the new watermark."""
    found = _links(warehouse, name)
    if not found:
        raise LinkError(name, "no such link", hint="see `dossierhub link list`")
    link = found[0]
    started = time.monotonic()
    last = warehouse.query(
        f"SELECT max(watermark_us), count() FROM link_syncs WHERE name = {sql_literal(name)}"
    )[0]
    after = _EPOCH + dt.timedelta(microseconds=int(last[0])) if int(last[1]) else None
    rows = 0
    newest: dt.datetime | None = after
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    import psycopg

    try:
        with _connect(name, link.dsn) as connection:
            for batch in _changed_rows(connection, link, after):
                values = []
                for row in batch:
                    stamp: dt.datetime = row[-1]
                    if newest is None or _micros(stamp) > _micros(newest):
                        newest = stamp
                    values.append((*(_plain(v) for v in row[:-1]), _micros(stamp), now))
                warehouse.insert_rows(
                    link.rows_table, (*link.columns, "_watermark_us", "_synced_at"), values
                )
                rows += len(values)
    except psycopg.Error as exc:
        raise LinkError(name, f"reading {link.source_table}: {' '.join(str(exc).split())}") from exc
    watermark = newest.isoformat() if newest is not None else None
    seconds = time.monotonic() - started
    warehouse.insert_rows(
        "link_syncs",
        ("name", "synced_at", "watermark", "watermark_us", "rows", "seconds"),
        [(name, now, watermark or "", _micros(newest) if newest else 0, rows, seconds)],
    )
    return SyncResult(name, rows, watermark, seconds)


def sync_all(warehouse: Warehouse, names: Sequence[str] = ()) -> list[SyncResult]:
    """Sync the named links, or every link."""
    return [sync_link(warehouse, n) for n in (names or [link.name for link in _links(warehouse)])]
