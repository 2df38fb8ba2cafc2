"""Property tests of the contract's front door: events drawn from the schemas themselves, and
events with exactly one field broken, through the SDK's validation and the JSON-lines reader
behind ``dossierhub publish``; and random or mangled bytes through the hub's validator.

Every valid event round-trips encode → decode unchanged; every broken one is refused with a
one-line message naming the broken field. The number of inputs tried is printed at the end of
the run (tests/conftest.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossierhub.errors import HubError, ValidationError
from producers.jsonlines import read_jsonlines
from schemas import (
    decode,
    encode,
    event_type,
    event_types,
    example_event,
    inbound_topic,
    validate_event,
)
from stream_processors.validator import Refused, check
from tests.fuzzing import Breakage, broken_events, shaped_events, tried
from tests.helpers import as_json

NAMES: Final = [t.name for t in event_types()]
AGENCY: Final = "000.00.15.H29"
SCHEMA_ID: Final = 4242
#: envelope fields the JSON-lines reader fills in when a line leaves them out
_FILLED_IN: Final = {
    f"envelope.{name}"
    for name in ("event_id", "agency_code", "producer_system", "schema_version", "recorded_at")
}


# Reproducible (STYLE.md, habit 9): the same inputs on every run and every machine.
def _fuzz(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def _round_trip(name: str, event: dict[str, Any]) -> None:
    known = event_type(name)
    wire = encode(event, SCHEMA_ID, known.schema)
    schema_id, decoded = decode(wire, {SCHEMA_ID: known.schema}.get)
    assert schema_id == SCHEMA_ID
    assert decoded == event


def _refusal(name: str, event: dict[str, Any]) -> ValidationError | None:
    try:
        validate_event(event, event_type=name)
    except ValidationError as exc:
        return exc
    return None


def _names_the_field(error: str, breakage: Breakage) -> bool:
    # a refused pseudonym is never echoed: it may be the raw value (tests.fuzzing breaks it so)
    echoed = breakage.how == "bad_pseudonym" and "079190000001" in error
    return error.startswith(f"{breakage.path}=") and "\n" not in error and not echoed


@_fuzz(600)
@given(data=st.data())
def test_schema_shaped_events_round_trip_unless_a_rule_refuses_them(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(NAMES), label="event type")
    event = data.draw(shaped_events(name), label="event")
    tried("SDK: events drawn from the schemas")
    refusal = _refusal(name, event)
    if refusal is None:
        _round_trip(name, event)
    else:
        # drawn fields may break a cross-field rule (a resolution before its reception…)
        tried("SDK: … of which refused by a cross-field rule")
        assert refusal.field
        assert "\n" not in refusal.one_line()


@_fuzz(800)
@given(data=st.data())
def test_an_event_with_one_broken_field_is_refused_naming_it(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(NAMES), label="event type")
    event, breakage = data.draw(broken_events(name), label="broken event")
    tried(f"SDK: events with one field broken ({breakage.how})")
    refusal = _refusal(name, event)
    assert refusal is not None, f"{name} accepted with {breakage}"
    assert _names_the_field(refusal.one_line(), breakage), (breakage, refusal.one_line())


def _lines(data: st.DataObject) -> list[tuple[str, dict[str, Any], Breakage | None]]:
    lines = []
    for _ in range(data.draw(st.integers(1, 4), label="lines")):
        name = data.draw(st.sampled_from(NAMES), label="event type")
        if data.draw(st.booleans(), label="broken?"):
            event, breakage = data.draw(broken_events(name), label="broken event")
            lines.append((name, event, breakage))
        else:
            event = data.draw(shaped_events(name), label="event")
            try:
                validate_event(event, event_type=name)
            except HubError:
                continue  # a rule refused the drawn values: the SDK test covers that
            lines.append((name, event, None))
    return lines


@_fuzz(200)
@given(data=st.data())
def test_jsonlines_files_report_each_broken_line_and_read_the_rest(
    tmp_path_factory: Any, data: st.DataObject
) -> None:
    lines = _lines(data)
    path: Path = tmp_path_factory.mktemp("fuzz") / "events.jsonl"
    with path.open("w") as out:
        for _, event, breakage in lines:
            text = as_json(event)
            envelope = text.get("envelope")
            # the file's agency, as the CLI sends it, unless that is the broken field
            kept = breakage is not None and breakage.path == "envelope.agency_code"
            if isinstance(envelope, dict) and "agency_code" in envelope and not kept:
                envelope["agency_code"] = AGENCY
            out.write(json.dumps(text) + "\n")
    tried("publish: JSON lines", len(lines))
    batch = read_jsonlines(path, AGENCY, "fuzz")
    errors = {e.line: e.error for e in batch.errors}
    events = dict(batch.events)
    for number, (name, event, breakage) in enumerate(lines, start=1):
        if breakage is None:
            assert number not in errors, errors.get(number)
            event["envelope"]["agency_code"] = AGENCY
            assert events[number] == event
            _round_trip(name, events[number])
        elif breakage.how == "missing" and breakage.path in _FILLED_IN:
            assert number in events, errors.get(number)
        else:
            assert number in errors, (name, breakage)
            assert _names_the_field(errors[number], breakage), (breakage, errors[number])


# -- the validator on bytes an agency may put on its topic -------------------------------------

_SCHEMA_IDS: Final = {t.name: 100 + i for i, t in enumerate(event_types())}
_WRITERS: Final = {_SCHEMA_IDS[t.name]: t.schema for t in event_types()}


@st.composite
def _mangled_wire(draw: st.DrawFn) -> bytes:
    """The wire bytes of a valid example, then cut, flipped, spliced or overwritten."""
    name = draw(st.sampled_from(NAMES), label="event type")
    event = example_event(name)
    wire = bytearray(encode(event, _SCHEMA_IDS[name], event_type(name).schema))
    for _ in range(draw(st.integers(1, 4), label="mangles")):
        how = draw(st.sampled_from(["cut", "flip", "splice", "overwrite"]), label="how")
        at = draw(st.integers(0, len(wire)), label="where")
        if how == "cut":
            del wire[at:]
        elif how == "flip" and at < len(wire):
            wire[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "splice":
            wire[at:at] = draw(st.binary(min_size=1, max_size=12))
        elif at < len(wire):  # a varint of a huge length or count, where a length belongs
            wire[at : at + 1] = b"\xfe\xff\xff\xff\x0f"
    return bytes(wire)


@_fuzz(1500)
@given(raw=st.one_of(st.binary(max_size=200), _mangled_wire()))
def test_the_validator_gives_a_verdict_on_any_bytes(raw: bytes) -> None:
    tried("validator: random and mangled Avro bytes")
    verdict = check(
        raw,
        source_topic=inbound_topic("000.00.15.H29"),
        lookup=_WRITERS.get,
        now=datetime(2024, 1, 10, tzinfo=UTC),
        future_tolerance=timedelta(minutes=5),
    )
    # never an exception: one would stop the worker on this record after every restart
    if isinstance(verdict, Refused):
        tried("validator: … of which dead-lettered")
        assert verdict.error
        assert "\n" not in " ".join(verdict.error.split())
