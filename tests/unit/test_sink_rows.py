"""The warehouse columns of the contract and the rows built from decoded events (pure)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from schemas import decode, encode, event_type, example_event
from schemas.topics import AGGREGATES, DOSSIER_EVENTS, REFERENCE_EVENTS
from sinks.columns import Conversion, columns_of, is_raw_personal_data
from sinks.decoding import RawWriterSchemas
from sinks.rows import DeadLetter, PoisonValueError, TableRows, decode_into
from sinks.tables import META_COLUMNS, table_for

WHERE = ("hub.dossier.events", 3, 42)


def _row(rows: TableRows, index: int = 0) -> dict[str, Any]:
    return {name: rows.data[i][index] for i, name in enumerate(rows.spec.column_names)}


def test_every_envelope_field_and_flattened_payload_fields_are_columns() -> None:
    spec = table_for(DOSSIER_EVENTS)
    types = {c.name: c.ch_type for c in spec.columns}
    assert types["event_id"] == "UUID"
    assert types["occurred_at"] == "DateTime('UTC')"
    assert types["dossier_code"] == "String"  # in every dossier event: not Nullable
    assert types["appointment_date"] == "Nullable(Date)"  # only in some
    assert types["processing_time_value"] == "Nullable(Int32)"
    assert types["delivery_channels"] == "Array(String)"
    assert types["fees"] == "Nullable(String)"  # array of records: JSON text
    assert spec.columns[-len(META_COLUMNS) :] == META_COLUMNS


def test_a_payload_field_named_like_an_envelope_field_is_prefixed() -> None:
    names = [c.name for c in table_for(REFERENCE_EVENTS).columns]
    assert "agency_code" in names  # the envelope's: who published
    assert "payload_agency_code" in names  # the agency the event describes


def test_no_ch_type_outside_what_18_16_accepts() -> None:
    for topic in (DOSSIER_EVENTS, REFERENCE_EVENTS, AGGREGATES):
        for column in table_for(topic).columns:
            assert "DateTime64" not in column.ch_type
            assert "LowCardinality" not in column.ch_type
            assert "JSON" not in column.ch_type
            assert not column.ch_type.startswith("Nullable(Array")


@pytest.mark.parametrize(
    ("name", "field", "dropped"),
    [
        ("applicant_id_hash", {"pii": "pseudonymized"}, False),
        ("applicant_name_hash", {}, False),
        ("citizen_id", {}, True),
        ("applicant_name", {}, True),
        ("applicant_phone", {}, True),
        ("phone_number", {}, True),
        ("contact_email", {}, True),
        ("full_name", {}, True),
        ("anything", {"pii": "raw"}, True),
        ("dossier_code", {}, False),
        ("name", {}, False),  # a procedure's or agency's name
    ],
)
def test_raw_personal_data_is_recognised(name: str, field: dict[str, Any], dropped: bool) -> None:
    assert is_raw_personal_data(name, field) is dropped


def test_a_raw_personal_field_in_a_schema_never_becomes_a_column() -> None:
    schema = {
        "type": "record",
        "name": "Probe",
        "namespace": "t",
        "fields": [
            {"name": "dossier_code", "type": "string"},
            {"name": "citizen_id", "type": "string"},
            {"name": "applicant_phone", "type": ["null", "string"], "default": None},
            {"name": "applicant_id_hash", "type": "string", "pii": "pseudonymized"},
            {
                "name": "contact",
                "type": {
                    "type": "record",
                    "name": "Contact",
                    "fields": [
                        {"name": "full_name", "type": "string"},
                        {"name": "ward", "type": "string"},
                    ],
                },
            },
        ],
    }
    assert [c.name for c in columns_of(schema)] == [
        "dossier_code",
        "applicant_id_hash",
        "contact_ward",
    ]


def test_an_event_becomes_one_row_with_converted_values() -> None:
    rows = TableRows(table_for(DOSSIER_EVENTS))
    event = example_event("DossierReceived", event_id=uuid.UUID(int=7))
    rows.add(event, WHERE, 12)
    row = _row(rows)
    assert row["event_id"] == str(uuid.UUID(int=7))
    assert row["occurred_at"] == int(event["envelope"]["occurred_at"].timestamp())  # seconds
    assert row["appointment_date"] == (event["appointment_date"] - dt.date(1970, 1, 1)).days
    assert row["processing_time_unit"] == event["processing_time"]["unit"]
    assert row["carried_over"] in (0, 1)
    assert row["delivery_channels"] == []  # not in this event type
    assert row["resolved_at"] is None
    assert (row["src_topic"], row["src_partition"], row["src_offset"], row["schema_id"]) == (
        *WHERE,
        12,
    )


def test_arrays_of_records_are_stored_as_json_text() -> None:
    rows = TableRows(table_for(DOSSIER_EVENTS))
    event = example_event("FinancialObligationRequested", event_id=uuid.uuid4())
    rows.add(event, WHERE, 1)
    fees = json.loads(_row(rows)["fees"])
    assert len(fees) == len(event["fees"])
    assert next(c for c in rows.spec.columns if c.name == "fees").conversion == Conversion.JSON


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("appointment_date", dt.date(1969, 12, 31)),
        ("appointment_date", dt.date(2106, 1, 1)),
        ("received_at", dt.datetime(1960, 1, 1, tzinfo=dt.UTC)),
    ],
)
def test_a_value_clickhouse_would_mangle_is_poison_and_adds_nothing(
    field: str, value: object
) -> None:
    rows = TableRows(table_for(DOSSIER_EVENTS))
    event = example_event("DossierReceived", event_id=uuid.uuid4())
    event[field] = value
    with pytest.raises(PoisonValueError) as error:
        rows.add(event, WHERE, 1)
    assert error.value.column == field
    assert error.value.value == value
    assert rows.rows == 0
    assert all(column == [] for column in rows.data)


def test_an_event_of_another_family_is_poison_for_this_table() -> None:
    rows = TableRows(table_for(DOSSIER_EVENTS))
    with pytest.raises(PoisonValueError, match="dossier_code"):
        rows.add(example_event("FeedbackReceived", event_id=uuid.uuid4()), WHERE, 1)


def test_undecodable_bytes_become_a_dead_letter_with_the_reason() -> None:
    rows, dead = TableRows(table_for(DOSSIER_EVENTS)), DeadLetter()
    decode_into(b"\x01junk", WHERE, lambda _id: None, rows, dead)
    decode_into(b"\x00\x00\x00\x00\x09body", WHERE, lambda _id: None, rows, dead)
    assert rows.rows == 0
    assert dead.rows == 2
    reasons = dead.data[5]
    assert "magic byte" in reasons[0]
    assert "unknown schema id 9" in reasons[1]
    assert dead.data[3] == [-1, 9]  # schema ids
    assert dead.data[6][0] == b"\x01junk".hex()


@pytest.mark.parametrize(
    "name", ["DossierReceived", "FinancialObligationRequested", "DossierResolved", "ApologyIssued"]
)
def test_raw_decoding_gives_the_rows_of_typed_decoding(name: str) -> None:
    """The sink reads logical types as their raw ints; the rows must not change."""
    kind = event_type(name)
    event = example_event(name, event_id=uuid.uuid4())
    raw = encode(event, 5, kind.schema)
    raw_schema = RawWriterSchemas(lambda _id: kind.registered_schema)
    typed, untyped = TableRows(table_for(DOSSIER_EVENTS)), TableRows(table_for(DOSSIER_EVENTS))
    decode_into(raw, WHERE, lambda _id: kind.schema, typed, DeadLetter())
    decode_into(raw, WHERE, raw_schema, untyped, DeadLetter())
    assert untyped.rows == typed.rows == 1
    assert untyped.data == typed.data
    assert isinstance(decode(raw, raw_schema)[1]["envelope"]["occurred_at"], int)
