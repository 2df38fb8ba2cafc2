"""The compiled validator (schemas._validator) behaves exactly like the generic walker.

Every test feeds the same input to both and compares the whole outcome: accepted with the same
warnings (field, value, problem, in order), or the same first ValidationError (field, value,
problem), or the same other exception.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from enum import IntEnum
from types import MappingProxyType
from typing import Any

import pytest
from fastavro import parse_schema
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas
from dossierhub.errors import ValidationError
from schemas import _formats, validation

NAMES = [t.name for t in schemas.event_types()]
Outcome = tuple[Any, ...]
Path = tuple[Any, ...]


def _outcome(run: Callable[[], list[validation.ValidationWarning]]) -> Outcome:
    try:
        warnings = run()
    except ValidationError as exc:
        return ("invalid", type(exc), exc.field, repr(exc.value), exc.problem, str(exc))
    except Exception as exc:  # whatever the walker raises, the compiled checker must raise too
        return ("raised", type(exc), str(exc))
    return ("valid", [(w.field, repr(w.value), w.problem) for w in warnings])


def _assert_same(event: Any, event_type: str | None = None) -> Outcome:
    compiled = _outcome(lambda: schemas.validate_event(event, event_type=event_type))
    walked = _outcome(lambda: validation._validate_by_walking(event, event_type=event_type))
    assert compiled == walked
    return compiled


# ------------------------------------------------------------------------------ odd values


class _Str(str):
    __slots__ = ()


class _Int(int):
    pass


class _Level(IntEnum):
    ONE = 1


class _List(list[Any]):
    pass


class _Date(date):
    pass


class _DateTime(datetime):
    pass


class _NoOffset(tzinfo):
    """A tzinfo that knows no offset: the datetime counts as naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


class _Saigon(tzinfo):
    """A tzinfo that is not datetime.timezone, so the compiled code has to ask it."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=7)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "ICT"


_INSTANT = datetime(2023, 3, 15, 2, 12, 34, 567000, tzinfo=UTC)
_UUID = uuid.UUID("307ab485-91da-5e89-b1f5-87a2cca9ae3d")
_HEX = "e0e3c69b3fa035ea0aba382e83846fdde3c734081d4f50b34faa6d3884c45f4d"
_ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**31 - 1,
    2**31,
    -(2**31) - 1,
    2**63,
    1.5,
    float("nan"),
    _Int(3),
    _Level.ONE,
    "",
    " ",
    "x",
    " x",
    "x\u00a0",
    _Str("000.00.15.H29"),
    "000.00.15.H29",
    "000.00.15.h29",
    "1.001193",
    "\u0661.001193",
    "000.00.15.H29-230315-0042",
    "G09.20-20260609-0092637",
    "79",
    "7601",
    _HEX,
    _HEX.upper(),
    _HEX[:-1],
    "079190000001",
    "COUNTER",
    "FAX",
    "NONE",
    "SAME_DAY",
    "ND118_2025",
    _UUID,
    str(_UUID),
    str(_UUID).upper(),
    _UUID.hex,
    f"urn:uuid:{_UUID}",
    _INSTANT,
    _INSTANT.replace(tzinfo=None),
    _INSTANT.astimezone(timezone(timedelta(hours=7))),
    _INSTANT.replace(tzinfo=_Saigon()),
    _INSTANT.replace(tzinfo=_NoOffset()),
    _DateTime(2023, 3, 15, 2, 12, tzinfo=UTC),
    date(2023, 3, 29),
    date(2022, 12, 31),
    _Date(2023, 3, 29),
    b"bytes",
    [],
    (),
    [None],
    {},
    {"value": 0, "unit": "SAME_DAY"},
    {"value": 0, "unit": "DAY"},
    MappingProxyType({"value": 3, "unit": "DAY"}),
    object(),
]
_DELETE = object()


def _tweaks(value: Any) -> list[Any]:
    """Near misses of ``value``: the same content in another type, shape or spelling."""
    if isinstance(value, dict):
        first = next(iter(value), None)
        return [
            MappingProxyType(value),
            OrderedDict(value),
            {**value, "unknown_field": 1},
            {k: v for k, v in value.items() if k != first},
        ]
    if isinstance(value, list):
        return [tuple(value), _List(value), [*value, None], value[:1] * 2]
    if isinstance(value, str):
        return [_Str(value), f"{value} ", value.upper(), value[:-1], f"\u0661{value[1:]}"]
    if isinstance(value, datetime):
        return [value.replace(tzinfo=None), value + timedelta(days=400), value.date()]
    if isinstance(value, date):
        return [datetime(value.year, value.month, value.day), value - timedelta(days=400)]
    if isinstance(value, uuid.UUID):
        return [str(value), str(value).upper()]
    if isinstance(value, int) and not isinstance(value, bool):
        return [_Int(value), value + 2**31, -value, float(value)]
    return []


def _positions(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _positions(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _positions(item, (*path, index))


def _replaced(value: Any, path: Path, new: Any) -> Any:
    """``value`` with the item at ``path`` replaced (or deleted); copies only along the path."""
    if not path:
        return new
    copied = copy.copy(value)
    if len(path) == 1 and new is _DELETE:
        del copied[path[0]]
    else:
        copied[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copied


# ------------------------------------------------------------------------------ contract


@pytest.mark.parametrize("name", NAMES)
def test_examples_pass_alike(name: str) -> None:
    event = schemas.example_event(name)
    assert _assert_same(event) == ("valid", [])
    assert _assert_same(event, name) == ("valid", [])


@pytest.mark.parametrize("name", NAMES)
def test_every_single_mutation_of_every_example_is_judged_alike(name: str) -> None:
    event = schemas.example_event(name)
    outcomes = set()
    for path, current in list(_positions(event)):
        for new in [*_ODD_VALUES, *_tweaks(current), _DELETE]:
            if new is _DELETE and not path:
                continue
            outcome = _assert_same(_replaced(event, path, new), name)
            outcomes.add(outcome[0])
    assert outcomes >= {"valid", "invalid"}


def test_the_shortcuts_are_exercised_both_ways() -> None:
    # The hand-overs that accept after all, and the warning, go through the reference.
    event = schemas.example_event("DossierReceived")
    event["dossier_code"] = _Str("G09.20-20260609-0092637")
    event["envelope"] = OrderedDict(event["envelope"])
    event["processing_time"] = MappingProxyType(event["processing_time"])
    event["received_at"] = event["received_at"].replace(tzinfo=_Saigon())
    event["envelope"]["event_id"] = str(event["envelope"]["event_id"])
    outcome = _assert_same(event)
    assert outcome[0] == "valid"
    assert [field for field, _, _ in outcome[1]] == ["dossier_code"]


_mutation_values = st.one_of(
    st.sampled_from(_ODD_VALUES),
    st.just(_DELETE),
    st.text(max_size=8),
    st.integers(),
    st.from_regex(r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}", fullmatch=True),
    st.from_regex(r"[0-9]\.[0-9]{6}", fullmatch=True),
    st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
)


@settings(derandomize=True, max_examples=1000, deadline=None)
@given(data=st.data())
def test_events_with_several_faults_fail_on_the_same_first_one(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(NAMES), label="event type")
    event = schemas.example_event(name)
    for _ in range(data.draw(st.integers(1, 4), label="faults")):
        # Replacing the whole event is covered above; here the faults go inside it.
        inside = [(path, value) for path, value in _positions(event) if path]
        path, current = data.draw(st.sampled_from(inside), label="where")
        choices = st.sampled_from([*_tweaks(current), _DELETE])
        event = _replaced(event, path, data.draw(_mutation_values | choices, label="new"))
    _assert_same(event, data.draw(st.sampled_from([name, name, name, None, "DossierReceived"])))


# ------------------------------------------------------------------------------ quick checks


_SHAPES = {
    "procedure_code": r"[0-9]\.[0-9]{6}",
    "agency_code": r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}",
    "admin_unit_code": r"[0-9]{2}|[0-9]{3}|[0-9]{5}",
    "dossier_code": r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}-[0-9]{6}-[0-9]{4}",
    "pii": r"[0-9a-f]{64}",
}
_TRICKY = "09AZaz.-fgx \t\u00a0\u0660\u0661\uff10\x00\u00e9"


@st.composite
def _near_codes(draw: st.DrawFn) -> str:
    code = draw(st.from_regex(draw(st.sampled_from(list(_SHAPES.values()))), fullmatch=True))
    if not code or draw(st.booleans()):
        return code
    at = draw(st.integers(0, len(code) - 1))
    return code[:at] + draw(st.sampled_from(_TRICKY)) + code[at + 1 :]


def _silently_fine(fmt: str, value: str) -> bool:
    try:
        return _formats.check_format(fmt, "f", value) is None
    except ValidationError:
        return False


def _pseudonym_fine(value: str) -> bool:
    try:
        _formats.check_pseudonymized("f", value)
    except ValidationError:
        return False
    return True


@settings(derandomize=True, max_examples=500, deadline=None)
@given(value=st.one_of(_near_codes(), st.text(alphabet=_TRICKY, max_size=30), st.text()))
def test_quick_checks_accept_exactly_what_the_format_checks_accept_silently(value: str) -> None:
    # "Exactly": accepting more would be a bug, accepting less a needless trip to the walker.
    for fmt in ("procedure_code", "agency_code", "admin_unit_code", "non_empty", "dossier_code"):
        quick = _formats.quick_check(fmt, pseudonymized=False)
        assert quick is not None
        assert quick(value) == _silently_fine(fmt, value), fmt
        assert quick(value) == _silently_fine(fmt, value), f"{fmt}, remembered"
    quick = _formats.quick_check(None, pseudonymized=True)
    assert quick is not None
    assert quick(value) == _pseudonym_fine(value)


def test_no_quick_check_for_an_unknown_format_or_a_format_with_pii() -> None:
    assert _formats.quick_check("telex", pseudonymized=False) is None
    assert _formats.quick_check("agency_code", pseudonymized=True) is None
    assert _formats.quick_check(None, pseudonymized=False) is None


# ------------------------------------------------------------------------------ other shapes

# Constructs the contract does not use (yet): the compiled checker must hand them over intact.
_CELL = {
    "type": "record",
    "name": "Cell",
    "fields": [
        {"name": "on", "type": "boolean"},
        {"name": "code", "type": "string", "format": "dossier_code"},
        {"name": "note", "type": ["null", "string"], "format": "non_empty", "default": None},
    ],
}
_ODD_SCHEMA = {
    "type": "record",
    "name": "Odd",
    "namespace": "test",
    "fields": [
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double", "default": 0.0},
        {"name": "b", "type": "bytes", "default": ""},
        {"name": "l", "type": "long"},
        {"name": "m", "type": {"type": "map", "values": "string"}, "default": {}},
        {"name": "x", "type": {"type": "fixed", "name": "Four", "size": 4}, "default": "abcd"},
        {"name": "u", "type": ["null", "int", "string"], "default": None},
        {"name": "only", "type": ["string"]},
        {"name": "s", "type": {"type": "string"}, "format": "non_empty"},
        {
            "name": "both",
            "type": ["null", "string"],
            "format": "agency_code",
            "pii": "pseudonymized",
        },
        {"name": "telex", "type": "string", "format": "telex", "default": "x"},
        {"name": "hashed", "type": "string", "pii": "pseudonymized", "default": _HEX},
        {"name": "t", "type": {"type": "int", "logicalType": "time-millis"}, "default": 0},
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}, "format": "non_empty"},
        {"name": "grid", "type": {"type": "array", "items": {"type": "array", "items": _CELL}}},
        {"name": "maybe", "type": ["null", "test.Cell"], "default": None},
        {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
        {"name": "next", "type": ["null", "test.Odd"], "default": None},
    ],
}
_ODD_VALUE: dict[str, Any] = {
    "f": 1.5,
    "d": 2,
    "b": b"\x00",
    "l": 2**40,
    "u": 7,
    "only": "o",
    "s": "text",
    "both": None,
    "hashed": _HEX,
    "t": 5,
    "id": str(_UUID),
    "grid": [[{"on": True, "code": "000.00.15.H29-230315-0042"}], []],
    "maybe": {"on": False, "code": "G09.20-20260609-0092637", "note": "n"},
    "e": "A",
    "next": {
        "f": 0.0,
        "l": 1,
        "only": "p",
        "s": "t",
        "both": None,
        "id": _UUID,
        "grid": [],
        "e": "B",
        "next": None,
    },
}


def _nested(depth: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A record nested ``depth`` records deep with arrays of arrays inside, and a value of it."""
    schema: dict[str, Any] = {"type": "array", "items": {"type": "array", "items": "int"}}
    value: Any = [[1, 2], []]
    for level in range(depth):
        wrapped: Any = {"type": "array", "items": schema} if level % 5 == 0 else schema
        schema = {
            "type": "record",
            "name": f"Level{level}",
            "fields": [
                {"name": "inner", "type": wrapped},
                {"name": "code", "type": "string", "format": "procedure_code"},
            ],
        }
        value = {"inner": [value] if level % 5 == 0 else value, "code": "1.001193"}
    return schema, value


def _judge(schema: dict[str, Any]) -> Callable[[Any], Outcome]:
    """Compares the compiled checker of ``schema`` with the walker, one value at a time."""
    parsed = parse_schema(schema)
    assert isinstance(parsed, dict)
    check = validation._checker_for("Test", parsed)
    named = parsed.get("__named_schemas", {})

    def judge(value: Any) -> Outcome:
        def compiled() -> list[validation.ValidationWarning]:
            warnings: list[validation.ValidationWarning] = []
            check(value, warnings)
            return warnings

        def walked() -> list[validation.ValidationWarning]:
            warnings: list[validation.ValidationWarning] = []
            validation._Walker(named, warnings).check(value, parsed, "")
            return warnings

        outcome = _outcome(compiled)
        assert outcome == _outcome(walked)
        return outcome

    return judge


@pytest.mark.parametrize(
    ("schema", "value"),
    [(_ODD_SCHEMA, _ODD_VALUE), _nested(45)],
    ids=["odd-constructs", "deeper-than-inlined"],
)
def test_other_schema_shapes_are_judged_alike(schema: dict[str, Any], value: Any) -> None:
    judge = _judge(schema)
    assert judge(value)[0] == "valid"
    outcomes = set()
    for path, current in list(_positions(value)):
        for new in [*_ODD_VALUES, *_tweaks(current), _DELETE]:
            if new is _DELETE and not path:
                continue
            outcomes.add(judge(_replaced(value, path, new))[0])
    assert outcomes >= {"valid", "invalid"}


def test_maps_fixed_and_unknown_formats_are_refused_alike() -> None:
    # The walker refuses any value for them; left out, their defaults apply.
    judge = _judge(_ODD_SCHEMA)
    for field, value in [("m", {"k": "v"}), ("m", None), ("x", b"abcd"), ("telex", "x")]:
        assert judge({**_ODD_VALUE, field: value})[0] == "invalid"


def test_a_checker_is_compiled_once_per_event_type() -> None:
    event = schemas.example_event("DossierReceived")
    schemas.validate_event(event)
    first = validation._checkers["DossierReceived"]
    schemas.validate_event(event)
    assert validation._checkers["DossierReceived"] is first
    assert re.match(r"<validator DossierReceived>", first.__code__.co_filename)
