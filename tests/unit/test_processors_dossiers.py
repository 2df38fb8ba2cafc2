"""The dossier agent's per-record step as a pure function: entry + intake record → new entry
and the records to send."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from schemas import decode, example_event
from schemas.topics import DEADLETTER, DOSSIER_EVENTS, DOSSIER_OUTCOMES, inbound_topic
from stream_processors.dossier import WorkingCalendar
from stream_processors.dossiers import (
    DEFAULT_AUTHORITY_LEVEL,
    HOLD_BUFFER_FULL,
    Context,
    Entry,
    IntakeRecord,
    encode_fact,
    step,
)
from stream_processors.levels import ProcedureLevels
from stream_processors.messages import Outgoing, Source
from stream_processors.validator import read_event
from tests.unit.test_processors_validator import SCHEMA_IDS, eid, lookup, wire

CODE: Final = "000.00.15.H29-230315-0042"
CALENDAR: Final = WorkingCalendar()
RECEIVED_AT: Final = datetime(2023, 3, 15, 2, 12, tzinfo=UTC)  # appointment 29 March


def received(label: str = "received") -> dict[str, Any]:
    return example_event("DossierReceived", event_id=eid(label))


def resolved(at: datetime, label: str = "resolved") -> dict[str, Any]:
    event = example_event("DossierResolved", event_id=eid(label))
    event["resolved_at"] = at
    event["envelope"]["occurred_at"] = at
    return event


def context(
    *,
    watermark: datetime | None = None,
    max_held: int = 100,
    levels: ProcedureLevels | None = None,
) -> Context:
    known_levels = levels or ProcedureLevels()
    return Context(
        calendar=CALENDAR,
        decode=lambda raw: read_event(raw, lookup)[1],
        encode_fact=lambda fact: encode_fact(
            fact, schema_id_of=lambda t: SCHEMA_IDS[t.name], authority_level=known_levels
        ),
        authority_level=known_levels,
        watermark=watermark,
        max_hold=timedelta(days=7),
        max_held=max_held,
    )


def record(event: Mapping[str, Any], offset: int) -> IntakeRecord:
    source = Source(inbound_topic("000.00.15.H29"), 1, 1000 + offset)
    return IntakeRecord(wire(event), event["dossier_code"].encode(), offset, source)


def feed(
    events: Sequence[Mapping[str, Any]], entry: Entry | None = None, **options: Any
) -> tuple[Entry | None, list[Outgoing]]:
    """Run the step over ``events`` (offsets 0, 1, …), carrying the entry and the watermark
    as the agent does; returns the last entry and everything sent."""
    sent: list[Outgoing] = []
    watermark = options.pop("watermark", None)
    offset = entry.last_offset + 1 if entry is not None else 0
    for event in events:
        result = step(entry, record(event, offset), context(watermark=watermark, **options))
        entry, watermark = result.entry, result.watermark
        sent.extend(result.messages)
        offset += 1
    return entry, sent


def on(topic: str, sent: Sequence[Outgoing]) -> list[Outgoing]:
    return [m for m in sent if m.topic == topic]


def reasons(sent: Sequence[Outgoing]) -> list[str]:
    return [dict(m.headers)["dh.reason"].decode() for m in on(DEADLETTER, sent)]


def outcome_classes(sent: Sequence[Outgoing]) -> list[str]:
    return [decode(m.value, lookup)[1]["outcome_class"] for m in on(DOSSIER_OUTCOMES, sent)]


def vn(day: int, hour: int = 10) -> datetime:
    return datetime(2023, 3, day, hour - 7, tzinfo=UTC)


def test_an_applied_event_is_forwarded_byte_for_byte_and_its_outcome_published() -> None:
    events = [received(), resolved(vn(29))]
    entry, sent = feed(events)
    assert [m.value for m in on(DOSSIER_EVENTS, sent)] == [wire(e) for e in events]
    assert all(m.key == CODE.encode() for m in sent)
    assert outcome_classes(sent) == ["ON_TIME"]
    assert entry is not None
    assert entry.state is not None
    assert entry.last_offset == 1


def test_the_outcome_fact_has_a_hub_envelope_and_a_deterministic_id() -> None:
    _, sent = feed([received(), resolved(vn(31))])
    (outcome,) = on(DOSSIER_OUTCOMES, sent)
    schema_id, fact = decode(outcome.value, lookup)
    assert schema_id == SCHEMA_IDS["DossierOutcome"]
    envelope = fact["envelope"]
    assert envelope["agency_code"] == "000.00.00.H29"
    assert envelope["producer_system"] == "dossierhub"
    assert envelope["causation_id"] == str(eid("resolved"))
    assert fact["outcome_class"] == "OVERDUE"
    assert fact["due_date"] == date(2023, 3, 29)
    _, again = feed([received(), resolved(vn(31))])
    assert again == sent  # a replay writes identical bytes


def test_the_level_comes_from_the_catalog_else_the_documented_default() -> None:
    _, sent = feed([received(), resolved(vn(27))])
    assert decode(on(DOSSIER_OUTCOMES, sent)[0].value, lookup)[1]["authority_level"] == (
        DEFAULT_AUTHORITY_LEVEL
    )
    levels = ProcedureLevels()
    published = example_event("ProcedurePublished")
    published["procedure_code"] = received()["procedure_code"]
    assert levels.observe(published)  # COMMUNE in the example
    _, sent = feed([received(), resolved(vn(27))], levels=levels)
    assert decode(on(DOSSIER_OUTCOMES, sent)[0].value, lookup)[1]["authority_level"] == "COMMUNE"
    assert outcome_classes(sent) == ["EARLY"]


def test_a_resolution_before_its_reception_is_held_then_released() -> None:
    early = resolved(vn(28))
    entry, sent = feed([early])
    assert sent == []
    assert entry is not None
    assert [h.event_id for h in entry.held] == [str(eid("resolved"))]
    entry, sent = feed([received()], entry)
    assert entry is not None
    assert entry.held == ()
    assert [m.value for m in on(DOSSIER_EVENTS, sent)] == [wire(received()), wire(early)]
    assert outcome_classes(sent) == ["EARLY"]


def test_an_agencys_duplicate_is_dead_lettered_and_forwarded_once() -> None:
    _, sent = feed([received(), received()])
    assert len(on(DOSSIER_EVENTS, sent)) == 1
    assert reasons(sent) == ["duplicate_event"]
    letter = on(DEADLETTER, sent)[0]
    assert letter.value == wire(received())
    assert dict(letter.headers)["dh.source.offset"] == b"1001"  # the agency's record


def test_a_redelivery_after_a_restart_is_forwarded_again_and_not_dead_lettered() -> None:
    entry, _ = feed([received()])
    assert entry is not None
    result = step(entry, record(received(), 0), context())
    assert result.redelivered
    assert result.entry == entry
    assert [m.topic for m in result.messages] == [DOSSIER_EVENTS]


def test_a_transition_the_table_forbids_is_dead_lettered() -> None:
    _, sent = feed([received(), received("received again")])
    assert reasons(sent) == ["transition_not_allowed"]


def test_a_duplicate_of_a_held_event_is_dead_lettered() -> None:
    entry, sent = feed([resolved(vn(28)), resolved(vn(28))])
    assert entry is not None
    assert len(entry.held) == 1
    assert reasons(sent) == ["duplicate_event"]


def test_the_hold_buffer_is_bounded() -> None:
    entry, sent = feed(
        [resolved(vn(28), "first"), resolved(vn(28), "second")],
        max_held=1,
    )
    assert entry is not None
    assert len(entry.held) == 1
    assert reasons(sent) == [HOLD_BUFFER_FULL]


def test_held_events_expire_once_the_watermark_is_past_the_hold_window() -> None:
    entry, sent = feed([resolved(vn(20))])
    assert entry is not None
    assert sent == []
    later = entry
    result = step(later, record(resolved(vn(28), "other"), 5), context(watermark=vn(28)))
    assert result.watermark == vn(28)
    assert reasons(result.messages) == ["held_too_long"]
    assert [h.event_id for h in result.entry.held] == [str(eid("other"))]


def test_an_undecodable_intake_record_is_dead_lettered() -> None:
    broken = replace(record(received(), 0), raw=b"\x00\x00\x00\x00\x01junk")
    result = step(None, broken, context())
    assert reasons(result.messages) == ["undecodable"]
    assert result.entry.last_offset == 0


def test_the_entry_survives_its_json_round_trip() -> None:
    holding, _ = feed([resolved(vn(28))])
    resolved_entry, _ = feed([received(), resolved(vn(29))])
    for entry in (holding, resolved_entry):
        assert entry is not None
        assert Entry.from_dict(json.loads(json.dumps(entry.to_dict()))) == entry
