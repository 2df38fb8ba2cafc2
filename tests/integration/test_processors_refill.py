"""Intake records the consumer went past are read back from the broker and folded: the tables
end exactly as folding every record does.

The gap is forced, not waited for: a worker folds the first part of each intake partition, and
its successor (a restart: a new ``Handlers`` indexing the same tables) is handed records that
start some offsets beyond what the first one folded, as Faust's consumer did after a
``kill -9`` (``tests/integration/test_processors_recovery.py`` finds it only now and then).
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from dossierhub.stack import Stack
from producers import Publisher
from producers.synthetic import lifecycles
from schemas.admin import TopicAdmin
from schemas.registry import SchemaIds
from schemas.topics import DOSSIER_INTAKE, processor_topics
from stream_processors.config import ProcessorConfig
from stream_processors.handlers import Handlers, Record
from stream_processors.intake import POSITION_PREFIX, WATERMARK_PREFIX
from stream_processors.lookups import Lookups
from stream_processors.refill import IntakeReader, RefilledRecord
from tests.helpers import isolated_stack, read_topic

pytestmark = pytest.mark.timeout(300)

AGENCY = "000.00.31.H29"
#: ~80 dossiers a day over a few weeks: overdue sweeps and retention happen across the cut
DOSSIERS = 600
#: records of each partition the restarted worker's consumer goes past
SKIPPED = 40
BATCH = 150


@dataclass
class _Tables:
    """The worker's two tables, as ``app.persist`` leaves them."""

    entries: dict[str, Any] = field(default_factory=dict)
    slices: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Setup:
    stack: Stack
    #: every intake record, each partition in offset order
    records: list[RefilledRecord]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Setup]:
    with isolated_stack(tmp_path_factory.mktemp("refill")) as stack:
        admin = TopicAdmin({"bootstrap.servers": stack.kafka.bootstrap})
        assert all(r.ok for r in admin.apply(processor_topics(1)))
        publisher = Publisher(
            AGENCY,
            bootstrap=stack.kafka.bootstrap,
            schema_id_of=SchemaIds.connect(stack.registry.url).id_of,
            topic=DOSSIER_INTAKE,  # as the validator forwards them
            # the validator's partitioner (Java's murmur2): the table indexes entries by it
            producer_config={"partitioner": "murmur2_random"},
        )
        for event in lifecycles(DOSSIERS, agencies=[AGENCY], seed=11, per_day=80):
            publisher.publish(event)
        publisher.flush()  # raises unless every event was acknowledged
        read = read_topic(stack.kafka.bootstrap, DOSSIER_INTAKE)
        records = [
            RefilledRecord(
                DOSSIER_INTAKE,
                r.partition,
                r.offset,
                r.key,
                r.value,
                headers=tuple(r.headers.items()),
                timestamp=None,
            )
            for r in read
        ]
        yield _Setup(stack, sorted(records, key=lambda r: (r.offset, r.partition)))


def _handlers(stack: Stack, tables: _Tables, *, reader: IntakeReader | None) -> Handlers:
    config = ProcessorConfig(
        kafka_bootstrap=stack.kafka.bootstrap,
        registry_url=stack.registry.url,
        datadir=stack.settings.home / "unused",
    )
    return Handlers(
        config=config,
        lookups=Lookups.connect(stack.registry.url),
        table=tables.entries,
        slices=tables.slices,
        refill=None if reader is None else reader.read,
    )


async def _fold(handlers: Handlers, records: Sequence[Record]) -> None:
    """Fold in batches and persist each as ``app.persist`` does."""
    await handlers.prepare_dossiers()
    table, slices = handlers.table, handlers.slices
    for start in range(0, len(records), BATCH):
        batch = await handlers.dossier_batch(records[start : start + BATCH])
        slices.update((key, one.to_dict()) for key, one in batch.slices.items())
        for code, entry in batch.entries.items():
            if entry is None:
                table.pop(code, None)
            else:
                table[code] = entry.to_dict()
        for p in batch.moved:
            table[f"{WATERMARK_PREFIX}{p}"] = handlers.watermarks[p].isoformat()
        for p in batch.touched:
            table[f"{POSITION_PREFIX}{p}"] = handlers.positions[p]


def _restarted_beyond(setup: _Setup, reader: IntakeReader | None) -> tuple[_Tables, Handlers]:
    """A worker folds each partition's first half; its successor gets the records from
    ``SKIPPED`` offsets beyond that on."""
    cut = {p: 1 + max(r.offset for r in setup.records if r.partition == p) // 2 for p in range(6)}
    tables = _Tables()
    first = _handlers(setup.stack, tables, reader=reader)
    asyncio.run(_fold(first, [r for r in setup.records if r.offset < cut[r.partition]]))
    later = copy.deepcopy(tables)
    restarted = _handlers(setup.stack, later, reader=reader)
    beyond = [r for r in setup.records if r.offset >= cut[r.partition] + SKIPPED]
    asyncio.run(_fold(restarted, beyond))
    return later, restarted


@pytest.fixture(scope="module")
def everything(setup: _Setup) -> _Tables:
    tables = _Tables()
    asyncio.run(_fold(_handlers(setup.stack, tables, reader=None), setup.records))
    return tables


def test_records_the_consumer_went_past_are_read_back_and_folded(
    setup: _Setup, everything: _Tables
) -> None:
    reader = IntakeReader({"bootstrap.servers": setup.stack.kafka.bootstrap})
    tables, handlers = _restarted_beyond(setup, reader)
    assert handlers.counters.refilled == 6 * SKIPPED
    assert handlers.counters.skipped == 0
    assert tables.slices == everything.slices
    assert tables.entries == everything.entries


def test_without_reading_them_back_the_tables_miss_them(setup: _Setup, everything: _Tables) -> None:
    """The gap forced above changes the tables when nothing fills it (the defect it fixes)."""
    tables, handlers = _restarted_beyond(setup, None)
    assert handlers.counters.skipped == 6 * SKIPPED
    assert tables.slices != everything.slices
    assert tables.entries != everything.entries


def test_records_deleted_by_retention_are_absent_from_a_read(setup: _Setup) -> None:
    bootstrap = setup.stack.kafka.bootstrap
    topic = f"test.refill.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap})
    for n in range(10):
        producer.produce(topic, str(n).encode(), str(n).encode(), partition=0)
    assert producer.flush(30) == 0
    admin.delete_records([TopicPartition(topic, 0, 4)])[TopicPartition(topic, 0, 4)].result(30)

    refill = asyncio.run(IntakeReader({"bootstrap.servers": bootstrap}, topic=topic).read(0, 2, 8))
    assert [r.offset for r in refill.records] == [4, 5, 6, 7]
    assert [r.value for r in refill.records] == [b"4", b"5", b"6", b"7"]
    assert (refill.low, refill.missing) == (4, 2)
