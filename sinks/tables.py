"""Which table each sink topic loads into, and that table's DDL.

One append-only table per topic (= per event family, plus the derived topics). Every row keeps
where it came from — ``src_topic``, ``src_partition``, ``src_offset`` — which is what makes the
load exact: a range of offsets can be counted and deleted (see :mod:`sinks.ledger`).

The DDL here is what ``migrations/0001_event_store.sql`` was generated from
(``python -m sinks.tables``); a unit test keeps the two equal, and an integration test checks
that the migrated tables have exactly these columns on both backends. A contract change that
adds a field therefore needs a new migration (``ALTER TABLE … ADD COLUMN``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

from schemas import topics
from schemas.catalog import event_types
from sinks.columns import Column, family_columns

__all__ = [
    "DEADLETTER_TABLE",
    "META_COLUMNS",
    "SINK_TOPICS",
    "TableSpec",
    "UnknownTopicError",
    "render_ddl",
    "table_for",
    "table_specs",
]

DEADLETTER_TABLE: Final = "sink_deadletter"

#: where a row came from; the exactly-once bookkeeping counts and deletes by these
META_COLUMNS: Final = (
    Column("src_topic", "String", ()),
    Column("src_partition", "Int32", ()),
    Column("src_offset", "Int64", ()),
    Column("schema_id", "Int32", ()),
)


@dataclass(frozen=True, slots=True)
class _Layout:
    table: str
    partition_by: str
    order_by: str


# Months partition the event store (the issue asks for it; a month of the city is ~2 M dossier
# events). Sort keys lead with the common filters: agency, event type, then time.
_LAYOUT: Final[dict[str, _Layout]] = {
    topics.CATALOG_EVENTS: _Layout(
        "events_catalog", "toYYYYMM(occurred_at)", "agency_code, event_type, occurred_at"
    ),
    topics.DOSSIER_EVENTS: _Layout(
        "events_dossier",
        "toYYYYMM(occurred_at)",
        "agency_code, event_type, dossier_code, occurred_at",
    ),
    topics.FEEDBACK_EVENTS: _Layout(
        "events_feedback", "toYYYYMM(occurred_at)", "agency_code, event_type, occurred_at"
    ),
    topics.REFERENCE_EVENTS: _Layout(
        "events_reference", "toYYYYMM(occurred_at)", "event_type, occurred_at"
    ),
    topics.DOSSIER_OUTCOMES: _Layout(
        "dossier_outcomes",
        "toYYYYMM(resolved_at)",
        "resolving_agency_code, procedure_code, dossier_code",
    ),
    topics.DOSSIER_ALERTS: _Layout(
        "dossier_alerts",
        "toYYYYMM(occurred_at)",
        "resolving_agency_code, dossier_code, occurred_at",
    ),
    topics.AGGREGATES: _Layout(
        "aggregate_slices",
        "toYear(window_start)",
        "window_kind, dimension_kind, dimension_key, window_start, source_partition",
    ),
}

#: the topics the sink loads, in a stable order
SINK_TOPICS: Final = tuple(_LAYOUT)


class UnknownTopicError(KeyError):
    """A topic the warehouse has no table for."""

    def __init__(self, topic: str) -> None:
        super().__init__(topic)
        self.topic = topic


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A warehouse table fed by one topic."""

    name: str
    topic: str
    columns: tuple[Column, ...]
    partition_by: str
    order_by: str

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@cache
def table_for(topic: str) -> TableSpec:
    layout = _LAYOUT.get(topic)
    if layout is None:
        raise UnknownTopicError(topic)
    types = [t for t in event_types() if t.topic == topic]
    return TableSpec(
        name=layout.table,
        topic=topic,
        columns=(*family_columns(types), *META_COLUMNS),
        partition_by=layout.partition_by,
        order_by=layout.order_by,
    )


def table_specs() -> tuple[TableSpec, ...]:
    return tuple(table_for(topic) for topic in SINK_TOPICS)


def render_ddl(spec: TableSpec) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for ``spec``, in syntax 18.16 and chDB both accept."""
    width = max(len(c.name) for c in spec.columns)
    lines = [f"    {c.name.ljust(width)} {c.ch_type}" for c in spec.columns]
    return (
        f"CREATE TABLE IF NOT EXISTS {spec.name}\n(\n"
        + ",\n".join(lines)
        + f"\n)\nENGINE = MergeTree\nPARTITION BY {spec.partition_by}\n"
        f"ORDER BY ({spec.order_by})"
    )


def render_all(specs: Sequence[TableSpec]) -> str:
    return ";\n\n".join(render_ddl(s) for s in specs) + ";\n"


if __name__ == "__main__":  # pragma: no cover - the generator of the first migration
    print(render_all(table_specs()), end="")
