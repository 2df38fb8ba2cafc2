"""Hostile bytes on an inbound topic, through the real processors on a broker of their own.

An agency's topic receives, in this order: random bytes, truncated Avro, a Confluent header with
an unknown schema id, a record of a registered schema that is no event type of the hub, a derived
event (only the hub writes those), a body written with another event type's schema id, a message
near the broker's size limit, an event from the future, and an event with a raw phone number in
a free-text field; then valid events. Each hostile record is dead-lettered with its reason and
its source, and every valid event after them reaches the canonical topic.
"""

from __future__ import annotations

import io
import json
import random
import struct
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import fastavro
import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from dossierhub.stack import Stack
from schemas import encode, event_type, example_event, inbound_topic
from schemas.admin import TopicAdmin
from schemas.registry import SchemaIds
from schemas.topics import DEADLETTER, DOSSIER_EVENTS, all_topics
from tests.fuzzing import tried
from tests.helpers import Record, read_topic, run_cli

pytestmark = pytest.mark.timeout(300)

AGENCY: Final = "000.00.15.H29"
VALID: Final = 20
#: the broker's default message.max.bytes (1 MiB + 12): a record batch may not exceed it
BROKER_MAX_BYTES: Final = 1_048_588
_FOREIGN: Final = {
    "type": "record",
    "name": "Thing",
    "namespace": "acme.test",
    "fields": [{"name": "x", "type": "int"}],
}


@dataclass
class Run:
    #: label → the bytes sent
    sent: dict[str, bytes]
    #: label → its offset on the inbound topic (partition 0)
    offsets: dict[str, int]
    dead_letters: list[Record]
    canonical: list[Record]
    valid_codes: set[str]
    stderr: str
    returncode: int


def _wire(ids: SchemaIds, event: dict[str, Any], as_type: str | None = None) -> bytes:
    known = event_type(event["envelope"]["event_type"])
    return encode(event, ids.id_of(event_type(as_type) if as_type else known), known.schema)


def _hostile(stack: Stack, ids: SchemaIds) -> dict[str, bytes]:
    rng = random.Random(8)  # reproducible bytes
    received = example_event("DossierReceived")
    resolved = example_event("DossierResolved")
    registry = SchemaRegistryClient({"url": stack.registry.url})
    foreign_id = registry.register_schema("acme.test.Thing", Schema(json.dumps(_FOREIGN), "AVRO"))
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(_FOREIGN), {"x": 7})
    derived = example_event("DossierOutcome")
    derived["envelope"]["agency_code"] = AGENCY
    future = example_event("DossierReceived")
    future["envelope"]["occurred_at"] = datetime.now(UTC) + timedelta(days=2)
    leaky = example_event("DossierResolved")
    leaky.update(decision="REFUSED", refusal_reason="Liên hệ chị Lan, SĐT 0912 345 678")
    # the largest value a batch of one record (with its key) can carry on this broker
    huge = b"\x00\x00\x00\x00\x00" + rng.randbytes(BROKER_MAX_BYTES - 200)
    return {
        "random_bytes": rng.randbytes(300),
        "truncated_avro": _wire(ids, received)[:60],
        "unknown_schema_id": struct.pack(">bI", 0, 987_654_321) + b"\x02\x04",
        "foreign_schema": struct.pack(">bI", 0, foreign_id) + body.getvalue(),
        "derived_event": _wire(ids, derived),
        "body_of_another_type": _wire(ids, resolved, as_type="DossierReceived"),
        "huge": huge,
        "future": _wire(ids, future),
        "raw_phone_in_free_text": _wire(ids, leaky),
    }


#: the dead-letter reason each hostile record gets (a set where two are right)
EXPECTED: Final = {
    "random_bytes": {"undecodable"},
    "truncated_avro": {"undecodable"},
    "unknown_schema_id": {"unknown_schema_id"},
    "foreign_schema": {"unknown_event_type"},
    "derived_event": {"unsupported_event"},
    "body_of_another_type": {"undecodable", "invalid_event"},
    "huge": {"too_large"},
    "future": {"future_timestamp"},
    "raw_phone_in_free_text": {"raw_identifier"},
}


@pytest.fixture(scope="module")
def run(own_stack: Stack) -> Run:
    stack = own_stack
    bootstrap = stack.kafka.bootstrap
    admin = TopicAdmin({"bootstrap.servers": bootstrap})
    assert all(r.ok for r in admin.apply(all_topics(1, [AGENCY])))
    ids = SchemaIds.connect(stack.registry.url)
    sent = _hostile(stack, ids)
    raw = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": BROKER_MAX_BYTES})
    offsets: dict[str, int] = {}

    def delivered(err: Any, msg: Any) -> None:
        assert err is None, err
        offsets[msg.key().decode()] = msg.offset()

    topic = inbound_topic(AGENCY)
    for label, value in sent.items():
        # one partition for all: the valid events come after the hostile ones
        raw.produce(topic, value, label.encode(), partition=0, on_delivery=delivered)
        assert raw.flush(30) == 0, label
    tried("processors: hostile records on an inbound topic", len(sent))
    codes = {f"{AGENCY}-260101-{n:04d}" for n in range(VALID)}
    for code in sorted(codes):
        event = example_event("DossierReceived", event_id=uuid.uuid4())
        event["dossier_code"] = code
        sent[code] = _wire(ids, event)
        raw.produce(topic, sent[code], code.encode(), partition=0, on_delivery=delivered)
    assert raw.flush(30) == 0
    assert len(offsets) == len(sent)
    processed = run_cli(
        "run",
        "--no-sink",
        "--until-idle",
        "--idle-seconds",
        "3",
        "--timeout",
        "150",
        "--app-id",
        "hostile",
        home=stack.settings.home,
        timeout=240,
    )
    return Run(
        sent=sent,
        offsets=offsets,
        dead_letters=read_topic(bootstrap, DEADLETTER),
        canonical=read_topic(bootstrap, DOSSIER_EVENTS),
        valid_codes=codes,
        stderr=processed.stderr,
        returncode=processed.returncode,
    )


def test_the_processors_survive_and_stop_once_idle(run: Run) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]


def test_each_hostile_record_is_dead_lettered_with_its_reason(run: Run) -> None:
    by_offset = {int(r.headers["dh.source.offset"]): r for r in run.dead_letters}
    seen = Counter(r.headers["dh.reason"] for r in run.dead_letters)
    reasons = {}
    for label, expected in EXPECTED.items():
        letter = by_offset.get(run.offsets[label])
        assert letter is not None, (label, seen, run.stderr[-2000:])
        reasons[label] = letter.headers["dh.reason"].decode()
        assert reasons[label] in expected, (label, letter.headers)
        assert letter.headers["dh.source.topic"] == inbound_topic(AGENCY).encode()
        assert b"\n" not in letter.headers["dh.error"]
        if label == "huge":  # cut short, saying how big it was
            assert letter.headers["dh.truncated_from"] == str(len(run.sent[label])).encode()
            assert run.sent[label].startswith(letter.value)
        else:  # the agency's bytes, unchanged
            assert letter.value == run.sent[label]
    assert len(run.dead_letters) == len(EXPECTED), reasons


def test_no_raw_value_is_repeated_in_a_dead_letters_headers(run: Run) -> None:
    [leaky] = [r for r in run.dead_letters if r.headers["dh.reason"] == b"raw_identifier"]
    assert leaky.headers["dh.error"].startswith(b"refusal_reason holds what looks like a raw")
    assert b"345" not in b"".join(leaky.headers.values())


def test_every_valid_event_after_them_reaches_the_canonical_topic(run: Run) -> None:
    arrived = Counter(r.key.decode() for r in run.canonical if r.key is not None)
    assert set(arrived) == run.valid_codes
    assert set(arrived.values()) == {1}
    assert {r.value for r in run.canonical} == {run.sent[c] for c in run.valid_codes}
