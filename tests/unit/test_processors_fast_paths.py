"""The processors' shortcuts give what the long way gives: parsed entries reused only while
the table holds the very value they came from, the validator's decoded events handed to the
dossier stage, states copied by their slots, records produced in batches where aiokafka's
``send`` would have put them."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]
from aiokafka.producer.message_accumulator import BatchBuilder  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st

from schemas import event_types, example_event
from schemas.topics import DOSSIER_INTAKE, inbound_topic
from stream_processors.config import ProcessorConfig
from stream_processors.dossier import DossierState, OutcomeClass, Pause, Status
from stream_processors.dossier.outcome import _digest_text
from stream_processors.dossier.state import evolve
from stream_processors.handlers import Handlers
from stream_processors.intake import IntakeBatch, intake_partition
from stream_processors.lookups import Lookups
from stream_processors.produce import Record, produce
from tests.unit.test_processors_validator import SCHEMA_IDS, WRITERS, eid, wire

AGENCY: Final = "000.00.15.H29"


@dataclass
class _Record:
    topic: str
    partition: int
    offset: int
    key: Any
    value: Any
    headers: Any = None
    timestamp: float | None = None


def _handlers(table: dict[str, Any] | None = None, store: str = "memory://") -> Handlers:
    config = ProcessorConfig(kafka_bootstrap="-", registry_url="-", datadir=Path("-"), store=store)
    ids = {known.subject: SCHEMA_IDS[known.name] for known in event_types()}
    lookups = Lookups(WRITERS.get, lambda known: ids[known.subject])
    return Handlers(config=config, lookups=lookups, table={} if table is None else table)


def _received(label: str) -> bytes:
    event = example_event("DossierReceived", event_id=eid(label))
    event["envelope"]["agency_code"] = AGENCY
    return wire(event)


def _fold(handlers: Handlers, records: list[_Record]) -> IntakeBatch:
    async def run() -> IntakeBatch:
        await handlers.prepare_dossiers()
        return await handlers.dossier_batch(records)

    return asyncio.run(run())


def _persist(handlers: Handlers, batch: IntakeBatch) -> None:
    for _, code, value in handlers.table_values(batch):
        if value is None:
            handlers.table.pop(code, None)
        else:
            handlers.table[code] = value


def _intake(raw: bytes, code: str, offset: int) -> _Record:
    return _Record(DOSSIER_INTAKE, intake_partition(code, 6), offset, code.encode(), raw)


def test_a_parsed_entry_is_reused_only_while_the_table_holds_its_value() -> None:
    handlers = _handlers()
    raw = _received("a")
    code = example_event("DossierReceived")["dossier_code"]
    _persist(handlers, _fold(handlers, [_intake(raw, code, 0)]))
    first = handlers._load_entry(code)
    assert first is not None
    assert handlers._load_entry(code) is first  # the table's value is unchanged: reused

    handlers.table[code] = dict(handlers.table[code])  # e.g. recovered from the changelog
    again = handlers._load_entry(code)
    assert again == first
    assert again is not first


def test_nothing_is_kept_beside_a_store_that_decodes_at_every_read() -> None:
    handlers = _handlers(store="rocksdb://")
    code = example_event("DossierReceived")["dossier_code"]
    _persist(handlers, _fold(handlers, [_intake(_received("r"), code, 0)]))
    assert handlers._load_entry(code) is not None
    assert handlers.parsed == {}


def test_the_dossier_stage_folds_the_validators_decoding_as_its_own() -> None:
    raw = _received("b")
    code = example_event("DossierReceived")["dossier_code"]
    inbound = _Record(inbound_topic(AGENCY), 0, 7, None, raw, timestamp=1.7e9)

    handed = _handlers()
    [forwarded] = asyncio.run(handed.validate([inbound]))
    assert forwarded.topic == DOSSIER_INTAKE
    assert list(handed.decoded) == [raw]
    with_hand_over = _fold(handed, [_intake(raw, code, 0)])
    assert handed.decoded == {}  # taken by the dossier stage

    decoding = _handlers()
    without = _fold(decoding, [_intake(raw, code, 0)])
    assert with_hand_over.entries == without.entries
    assert [m.value for m in with_hand_over.messages] == [m.value for m in without.messages]


def test_the_validator_keeps_nothing_for_a_partition_another_worker_folds() -> None:
    raw = _received("c")
    code = example_event("DossierReceived")["dossier_code"]
    handlers = _handlers()
    others = frozenset(range(6)) - {intake_partition(code, 6)}
    handlers.owned = lambda: others
    asyncio.run(handlers.validate([_Record(inbound_topic(AGENCY), 0, 1, None, raw)]))
    assert handlers.decoded == {}


def test_evolve_is_dataclasses_replace() -> None:
    at = datetime(2023, 3, 15, 2, 12, tzinfo=UTC)
    state = DossierState("X-1", Status.RECEIVED, at, procedure_code="1.0001", amount_due_vnd=5)
    changes: dict[str, Any] = {
        "status": Status.SUPPLEMENT_REQUESTED,
        "pauses": (Pause(1, at),),
        "due_date": date(2023, 3, 29),
        "applied_event_ids": frozenset({"e1", "e2"}),
    }
    assert evolve(state, **changes) == dataclasses.replace(state, **changes)
    assert evolve(state) == state


class _Producer:
    """The parts of an AIOKafkaProducer that ``produce`` uses, with real record batches."""

    def __init__(self, partitions: int, batch_size: int) -> None:
        self.sent: list[tuple[str, int, int]] = []  # topic, partition, records in the batch
        self._offsets: dict[tuple[str, int], int] = {}
        self._batch_size = batch_size
        self.client = self
        self.cluster = self
        self._partitions = partitions

    async def _wait_on_metadata(self, topic: str) -> None:
        return None

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self._partitions))

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self._batch_size, 0)

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> Any:
        count = batch._relative_offset
        base = self._offsets.get((topic, partition), 0)
        self._offsets[topic, partition] = base + count
        self.sent.append((topic, partition, count))
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(type("Metadata", (), {"offset": base})())
        return done


def test_records_go_where_aiokafkas_partitioner_puts_them_in_batches() -> None:
    producer = _Producer(partitions=6, batch_size=2_000)
    keys = [f"000.00.15.H29-230315-{n:04d}".encode() for n in range(60)]
    records = [("t", None, key, b"x" * 200, ()) for key in keys]
    acknowledged = asyncio.run(produce(producer, records))

    partitioner = DefaultPartitioner()
    expected: dict[int, int] = {}
    for key in keys:
        partition = partitioner(key, list(range(6)), list(range(6)))
        expected[partition] = expected.get(partition, 0) + 1
    assert {done.partition: done.count for done in acknowledged} == expected
    assert all(done.last_offset == done.count - 1 for done in acknowledged)
    assert max(count for _, _, count in producer.sent) < max(expected.values())  # split
    assert sum(count for _, _, count in producer.sent) == len(keys)


def test_records_for_a_given_partition_keep_their_order_and_offsets() -> None:
    producer = _Producer(partitions=3, batch_size=400)
    records: list[Record] = [("c", 2, f"k{n}".encode(), b"v" * 150, ()) for n in range(7)]
    records.append(("c", 1, b"tomb", None, ()))
    acknowledged = asyncio.run(produce(producer, records))
    by_partition = {done.partition: done for done in acknowledged}
    assert by_partition[2].count == 7
    assert by_partition[2].last_offset == 6
    assert by_partition[1].last_offset == 0
    assert [count for _, p, count in producer.sent if p == 2] == [2, 2, 2, 1]


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(),
    st.dates(),
    st.datetimes(timezones=st.just(UTC)),
    st.sampled_from(list(OutcomeClass)),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
)


@given(st.dictionaries(st.text(), _VALUES, max_size=16))
def test_the_outcome_digest_text_is_the_json_it_always_was(body: dict[str, Any]) -> None:
    expected = json.dumps(body, sort_keys=True, default=str, separators=(",", ":"))
    assert _digest_text(body) == expected
