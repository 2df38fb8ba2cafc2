"""Turn a user-facing event (as in a JSON-lines file) into an Avro-ready dict.

In JSON, timestamps are ISO 8601 strings with an offset (``2023-03-15T09:12:34.567+07:00`` or
``…Z``), local dates are ``YYYY-MM-DD`` and ``event_id`` is a UUID string. The result carries
aware UTC ``datetime`` values truncated to milliseconds (what Avro keeps), ``date`` values and
``uuid.UUID``: exactly what :func:`schemas.serde.decode` gives back, so a converted event
round-trips unchanged. Only the shape of logical-type values is checked here; run
:func:`schemas.validation.validate_event` on the result for everything else.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from dossierhub.errors import ValidationError

from . import _files
from ._walk import child_path, non_null_branches, resolve
from .catalog import event_type as _lookup_event_type
from .validation import event_type_of

__all__ = ["from_json", "to_utc_millis"]


def from_json(data: Mapping[str, Any], *, event_type: str | None = None) -> dict[str, Any]:
    """Convert ``data`` to the Avro-ready form of ``event_type`` (default: its envelope's)."""
    if not isinstance(data, Mapping):
        raise ValidationError("<event>", data, "expected a JSON object")
    name = event_type if event_type is not None else event_type_of(data)
    schema = _lookup_event_type(name).schema
    converted: dict[str, Any] = _Converter(_files.named_types(schema)).convert(data, schema, "")
    return converted


def to_utc_millis(value: datetime, path: str = "timestamp") -> datetime:
    """``value`` in UTC, truncated to the millisecond; a naive datetime is an error."""
    if value.utcoffset() is None:
        raise ValidationError(path, value, "naive datetime: a timezone is required (use UTC)")
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:59-23:59 is in year 10000 in UTC
        raise ValidationError(path, value, "outside the years 1-9999 once in UTC") from exc
    return utc.replace(microsecond=value.microsecond // 1000 * 1000)


class _Converter:
    def __init__(self, named: Mapping[str, Any]) -> None:
        self._named = named

    def convert(self, value: Any, schema: Any, path: str) -> Any:
        schema = resolve(schema, self._named)
        if isinstance(schema, list):
            branches = non_null_branches(schema)
            if value is None or len(branches) != 1:
                return value
            return self.convert(value, branches[0], path)
        if not isinstance(schema, Mapping):
            return value
        logical = schema.get("logicalType")
        if logical == "timestamp-millis":
            return _timestamp(value, path)
        if logical == "date":
            return _local_date(value, path)
        if logical == "uuid":
            return _uuid(value, path)
        if schema["type"] == "record":
            return self._record(value, schema, path)
        if schema["type"] == "array" and isinstance(value, list):
            items = schema["items"]
            return [self.convert(item, items, f"{path}[{i}]") for i, item in enumerate(value)]
        return value

    def _record(self, value: Any, schema: Mapping[str, Any], path: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise ValidationError(path or "<event>", value, f"expected a {schema['name']} object")
        types = {field["name"]: field["type"] for field in schema["fields"]}
        out: dict[str, Any] = {}
        for key, item in value.items():
            where = child_path(path, str(key))
            if key not in types:
                raise ValidationError(where, item, f"not a field of {schema['name']}")
            out[key] = self.convert(item, types[key], where)
        return out


def _timestamp(value: Any, path: str) -> datetime:
    if isinstance(value, datetime):
        return to_utc_millis(value, path)
    if not isinstance(value, str):
        raise ValidationError(path, value, "expected an ISO 8601 timestamp string with an offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(path, value, f"not an ISO 8601 timestamp ({exc})") from exc
    if parsed.utcoffset() is None:
        raise ValidationError(path, value, "timestamp has no UTC offset; add one, e.g. +07:00 or Z")
    return to_utc_millis(parsed, path)


def _local_date(value: Any, path: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValidationError(path, value, "expected a local date string YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(path, value, "not a local date YYYY-MM-DD") from exc


def _uuid(value: Any, path: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise ValidationError(path, value, "expected a UUID string")
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise ValidationError(path, value, "not a UUID") from exc
