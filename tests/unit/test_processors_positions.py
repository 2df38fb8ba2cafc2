"""The dossier stage's own read position: records the consumer went past without any batch
folding them (Faust's consumer was seen doing so after a crash) are read back and folded first,
and reported when the topic no longer holds them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stream_processors.config import ProcessorConfig
from stream_processors.dossiers import IntakeRecord
from stream_processors.handlers import Handlers
from stream_processors.intake import (
    POSITION_PREFIX,
    Alarms,
    IntakeBatch,
    position_value,
    read_position,
)
from stream_processors.lookups import Lookups
from stream_processors.messages import Source
from stream_processors.refill import Refill, RefilledRecord
from tests.unit.test_processors_dossiers import context, received, wire


@dataclass
class _Record:
    partition: int
    offset: int
    topic: str = "hub.dossier.intake"
    key: Any = None
    value: Any = None
    headers: Any = None


def _handlers(positions: dict[int, int]) -> Handlers:
    config = ProcessorConfig(kafka_bootstrap="-", registry_url="-", datadir=Path("-"))
    # as the worker finds them: persisted in the table, read when it indexes the table
    table = {f"{POSITION_PREFIX}{partition}": done for partition, done in positions.items()}
    handlers = Handlers(config=config, lookups=Lookups(lambda _: None, lambda _: 1), table=table)
    handlers.positions.update(positions)
    return handlers


class _Topic:
    """The intake topic's partitions as a reader sees them (the in-memory twin of
    ``refill.IntakeReader``): every offset from ``low`` on is held."""

    def __init__(self, low: int = 0) -> None:
        self.low = low
        self.reads: list[tuple[int, int, int]] = []

    async def read(self, partition: int, start: int, end: int) -> Refill:
        self.reads.append((partition, start, end))
        held = tuple(
            RefilledRecord("hub.dossier.intake", partition, offset, None, None, (), None)
            for offset in range(max(start, self.low), end)
        )
        return Refill(partition, start, end, held, self.low)


def _filled(handlers: Handlers, records: Sequence[_Record]) -> list[tuple[int, int]]:
    """What ``dossier_batch`` folds, in order: (partition, offset), gaps checked."""
    filled = asyncio.run(handlers._fill_gaps(records))
    for record in filled:
        handlers._check_gap(record)
        handlers.positions[record.partition] = max(
            handlers.positions.get(record.partition, -1), record.offset
        )
    return [(record.partition, record.offset) for record in filled]


def test_records_the_consumer_went_past_are_read_back_and_folded_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    topic = _Topic()
    handlers = _handlers({1: 10})
    handlers.refill = topic.read
    records = [_Record(2, 0), _Record(1, 14), _Record(1, 15)]  # 2: no position yet
    assert _filled(handlers, records) == [(2, 0), *((1, o) for o in range(11, 16))]
    assert topic.reads == [(1, 11, 14)]
    assert (handlers.counters.refilled, handlers.counters.skipped) == (3, 0)
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "records 11..13 that no batch folded; read 3 of them back" in caplog.text


def test_a_partition_nothing_was_folded_of_yet_is_read_from_the_topics_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Faust acknowledges records it skips during a rebalance, so even a partition's first
    batch can start beyond records no batch folded; those deleted by retention before are
    not missing (this app never had them)."""
    topic = _Topic(low=3)
    handlers = _handlers({})
    handlers.refill = topic.read
    assert _filled(handlers, [_Record(4, 6)]) == [(4, 3), (4, 4), (4, 5), (4, 6)]
    assert _filled(handlers, [_Record(5, 3)]) == [(5, 3)]  # the topic's first record
    assert topic.reads == [(4, 0, 6), (5, 0, 3)]
    assert (handlers.counters.refilled, handlers.counters.skipped) == (3, 0)
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "records 3..5 that no batch folded; read 3 of them back" in caplog.text


def test_records_of_an_old_generation_coming_first_are_no_reason_to_skip() -> None:
    """Records of a partition out of order (400, 401 fetched before a rebalance's seek back to
    300): one read fills the gap, and the records after it are redeliveries."""
    topic = _Topic()
    handlers = _handlers({1: 299})
    handlers.refill = topic.read
    records = [_Record(1, 400), _Record(1, 401), _Record(1, 300), _Record(1, 301)]
    folded = _filled(handlers, records)
    assert folded[:102] == [(1, o) for o in range(300, 402)]
    assert folded[102:] == [(1, 300), (1, 301)]  # redeliveries, which the fold ignores
    assert topic.reads == [(1, 300, 400)]
    assert handlers.counters.skipped == 0


def test_records_retention_deleted_are_counted_as_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    topic = _Topic(low=13)
    handlers = _handlers({1: 10})
    handlers.refill = topic.read
    assert _filled(handlers, [_Record(1, 15)]) == [(1, 13), (1, 14), (1, 15)]
    assert (handlers.counters.refilled, handlers.counters.skipped) == (2, 2)
    assert [r.levelname for r in caplog.records] == ["WARNING", "ERROR"]
    assert "2 no longer held: the topic starts at 13" in caplog.text
    assert "records 11..12 were never folded" in caplog.text


def test_the_next_record_and_redeliveries_are_no_gap() -> None:
    handlers = _handlers({1: 10})
    for record in (_Record(1, 11), _Record(1, 7), _Record(2, 500)):  # 2: no position yet
        handlers._check_gap(record)
    assert handlers.counters.skipped == 0


def test_without_a_reader_records_the_consumer_went_past_are_counted_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handlers = _handlers({1: 10})
    handlers._check_gap(_Record(1, 14))
    handlers._check_gap(_Record(1, 14))  # the same gap, seen again: said once
    assert handlers.counters.skipped == 3
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "records 11..13 were never folded" in caplog.text


def test_a_record_of_a_partition_owned_no_more_is_not_read_back_for() -> None:
    """Faust can hand out a record fetched before a rebalance gave its partition away: its
    gaps are the new owner's business."""
    topic = _Topic()
    handlers = _handlers({1: 10})
    handlers.owned = lambda: frozenset({1})
    handlers.refill = topic.read
    assert _filled(handlers, [_Record(2, 500)]) == [(2, 500)]
    assert topic.reads == []


def test_a_redelivered_record_of_a_dossier_that_left_the_table_opens_no_entry() -> None:
    """After a crash or a rebalance, records up to the persisted position come again; the
    dossier of one of them may have left the table since (retention), and only the position
    says the record was folded."""
    event = received()
    code = event["dossier_code"]
    batch = IntakeBatch(
        context=lambda watermark: context(watermark=watermark),
        load_entry=lambda _: None,  # gone from the table
        load_slice=lambda _: None,
        alarms=Alarms(),
        watermarks={},
        positions={0: 10},
    )
    source = Source("hub.inbound.000.00.15.H29", 0, 7)
    batch.offer(0, code, IntakeRecord(wire(event), code.encode(), 7, source))
    assert (batch.entries, batch.redelivered) == ({}, 1)
    assert batch.watermarks  # it moves the watermark as it did the first time
    batch.offer(0, code, IntakeRecord(wire(event), code.encode(), 11, source))
    assert batch.entries[code] is not None  # past the position: folded


def _fresh_batch(forwarded: dict[int, dict[str, int]] | None = None) -> IntakeBatch:
    return IntakeBatch(
        context=lambda watermark: context(watermark=watermark),
        load_entry=lambda _: None,
        load_slice=lambda _: None,
        alarms=Alarms(),
        watermarks={},
        positions={0: 10},
        forwarded={} if forwarded is None else forwarded,
    )


def test_a_record_the_validator_forwards_again_is_dropped_unfolded() -> None:
    """A validator that crashed before committing sends its records again; along an intake
    partition an inbound partition's offsets only grow, so the copy is known by its source
    even when its dossier has left the table (it would open a new dossier otherwise)."""
    event = received()
    code = event["dossier_code"]
    batch = _fresh_batch({0: {"hub.inbound.000.00.15.H29|0": 7}})  # as persisted
    source = Source("hub.inbound.000.00.15.H29", 0, 7)
    batch.offer(0, code, IntakeRecord(wire(event), code.encode(), 11, source))
    assert (batch.entries, batch.messages, batch.copies) == ({}, [], 1)
    assert batch.positions[0] == 11  # dealt with: never read back as a gap

    # the same offset of another inbound partition is another record
    other = Source("hub.inbound.000.00.15.H29", 1, 7)
    batch.offer(0, code, IntakeRecord(wire(event), code.encode(), 12, other))
    assert batch.entries[code] is not None
    assert batch.forwarded[0]["hub.inbound.000.00.15.H29|1"] == 7


def test_a_copy_within_one_batch_is_dropped_and_records_without_a_source_never_are() -> None:
    event = received()
    code = event["dossier_code"]
    batch = _fresh_batch()
    source = Source("hub.inbound.000.00.15.H29", 0, 40)
    batch.offer(0, code, IntakeRecord(wire(event), code.encode(), 11, source))
    batch.offer(0, code, IntakeRecord(wire(event), code.encode(), 12, source))
    assert batch.copies == 1
    assert batch.redelivered == 0  # not folded again: no duplicate_event dead letter
    assert not any(m.topic == "hub.deadletter" for m in batch.messages)

    # an intake record without the validator's headers is its own source: offsets only grow
    bare = _fresh_batch()
    for offset in (11, 12):
        own = Source("hub.dossier.intake", 0, offset)
        bare.offer(0, code, IntakeRecord(wire(event), code.encode(), offset, own))
    assert bare.copies == 0
    assert bare.forwarded == {}


def test_a_copy_delivered_again_is_dropped_again() -> None:
    """Seen in the crash test: originals and their copies folded, then Faust's consumer sought
    back and delivered the copy once more. At or below the position the copy rule does not look
    at sources, and the copy was refused as a duplicate_event, its entry moved to its offset."""
    event = received()
    code = event["dossier_code"]
    entries: dict[str, Any] = {}
    batch = _fresh_batch()
    batch.load_entry = entries.get
    source = Source("hub.inbound.000.00.15.H29", 0, 40)
    batch.offer(0, code, IntakeRecord(wire(event), code.encode(), 11, source))
    batch.offer(0, code, IntakeRecord(wire(event), code.encode(), 15, source))  # the copy
    assert batch.copies == 1
    entries.update(batch.entries)  # persisted, with the position 15

    again = _fresh_batch(batch.forwarded)
    again.positions[0] = batch.positions[0]
    again.load_entry = entries.get
    again.offer(0, code, IntakeRecord(wire(event), code.encode(), 15, source))
    assert (again.entries, again.messages, again.copies) == ({}, [], 1)
    again.offer(0, code, IntakeRecord(wire(event), code.encode(), 11, source))  # the original
    assert again.redelivered == 1  # as before: a redelivery, not a copy


def test_a_position_is_persisted_with_the_inbound_offsets_folded_up_to_it() -> None:
    stored = position_value(41, {"hub.inbound.000.00.15.H29|2": 9})
    assert read_position(json.loads(json.dumps(stored))) == (41, {"hub.inbound.000.00.15.H29|2": 9})
    assert read_position(41) == (41, {})  # a table written before these were kept
