"""Decoded events → columnar batches for one table, and the dead-letter rows beside them.

Values in a batch: DateTime as Unix seconds and Date as days since 1970 (ints: what both
backends take without building Python date objects), UUIDs as text, booleans as 0/1, arrays of
records as JSON text.

A value ClickHouse would refuse or silently mangle never reaches an INSERT: a ``DateTime`` or
``Date`` outside what both backends store (18.16 wraps such values around instead of failing), a
required column with no value (a record of another family on this topic). Such a message becomes
a dead-letter row with the reason, and the rest of the batch is stored.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
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
_EPOCH_DAY: Final = MIN_DATE.toordinal()
_EPOCH_TIME: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_DAYS: Final = MAX_DATE.toordinal() - _EPOCH_DAY
_MAX_SECONDS: Final = (_MAX_DAYS + 1) * 86_400 - 1

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
    """JSON text of a nested value, with times as Avro carries them (epoch milliseconds, days
    since 1970), so raw and typed decoding store the same text."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=_avro_raw)


def _avro_raw(value: object) -> object:
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return (aware - _EPOCH_TIME) // dt.timedelta(milliseconds=1)
    if isinstance(value, dt.date):
        return value.toordinal() - _EPOCH_DAY
    return str(value)


def _seconds(name: str, value: Any) -> int:
    """A DateTime value as Unix seconds: from Avro's raw millis (the sink's decoding) or a
    datetime (events decoded with logical types). Floors to the second, as DateTime stores."""
    if type(value) is int:
        seconds = value // 1000
    elif isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        seconds = int(aware.timestamp() // 1)
    else:
        raise PoisonValueError(name, value, "expected a timestamp")
    if not 0 <= seconds <= _MAX_SECONDS:
        raise PoisonValueError(name, value, "outside the DateTime range 1970-2105")
    return seconds


def _days(name: str, value: Any) -> int:
    """A Date value as days since 1970-01-01: Avro's raw int, or a date."""
    if type(value) is int:
        days = value
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        days = value.toordinal() - _EPOCH_DAY
    else:
        raise PoisonValueError(name, value, "expected a date")
    if not 0 <= days <= _MAX_DAYS:
        raise PoisonValueError(name, value, "outside the Date range 1970-2105")
    return days


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
            return lambda v: [_days(name, d) for d in v]
        if bare.startswith("Array(DateTime"):
            return lambda v: [_seconds(name, d) for d in v]
        return list
    if bare.startswith("DateTime"):
        return lambda v: _seconds(name, v)
    if bare == "Date":
        return lambda v: _days(name, v)
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


class _Shape:
    """The rows of one event shape (one writer schema): only the columns it has.

    A family table is wide (the dossier table has ~85 columns, an event fills ~25); building
    only an event's own columns and padding the others per shape at the end halves the work.
    """

    __slots__ = ("columns", "data", "getters", "rows")

    def __init__(self, getters: Sequence[tuple[int, _Getter]], meta: Sequence[int]) -> None:
        self.getters = [g for _, g in getters]
        self.columns = [i for i, _ in getters] + list(meta)
        self.data: list[list[Any]] = [[] for _ in self.columns]
        self.rows = 0


class TableRows:
    """Accumulates the rows of one table, column by column."""

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self._getters = _getters(spec)
        self._meta = range(len(self._getters), len(spec.columns))
        self._shapes: dict[tuple[int, frozenset[str]], _Shape] = {}
        self.rows = 0

    def _shape(self, event: Mapping[str, Any], schema_id: int) -> _Shape:
        key = (schema_id, frozenset(event))
        shape = self._shapes.get(key)
        if shape is None:
            present = [(i, g) for i, g in enumerate(self._getters) if g.head in event]
            missing = [g for g in self._getters if g.head not in event and g.required]
            if missing:
                raise PoisonValueError(missing[0].name, None, "required, but missing")
            shape = self._shapes[key] = _Shape(present, self._meta)
        return shape

    def add(self, event: Mapping[str, Any], where: tuple[str, int, int], schema_id: int) -> None:
        """Append one event's row; raises PoisonValueError (and appends nothing) if it cannot."""
        shape = self._shape(event, schema_id)
        values: list[Any] = []
        for getter in shape.getters:
            value = event[getter.head]
            if getter.tail is not None and value is not None:
                value = value.get(getter.tail)
            if value is None:
                if getter.required:
                    raise PoisonValueError(getter.name, None, "required, but missing")
                values.append(getter.default)
            else:
                values.append(getter.convert(value))
        values.extend((*where, schema_id))
        for column, value in zip(shape.data, values, strict=True):
            column.append(value)
        shape.rows += 1
        self.rows += 1

    @property
    def data(self) -> tuple[list[Any], ...]:
        """Every column of the table, shape after shape, padded with each column's default."""
        columns: list[list[Any]] = [[] for _ in self.spec.columns]
        defaults = [g.default for g in self._getters]
        for shape in self._shapes.values():
            filled = dict(zip(shape.columns, shape.data, strict=True))
            for i, column in enumerate(columns):
                values = filled.get(i)
                if values is not None:
                    column.extend(values)
                else:  # one shared [] for an absent array: nothing mutates batch values
                    column.extend([defaults[i]] * shape.rows)
        return tuple(columns)

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
