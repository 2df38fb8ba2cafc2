"""Check an Avro-ready event before it is sent.

An Avro-ready event is what :func:`schemas.serde.decode` returns and what
:func:`schemas.conversion.from_json` builds: aware ``datetime`` for timestamps, ``date`` for
local dates, ``uuid.UUID`` (or its canonical string) for ``event_id``. The checks follow the
schema (required fields, types, enum symbols, formats named in the .avsc) and then the
cross-field rules of :mod:`schemas._rules`. The first failure raises
:class:`dossierhub.errors.ValidationError` with the dotted field path and the value; deviations
that are tolerated come back as warnings.

The schema checks run as a checker compiled once per event type (:mod:`schemas._validator`).
The generic walker below stays the reference: the compiled code hands it every value it does not
accept outright, so errors and warnings are worded and ordered by the walker alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from dossierhub.errors import ValidationError

from . import _files, _rules
from ._formats import check_format, check_pseudonymized, field_checks
from ._validator import Check, compile_checker
from ._walk import child_path, non_null_branches, resolve
from .catalog import event_type as _lookup_event_type

__all__ = ["ValidationWarning", "event_type_of", "validate_event"]

# Compared, never tested with ``in range(...)``: for an int subclass (an IntEnum, say) range
# membership falls back to scanning every value of the range, which for a long never ends.
_INT_BOUNDS: Final = (-(2**31), 2**31)
_LONG_BOUNDS: Final = (-(2**63), 2**63)


@dataclass(frozen=True, slots=True)
class ValidationWarning:
    """A tolerated deviation, e.g. a dossier code that does not follow Circular 01/2018."""

    field: str
    value: object
    problem: str


def event_type_of(event: Mapping[str, Any]) -> str:
    """The event type named in ``envelope.event_type``."""
    envelope = event.get("envelope")
    name = envelope.get("event_type") if isinstance(envelope, Mapping) else None
    if not isinstance(name, str) or not name:
        raise ValidationError("envelope.event_type", name, "missing; cannot tell the event type")
    return name


def validate_event(
    event: Mapping[str, Any], *, event_type: str | None = None
) -> list[ValidationWarning]:
    """Validate ``event`` as ``event_type`` (default: its ``envelope.event_type``)."""
    name = _checked_name(event, event_type)
    check = _checkers.get(name) or _compile(name)
    warnings: list[ValidationWarning] = []
    check(event, warnings)
    _rules.check(name, event)
    return warnings


def _validate_by_walking(
    event: Mapping[str, Any], *, event_type: str | None = None
) -> list[ValidationWarning]:
    """:func:`validate_event` with the generic walker alone: the reference for the tests."""
    name = _checked_name(event, event_type)
    schema = _lookup_event_type(name).schema
    warnings: list[ValidationWarning] = []
    _Walker(_files.named_types(schema), warnings).check(event, schema, "")
    _rules.check(name, event)
    return warnings


def _checked_name(event: Mapping[str, Any], event_type: str | None) -> str:
    name = event_type if event_type is not None else event_type_of(event)
    envelope = event.get("envelope")
    declared = None
    if type(envelope) is dict or isinstance(envelope, Mapping):
        declared = envelope.get("event_type")
    # Checked first: a wrong type name would otherwise surface as a confusing field error.
    if declared is not None and declared != name:
        raise ValidationError("envelope.event_type", declared, f"expected {name}")
    return name


# One compiled checker per event type; the parsed schemas are loaded once per process too.
_checkers: dict[str, Check[ValidationWarning]] = {}


def _compile(name: str) -> Check[ValidationWarning]:
    check = _checker_for(name, _lookup_event_type(name).schema)
    _checkers[name] = check
    return check


def _checker_for(name: str, schema: dict[str, Any]) -> Check[ValidationWarning]:
    """The compiled checker of a fastavro-parsed record schema."""
    named = _files.named_types(schema)

    def check_value(value: Any, schema: Any, path: str, warnings: list[ValidationWarning]) -> None:
        _Walker(named, warnings).check(value, schema, path)

    return compile_checker(name, schema, named, check_value, _string_rules)


class _Walker:
    def __init__(self, named: Mapping[str, Any], warnings: list[ValidationWarning]) -> None:
        self._named = named
        self._warnings = warnings

    def check(self, value: Any, schema: Any, path: str) -> None:
        schema = resolve(schema, self._named)
        if isinstance(schema, list):
            self._union(value, schema, path)
        elif value is None and schema != "null":
            raise ValidationError(path, value, "must not be null")
        elif isinstance(schema, str):
            _primitive(value, schema, path)
        else:
            self._complex(value, schema, path)

    def _union(self, value: Any, union: list[Any], path: str) -> None:
        if value is None:
            if "null" not in union:
                raise ValidationError(path, value, "must not be null")
            return
        branches = non_null_branches(union)
        first_error: ValidationError | None = None
        for branch in branches:
            try:
                self.check(value, branch, path)
            except ValidationError as exc:
                first_error = first_error or exc
            else:
                return
        if first_error is not None:
            raise first_error
        raise ValidationError(path, value, "must be null")

    def _complex(self, value: Any, schema: Mapping[str, Any], path: str) -> None:
        logical = schema.get("logicalType")
        kind = schema["type"]
        if logical == "timestamp-millis":
            _timestamp(value, path)
        elif logical == "date":
            _local_date(value, path)
        elif logical == "uuid":
            _uuid(value, path)
        elif kind == "record":
            self._record(value, schema, path)
        elif kind == "enum":
            if value not in schema["symbols"]:
                symbols = ", ".join(schema["symbols"])
                raise ValidationError(path, value, f"unknown symbol; expected one of {symbols}")
        elif kind == "array":
            if not isinstance(value, list | tuple):
                raise ValidationError(path, value, "expected a list")
            for index, item in enumerate(value):
                self.check(item, schema["items"], f"{path}[{index}]")
        else:
            _primitive(value, kind, path)

    def _record(self, value: Any, schema: Mapping[str, Any], path: str) -> None:
        if not isinstance(value, Mapping):
            raise ValidationError(path or "<event>", value, f"expected a {schema['name']} record")
        fields = schema["fields"]
        known = {field["name"] for field in fields}
        for key in value:
            if key not in known:
                where = child_path(path, str(key))
                raise ValidationError(where, value[key], f"not a field of {schema['name']}")
        for field in fields:
            where = child_path(path, field["name"])
            if field["name"] not in value:
                if "default" not in field:
                    raise ValidationError(where, None, "required field is missing")
                continue
            item = value[field["name"]]
            self.check(item, field["type"], where)
            if isinstance(item, str):
                _string_rules(field, where, item, self._warnings)


def _string_rules(
    field: Mapping[str, Any], path: str, value: str, warnings: list[ValidationWarning]
) -> None:
    fmt, pseudonymized = field_checks(field)
    if pseudonymized:
        check_pseudonymized(path, value)
    if fmt is not None:
        warning = check_format(fmt, path, value)
        if warning is not None:
            warnings.append(ValidationWarning(path, value, warning))


def _primitive(value: Any, kind: str, path: str) -> None:
    ok: bool
    if kind == "string":
        ok = isinstance(value, str)
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind in ("int", "long"):
        low, high = _INT_BOUNDS if kind == "int" else _LONG_BOUNDS
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value < high
    elif kind in ("float", "double"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "bytes":
        ok = isinstance(value, bytes)
    else:
        ok = value is None
    if not ok:
        raise ValidationError(path, value, f"expected Avro {kind}")


def _timestamp(value: Any, path: str) -> None:
    if not isinstance(value, datetime):
        raise ValidationError(path, value, "expected a timezone-aware datetime")
    if value.utcoffset() is None:
        raise ValidationError(path, value, "naive datetime: a timezone is required (use UTC)")


def _local_date(value: Any, path: str) -> None:
    # datetime is a subclass of date; an instant here would silently lose its time zone.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValidationError(path, value, "expected a local date (datetime.date, not datetime)")


def _uuid(value: Any, path: str) -> None:
    if isinstance(value, uuid.UUID):
        return
    try:
        canonical = str(uuid.UUID(value)) if isinstance(value, str) else None
    except ValueError:
        canonical = None
    # Only the canonical spelling: the id is an idempotency key, and "ABC…" ≠ "abc…" as bytes.
    if canonical != value:
        raise ValidationError(path, value, "not a UUID in canonical form (lowercase 8-4-4-4-12)")
