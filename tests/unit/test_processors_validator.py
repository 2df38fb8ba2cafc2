"""The validator's checks as a pure function: bytes + lookup + clock → verdict and record."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pytest

from dossierhub.errors import ServiceUnreachableError
from schemas import encode, event_type, event_types, example_event
from schemas.topics import CATALOG_EVENTS, DEADLETTER, DOSSIER_INTAKE, inbound_topic
from stream_processors.identifiers import find_raw_identifier, free_text_paths
from stream_processors.messages import Source
from stream_processors.validator import (
    HEADER_TRUNCATED,
    MAX_FORWARD_BYTES,
    Accepted,
    Refusal,
    Refused,
    check,
    read_event,
    to_outgoing,
)

JUSTICE: Final = "000.00.15.H29"
CITY: Final = "000.00.00.H29"
#: a fake registry: one id per event type, and the writer schema of each id
SCHEMA_IDS: Final = {t.name: 100 + i for i, t in enumerate(event_types())}
WRITERS: Final[dict[int, Mapping[str, Any]]] = {SCHEMA_IDS[t.name]: t.schema for t in event_types()}
NOW: Final = datetime(2024, 1, 10, 3, 0, tzinfo=UTC)
TOLERANCE: Final = timedelta(minutes=5)
_IDS: Final = uuid.UUID("5b0b3c1e-56a4-4a4e-9a38-0c3f1f7d6a01")


def eid(label: str) -> uuid.UUID:
    """A deterministic event id per label."""
    return uuid.uuid5(_IDS, label)


def wire(event: Mapping[str, Any]) -> bytes:
    name = event["envelope"]["event_type"]
    return encode(event, SCHEMA_IDS[name], event_type(name).schema)


def lookup(schema_id: int) -> Mapping[str, Any] | None:
    return WRITERS.get(schema_id)


def verdict(raw: bytes | None, agency: str = JUSTICE) -> Accepted | Refused:
    return check(
        raw, source_topic=inbound_topic(agency), lookup=lookup, now=NOW, future_tolerance=TOLERANCE
    )


def refusal(raw: bytes | None, agency: str = JUSTICE) -> Refusal:
    result = verdict(raw, agency)
    assert isinstance(result, Refused), result
    return result.reason


def test_a_dossier_event_goes_to_the_intake_keyed_by_dossier_code() -> None:
    event = example_event("DossierReceived", event_id=eid("received"))
    result = verdict(wire(event))
    assert isinstance(result, Accepted)
    assert (result.topic, result.key) == (DOSSIER_INTAKE, event["dossier_code"])
    assert result.schema_id == SCHEMA_IDS["DossierReceived"]
    assert result.event["envelope"]["event_id"] == event["envelope"]["event_id"]


def test_a_catalog_event_goes_straight_to_its_canonical_topic() -> None:
    event = example_event("ProcedurePublished")
    result = verdict(wire(event), CITY)
    assert isinstance(result, Accepted)
    assert (result.topic, result.key) == (CATALOG_EVENTS, "1.001193")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, Refusal.UNDECODABLE),
        (b"", Refusal.UNDECODABLE),
        (b"\x01\x02\x03", Refusal.UNDECODABLE),
        (b"\x07\x00\x00\x00\x65hello", Refusal.UNDECODABLE),  # bad magic byte
        (b"\x00\x00\x01\x86\xa0" + b"\x02" * 20, Refusal.UNKNOWN_SCHEMA_ID),  # id 100000
    ],
)
def test_bytes_that_are_no_event_of_ours_are_refused(raw: bytes | None, reason: Refusal) -> None:
    assert refusal(raw) is reason


def test_a_body_that_does_not_match_its_schema_is_undecodable() -> None:
    raw = wire(example_event("DossierReceived"))
    assert refusal(raw[:40]) is Refusal.UNDECODABLE
    assert refusal(raw + b"\x00") is Refusal.UNDECODABLE


def test_a_registered_schema_that_is_no_event_type_is_refused() -> None:
    foreign = {"type": "record", "name": "acme.Thing", "fields": [{"name": "x", "type": "int"}]}
    raw = b"\x00\x00\x00\x00\x07" + b"\x02"
    result = check(
        raw,
        source_topic=inbound_topic(JUSTICE),
        lookup={7: foreign}.get,
        now=NOW,
        future_tolerance=TOLERANCE,
    )
    assert isinstance(result, Refused)
    assert result.reason is Refusal.UNKNOWN_EVENT_TYPE


def test_an_unreachable_registry_raises_instead_of_refusing() -> None:
    def down(schema_id: int) -> Mapping[str, Any] | None:
        raise ServiceUnreachableError("registry", "http://x", "connection refused")

    with pytest.raises(ServiceUnreachableError):
        check(
            wire(example_event("DossierReceived")),
            source_topic=inbound_topic(JUSTICE),
            lookup=down,
            now=NOW,
            future_tolerance=TOLERANCE,
        )


def test_the_sender_must_be_the_agency_of_the_topic() -> None:
    raw = wire(example_event("DossierReceived"))  # sent by the Department of Justice
    assert refusal(raw, "000.00.41.H29") is Refusal.AGENCY_MISMATCH
    result = verdict(raw, "000.00.41.H29")
    assert isinstance(result, Refused)
    assert result.key == "000.00.15.H29-230315-0042"  # kept on the dead letter


def test_an_event_from_the_future_is_refused_beyond_the_tolerance() -> None:
    event = example_event("DossierReceived")
    event["envelope"]["occurred_at"] = NOW + TOLERANCE - timedelta(seconds=1)
    assert isinstance(verdict(wire(event)), Accepted)
    event["envelope"]["occurred_at"] = NOW + TOLERANCE + timedelta(seconds=1)
    assert refusal(wire(event)) is Refusal.FUTURE_TIMESTAMP


def test_an_event_that_fails_validation_is_invalid() -> None:
    event = example_event("DossierReceived")
    event["procedure_code"] = "2.48"  # encodable, but not a procedure code
    result = verdict(wire(event))
    assert isinstance(result, Refused)
    assert result.reason is Refusal.INVALID_EVENT
    assert "procedure_code" in result.error


def test_envelope_event_type_must_name_the_record() -> None:
    event = example_event("DossierReceived")
    event["envelope"]["event_type"] = "DossierResolved"
    raw = encode(event, SCHEMA_IDS["DossierReceived"], event_type("DossierReceived").schema)
    assert refusal(raw) is Refusal.INVALID_EVENT


def test_derived_events_come_from_the_hub_only() -> None:
    event = example_event("DossierOutcome")
    event["envelope"]["agency_code"] = JUSTICE
    assert refusal(wire(event)) is Refusal.UNSUPPORTED_EVENT


def test_only_inbound_topics_are_checked() -> None:
    raw = wire(example_event("DossierReceived"))
    result = check(
        raw, source_topic="hub.dossier.events", lookup=lookup, now=NOW, future_tolerance=TOLERANCE
    )
    assert isinstance(result, Refused)
    assert result.reason is Refusal.NOT_AN_INBOUND_TOPIC


def test_accepted_bytes_are_forwarded_unchanged_with_their_source() -> None:
    raw = wire(example_event("DossierReceived"))
    source = Source(inbound_topic(JUSTICE), 2, 41)
    out = to_outgoing(verdict(raw), raw, source, b"agency-key")
    assert out.topic == DOSSIER_INTAKE
    assert out.value is raw
    assert out.key == b"000.00.15.H29-230315-0042"
    assert Source.from_headers(out.headers) == source


def test_refused_bytes_go_to_the_dead_letter_topic_with_reason_and_source() -> None:
    raw = b"not avro at all"
    source = Source(inbound_topic(JUSTICE), 0, 7)
    out = to_outgoing(verdict(raw), raw, source, b"agency-key")
    headers = dict(out.headers)
    assert (out.topic, out.key, out.value) == (DEADLETTER, b"agency-key", raw)
    assert headers["dh.reason"] == b"undecodable"
    assert b"\n" not in headers["dh.error"]
    assert headers["dh.source.topic"] == b"hub.inbound.000.00.15.H29"
    assert (headers["dh.source.partition"], headers["dh.source.offset"]) == (b"0", b"7")


def test_read_event_resolves_into_the_current_schema() -> None:
    event = example_event("DossierReceived")
    known, decoded = read_event(wire(event), lookup)
    assert known.name == "DossierReceived"
    assert decoded == event


# -- raw citizen identifiers in free text -----------------------------------------------------

#: the free-text fields the guard reads, per event type (an empty list for the rest): a new
#: string field lands here or not by its name and attributes, and this table makes it visible
FREE_TEXT: Final = {
    "PublicationDecisionIssued": ["issuing_authority", "legal_basis[]"],
    "ProcedurePublished": ["name"],
    "ProcedureAmended": ["name", "changed_components[]"],
    "DossierReceptionRefused": ["reason_text"],
    "DossierSupplementRequested": ["missing_items[]"],
    "DossierAssigned": ["from_unit", "to_unit"],
    "DossierStepCompleted": ["step_name", "unit"],
    "FinancialObligationRequested": ["fees[].description"],
    "DossierResolved": ["refusal_reason"],
    "WithdrawalRequested": ["reason_text"],
    "DossierStopped": ["reason_text"],
    "ApologyIssued": ["reason_text"],
    "FeedbackReceived": ["forwarded_from"],
    "FeedbackRejected": ["reason_text"],
    "FeedbackForwarded": ["reason_text"],
    "AgencyRegistered": ["name"],
    "AgencyChanged": ["name"],
    "AdministrativeUnitChanged": ["name", "legal_basis"],
    "WorkingCalendarPublished": ["source"],
}


def test_the_free_text_fields_are_the_prose_ones() -> None:
    def shown(path: tuple[str | None, ...]) -> str:
        return ".".join("[]" if step is None else step for step in path).replace(".[]", "[]")

    found = {t.name: [shown(p) for p in free_text_paths(t)] for t in event_types()}
    assert {name: paths for name, paths in found.items() if paths} == FREE_TEXT


def test_the_examples_hold_no_raw_identifier() -> None:
    for known in event_types():
        assert find_raw_identifier(known, example_event(known.name)) is None, known.name


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Công dân 079190000001 chưa ký đơn", "CCCD"),
        ("CCCD:079190000001.", "CCCD"),
        ("liên hệ 0901234567", "phone"),
        ("SĐT 0901 234 567", "phone"),
        ("SĐT 090.123.4567", "phone"),
        ("gọi +84 901 234 567 để bổ sung", "phone"),
        ("(+84)901234567", "phone"),
        ("84901234567", "phone"),
        ("0084 90 123 4567", "phone"),
        ("máy bàn 028 3829 1234", "phone"),
        ("máy bàn 02838291234;", "phone"),
        ("(028) 3829 1234", "phone"),
        ("0901-234-567", "phone"),
    ],
)
def test_a_raw_identifier_in_free_text_is_dead_lettered_by_field(text: str, kind: str) -> None:
    event = example_event("DossierResolved")
    event.update(decision="REFUSED", refusal_reason=text)
    result = verdict(wire(event))
    assert isinstance(result, Refused), result
    assert result.reason is Refusal.RAW_IDENTIFIER
    assert result.error.startswith("refusal_reason holds what looks like a raw")
    assert kind in result.error
    digits = "".join(c for c in text if c.isdigit())
    assert digits[-6:] not in result.error  # the value itself is never repeated
    out = to_outgoing(result, wire(event), Source(inbound_topic(JUSTICE), 0, 1), None)
    assert dict(out.headers)["dh.reason"] == b"raw_identifier"


@pytest.mark.parametrize(
    "text",
    [
        "Hồ sơ không thuộc thẩm quyền tiếp nhận",
        "Quyết định 1234/QĐ-UBND ngày 05.12.2023 10:30",
        "Phí 12.090.123.456 đồng",
        "Lệ phí 1,090,123,456 đồng",
        "Hồ sơ 000.00.15.H29-230315-0042",
        "mã 20230315091234",  # 14 digits: a timestamp, not a CCCD
        "mã 07919000000",  # 11 digits starting 07: neither
        "HS079190000001",  # glued to a word: a code, not a CCCD on its own
        "0123456789",  # 012 is no Vietnamese prefix any more
        "từ 2023-03-15 đến 2023-04-15",
    ],
)
def test_ordinary_free_text_passes(text: str) -> None:
    event = example_event("DossierResolved")
    event.update(decision="REFUSED", refusal_reason=text)
    assert isinstance(verdict(wire(event)), Accepted)


def test_every_element_of_nested_free_text_is_read() -> None:
    event = example_event("FinancialObligationRequested")
    event["fees"][-1]["description"] = "nộp thay cho ông B, SĐT 0912345678"
    result = verdict(wire(event))
    assert isinstance(result, Refused)
    assert result.reason is Refusal.RAW_IDENTIFIER
    assert result.error.startswith(f"fees[{len(event['fees']) - 1}].description ")
    supplement = example_event("DossierSupplementRequested")
    supplement["missing_items"] = ["Bản sao giấy khai sinh", "CCCD số 079190000001"]
    refused = verdict(wire(supplement))
    assert isinstance(refused, Refused)
    assert refused.error.startswith("missing_items[1] ")


def test_codes_and_ids_are_not_free_text() -> None:
    event = example_event("DossierReceived")
    event["receipt_no"] = "079190000001"  # a receipt number may be any digit string
    assert isinstance(verdict(wire(event)), Accepted)


# -- records too big to send on --------------------------------------------------------------


def test_a_record_too_big_to_forward_is_dead_lettered_cut_short() -> None:
    raw = b"\x00\x00\x00\x00\x65" + bytes(MAX_FORWARD_BYTES)  # over the limit by its header
    result = verdict(raw)
    assert isinstance(result, Refused)
    assert result.reason is Refusal.TOO_LARGE
    out = to_outgoing(result, raw, Source(inbound_topic(JUSTICE), 0, 3), b"k" * 5000)
    headers = dict(out.headers)
    assert out.key is None  # a 5000-byte key is no code: not copied
    assert raw.startswith(out.value)
    assert len(out.value) < 100_000
    assert headers[HEADER_TRUNCATED] == str(len(raw)).encode()
    assert headers["dh.source.offset"] == b"3"


def test_a_valid_event_whose_key_makes_it_too_big_is_not_forwarded() -> None:
    event = example_event("FeedbackReceived")
    event["feedback_id"] = "F" * (MAX_FORWARD_BYTES // 2)  # the key, and in the body too
    result = verdict(wire(event), event["envelope"]["agency_code"])
    assert isinstance(result, Refused)
    assert result.reason is Refusal.TOO_LARGE


def test_a_dead_letter_just_under_the_limit_keeps_every_byte() -> None:
    raw = b"\x07" + bytes(MAX_FORWARD_BYTES - 1)
    result = verdict(raw)
    assert isinstance(result, Refused)
    assert result.reason is Refusal.UNDECODABLE
    out = to_outgoing(result, raw, Source(inbound_topic(JUSTICE), 0, 4), b"key")
    assert (out.value, out.key) == (raw, b"key")
    assert HEADER_TRUNCATED not in dict(out.headers)
