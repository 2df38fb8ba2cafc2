"""Validation of Avro-ready events and conversion from JSON input."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

import schemas
from dossierhub.errors import HubError, ValidationError
from schemas.errors import UnknownEventTypeError


def _received(**changes: Any) -> dict[str, Any]:
    event = schemas.example_event("DossierReceived")
    event.update(changes)
    return event


def _fails(event: dict[str, Any], field: str, value: object, problem: str = "") -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        schemas.validate_event(event)
    error = caught.value
    assert error.field == field
    assert error.value == value
    assert field in str(error)
    assert repr(value) in str(error)
    assert problem in error.problem
    return error


def test_examples_are_valid_and_warning_free() -> None:
    for name, event in schemas.example_events().items():
        assert schemas.validate_event(event) == [], name
        assert schemas.validate_event(event, event_type=name) == []


def test_missing_required_field() -> None:
    event = _received()
    del event["appointment_date"]
    _fails(event, "appointment_date", None, "required")


def test_missing_nested_required_field() -> None:
    event = _received()
    del event["envelope"]["agency_code"]
    _fails(event, "envelope.agency_code", None, "required")


def test_missing_defaulted_field_is_fine() -> None:
    event = _received()
    del event["carried_over"]
    del event["envelope"]["rule_regime"]
    assert schemas.validate_event(event) == []


def test_unknown_enum_symbol() -> None:
    _fails(_received(channel="FAX"), "channel", "FAX", "unknown symbol")


def test_unknown_nested_enum_symbol() -> None:
    event = _received(processing_time={"value": 3, "unit": "MONTH"})
    _fails(event, "processing_time.unit", "MONTH", "WORKING_DAY")


def test_unknown_field_is_reported() -> None:
    _fails(_received(on_time=True), "on_time", True, "not a field")


def test_naive_timestamp() -> None:
    naive = datetime(2023, 3, 15, 9, 12)
    _fails(_received(received_at=naive), "received_at", naive, "naive")


def test_naive_envelope_timestamp() -> None:
    event = _received()
    naive = datetime(2023, 3, 15, 9, 12)
    event["envelope"]["occurred_at"] = naive
    _fails(event, "envelope.occurred_at", naive, "naive")


def test_datetime_where_a_local_date_is_expected() -> None:
    instant = datetime(2023, 3, 29, tzinfo=UTC)
    _fails(_received(appointment_date=instant), "appointment_date", instant, "local date")


def test_appointment_date_before_received_date() -> None:
    _fails(_received(appointment_date=date(2023, 3, 14)), "appointment_date", date(2023, 3, 14))


def test_appointment_date_is_compared_in_local_time() -> None:
    # 23:30 UTC on 14 March is already 15 March in Ho Chi Minh City.
    late_evening_utc = datetime(2023, 3, 14, 23, 30, tzinfo=UTC)
    assert (
        schemas.validate_event(
            _received(received_at=late_evening_utc, appointment_date=date(2023, 3, 15))
        )
        == []
    )
    _fails(
        _received(received_at=late_evening_utc, appointment_date=date(2023, 3, 14)),
        "appointment_date",
        date(2023, 3, 14),
        "2023-03-15",
    )


def test_due_date_before_received_date_in_an_outcome() -> None:
    event = schemas.example_event("DossierOutcome")
    event["due_date"] = date(2023, 3, 1)
    _fails(event, "due_date", date(2023, 3, 1), "before")


@pytest.mark.parametrize("code", ["1.00119", "1001193", "A.001193", "1.0011933", "\u0661.001193"])
def test_malformed_procedure_code(code: str) -> None:
    _fails(_received(procedure_code=code), "procedure_code", code, "d")


def test_malformed_nested_procedure_code() -> None:
    event = schemas.example_event("PublicationDecisionIssued")
    event["items"][1]["procedure_code"] = "1.1193"
    _fails(event, "items[1].procedure_code", "1.1193")


@pytest.mark.parametrize("code", ["00.15.H29", "000.00.15.h29", "STP", "000.00.15.H29 "])
def test_malformed_agency_code(code: str) -> None:
    _fails(_received(resolving_agency_code=code), "resolving_agency_code", code, "000.00.15.H29")


@pytest.mark.parametrize("bad", ["not-a-uuid", "307AB485-91DA-5E89-B1F5-87A2CCA9AE3D", 12])
def test_bad_uuid(bad: object) -> None:
    event = _received()
    event["envelope"]["event_id"] = bad
    _fails(event, "envelope.event_id", bad)


def test_uuid_string_in_canonical_form_is_fine() -> None:
    event = _received()
    event["envelope"]["event_id"] = str(uuid.uuid4())
    assert schemas.validate_event(event) == []


@pytest.mark.parametrize("code", ["", "   ", " 000.00.15.H29-230315-0042"])
def test_empty_or_padded_dossier_code(code: str) -> None:
    _fails(_received(dossier_code=code), "dossier_code", code)


def test_non_tt01_dossier_code_is_only_a_warning() -> None:
    warnings = schemas.validate_event(_received(dossier_code="G09.20-20260609-0092637"))
    assert len(warnings) == 1
    assert warnings[0].field == "dossier_code"
    assert warnings[0].value == "G09.20-20260609-0092637"
    assert "01/2018" in warnings[0].problem


def test_raw_personal_data_is_refused_and_not_echoed() -> None:
    with pytest.raises(ValidationError) as caught:
        schemas.validate_event(_received(applicant_id_hash="079190000001"))
    assert caught.value.field == "applicant_id_hash"
    assert "079190000001" not in str(caught.value)
    assert "never the raw value" in caught.value.problem


def test_wrong_primitive_types() -> None:
    _fails(_received(carried_over="yes"), "carried_over", "yes", "boolean")
    _fails(_received(receipt_no=42), "receipt_no", 42)
    event = _received()
    event["envelope"]["schema_version"] = 2**31
    _fails(event, "envelope.schema_version", 2**31, "int")


def test_null_in_a_required_field() -> None:
    _fails(_received(procedure_code=None), "procedure_code", None, "null")


def test_envelope_event_type_must_match() -> None:
    event = _received()
    with pytest.raises(ValidationError) as caught:
        schemas.validate_event(event, event_type="DossierSubmitted")
    assert caught.value.field == "envelope.event_type"
    assert caught.value.value == "DossierReceived"


def test_unknown_event_type_in_envelope() -> None:
    event = _received()
    event["envelope"]["event_type"] = "DossierLost"
    with pytest.raises(UnknownEventTypeError):
        schemas.validate_event(event)


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("DossierSupplementRequested", "sequence_no", 0),
        ("FeedbackClassified", "category", 9),
        ("OnlineServiceOffered", "level", "NONE"),
        ("AgencyChanged", "valid_to", date(2018, 12, 31)),
        ("AggregateUpdated", "window_end", date(2023, 3, 1)),
        ("ServiceRated", "score", 6),
    ],
)
def test_cross_field_rules(name: str, field: str, value: object) -> None:
    event = schemas.example_event(name)
    event[field] = value
    _fails(event, field, value)


def test_make_up_working_day_must_be_a_weekend_day() -> None:
    event = schemas.example_event("WorkingCalendarPublished")
    event["make_up_working_days"] = [date(2023, 1, 16)]
    _fails(event, "make_up_working_days[0]", date(2023, 1, 16), "weekend")


def test_validation_errors_are_hub_errors() -> None:
    with pytest.raises(HubError):
        schemas.validate_event(_received(channel="FAX"))


# --------------------------------------------------------------------------- conversion


def _as_json(event: dict[str, Any]) -> dict[str, Any]:
    """The event as a JSON-lines producer would write it."""

    def default(value: object) -> str:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        if isinstance(value, date | uuid.UUID):
            return str(value)
        raise TypeError(value)

    loaded: dict[str, Any] = json.loads(json.dumps(event, default=default))
    return loaded


@pytest.mark.parametrize("name", [t.name for t in schemas.event_types()])
def test_from_json_gives_the_avro_ready_event(name: str) -> None:
    event = schemas.example_event(name)
    assert schemas.from_json(_as_json(event)) == event


def test_from_json_accepts_local_offsets_and_z() -> None:
    data = _as_json(schemas.example_event("DossierReceived"))
    data["received_at"] = "2023-03-15T09:12:34.567891+07:00"
    data["envelope"]["occurred_at"] = "2023-03-15T02:12:34.567Z"
    converted = schemas.from_json(data)
    expected = datetime(2023, 3, 15, 2, 12, 34, 567000, tzinfo=UTC)
    assert converted["received_at"] == expected  # in UTC, truncated to the millisecond
    assert converted["received_at"].utcoffset() == timedelta(0)
    assert converted["envelope"]["occurred_at"] == expected
    assert schemas.validate_event(converted) == []


def test_from_json_rejects_a_timestamp_without_offset() -> None:
    data = _as_json(schemas.example_event("DossierReceived"))
    data["received_at"] = "2023-03-15T09:12:34"
    with pytest.raises(ValidationError) as caught:
        schemas.from_json(data)
    assert caught.value.field == "received_at"
    assert caught.value.value == "2023-03-15T09:12:34"
    assert "offset" in caught.value.problem


@pytest.mark.parametrize(
    ("field", "value"),
    [("appointment_date", "29/03/2023"), ("appointment_date", 19445), ("received_at", "soon")],
)
def test_from_json_rejects_malformed_dates(field: str, value: object) -> None:
    data = _as_json(schemas.example_event("DossierReceived"))
    data[field] = value
    with pytest.raises(ValidationError) as caught:
        schemas.from_json(data)
    assert (caught.value.field, caught.value.value) == (field, value)


def test_from_json_rejects_bad_uuid_and_unknown_fields() -> None:
    data = _as_json(schemas.example_event("DossierReceived"))
    data["envelope"]["event_id"] = "12345"
    with pytest.raises(ValidationError) as caught:
        schemas.from_json(data)
    assert (caught.value.field, caught.value.value) == ("envelope.event_id", "12345")
    data = _as_json(schemas.example_event("DossierReceived"))
    data["apointment_date"] = "2023-03-29"
    with pytest.raises(ValidationError) as caught:
        schemas.from_json(data)
    assert caught.value.field == "apointment_date"


def test_from_json_needs_an_event_type() -> None:
    with pytest.raises(ValidationError) as caught:
        schemas.from_json({"dossier_code": "x"})
    assert caught.value.field == "envelope.event_type"
