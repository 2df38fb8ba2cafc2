"""Property: every valid DossierReceived round-trips through the wire format unchanged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO
from typing import Any

from fastavro import schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas

_HCMC = timezone(timedelta(hours=7))
_RECEIVED = schemas.event_type("DossierReceived")

_agency_codes = st.from_regex(r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}", fullmatch=True)
_procedure_codes = st.from_regex(r"[0-9]\.[0-9]{6}", fullmatch=True)
_hashes = st.none() | st.from_regex(r"[0-9a-f]{64}", fullmatch=True)
_instants = st.datetimes(
    min_value=datetime(2015, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
# printable: codes with control characters are refused (schemas/_formats.py)
_text = st.text(min_size=1, max_size=40).filter(
    lambda s: s == s.strip() and s.strip() != "" and s.isprintable()
)
_dossier_codes = _text | st.from_regex(
    r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}-[0-9]{6}-[0-9]{4}", fullmatch=True
)
_processing_times = st.one_of(
    st.fixed_dictionaries({"value": st.just(0), "unit": st.just("SAME_DAY")}),
    st.fixed_dictionaries(
        {
            "value": st.integers(1, 365),
            "unit": st.sampled_from(["WORKING_DAY", "DAY", "WORKING_HOUR"]),
        }
    ),
)


@st.composite
def dossier_received(draw: st.DrawFn) -> dict[str, Any]:
    received_at = draw(_instants)
    local_day = received_at.astimezone(_HCMC).date()
    recorded_at = received_at + timedelta(milliseconds=draw(st.integers(0, 10**9)))
    envelope = schemas.make_envelope(
        "DossierReceived",
        agency_code=draw(_agency_codes),
        occurred_at=received_at,
        recorded_at=recorded_at,
        event_id=uuid.UUID(int=draw(st.integers(0, 2**128 - 1)), version=4),
        producer_system=draw(_text),
        correlation_id=draw(st.none() | _text),
        causation_id=draw(st.none() | _text),
        rule_regime=draw(st.sampled_from(["ND61_107", "ND118_2025"])),
    )
    return {
        "envelope": envelope,
        "dossier_code": draw(_dossier_codes),
        "procedure_code": draw(_procedure_codes),
        "channel": draw(st.sampled_from(["COUNTER", "ONLINE", "POSTAL"])),
        "online_level": draw(st.sampled_from(["FULL", "PARTIAL", "NONE"])),
        "receiving_agency_code": draw(_agency_codes),
        "resolving_agency_code": draw(_agency_codes),
        "processing_time": draw(_processing_times),
        "received_at": received_at,
        "appointment_date": local_day + timedelta(days=draw(st.integers(0, 400))),
        "receipt_no": draw(st.none() | st.text(max_size=30)),
        "service_code": draw(st.none() | st.text(max_size=30)),
        "applicant_id_hash": draw(_hashes),
        "applicant_name_hash": draw(_hashes),
        "applicant_phone_hash": draw(_hashes),
        "carried_over": draw(st.booleans()),
        "digitized_at_reception": draw(st.booleans()),
    }


@settings(derandomize=True, max_examples=300, deadline=None)
@given(event=dossier_received(), schema_id=st.integers(1, 2**31 - 1))
def test_valid_dossier_received_round_trips(event: dict[str, Any], schema_id: int) -> None:
    for warning in schemas.validate_event(event):
        assert warning.field == "dossier_code"  # the only tolerated deviation
    data = schemas.encode(event, schema_id, _RECEIVED.schema)
    reference = BytesIO()
    schemaless_writer(reference, _RECEIVED.schema, event)
    assert data[5:] == reference.getvalue()  # the compiled writer agrees with fastavro
    decoded_id, decoded = schemas.decode(data, {schema_id: _RECEIVED.schema}.get)
    assert decoded_id == schema_id
    assert decoded == event
