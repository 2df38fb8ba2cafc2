"""Warehouse columns derived from the Avro contract: one flat column per leaf field.

The mapping is kept to types both ClickHouse 18.16 and the current engine accept:

==========================  ==========================================================
Avro                        ClickHouse
==========================  ==========================================================
string, enum                ``String`` (no ``Enum8``: a new symbol would need a migration;
                            no ``LowCardinality``: 18.16 refuses it without a setting)
string / uuid               ``UUID``
int, long                   ``Int32``, ``Int64``
boolean                     ``UInt8``
float, double               ``Float32``, ``Float64``
long / timestamp-millis     ``DateTime('UTC')`` — seconds; no ``DateTime64`` on 18.16
int / date                  ``Date``
record                      flattened: ``processing_time`` → ``processing_time_value``, …
array of scalars            ``Array(T)`` (a null array is stored as ``[]``)
array of records, unions    ``String`` holding JSON (no ``JSON`` type on 18.16)
``["null", T]``             ``Nullable(T)``
==========================  ==========================================================

Envelope fields become columns under their own names (``event_id``, ``occurred_at`` …); a
payload field that would collide with one is prefixed ``payload_`` (reference events carry an
``agency_code`` of their own, the agency they describe).

Personal data: the contract holds only pseudonyms (HMAC hex, marked ``"pii": "pseudonymized"``).
A field marked with any other ``pii`` value, or named like raw personal data (citizen id, name,
phone, e-mail) without being a ``*_hash``, is dropped here and never reaches the warehouse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from schemas.catalog import EventType

__all__ = ["Column", "Conversion", "columns_of", "family_columns", "is_raw_personal_data"]

ENVELOPE_FIELD: Final = "envelope"
_PSEUDONYMIZED: Final = "pseudonymized"
# Names that would hold raw personal data; pseudonyms end in _hash and are allowed.
_RAW_PII: Final = re.compile(
    r"(^|_)(citizen_id|id_number|cccd|cmnd|full_name|name_of_applicant|phone|phone_number"
    r"|email|e_mail|address_line|date_of_birth|birth_date)$"
)
_APPLICANT_ISH: Final = re.compile(r"^(applicant|submitter|handler|citizen)_(id|name|phone)$")

_PRIMITIVES: Final = {
    "string": "String",
    "int": "Int32",
    "long": "Int64",
    "boolean": "UInt8",
    "float": "Float32",
    "double": "Float64",
    "bytes": "String",
}
_LOGICAL: Final = {
    "uuid": "UUID",
    "timestamp-millis": "DateTime('UTC')",
    "date": "Date",
}


class Conversion:
    """How a decoded Avro value becomes a column value (see :mod:`sinks.rows`)."""

    PLAIN: Final = "plain"  # as decoded (str, int, float, datetime, date, list of those)
    BOOL: Final = "bool"  # bool -> 0/1
    UUID: Final = "uuid"  # uuid.UUID or str -> str
    JSON: Final = "json"  # anything -> JSON text
    ARRAY: Final = "array"  # list or None -> list ([] for None)


@dataclass(frozen=True, slots=True)
class Column:
    """One warehouse column: its name, ClickHouse type, and where its value sits in an event."""

    name: str
    ch_type: str
    path: tuple[str, ...]
    conversion: str = Conversion.PLAIN

    @property
    def nullable(self) -> bool:
        return self.ch_type.startswith("Nullable(")

    def as_nullable(self) -> Column:
        if self.nullable or self.ch_type.startswith("Array("):
            return self
        return Column(self.name, f"Nullable({self.ch_type})", self.path, self.conversion)


def is_raw_personal_data(name: str, field: Mapping[str, Any]) -> bool:
    """True for a field that must never be stored: raw personal data, or marked so."""
    marker = field.get("pii")
    if marker is not None:
        return bool(marker != _PSEUDONYMIZED)
    if name.endswith("_hash"):
        return False
    return bool(_RAW_PII.search(name) or _APPLICANT_ISH.match(name))


def columns_of(schema: Mapping[str, Any]) -> list[Column]:
    """The flat columns of one event record schema (self-contained JSON form)."""
    named: dict[str, Any] = {}
    envelope: list[Column] = []
    payload: list[Column] = []
    for field in schema["fields"]:
        if field["name"] == ENVELOPE_FIELD:
            record = _resolve(field["type"], named, _namespace(schema))
            envelope = _record_columns(record, "", (ENVELOPE_FIELD,), named, nullable=False)
        elif not is_raw_personal_data(field["name"], field):
            payload.extend(_field_columns(field, "", (), named, _namespace(schema), nullable=False))
    taken = {c.name for c in envelope}
    renamed = [
        Column(f"payload_{c.name}", c.ch_type, c.path, c.conversion) if c.name in taken else c
        for c in payload
    ]
    return envelope + renamed


def family_columns(types: Iterable[EventType]) -> list[Column]:
    """The union of the columns of several event types (one table per topic).

    A column missing from some type becomes Nullable; two types that disagree on a column's
    type store it as JSON text, so no value is lost or coerced silently.
    """
    merged: dict[str, Column] = {}
    counts: dict[str, int] = {}
    types = list(types)
    for event_type in types:
        for column in columns_of(json.loads(event_type.registered_schema)):
            known = merged.get(column.name)
            counts[column.name] = counts.get(column.name, 0) + 1
            if known is None:
                merged[column.name] = column
            elif _bare(known.ch_type) != _bare(column.ch_type) or known.path != column.path:
                merged[column.name] = Column(
                    column.name, "Nullable(String)", column.path, Conversion.JSON
                )
            elif column.nullable and not known.nullable:
                merged[column.name] = column
    return [
        column if counts[name] == len(types) else column.as_nullable()
        for name, column in merged.items()
    ]


def _bare(ch_type: str) -> str:
    return ch_type[len("Nullable(") : -1] if ch_type.startswith("Nullable(") else ch_type


def _namespace(schema: Mapping[str, Any]) -> str:
    return str(schema.get("namespace", ""))


def _resolve(avro_type: Any, named: dict[str, Any], namespace: str) -> Any:
    """A type by value: named references are looked up, definitions remembered."""
    if isinstance(avro_type, str):
        if avro_type in _PRIMITIVES or avro_type == "null":
            return avro_type
        full = avro_type if "." in avro_type else f"{namespace}.{avro_type}"
        return named.get(full, named.get(avro_type, avro_type))
    if isinstance(avro_type, dict) and avro_type.get("type") in ("record", "enum", "fixed"):
        name = avro_type["name"]
        full = name if "." in name else f"{avro_type.get('namespace', namespace)}.{name}"
        named[full] = avro_type
        named.setdefault(name, avro_type)
    return avro_type


def _record_columns(
    record: Mapping[str, Any],
    prefix: str,
    path: tuple[str, ...],
    named: dict[str, Any],
    *,
    nullable: bool,
) -> list[Column]:
    namespace = str(record.get("namespace", ""))
    columns: list[Column] = []
    for field in record["fields"]:
        if is_raw_personal_data(field["name"], field):
            continue
        columns.extend(_field_columns(field, prefix, path, named, namespace, nullable=nullable))
    return columns


def _field_columns(
    field: Mapping[str, Any],
    prefix: str,
    path: tuple[str, ...],
    named: dict[str, Any],
    namespace: str,
    *,
    nullable: bool,
) -> list[Column]:
    name = f"{prefix}{field['name']}"
    here = (*path, field["name"])
    avro_type = _resolve(field["type"], named, namespace)
    if isinstance(avro_type, list):
        members = [_resolve(m, named, namespace) for m in avro_type]
        others = [m for m in members if m != "null"]
        if len(others) != 1:
            return [Column(name, "Nullable(String)", here, Conversion.JSON)]
        avro_type, nullable = others[0], nullable or "null" in members
    columns = _type_columns(avro_type, name, here, named, namespace)
    return [c.as_nullable() for c in columns] if nullable else columns


def _type_columns(
    avro_type: Any,
    name: str,
    path: tuple[str, ...],
    named: dict[str, Any],
    namespace: str,
) -> list[Column]:
    scalar = _scalar(avro_type)
    if scalar is not None:
        return [Column(name, scalar[0], path, scalar[1])]
    kind = avro_type.get("type") if isinstance(avro_type, dict) else None
    if kind == "record":
        return _record_columns(avro_type, f"{name}_", path, named, nullable=False)
    if kind == "array":
        items = _resolve(avro_type["items"], named, namespace)
        item = _scalar(items)
        if item is not None and item[1] in (Conversion.PLAIN, Conversion.UUID):
            inner = "String" if item[0] == "UUID" else item[0]
            return [Column(name, f"Array({inner})", path, Conversion.ARRAY)]
        return [Column(name, "String", path, Conversion.JSON)]
    return [Column(name, "String", path, Conversion.JSON)]


def _scalar(avro_type: Any) -> tuple[str, str] | None:
    """(ClickHouse type, conversion) of a scalar Avro type, or None for a complex one."""
    if isinstance(avro_type, str):
        ch = _PRIMITIVES.get(avro_type)
        if ch is None:
            return None
        return ch, Conversion.BOOL if avro_type == "boolean" else Conversion.PLAIN
    if not isinstance(avro_type, dict):
        return None
    logical = avro_type.get("logicalType")
    if logical in _LOGICAL:
        ch = _LOGICAL[logical]
        return ch, Conversion.UUID if logical == "uuid" else Conversion.PLAIN
    kind = avro_type.get("type")
    if kind == "enum":
        return "String", Conversion.PLAIN
    if isinstance(kind, str) and kind in _PRIMITIVES:
        return _scalar(kind)
    return None


def column_names(columns: Sequence[Column]) -> list[str]:
    return [c.name for c in columns]
