"""The sink on the real broker and registry, into both backends (chDB and the 18.16 server)."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from dossierhub.settings import Settings
from dossierhub.stack import Stack
from schemas import encode, event_type, example_event
from schemas.registry import SchemaIds
from schemas.topics import DOSSIER_EVENTS
from sinks.sink import Sink, SinkOptions, SinkStats
from sinks.tables import table_specs
from sinks.warehouse import Warehouse, connect
from sinks.warehouse.migrate import migrate, migrations
from tests.sink_helpers import create_topic, expected_counts, publish, synthetic_events

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("applied_contract")]


def _sink(stack: Stack, settings: Settings, url: str, topic: str, batch_rows: int) -> Sink:
    local = Settings(home=settings.home, warehouse_url=url, sink_batch_rows=batch_rows)
    options = SinkOptions.from_settings(local, routes={topic: DOSSIER_EVENTS}, group_id=topic)
    return Sink(local, options)


def _load(stack: Stack, settings: Settings, url: str, topic: str, batch_rows: int) -> SinkStats:
    return _sink(stack, settings, url, topic, batch_rows).run_until_idle(timeout_s=120)


def _counts(warehouse: Warehouse, topic: str) -> tuple[int, int]:
    rows = warehouse.query(
        "SELECT count(), uniqExact(src_partition, src_offset) FROM events_dossier "
        f"WHERE src_topic = '{topic}'"
    )
    return int(rows[0][0]), int(rows[0][1])


def _wait_mutations(warehouse: Warehouse, sql_count: str) -> None:
    deadline = time.monotonic() + 60
    while int(warehouse.query(sql_count)[0][0]) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_migrated_tables_have_the_columns_of_the_contract(warehouse_url: str) -> None:
    with connect(warehouse_url) as warehouse:
        assert [m.version for m in migrate(warehouse)] == [m.version for m in migrations()]
        assert migrate(warehouse) == []  # idempotent
        for spec in table_specs():
            described = warehouse.query(f"DESCRIBE TABLE {spec.name}")
            assert [(r[0], r[1]) for r in described] == [(c.name, c.ch_type) for c in spec.columns]


def test_each_event_is_loaded_once_with_its_values(
    stack: Stack, settings: Settings, warehouse_url: str
) -> None:
    topic = f"test.sink.{uuid.uuid4().hex[:10]}"
    create_topic(stack.kafka.bootstrap, topic)
    events = list(synthetic_events(3_000))
    publish(stack.kafka.bootstrap, stack.registry.url, topic, events)

    stats = _load(stack, settings, warehouse_url, topic, batch_rows=700)
    assert (stats.rows, stats.dead_letters) == (3_000, 0)
    assert stats.batches >= 4  # batched by size, not one insert

    again = _load(stack, settings, warehouse_url, topic, batch_rows=700)
    assert again.messages == 0  # resumes after the confirmed ranges

    # the confirmed offsets are committed for lag monitoring: nothing left to read
    probe = Consumer({"bootstrap.servers": stack.kafka.bootstrap, "group.id": topic})
    try:
        committed = probe.committed([TopicPartition(topic, p) for p in range(6)], timeout=10)
        ends = [probe.get_watermark_offsets(tp, timeout=10)[1] for tp in committed]
    finally:
        probe.close()
    assert [tp.offset for tp in committed] == ends

    with connect(warehouse_url) as warehouse:
        assert _counts(warehouse, topic) == (3_000, 3_000)
        loaded = warehouse.query(
            "SELECT event_type, substring(dossier_code, 15, 6), count() FROM events_dossier "
            f"WHERE src_topic = '{topic}' GROUP BY event_type, substring(dossier_code, 15, 6)"
        )
        assert {(t, d): n for t, d, n in loaded} == dict(expected_counts(events))
        first = events[0]
        row = warehouse.query(
            "SELECT event_id, occurred_at, channel, appointment_date, processing_time_value "
            f"FROM events_dossier WHERE src_topic = '{topic}' "
            f"AND event_id = '{first['envelope']['event_id']}'"
        )
        assert row == [
            (
                str(first["envelope"]["event_id"]),
                first["envelope"]["occurred_at"].replace(tzinfo=None, microsecond=0),
                first["channel"],
                first["appointment_date"],
                first["processing_time"]["value"],
            )
        ]
        states = warehouse.query(
            f"SELECT state, count() FROM sink_ranges WHERE src_topic = '{topic}' GROUP BY state"
        )
        pending, confirmed = dict(states)["pending"], dict(states)["confirmed"]
        assert pending == confirmed == stats.ranges


def test_a_pending_range_is_verified_or_deleted_and_redone(
    stack: Stack, settings: Settings, warehouse_url: str
) -> None:
    """The two crash outcomes, made deterministically: the confirmation lost after a complete
    insert (confirmed by the count, nothing re-inserted), and a partial insert (deleted, and
    loaded again from Kafka)."""
    topic = f"test.sink.{uuid.uuid4().hex[:10]}"
    create_topic(stack.kafka.bootstrap, topic, partitions=2)
    publish(stack.kafka.bootstrap, stack.registry.url, topic, list(synthetic_events(1_000)))
    _load(stack, settings, warehouse_url, topic, batch_rows=10_000)

    where = f"src_topic = '{topic}'"
    with connect(warehouse_url) as warehouse:
        # "killed between the insert and the confirmation": forget the confirmations
        warehouse.execute(f"ALTER TABLE sink_ranges DELETE WHERE {where} AND state = 'confirmed'")
        _wait_mutations(
            warehouse, f"SELECT count() FROM sink_ranges WHERE {where} AND state = 'confirmed'"
        )
    stats = _load(stack, settings, warehouse_url, topic, batch_rows=10_000)
    assert (stats.settled_confirmed, stats.settled_aborted, stats.rows) == (2, 0, 0)

    with connect(warehouse_url) as warehouse:
        assert _counts(warehouse, topic) == (1_000, 1_000)
        partition_0 = int(
            warehouse.query(
                f"SELECT count() FROM events_dossier WHERE {where} AND src_partition = 0"
            )[0][0]
        )
        # "killed during the insert": half the rows of partition 0 missing, range pending
        warehouse.execute(
            f"ALTER TABLE sink_ranges DELETE WHERE {where} AND state = 'confirmed' "
            "AND src_partition = 0"
        )
        warehouse.execute(
            f"ALTER TABLE events_dossier DELETE WHERE {where} AND src_partition = 0 "
            "AND src_offset % 2 = 0"
        )
        _wait_mutations(
            warehouse,
            f"SELECT (SELECT count() FROM events_dossier WHERE {where} AND src_partition = 0 "
            f"AND src_offset % 2 = 0) + (SELECT count() FROM sink_ranges WHERE {where} "
            "AND state = 'confirmed' AND src_partition = 0)",
        )
        assert _counts(warehouse, topic)[0] < 1_000
    stats = _load(stack, settings, warehouse_url, topic, batch_rows=10_000)
    assert (stats.settled_confirmed, stats.settled_aborted) == (0, 1)
    assert stats.rows == partition_0  # the whole range of partition 0 loaded again
    with connect(warehouse_url) as warehouse:
        assert _counts(warehouse, topic) == (1_000, 1_000)


def test_undecodable_and_poison_messages_go_to_the_dead_letter_table(
    stack: Stack, settings: Settings, warehouse_url: str
) -> None:
    topic = f"test.sink.{uuid.uuid4().hex[:10]}"
    create_topic(stack.kafka.bootstrap, topic, partitions=1)
    received = event_type("DossierReceived")
    schema_id = SchemaIds.connect(stack.registry.url).id_of(received)
    good = example_event("DossierReceived", event_id=uuid.uuid4())
    poison = example_event("DossierReceived", event_id=uuid.uuid4())
    poison["appointment_date"] = dt.date(1969, 12, 31)  # Avro allows it; 18.16 would wrap it
    producer = Producer({"bootstrap.servers": stack.kafka.bootstrap})
    for value in (
        encode(good, schema_id, received.schema),
        b"\x00\x00\x00\x00\x07not avro",
        encode(poison, schema_id, received.schema),
        b"plain text",
    ):
        producer.produce(topic, value=value, key=b"k")
    assert producer.flush(30) == 0

    stats = _load(stack, settings, warehouse_url, topic, batch_rows=100)
    assert (stats.rows, stats.dead_letters) == (1, 3)
    with connect(warehouse_url) as warehouse:
        dead = warehouse.query(
            "SELECT src_offset, event_type, reason FROM sink_deadletter "
            f"WHERE src_topic = '{topic}' ORDER BY src_offset"
        )
        assert [(offset, kind) for offset, kind, _ in dead] == [
            (1, ""),
            (2, "DossierReceived"),
            (3, ""),
        ]
        assert "undecodable" in dead[0][2]
        assert "appointment_date" in dead[1][2]
        assert "magic byte" in dead[2][2]
        assert _counts(warehouse, topic) == (1, 1)
