"""Decoded events → columnar batches for one table, and the dead-letter rows beside them.

A value ClickHouse would refuse or silently mangle never reaches an INSERT: a ``DateTime`` or
``Date`` outside what both backends store (18.16 wraps such values around instead of failing), a
required column with no value (a record of another family on this topic). Such a message becomes
a dead-letter row with the reason, and the rest of the batch is stored.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from schemas.errors import IncompatibleReaderSchemaError, UndecodableMessageError
from schemas.serde import decode
from sinks.columns import Column, Conversion
from sinks.tables import DEADLETTER_TABLE, META_COLUMNS, TableSpec
from sinks.warehouse import ColumnBatch

__all__ = [
    "DEADLETTER_COLUMNS",
    "DeadLetter",
    "PoisonValueError",
    "TableRows",
    "decode_into",
]

#: the range both ClickHouse versions store faithfully (18.16's date tables end in 2105)
MIN_DATE: Final = dt.date(1970, 1, 1)
MAX_DATE: Final = dt.date(2105, 12, 31)
_MIN_TIME: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_TIME: Final = dt.datetime(2105, 12, 31, 23, 59, 59, tzinfo=dt.UTC)

DEADLETTER_COLUMNS: Final = (
    ("src_topic", "String"),
    ("src_partition", "Int32"),
    ("src_offset", "Int64"),
    ("schema_id", "Int32"),
    ("event_type", "String"),
    ("reason", "String"),
    ("raw_hex", "String"),
)
_META_COUNT: Final = len(META_COLUMNS)


class PoisonValueError(ValueError):
    """A value of an event that the warehouse cannot store as is."""

    def __init__(self, column: str, value: object, problem: str) -> None:
        super().__init__(f"{column}={value!r}: {problem}")
        self.column = column
        self.value = value


def _to_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _check_time(name: str, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        if not _MIN_TIME <= aware <= _MAX_TIME:
            raise PoisonValueError(name, value, "outside the DateTime range 1970-2105")
        return aware
    raise PoisonValueError(name, value, "expected a datetime")


def _check_date(name: str, value: Any) -> Any:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        if not MIN_DATE <= value <= MAX_DATE:
            raise PoisonValueError(name, value, "outside the Date range 1970-2105")
        return value
    raise PoisonValueError(name, value, "expected a date")


def _converter(column: Column) -> Callable[[Any], Any]:
    """value (not None) -> the column's value; raises PoisonValueError."""
    name, bare = column.name, column.ch_type.removeprefix("Nullable(").removesuffix(")")
    if column.conversion == Conversion.JSON:
        return _to_json
    if column.conversion == Conversion.BOOL:
        return lambda v: 1 if v else 0
    if column.conversion == Conversion.UUID:
        return lambda v: str(v) if isinstance(v, uuid.UUID | str) else _poison(name, v, "uuid")
    if column.conversion == Conversion.ARRAY:
        if bare == "Array(Date)":
            return lambda v: [_check_date(name, d) for d in v]
        if bare.startswith("Array(DateTime"):
            return lambda v: [_check_time(name, d) for d in v]
        return list
    if bare.startswith("DateTime"):
        return lambda v: _check_time(name, v)
    if bare == "Date":
        return lambda v: _check_date(name, v)
    return _identity


def _identity(value: Any) -> Any:
    return value


def _poison(name: str, value: object, expected: str) -> Any:
    raise PoisonValueError(name, value, f"expected a {expected}")


@dataclass(frozen=True, slots=True)
class _Getter:
    head: str
    tail: str | None
    convert: Callable[[Any], Any]
    default: Any
    required: bool
    name: str


def _getters(spec: TableSpec) -> tuple[_Getter, ...]:
    getters = []
    for column in spec.columns[:-_META_COUNT]:
        is_array = column.ch_type.startswith("Array(")
        getters.append(
            _Getter(
                head=column.path[0],
                tail=column.path[1] if len(column.path) > 1 else None,
                convert=_converter(column),
                default=[] if is_array else None,
                required=not (column.nullable or is_array),
                name=column.name,
            )
        )
    return tuple(getters)


@dataclass(slots=True)
class DeadLetter:
    """Messages of a batch that could not be stored, one list per dead-letter column."""

    data: tuple[list[Any], ...] = field(
        default_factory=lambda: tuple([] for _ in DEADLETTER_COLUMNS)
    )

    def add(
        self,
        where: tuple[str, int, int],
        *,
        schema_id: int,
        event_type: str,
        reason: str,
        raw: bytes,
    ) -> None:
        topic, partition, offset = where
        for column, value in zip(
            self.data,
            (topic, partition, offset, schema_id, event_type, reason, raw.hex()),
            strict=True,
        ):
            column.append(value)

    @property
    def rows(self) -> int:
        return len(self.data[0])

    def batch(self) -> ColumnBatch:
        return ColumnBatch(
            DEADLETTER_TABLE,
            tuple(n for n, _ in DEADLETTER_COLUMNS),
            tuple(t for _, t in DEADLETTER_COLUMNS),
            self.data,
        )


class TableRows:
    """Accumulates the rows of one table, column by column."""

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self._getters = _getters(spec)
        self.data: tuple[list[Any], ...] = tuple([] for _ in spec.columns)

    @property
    def rows(self) -> int:
        return len(self.data[0])

    def add(self, event: Mapping[str, Any], where: tuple[str, int, int], schema_id: int) -> None:
        """Append one event's row; raises PoisonValueError (and appends nothing) if it cannot."""
        values: list[Any] = []
        for getter in self._getters:
            value = event.get(getter.head)
            if getter.tail is not None and value is not None:
                value = value.get(getter.tail)
            if value is None:
                if getter.required:
                    raise PoisonValueError(getter.name, None, "required, but missing")
                values.append(getter.default)
            else:
                values.append(getter.convert(value))
        values.extend((*where, schema_id))
        for column, value in zip(self.data, values, strict=True):
            column.append(value)

    def batch(self) -> ColumnBatch:
        return ColumnBatch(
            self.spec.name,
            self.spec.column_names,
            tuple(c.ch_type for c in self.spec.columns),
            self.data,
        )


SchemaLookup = Callable[[int], Mapping[str, Any] | None]


def decode_into(
    raw: bytes,
    where: tuple[str, int, int],
    lookup: SchemaLookup,
    rows: TableRows,
    dead: DeadLetter,
) -> None:
    """Decode one framed message into ``rows``, or into ``dead`` with the reason.

    A registry that cannot be reached raises (from ``lookup``): that is not the message's fault,
    and the sink retries the batch instead of dead-lettering good events.
    """
    try:
        schema_id, event = decode(raw, lookup)
    except (UndecodableMessageError, IncompatibleReaderSchemaError) as exc:
        schema_id = getattr(exc, "schema_id", None) or -1
        dead.add(where, schema_id=schema_id, event_type="", reason=f"undecodable: {exc}", raw=raw)
        return
    try:
        rows.add(event, where, schema_id)
    except PoisonValueError as exc:
        envelope = event.get("envelope")
        event_type = str(envelope.get("event_type", "")) if isinstance(envelope, dict) else ""
        dead.add(
            where,
            schema_id=schema_id,
            event_type=event_type,
            reason=f"poison value: {exc}",
            raw=raw,
        )
