"""ClickHouse column types as Arrow types: how chDB receives a columnar batch."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from sinks.warehouse._base import ColumnBatch

_SCALARS: dict[str, Any] = {
    "String": pa.string(),
    "UUID": pa.string(),  # ClickHouse parses the text on insert
    "Int8": pa.int8(),
    "Int16": pa.int16(),
    "Int32": pa.int32(),
    "Int64": pa.int64(),
    "UInt8": pa.uint8(),
    "UInt16": pa.uint16(),
    "UInt32": pa.uint32(),
    "UInt64": pa.uint64(),
    "Float32": pa.float32(),
    "Float64": pa.float64(),
    "Date": pa.date32(),  # batches carry days since 1970
}


def arrow_type(ch_type: str) -> Any:
    """The Arrow type a value of ClickHouse type ``ch_type`` travels as."""
    if ch_type.startswith("Nullable(") and ch_type.endswith(")"):
        return arrow_type(ch_type[len("Nullable(") : -1])
    if ch_type.startswith("Array(") and ch_type.endswith(")"):
        return pa.list_(arrow_type(ch_type[len("Array(") : -1]))
    if ch_type.startswith("DateTime"):
        return pa.timestamp("s", tz="UTC")  # batches carry Unix seconds
    try:
        return _SCALARS[ch_type]
    except KeyError:
        raise ValueError(f"no Arrow mapping for ClickHouse type {ch_type!r}") from None


def arrow_table(batch: ColumnBatch) -> Any:
    arrays = [
        _array(values, arrow_type(ch_type))
        for ch_type, values in zip(batch.types, batch.data, strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=list(batch.names))


def _array(values: list[Any], arrow: Any) -> Any:
    # A family table is wide and most of its columns belong to other event types: an all-NULL
    # column is built in C without looking at each value (list.count runs in C too).
    if values.count(None) == len(values):
        return pa.nulls(len(values), type=arrow)
    return pa.array(values, type=arrow)
