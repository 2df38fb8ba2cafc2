"""Typed Python values from ClickHouse's JSON output formats, given each column's type."""

from __future__ import annotations

import datetime as dt
import re

_WRAPPERS = re.compile(r"^(Nullable|LowCardinality)\((.*)\)$")
_ARRAY = re.compile(r"^Array\((.*)\)$")


def from_json(ch_type: str, value: object) -> object:
    """One JSON value of a column of ClickHouse type ``ch_type``, e.g. ``Nullable(Date)``."""
    wrapped = _WRAPPERS.match(ch_type)
    if wrapped:
        return None if value is None else from_json(wrapped.group(2), value)
    array = _ARRAY.match(ch_type)
    if array and isinstance(value, list):
        return [from_json(array.group(1), item) for item in value]
    if value is None:
        return None
    if ch_type.startswith("DateTime"):
        return dt.datetime.strptime(str(value)[:19], "%Y-%m-%d %H:%M:%S")
    if ch_type.startswith("Date"):
        return dt.date.fromisoformat(str(value)[:10])
    if ch_type.startswith(("UInt", "Int")):
        return int(str(value))
    if ch_type.startswith("Float"):
        return float(str(value))
    return value
