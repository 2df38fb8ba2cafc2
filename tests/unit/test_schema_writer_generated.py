"""The generated Avro writer (``schemas._writer``) against fastavro's ``schemaless_writer``.

Byte for byte on every example event, on Hypothesis variants of every event type and of a
made-up schema using every Avro construct; and it raises exactly where fastavro raises (the one
deliberate exception: a naive datetime for a timestamp-millis is refused).
"""

from __future__ import annotations

import array
import linecache
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas
from schemas import catalog
from schemas._writer import Encode, compile_writer
from schemas.errors import UnencodableEventError

EVENT_TYPES = schemas.event_types()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ZONES = [UTC, timezone(timedelta(hours=7)), timezone(-timedelta(hours=9, minutes=30))]

_DEEP: Any = "string"
for _ in range(12):
    _DEEP = {"type": "array", "items": _DEEP}

_EVERYTHING = {
    "type": "record",
    "name": "test.Everything",
    "fields": [
        {"name": "m", "type": {"type": "map", "values": "double"}},
        {"name": "mo", "type": {"type": "map", "values": ["null", "string", "long"]}},
        {"name": "fx", "type": {"type": "fixed", "name": "test.Hash", "size": 4}},
        {"name": "fx2", "type": ["null", "test.Hash"]},
        {"name": "raw", "type": "bytes"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {
            "name": "colour",
            "type": {"type": "enum", "name": "test.Colour", "symbols": ["RED", "GREEN"]},
        },
        {
            "name": "points",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "test.Point",
                    "fields": [
                        {"name": "x", "type": "int"},
                        {"name": "y", "type": "int", "default": 0},
                    ],
                },
            },
        },
        {"name": "multi", "type": ["null", "int", "string", "test.Point", "test.Colour"]},
        {"name": "num", "type": ["int", "long", "float", "double"]},
        {"name": "choice", "type": ["string", "null"], "default": "none"},
        {"name": "grid", "type": {"type": "array", "items": {"type": "array", "items": "int"}}},
        {
            "name": "tree",
            "type": {
                "type": "record",
                "name": "test.Tree",
                "fields": [
                    {"name": "label", "type": "string"},
                    {"name": "children", "type": {"type": "array", "items": "test.Tree"}},
                    {"name": "next", "type": ["null", "test.Tree"], "default": None},
                ],
            },
        },
        {"name": "maybe_point", "type": ["null", "test.Point"], "default": None},
        {"name": "stamp", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
        {"name": "micros", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "day", "type": ["null", {"type": "int", "logicalType": "date"}]},
        {"name": "id", "type": ["null", {"type": "string", "logicalType": "uuid"}]},
        {"name": "flag", "type": ["null", "boolean"], "default": None},
        {"name": "opt_int", "type": ["null", "int"], "default": None},
        {"name": "opt_long", "type": ["long", "null"], "default": 0},
        {"name": "opt_double", "type": ["null", "double"], "default": None},
        {"name": "opt_bytes", "type": ["null", "bytes"], "default": None},
        {"name": "opt_colour", "type": ["null", "test.Colour"], "default": None},
        {"name": "opt_grid", "type": ["null", {"type": "array", "items": "int"}], "default": None},
        {"name": "opt_map", "type": ["null", {"type": "map", "values": "int"}], "default": None},
        {"name": "nothing", "type": "null"},
        {"name": "big", "type": "long", "default": 5},
        # twelve nested arrays: deeper than one generated function goes
        {"name": "deep", "type": _DEEP},
    ],
}
_PARSED: Any = parse_schema(_EVERYTHING)


# -- helpers -----------------------------------------------------------------------------------


def _compiled(schema: Mapping[str, Any]) -> Encode:
    return compile_writer(schema, schema.get("__named_schemas", {}))


def _reference(schema: Mapping[str, Any], value: Any) -> bytes:
    out = BytesIO()
    schemaless_writer(out, schema, value)  # type: ignore[arg-type]
    return out.getvalue()


def _outcome(write: Callable[[], bytes]) -> tuple[str, bytes | None]:
    try:
        return "ok", write()
    except Exception:
        return "error", None


def _assert_same(schema: Mapping[str, Any], value: Any, encode: Encode | None = None) -> None:
    encode = encode or _compiled(schema)
    expected = _outcome(lambda: _reference(schema, value))
    assert _outcome(lambda: encode(b"", value)) == expected
    slow: Encode = _namespace(encode)["_slow"]
    assert _outcome(lambda: slow(b"", value)) == expected


def _namespace(encode: Encode) -> dict[str, Any]:
    """The globals of the generated code (its helpers, ``_slow`` …)."""
    namespace: dict[str, Any] = getattr(encode, "__globals__")  # noqa: B009
    return namespace


# -- strategies from a schema --------------------------------------------------

_instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.sampled_from(_ZONES)
)
_recent_instants = st.datetimes(
    min_value=datetime(1965, 1, 1), max_value=datetime(2045, 1, 1), timezones=st.just(UTC)
)


def _values(schema: Any, named: Mapping[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    while isinstance(schema, str) and schema in named:
        schema = named[schema]
    if isinstance(schema, list):
        if depth > 3 and "null" in schema:
            return st.none()
        return st.one_of([_values(branch, named, depth + 1) for branch in schema])
    if isinstance(schema, str):
        schema = {"type": schema}
    kind, logical = schema["type"], schema.get("logicalType")
    if logical in {"timestamp-millis", "timestamp-micros"}:
        return _instants | _recent_instants | st.integers(-(2**50), 2**50)
    if logical == "date":
        return st.dates() | st.integers(-(2**20), 2**20)
    if logical == "uuid":
        return st.uuids() | st.uuids().map(str)
    simple: dict[str, st.SearchStrategy[Any]] = {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1) | st.integers(-100, 100_000),
        "float": st.floats(width=32) | st.floats(),
        "double": st.floats(),
        "bytes": st.binary(max_size=40),
        "string": st.text(max_size=30),
    }
    if kind in simple:
        return simple[kind]
    if kind == "fixed":
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        if depth > 4:
            return st.just([])
        items = _values(schema["items"], named, depth + 1)
        if depth > 1:
            return st.lists(items, max_size=3)
        return st.lists(items, max_size=3) | st.lists(items, min_size=64, max_size=66)
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), _values(schema["values"], named, depth + 1))
    if kind == "record":
        required: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        for field in schema["fields"]:
            target = optional if "default" in field else required
            target[field["name"]] = _values(field["type"], named, depth + 1)
        return st.fixed_dictionaries(required, optional=optional)
    raise AssertionError(kind)


def _event_strategy(known: catalog.EventType) -> st.SearchStrategy[Any]:
    return _values(known.schema, known.schema["__named_schemas"])


# -- every example event -------------------------------------------------------------------------


@pytest.mark.parametrize("known", EVENT_TYPES, ids=lambda t: t.name)
def test_example_events_byte_for_byte_without_falling_back(known: catalog.EventType) -> None:
    event = schemas.example_event(known.name)
    encode = _compiled(known.schema)
    calls: list[Any] = []
    slow: Encode = _namespace(encode)["_slow"]

    def counting(header: bytes, value: Any) -> bytes:
        calls.append(value)
        return slow(header, value)

    _namespace(encode)["_slow"] = counting
    assert encode(b"HDR", event) == b"HDR" + _reference(known.schema, event)
    assert calls == []  # the fast function wrote it alone
    assert slow(b"", event) == _reference(known.schema, event)


def test_all_example_events_through_serde() -> None:
    for name, event in schemas.example_events().items():
        known = schemas.event_type(name)
        assert schemas.encode(event, 3, known.schema)[5:] == _reference(known.schema, event)


# -- Hypothesis variants --------------------------------------------------------------------------


@settings(derandomize=True, max_examples=400, deadline=None)
@given(st.data())
def test_variants_of_every_event_type(data: st.DataObject) -> None:
    known = data.draw(st.sampled_from(EVENT_TYPES))
    event = data.draw(_event_strategy(known))
    _assert_same(known.schema, event, _cached(known))


_CACHE: dict[str, Encode] = {}


def _cached(known: catalog.EventType) -> Encode:
    if known.name not in _CACHE:
        _CACHE[known.name] = _compiled(known.schema)
    return _CACHE[known.name]


_DOSSIER_RECEIVED = schemas.event_type("DossierReceived")


@settings(derandomize=True, max_examples=300, deadline=None)
@given(
    envelope_id=st.uuids(),
    occurred=_instants | _recent_instants,
    received=_instants,
    appointment=st.dates(),
    code=st.text(max_size=300),
    receipt=st.none() | st.text(),
    value=st.integers(-(2**31), 2**31 - 1),
    channel=st.sampled_from(["COUNTER", "ONLINE", "POSTAL"]),
    level=st.sampled_from(["FULL", "PARTIAL", "NONE"]),
    unit=st.sampled_from(["WORKING_DAY", "DAY", "WORKING_HOUR", "SAME_DAY"]),
    regime=st.sampled_from(["ND61_107", "ND118_2025"]),
)
def test_dossier_received_variants(  # noqa: PLR0917
    envelope_id: uuid.UUID,
    occurred: datetime,
    received: datetime,
    appointment: date,
    code: str,
    receipt: str | None,
    value: int,
    channel: str,
    level: str,
    unit: str,
    regime: str,
) -> None:
    event = schemas.example_event("DossierReceived")
    event["envelope"] = {
        **event["envelope"],
        "event_id": envelope_id,
        "occurred_at": occurred,
        "recorded_at": occurred,
        "rule_regime": regime,
    }
    event.update(
        dossier_code=code,
        received_at=received,
        appointment_date=appointment,
        receipt_no=receipt,
        channel=channel,
        online_level=level,
        processing_time={"value": value, "unit": unit},
    )
    _assert_same(_DOSSIER_RECEIVED.schema, event, _cached(_DOSSIER_RECEIVED))


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.data())
def test_variants_of_a_schema_with_every_construct(data: st.DataObject) -> None:
    value = data.draw(_values(_PARSED, _PARSED["__named_schemas"]))
    _assert_same(_PARSED, value, _EVERYTHING_ENCODER)


_EVERYTHING_ENCODER = _compiled(_PARSED)


# -- timestamps ------------------------------------------------------------------------------------


def _instant_cases() -> Iterator[datetime]:
    for offset_us in (0, 1, -1, 999, -999, 1000, -1000, 1001, -1001, 500_500, -500_500):
        yield _EPOCH + timedelta(microseconds=offset_us)
    for days in (1, 2, 3):  # the day table starts at day 2
        for ms in (-1, 0, 1):
            yield _EPOCH + timedelta(days=days, milliseconds=ms)
    yield datetime(1, 1, 1, tzinfo=UTC)
    yield datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    yield datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    yield datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone(-timedelta(hours=23)))
    yield datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    yield datetime(2023, 3, 15, 9, 12, 34, 567_890, tzinfo=timezone(timedelta(hours=7)))
    # twice the milliseconds crosses 2**42 (varint of 6 -> 7 bytes)
    yield _EPOCH + timedelta(milliseconds=2**41)
    yield _EPOCH + timedelta(milliseconds=2**41 - 1)
    # within a day, the low 28 bits carry into the high part
    for day in (19_000, 19_431, 25_000):
        low = (day * 172_800_000) % 2**28
        for ms in (-1, 0, 1):
            ms_of_day = (2**28 - low) // 2 + ms
            if 0 <= ms_of_day < 86_400_000:
                yield _EPOCH + timedelta(days=day, milliseconds=ms_of_day)


@pytest.mark.parametrize("instant", list(_instant_cases()), ids=str)
def test_timestamp_millis_like_fastavro(instant: datetime) -> None:
    event = schemas.example_event("DossierReceived")
    event["received_at"] = instant
    event["envelope"] = {**event["envelope"], "occurred_at": instant}
    _assert_same(_DOSSIER_RECEIVED.schema, event, _cached(_DOSSIER_RECEIVED))


def test_timestamp_within_the_day_table_across_many_days() -> None:
    encode = _cached(_DOSSIER_RECEIVED)
    event = schemas.example_event("DossierReceived")
    for step in range(0, 40_000 * 86_400_000, 86_400_000 * 7 + 12_345_678):
        event["received_at"] = _EPOCH + timedelta(milliseconds=step, microseconds=step % 1000)
        assert encode(b"", event) == _reference(_DOSSIER_RECEIVED.schema, event)


def test_naive_datetime_is_refused_although_fastavro_takes_it_as_local_time() -> None:
    event = schemas.example_event("DossierReceived")
    event["received_at"] = datetime(2023, 3, 15, 9, 0)
    with pytest.raises(UnencodableEventError, match="naive"):
        schemas.encode(event, 8, _DOSSIER_RECEIVED.schema)
    value = {"stamp": datetime(2023, 3, 15, 9, 0)}
    with pytest.raises(ValueError, match="naive"):
        _EVERYTHING_ENCODER(b"", _minimal_everything() | value)


# -- odd but accepted input, and refusals --------------------------------------------------


def _minimal_everything() -> dict[str, Any]:
    return {
        "m": {},
        "mo": {},
        "fx": b"abcd",
        "fx2": None,
        "raw": b"",
        "f": 0.0,
        "d": 0.0,
        "colour": "RED",
        "points": [],
        "multi": None,
        "num": 1,
        "grid": [],
        "tree": {"label": "root", "children": []},
        "stamp": None,
        "micros": 0,
        "day": None,
        "id": None,
        "deep": [],
    }


class _Text(str):
    pass


class _Record(Mapping[str, Any]):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


_ODD_VALUES: list[tuple[str, Any]] = [
    ("f", "NaN"),  # fastavro calls float() on a float field
    ("f", 1e39),  # beyond float32: infinity, as fastavro's C cast
    ("f", -1e39),
    ("f", 3),
    ("d", "1.5"),
    ("d", True),
    ("d", Decimal("2.5")),
    ("d", 10**400),
    ("big", 2**63 - 1),
    ("big", -(2**63)),
    ("big", 2**63),
    ("big", -(2**63) - 1),
    ("big", 1.9),
    ("big", True),
    ("big", Decimal(7)),
    ("big", "7"),
    ("big", None),
    ("multi", 5),
    ("multi", 2**40),  # no int branch takes it
    ("multi", "GREEN"),  # a string before the enum
    ("multi", {"x": 1}),
    ("multi", {"x": 2**40}),  # does not validate as Point
    ("multi", ("test.Colour", "GREEN")),  # tuple notation
    ("multi", ("test.Nope", "GREEN")),
    ("multi", 1.5),
    ("multi", True),
    ("num", 2**40),
    ("num", 1.5),
    ("num", True),
    ("num", "x"),
    ("choice", None),
    ("choice", _Text("sub")),
    ("choice", 5),
    ("fx", b"abc"),
    ("fx", bytearray(b"abcd")),
    ("fx2", b"abcd"),
    ("fx2", b"abc"),
    ("raw", bytearray(b"xy")),
    ("raw", memoryview(b"xy")),
    ("raw", "xy"),
    ("colour", "BLUE"),
    ("colour", _Text("RED")),
    ("colour", ["RED"]),
    ("points", ({"x": 1},)),  # a tuple: fastavro makes a list of it
    ("points", [OrderedDict(x=1)]),
    ("points", [_Record({"x": 1})]),
    ("points", [_Record({"y": 1})]),
    ("points", [{"y": 1}]),
    ("points", [{"x": 1, "extra": 2}]),
    ("grid", [array.array("i", [1, 2, 3])]),
    ("grid", [[2**31]]),
    ("mo", {"a": None, "b": "x", "c": 2**62}),
    ("mo", {"a": 1.5}),
    ("mo", {1: "x"}),
    ("mo", OrderedDict(a="x")),
    ("m", {"a": "x"}),
    ("stamp", 1_700_000_000_000),
    ("stamp", datetime(2023, 1, 1, tzinfo=UTC)),
    ("stamp", date(2023, 1, 1)),
    ("stamp", "2023-01-01"),
    ("stamp", True),
    ("micros", datetime(2023, 1, 1, 0, 0, 0, 123_456, tzinfo=UTC)),
    ("micros", 2**64),
    ("day", date(2023, 1, 1)),
    ("day", datetime(2023, 1, 1, 23, tzinfo=UTC)),  # a datetime is a date
    ("day", 19_000),
    ("day", "2023-01-01"),
    ("day", 2**40),
    ("id", uuid.UUID(int=0)),
    ("id", "not a uuid but a string"),
    ("id", 5),
    ("flag", 1),
    ("flag", True),
    ("nothing", "ignored"),
    ("opt_int", 2**31 - 1),
    ("opt_int", 2**31),
    ("opt_int", -(2**31) - 1),
    ("opt_int", True),
    ("opt_int", 1.0),
    ("opt_long", 2**63 - 1),
    ("opt_long", 2**63),
    ("opt_long", True),
    ("opt_long", None),
    ("opt_double", 1),
    ("opt_double", 1.5),
    ("opt_double", True),
    ("opt_double", "1.5"),
    ("opt_bytes", bytearray(b"x")),
    ("opt_bytes", "x"),
    ("opt_colour", "GREEN"),
    ("opt_colour", "BLUE"),
    ("opt_grid", [1, 2]),
    ("opt_grid", [1, 2**31]),
    ("opt_grid", (1, 2)),
    ("opt_grid", array.array("i", [1, 2])),
    ("opt_map", {"a": 1}),
    ("opt_map", {"a": 2**31}),
    ("opt_map", {}),
    ("tree", {"label": "a", "children": [{"label": "b", "children": []}], "next": None}),
    ("tree", {"label": "a", "children": [], "next": {"label": "b", "children": [], "next": 5}}),
    ("tree", {"label": 5, "children": []}),
    ("maybe_point", {"x": 1}),
    ("maybe_point", {"x": "1"}),
    ("maybe_point", []),
    ("deep", [[[[[[[[[[[["a", _Text("b")]]]]]]]]]]]]),
    ("deep", [[[[[[[[[[[[5]]]]]]]]]]]]),
]


@pytest.mark.parametrize(("field", "value"), _ODD_VALUES, ids=lambda x: repr(x)[:40])
def test_odd_input_gets_fastavros_bytes_or_fastavros_refusal(field: str, value: Any) -> None:
    _assert_same(_PARSED, {**_minimal_everything(), field: value})


@pytest.mark.parametrize("missing", ["m", "fx", "multi", "big", "choice", "nothing", "stamp"])
def test_missing_fields_like_fastavro(missing: str) -> None:
    record = _minimal_everything()
    record.pop(missing, None)
    _assert_same(_PARSED, record)


def test_an_array_given_as_a_generator() -> None:
    encode = _EVERYTHING_ENCODER
    points = [{"x": 1, "y": 2}, {"x": -3}]
    expected = _reference(_PARSED, {**_minimal_everything(), "points": iter(points)})
    assert encode(b"", {**_minimal_everything(), "points": iter(points)}) == expected
    assert encode(b"", {**_minimal_everything(), "points": (p for p in points)}) == expected


def test_a_record_that_is_not_a_dict() -> None:
    _assert_same(_PARSED, _Record(_minimal_everything()))
    _assert_same(_PARSED, OrderedDict(_minimal_everything()))
    _assert_same(_PARSED, 5)
    _assert_same(_PARSED, None)


_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.lists(st.integers(-5, 5), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.tuples(st.sampled_from(["string", "int", "null", "x"]), st.text(max_size=3)),
    _instants,
    st.dates(),
    st.uuids(),
    st.sampled_from(["ND61_107", "COUNTER", "FULL", "DAY", "SAME_DAY"]),
)


@settings(derandomize=True, max_examples=400, deadline=None)
@given(st.data())
def test_any_wrong_value_raises_exactly_where_fastavro_raises(data: st.DataObject) -> None:
    known = data.draw(st.sampled_from(EVENT_TYPES))
    event = schemas.example_event(known.name)
    target = event if data.draw(st.booleans()) else event["envelope"]
    name = data.draw(st.sampled_from(sorted(target)))
    if data.draw(st.integers(0, 9)) == 0:
        del target[name]
    else:
        target[name] = data.draw(_JUNK)
    expected = _outcome(lambda: _reference(known.schema, event))
    assert _outcome(lambda: _cached(known)(b"", event)) == expected
    if expected[0] == "error":
        with pytest.raises(UnencodableEventError):
            schemas.encode(event, 4, known.schema)
    else:
        assert schemas.encode(event, 4, known.schema)[5:] == expected[1]


def test_recursive_and_deep_schemas_get_functions_of_their_own() -> None:
    filename = getattr(_EVERYTHING_ENCODER, "__code__").co_filename  # noqa: B009
    source = "".join(linecache.getlines(filename))
    assert source.count("\ndef _w") >= 2  # the tree, and the part of `deep` past the limit
    chain: dict[str, Any] = {"label": "end", "children": []}
    for i in range(200):
        chain = {"label": str(i), "children": [chain], "next": None}
    _assert_same(_PARSED, {**_minimal_everything(), "tree": chain})
