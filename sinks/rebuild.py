"""Rebuild by replay: load the topics from offset 0 into a fresh warehouse, then compare it with
the live one table by table (row count and a checksum of the contents).

A replay needs nothing special from the sink: it resumes each partition after the last range
its own warehouse confirmed, and a fresh warehouse has none, so it starts at the beginning.

The checksum is ``sum(cityHash64(toString(tuple(<every column>))))`` — independent of row order
and part layout, and the same text form on 18.16 and chDB (``cityHash64`` itself refuses UUIDs
on 18.16, and returns NULL on a NULL argument on the current engine). Compacted topics (outcomes,
aggregates, reference data) may have dropped superseded records since the live load; their raw
tables then differ while the views (latest per key) agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from dossierhub.settings import Settings
from sinks.ledger import RANGES_TABLE
from sinks.sink import Sink, SinkOptions, SinkStats
from sinks.tables import DEADLETTER_TABLE, table_specs
from sinks.warehouse import Warehouse, WarehouseError, connect
from sinks.warehouse.migrate import migrate

__all__ = [
    "NotEmptyError",
    "TableComparison",
    "compare",
    "fingerprint",
    "fingerprints",
    "rebuild",
]


class NotEmptyError(WarehouseError):
    """The target of a rebuild already holds loaded ranges."""


@dataclass(frozen=True, slots=True)
class TableComparison:
    table: str
    live_rows: int
    rebuilt_rows: int
    live_checksum: int
    rebuilt_checksum: int

    @property
    def equal(self) -> bool:
        return (self.live_rows, self.live_checksum) == (self.rebuilt_rows, self.rebuilt_checksum)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "equal": self.equal}


def _data_tables() -> list[str]:
    return [spec.name for spec in table_specs()] + [DEADLETTER_TABLE]


def fingerprint(warehouse: Warehouse, table: str) -> tuple[int, int]:
    """(rows, order-independent checksum of every column) of ``table``."""
    names, _ = warehouse.query_with_names(f"SELECT * FROM {table} LIMIT 0")
    if not names:  # chDB's JSON of an empty result carries no column list
        names = [str(r[0]) for r in warehouse.query(f"DESCRIBE TABLE {table}")]
    row = warehouse.query(
        f"SELECT count(), sum(cityHash64(toString(tuple({', '.join(names)})))) FROM {table}"
    )[0]
    return int(row[0]), int(row[1] or 0)


def fingerprints(warehouse: Warehouse) -> dict[str, tuple[int, int]]:
    """table -> (rows, checksum) of every data table.

    Taken one warehouse at a time: a process can hold only one chDB path at once.
    """
    return {table: fingerprint(warehouse, table) for table in _data_tables()}


def compare(
    live: dict[str, tuple[int, int]], rebuilt: dict[str, tuple[int, int]]
) -> list[TableComparison]:
    """Table by table; a table missing on one side counts as (-1 rows, checksum -1)."""
    comparisons = []
    for table in sorted({*live, *rebuilt}):
        live_rows, live_sum = live.get(table, (-1, -1))
        rebuilt_rows, rebuilt_sum = rebuilt.get(table, (-1, -1))
        comparisons.append(TableComparison(table, live_rows, rebuilt_rows, live_sum, rebuilt_sum))
    return comparisons


def rebuild(settings: Settings, into_url: str, options: SinkOptions) -> SinkStats:
    """Replay the topics of ``options`` into the empty warehouse at ``into_url``."""
    with connect(into_url) as target:
        migrate(target)
        loaded = int(target.query(f"SELECT count() FROM {RANGES_TABLE}")[0][0])
        if loaded:
            raise NotEmptyError(into_url, f"holds {loaded} range records; rebuild into a fresh one")
    local = replace(settings, warehouse_url=into_url)
    return Sink(local, options).run_until_idle()
