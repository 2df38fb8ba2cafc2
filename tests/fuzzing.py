"""Hypothesis strategies built from the contract itself, and a count of the inputs tried.

``field_values(schema)`` draws any value the Avro type (with its ``format``/``pii`` attributes)
allows; ``shaped_events(name)`` an example event with some fields redrawn that way (valid by the
schema; the cross-field rules may still refuse it); ``broken_events(name)`` a valid example with
exactly one field broken, together with the path of that field and how it was broken.

Every test that feeds inputs through them calls :func:`tried`; ``tests/conftest.py`` prints the
totals at the end of the pytest run, whatever the capture mode.
"""

from __future__ import annotations

import copy
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Final

from hypothesis import strategies as st

from schemas import event_type, example_event
from schemas._files import named_types
from schemas._walk import child_path, non_null_branches, resolve

__all__ = ["TRIED", "Breakage", "broken_events", "field_values", "shaped_events", "tried"]

#: inputs fed through the code under test, per kind; printed by tests/conftest.py
TRIED: Final[Counter[str]] = Counter()


def tried(kind: str, count: int = 1) -> None:
    """Count ``count`` inputs of ``kind``; a kind naming "… of which" breaks down another."""
    TRIED[kind] += count


_FORMATS: Final = {
    "procedure_code": r"[0-9]\.[0-9]{6}",
    "agency_code": r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}",
    "admin_unit_code": r"[0-9]{2}|[0-9]{3}|[0-9]{5}",
    "dossier_code": r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}-[0-9]{6}-[0-9]{4}",
    "non_empty": r"[A-Za-z0-9][A-Za-z0-9 ./-]{0,20}[A-Za-z0-9]",
}
#: a value of each format that breaks it
_BREAKS_FORMAT: Final = {
    "procedure_code": "2-000488",
    "agency_code": "000.00.15.h29",
    "admin_unit_code": "7",
    "dossier_code": " 000.00.15.H29-230315-0042",
    "non_empty": "   ",
}
_PSEUDONYM: Final = r"[0-9a-f]{64}"
_INSTANTS: Final = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2060, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
# Free text without the shapes the validator takes for raw identifiers is not needed here:
# validate_event does not look for them, the validator does (tests/unit/test_processors_*).
_TEXT: Final = st.text(max_size=30)


def field_values(schema: Any, named: Mapping[str, Any], field: Mapping[str, Any]) -> Any:
    """A strategy of every value ``schema`` (the type of ``field``) accepts."""
    schema = resolve(schema, named)
    if isinstance(schema, list):
        return st.one_of([field_values(branch, named, field) for branch in schema])
    if isinstance(schema, str):
        return _primitive(schema, field)
    logical, kind = schema.get("logicalType"), schema["type"]
    if logical == "timestamp-millis":
        return _INSTANTS
    if logical == "date":
        return st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))
    if logical == "uuid":
        return st.uuids()
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(field_values(schema["items"], named, field), max_size=3)
    if kind == "map":
        return st.dictionaries(_TEXT, field_values(schema["values"], named, field), max_size=3)
    if kind == "record":
        return st.fixed_dictionaries(
            {f["name"]: field_values(f["type"], named, f) for f in schema["fields"]}
        )
    return _primitive(kind, field)


def _primitive(kind: str, field: Mapping[str, Any]) -> Any:
    if kind == "string":
        if field.get("pii") == "pseudonymized":
            return st.from_regex(_PSEUDONYM, fullmatch=True)
        fmt = field.get("format")
        return st.from_regex(_FORMATS[fmt], fullmatch=True) if fmt else _TEXT
    return {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "float": st.floats(width=32, allow_nan=False),
        "double": st.floats(allow_nan=False),
        "bytes": st.binary(max_size=20),
    }[kind]


@cache
def _fields(name: str) -> tuple[tuple[Mapping[str, Any], ...], Mapping[str, Any]]:
    schema = event_type(name).schema
    fields = tuple(f for f in schema["fields"] if f["name"] != "envelope")
    return fields, named_types(schema)


@st.composite
def shaped_events(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """The example of ``name`` with a few of its fields redrawn from their schema."""
    event = example_event(name, event_id=draw(st.uuids()))
    fields, named = _fields(name)
    if fields:
        chosen = draw(st.lists(st.sampled_from(fields), max_size=3, unique_by=lambda f: f["name"]))
        for field in chosen:
            event[field["name"]] = draw(field_values(field["type"], named, field))
    return event


@dataclass(frozen=True)
class Breakage:
    #: the dotted path of the broken field, as validation names it
    path: str
    #: wrong_type | missing | bad_enum | bad_format | bad_pseudonym | unknown_field
    how: str


# A value of each JSON kind; a field gets one that none of its branches accepts.
_WRONG: Final = (("string", "x"), ("number", 7), ("object", {"x": 1}), ("array", [1]))


def _accepts(schema: Any, named: Mapping[str, Any], kind: str) -> bool:
    schema = resolve(schema, named)
    if isinstance(schema, list):
        return any(_accepts(branch, named, kind) for branch in schema)
    base = schema if isinstance(schema, str) else schema["type"]
    if isinstance(schema, Mapping) and schema.get("logicalType") in ("date", "timestamp-millis"):
        return False  # only date / datetime objects (or ISO strings, in JSON)
    accepted = {
        "string": {"string", "enum"},
        "number": {"int", "long", "float", "double"},
        "object": {"record", "map"},
        "array": {"array"},
    }
    return base in accepted[kind]


def _breakages(schema: Mapping[str, Any], named: Mapping[str, Any], at: str) -> list[Any]:
    """(path, how, value or _DELETE) for every way to break one field of ``schema``."""
    out: list[Any] = []
    for field in schema["fields"]:
        path = child_path(at, field["name"])
        ftype = resolve(field["type"], named)
        branches = non_null_branches(ftype) if isinstance(ftype, list) else [ftype]
        for kind, value in _WRONG:
            if not _accepts(ftype, named, kind):
                out.append((path, "wrong_type", value))
                break
        if "default" not in field:
            out.append((path, "missing", _DELETE))
        for branch in (resolve(b, named) for b in branches):
            if isinstance(branch, Mapping) and branch["type"] == "enum":
                out.append((path, "bad_enum", "NOT_A_SYMBOL"))
            if isinstance(branch, Mapping) and branch["type"] == "record":
                out.extend(_breakages(branch, named, path))
        if field.get("format") in _BREAKS_FORMAT:
            out.append((path, "bad_format", _BREAKS_FORMAT[field["format"]]))
        if field.get("pii") == "pseudonymized":
            out.append((path, "bad_pseudonym", "079190000001"))
    out.append((child_path(at, "not_a_field"), "unknown_field", 1))
    return out


_DELETE: Final = object()


@cache
def _all_breakages(name: str) -> tuple[Any, ...]:
    schema = event_type(name).schema
    return tuple(_breakages(schema, named_types(schema), ""))


@st.composite
def broken_events(draw: st.DrawFn, name: str) -> tuple[dict[str, Any], Breakage]:
    """The example of ``name`` with exactly one field broken; which one, and how."""
    event = example_event(name, event_id=uuid.UUID(int=draw(st.integers(0, 2**64))))
    path, how, value = draw(st.sampled_from(_all_breakages(name)))
    parent = event
    *parents, last = path.split(".")
    for step in parents:
        parent = parent[step]
        if parent is None:  # an optional record left null in the example: break it whole
            return draw(broken_events(name))
    if value is _DELETE:
        parent.pop(last, None)
    else:
        parent[last] = copy.deepcopy(value)
    return event, Breakage(path, how)
