"""Confluent framing, round trips, schema evolution and the dead-letter errors."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer

import schemas
from schemas import catalog
from schemas.errors import (
    IncompatibleReaderSchemaError,
    UndecodableMessageError,
    UnencodableEventError,
)

EVENT_TYPES = schemas.event_types()


def _lookup(schema: dict[str, Any], schema_id: int = 7) -> schemas.SchemaLookup:
    return {schema_id: schema}.get


def _parse(schema: dict[str, Any]) -> dict[str, Any]:
    parsed = parse_schema(schema)
    assert isinstance(parsed, dict)
    return parsed


@pytest.mark.parametrize("known", EVENT_TYPES, ids=lambda t: t.name)
def test_every_event_type_round_trips_field_by_field(known: catalog.EventType) -> None:
    event = schemas.example_event(known.name)
    assert schemas.validate_event(event) == []
    data = schemas.encode(event, 7, known.schema)
    schema_id, decoded = schemas.decode(data, _lookup(known.schema))
    assert schema_id == 7
    assert decoded.keys() == event.keys()
    for name, value in event.items():
        assert decoded[name] == value, name


@pytest.mark.parametrize("known", EVENT_TYPES, ids=lambda t: t.name)
def test_compiled_writer_matches_fastavro_byte_for_byte(known: catalog.EventType) -> None:
    event = schemas.example_event(known.name)
    reference = BytesIO()
    schemaless_writer(reference, known.schema, event)
    assert schemas.encode(event, 7, known.schema)[5:] == reference.getvalue()


def test_golden_confluent_framing() -> None:
    # A failure here means the bytes on the wire changed for an unchanged event: either the
    # contract changed (regenerate deliberately) or the writer broke.
    event = {
        "envelope": {
            "event_id": uuid.UUID("307ab485-91da-5e89-b1f5-87a2cca9ae3d"),
            "event_type": "WithdrawalRequested",
            "schema_version": 1,
            "occurred_at": datetime(2023, 3, 18, 2, 12, 34, 567000, tzinfo=UTC),
            "recorded_at": datetime(2023, 3, 18, 2, 12, 36, 567000, tzinfo=UTC),
            "agency_code": "000.00.15.H29",
            "producer_system": "hcmc-tthc-information-system",
            "correlation_id": "example-2023-03",
            "causation_id": None,
            "rule_regime": "ND61_107",
        },
        "dossier_code": "000.00.15.H29-230315-0042",
        "requested_at": datetime(2023, 3, 18, 2, 12, 34, 567000, tzinfo=UTC),
        "reason_text": None,
    }
    data = schemas.encode(event, 42, schemas.event_type("WithdrawalRequested").schema)
    assert data[:5] == b"\x00\x00\x00\x00\x2a"  # magic byte 0, schema id 42 big-endian
    assert (
        data.hex()
        == (
            "00"
            "0000002a"
            "48"
            + b"307ab485-91da-5e89-b1f5-87a2cca9ae3d".hex()  # uuid: length 36 zigzag → 0x48
            + "26"
            + b"WithdrawalRequested".hex()
            + "02"  # schema_version 1
            + "8ee2eba7de61"
            "ae81eca7de61"  # occurred_at, recorded_at (ms since epoch)
             + "1a" + b"000.00.15.H29".hex() + "38" + b"hcmc-tthc-information-system".hex() + "02"
            "1e"
            + b"example-2023-03".hex()  # union branch 1, then the string
            + "00"  # causation_id: null
            + "00"  # rule_regime: symbol 0
            + "32"
            + b"000.00.15.H29-230315-0042".hex()
            + "8ee2eba7de61"
            + "00"  # reason_text: null
        )
    )
    assert schemas.peek_schema_id(data) == 42


def test_large_schema_id_uses_four_big_endian_bytes() -> None:
    known = schemas.event_type("ServiceRated")
    data = schemas.encode(schemas.example_event("ServiceRated"), 0x01020304, known.schema)
    assert data[:5] == b"\x00\x01\x02\x03\x04"


def test_schema_id_reused_for_another_schema_is_not_served_a_stale_writer() -> None:
    rated, returned = schemas.event_type("ServiceRated"), schemas.event_type("ResultReturned")
    schemas.encode(schemas.example_event("ServiceRated"), 99, rated.schema)
    event = schemas.example_event("ResultReturned")
    data = schemas.encode(event, 99, returned.schema)
    assert schemas.decode(data, _lookup(returned.schema, 99))[1] == event


def test_unsupported_schema_falls_back_to_fastavro() -> None:
    schema = _parse(
        {
            "type": "record",
            "name": "WithMap",
            "fields": [{"name": "m", "type": {"type": "map", "values": "double"}}],
        }
    )
    data = schemas.encode({"m": {"a": 1.5}}, 5, schema)
    assert schemas.decode(data, _lookup(schema, 5)) == (5, {"m": {"a": 1.5}})


def test_evolution_v2_with_an_added_defaulted_field_reads_v1_data() -> None:
    known = schemas.event_type("DossierReceived")
    v1_event = schemas.example_event("DossierReceived")
    v1_data = schemas.encode(v1_event, 1, known.schema)

    v2_json = json.loads(known.registered_schema)
    v2_json["fields"].append(
        {
            "name": "priority_lane",
            "type": "boolean",
            "default": False,
            "doc": "Handled in the priority lane (ưu tiên). Added in v2.",
        }
    )
    v2 = _parse(v2_json)
    _, read = schemas.decode(v1_data, _lookup(known.schema, 1), reader_schema=v2)
    assert read == {**v1_event, "priority_lane": False}

    # And the other way round (forward): a v1 reader skips the new field.
    v2_data = schemas.encode({**v1_event, "priority_lane": True}, 2, v2)
    _, old_view = schemas.decode(v2_data, _lookup(v2, 2), reader_schema=known.schema)
    assert old_view == v1_event


def test_incompatible_reader_schema_is_not_a_dead_letter() -> None:
    known = schemas.event_type("ServiceRated")
    data = schemas.encode(schemas.example_event("ServiceRated"), 1, known.schema)
    reader = json.loads(known.registered_schema)
    reader["fields"].append({"name": "mandatory", "type": "string"})
    with pytest.raises(IncompatibleReaderSchemaError):
        schemas.decode(data, _lookup(known.schema, 1), reader_schema=_parse(reader))


def _framed(name: str = "ServiceRated") -> tuple[bytes, dict[str, Any]]:
    known = schemas.event_type(name)
    return schemas.encode(schemas.example_event(name), 7, known.schema), known.schema


def test_bad_magic_byte() -> None:
    data, schema = _framed()
    bad = b"\x01" + data[1:]
    with pytest.raises(UndecodableMessageError) as caught:
        schemas.decode(bad, _lookup(schema))
    assert caught.value.raw == bad
    assert "magic byte" in caught.value.reason


@pytest.mark.parametrize("size", [0, 1, 4])
def test_truncated_header(size: int) -> None:
    data, schema = _framed()
    with pytest.raises(UndecodableMessageError) as caught:
        schemas.decode(data[:size], _lookup(schema))
    assert caught.value.raw == data[:size]
    assert "truncated" in caught.value.reason


def test_truncated_body() -> None:
    data, schema = _framed()
    with pytest.raises(UndecodableMessageError) as caught:
        schemas.decode(data[:-3], _lookup(schema))
    assert caught.value.schema_id == 7


def test_unknown_schema_id() -> None:
    data, _ = _framed()
    with pytest.raises(UndecodableMessageError) as caught:
        schemas.decode(data, lambda schema_id: None)
    assert caught.value.schema_id == 7
    assert "unknown schema id 7" in caught.value.reason


def test_lookup_raising_key_error_means_unknown_id() -> None:
    data, _ = _framed()

    def lookup(schema_id: int) -> dict[str, Any]:
        raise KeyError(schema_id)

    with pytest.raises(UndecodableMessageError):
        schemas.decode(data, lookup)


def test_registry_outage_is_not_a_dead_letter() -> None:
    data, _ = _framed()

    def lookup(schema_id: int) -> dict[str, Any]:
        raise ConnectionError("registry down")

    with pytest.raises(ConnectionError):
        schemas.decode(data, lookup)


def test_trailing_bytes() -> None:
    data, schema = _framed()
    with pytest.raises(UndecodableMessageError) as caught:
        schemas.decode(data + b"\x00", _lookup(schema))
    assert "left after the record" in caught.value.reason


def test_body_written_with_another_schema() -> None:
    data, _ = _framed("DossierReceived")
    other = schemas.event_type("ServiceRated").schema
    with pytest.raises(UndecodableMessageError):
        schemas.decode(data, _lookup(other))


def test_encode_errors_are_hub_errors() -> None:
    known = schemas.event_type("ServiceRated")
    event = schemas.example_event("ServiceRated")
    del event["rated_at"]
    with pytest.raises(UnencodableEventError) as caught:
        schemas.encode(event, 3, known.schema)
    assert "rated_at" in caught.value.reason
    naive = schemas.example_event("ServiceRated")
    naive["rated_at"] = datetime(2023, 3, 29, 9, 0)
    with pytest.raises(UnencodableEventError, match="naive"):
        schemas.encode(naive, 3, known.schema)
    with pytest.raises(UnencodableEventError):
        schemas.encode(schemas.example_event("ServiceRated"), -1, known.schema)


def test_recursive_schema_falls_back_to_fastavro() -> None:
    schema = _parse(
        {
            "type": "record",
            "name": "Node",
            "fields": [
                {"name": "label", "type": "string"},
                {"name": "next", "type": ["null", "Node"], "default": None},
            ],
        }
    )
    chain = {"label": "a", "next": {"label": "b", "next": None}}
    data = schemas.encode(chain, 6, schema)
    assert schemas.decode(data, _lookup(schema, 6)) == (6, chain)
