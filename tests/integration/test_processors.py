"""The stream processors end to end on the real broker and registry: an agency publishes with
the SDK, ``dossierhub run --until-idle`` processes, and the topics are read back."""

from __future__ import annotations

import json
import struct
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro
import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient

from dossierhub.settings import Settings
from dossierhub.stack import Stack
from producers import Publisher
from schemas import decode, example_event, inbound_topic
from schemas.registry import SchemaIds
from schemas.topics import (
    AGGREGATES,
    DEADLETTER,
    DOSSIER_EVENTS,
    DOSSIER_INTAKE,
    DOSSIER_OUTCOMES,
)
from stream_processors.eventtime import HEADER_LOW_WATERMARK, low_watermark_of
from tests.helpers import Record, read_topic, run_cli

# One run of the processors for the whole module: every assertion reads its result.
pytestmark = pytest.mark.timeout(300)


@dataclass
class Run:
    agency: str
    codes: dict[str, str]  # scenario → dossier code
    #: event label → the bytes the SDK published
    published: dict[str, bytes]
    inbound: list[Record]
    canonical: list[Record]
    #: this run's dossiers' records on the intake topic
    intake: list[Record]
    outcomes: list[Record]
    dead_letters: list[Record]
    #: AggregateUpdated slices of this agency's dimension
    aggregates: list[Record]
    stderr: str
    returncode: int


def _agency(seed: uuid.UUID) -> str:
    n = seed.int
    return f"{n % 1000:03d}.{n // 1000 % 100:02d}.{n // 100000 % 100:02d}.T{n // 10**7 % 100:02d}"


def _vn(day: int, hour: int = 10) -> datetime:
    """``day`` March 2023 at ``hour`` in Ho Chi Minh City."""
    return datetime(2023, 3, day, hour - 7, tzinfo=UTC)


def _received(code: str, agency: str, event_id: uuid.UUID) -> dict[str, Any]:
    event = example_event("DossierReceived", event_id=event_id)  # appointment 29 March 2023
    event["dossier_code"] = code
    event["envelope"]["agency_code"] = agency
    # the agency resolves its own dossiers: its dimension of the aggregates is this run's alone
    event.update(receiving_agency_code=agency, resolving_agency_code=agency)
    return event


def _resolved(code: str, agency: str, event_id: uuid.UUID, at: datetime) -> dict[str, Any]:
    event = example_event("DossierResolved", event_id=event_id)
    event.update(dossier_code=code, resolved_at=at)
    event["envelope"].update(agency_code=agency, occurred_at=at)
    return event


@pytest.fixture(scope="module")
def run(stack: Stack, settings: Settings, applied_contract: None) -> Run:
    seed = uuid.uuid4()
    agency, other = _agency(seed), _agency(uuid.uuid4())
    applied = run_cli("topics", "apply", "--agency", agency, home=settings.home)
    assert applied.returncode == 0, applied.stderr
    bootstrap = stack.kafka.bootstrap
    ids = SchemaIds.connect(stack.registry.url)
    publisher = Publisher(agency, bootstrap=bootstrap, schema_id_of=ids.id_of)
    codes = {
        name: f"{agency}-230315-{n:04d}"
        for n, name in enumerate(
            ("on_time", "late", "duplicate", "wrong_agency", "released", "refused", "future"), 1
        )
    }

    def eid(label: str) -> uuid.UUID:
        return uuid.uuid5(seed, label)

    now = datetime.now(UTC)
    future = _received(codes["future"], agency, eid("future"))
    future.update(received_at=now + timedelta(days=1))
    future["appointment_date"] = (now + timedelta(days=30)).date()
    future["envelope"]["occurred_at"] = now + timedelta(days=1)
    events = {
        "on_time.received": _received(codes["on_time"], agency, eid("1r")),
        "on_time.resolved": _resolved(codes["on_time"], agency, eid("1s"), _vn(29)),
        "late.received": _received(codes["late"], agency, eid("2r")),
        "late.resolved": _resolved(codes["late"], agency, eid("2s"), _vn(31)),
        "duplicate.received": _received(codes["duplicate"], agency, eid("3r")),
        "duplicate.again": _received(codes["duplicate"], agency, eid("3r")),
        # resolved first: held until its reception arrives, then released
        "released.resolved": _resolved(codes["released"], agency, eid("5s"), _vn(28)),
        "released.received": _received(codes["released"], agency, eid("5r")),
        "refused.received": _received(codes["refused"], agency, eid("6r")),
        "refused.again": _received(codes["refused"], agency, eid("6r2")),  # a 2nd reception
        "future.received": future,
    }
    for event in events.values():
        publisher.publish(event)
    assert publisher.flush() == len(events)
    # another agency's event, sent to this agency's topic
    intruder = Publisher(
        other, bootstrap=bootstrap, schema_id_of=ids.id_of, topic=inbound_topic(agency)
    )
    intruder.publish(_received(codes["wrong_agency"], other, eid("4r")))
    assert intruder.flush() == 1
    raw = Producer({"bootstrap.servers": bootstrap})
    raw.produce(inbound_topic(agency), b"random bytes, not Avro", b"garbage")
    unknown_id = struct.pack(">bI", 0, 987_654_321) + b"\x02\x04"
    raw.produce(inbound_topic(agency), unknown_id, b"unknown-id")
    assert raw.flush(30) == 0

    processed = run_cli(
        "run",
        "--until-idle",
        "--idle-seconds",
        "3",
        "--timeout",
        "150",
        "--app-id",
        f"test-processors-{seed.hex[:12]}",
        home=settings.home,
        timeout=240,
    )
    inbound = read_topic(bootstrap, inbound_topic(agency))
    by_value = {r.value: r for r in inbound}
    published = {label: by_value_of(by_value, label, events) for label in events}
    mine = set(codes.values())

    def of_mine(records: list[Record]) -> list[Record]:
        return [r for r in records if r.key is not None and r.key.decode() in mine]

    return Run(
        agency=agency,
        codes=codes,
        published=published,
        inbound=inbound,
        canonical=of_mine(read_topic(bootstrap, DOSSIER_EVENTS)),
        intake=of_mine(read_topic(bootstrap, DOSSIER_INTAKE)),
        outcomes=of_mine(read_topic(bootstrap, DOSSIER_OUTCOMES)),
        dead_letters=[
            r
            for r in read_topic(bootstrap, DEADLETTER)
            if r.headers.get("dh.source.topic") == inbound_topic(agency).encode()
        ],
        aggregates=[
            r
            for r in read_topic(bootstrap, AGGREGATES)
            if r.key is not None and f"|AGENCY|{agency}|".encode() in r.key
        ],
        stderr=processed.stderr,
        returncode=processed.returncode,
    )


def by_value_of(by_value: dict[bytes, Record], label: str, events: dict[str, Any]) -> bytes:
    """The published bytes of ``label``: the inbound record whose body carries its event id."""
    event_id = str(events[label]["envelope"]["event_id"]).encode()
    matches = [value for value in by_value if event_id in value]
    assert matches, label
    return matches[0]


def _why(run: Run) -> str:
    """The dead letters' reasons and errors, to say why an event is missing."""
    return "\n".join(
        f"{r.headers.get('dh.reason')!r}: {r.headers.get('dh.error')!r}" for r in run.dead_letters
    )


def test_the_run_stops_by_itself_once_idle(run: Run) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    assert "idle: every group caught up" in run.stderr
    assert "dead_lettered=" in run.stderr  # the progress line


def test_the_canonical_topic_holds_exactly_the_accepted_events_byte_for_byte(run: Run) -> None:
    accepted = [
        "on_time.received",
        "on_time.resolved",
        "late.received",
        "late.resolved",
        "duplicate.received",
        "released.received",
        "released.resolved",
        "refused.received",
    ]
    assert Counter(r.value for r in run.canonical) == Counter(run.published[a] for a in accepted), (
        _why(run)
    )
    # per dossier, in the order the hub accepted them: the held resolution after its reception
    released = [r.value for r in run.canonical if r.key == run.codes["released"].encode()]
    assert released == [run.published["released.received"], run.published["released.resolved"]]


def test_the_validator_stamps_each_intake_record_with_a_low_watermark_that_never_goes_back(
    run: Run,
) -> None:
    """Event-time alignment is wired: the dossier stage gets the validator's low watermark on
    every record (one validator run: it only grows along each intake partition)."""
    assert run.intake
    by_partition: dict[int, list[Record]] = {}
    for record in run.intake:
        assert HEADER_LOW_WATERMARK in record.headers, record.headers
        by_partition.setdefault(record.partition, []).append(record)
    for records in by_partition.values():
        stamps = [
            low_watermark_of(tuple(r.headers.items()))
            for r in sorted(records, key=lambda r: r.offset)
        ]
        assert None not in stamps
        known = [s for s in stamps if s is not None]
        assert known == sorted(known), stamps  # HOLD (nothing known yet) sorts first


def test_a_duplicate_reaches_the_canonical_topic_once(run: Run) -> None:
    duplicate = [r for r in run.canonical if r.key == run.codes["duplicate"].encode()]
    assert len(duplicate) == 1


def test_outcomes_have_the_expected_classes(run: Run, stack: Stack) -> None:
    client = SchemaRegistryClient({"url": stack.registry.url})

    def lookup(schema_id: int) -> Any:
        return fastavro.parse_schema(json.loads(client.get_schema(schema_id).schema_str))

    classes = {}
    for record in run.outcomes:
        _, outcome = decode(record.value, lookup)
        classes[outcome["dossier_code"]] = outcome["outcome_class"]
        assert outcome["envelope"]["producer_system"] == "dossierhub"
    assert classes == {
        run.codes["on_time"]: "ON_TIME",
        run.codes["late"]: "OVERDUE",
        run.codes["released"]: "EARLY",
    }


def test_dead_letters_carry_the_reason_and_the_agencys_record(run: Run) -> None:
    reasons = Counter(r.headers["dh.reason"].decode() for r in run.dead_letters)
    assert reasons == Counter(
        {
            "duplicate_event": 1,
            "agency_mismatch": 1,
            "undecodable": 1,
            "unknown_schema_id": 1,
            "transition_not_allowed": 1,
            "future_timestamp": 1,
        }
    )
    inbound = {(r.partition, r.offset): r for r in run.inbound}
    for letter in run.dead_letters:
        source = inbound[
            int(letter.headers["dh.source.partition"]), int(letter.headers["dh.source.offset"])
        ]
        assert letter.value == source.value  # the agency's bytes, unchanged
        assert letter.headers["dh.error"]
    by_reason = {r.headers["dh.reason"].decode(): r for r in run.dead_letters}
    assert by_reason["duplicate_event"].value == run.published["duplicate.again"]
    assert by_reason["transition_not_allowed"].value == run.published["refused.again"]
    assert by_reason["future_timestamp"].value == run.published["future.received"]


def test_the_aggregates_count_what_the_canonical_topics_hold(run: Run, stack: Stack) -> None:
    registry = SchemaRegistryClient({"url": stack.registry.url})

    def lookup(schema_id: int) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(registry.get_schema(schema_id).schema_str)
        return parsed

    newest: dict[tuple[str, str, int], dict[str, Any]] = {}
    for record in run.aggregates:
        _, update = decode(record.value, lookup)
        slot = (update["window_kind"], str(update["window_start"]), update["source_partition"])
        if slot not in newest or update["as_of_offset"] > newest[slot]["as_of_offset"]:
            newest[slot] = update
    assert newest, "no aggregate slice for the agency"

    def total(kind: str, counter: str) -> int:
        return sum(u["counts"][counter] for (k, _, _), u in newest.items() if k == kind)

    types = Counter(decode(r.value, lookup)[1]["envelope"]["event_type"] for r in run.canonical)
    assert total("YEAR", "received") == types["DossierReceived"] == total("DAY", "received")
    classes = Counter(decode(r.value, lookup)[1]["outcome_class"] for r in run.outcomes)
    assert total("YEAR", "resolved") == sum(classes.values())
    assert total("YEAR", "resolved_overdue") == classes["OVERDUE"]
    still_open = types["DossierReceived"] - sum(classes.values())
    assert total("YEAR", "in_progress") == still_open
