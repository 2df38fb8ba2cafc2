"""Event-time alignment: the validator's low watermark over its inbound partitions
(``SourceClocks``), its header, the dossier stage's rule (``advance``), and the validator's
adapter (``Alignment``) with fake consumer figures."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final

from hypothesis import given, settings
from hypothesis import strategies as st

from dossierhub.errors import ServiceUnreachableError
from schemas import example_event
from schemas.topics import DOSSIER_INTAKE, inbound_topic
from stream_processors.alignment import Alignment
from stream_processors.dossiers import step
from stream_processors.eventtime import (
    HEADER_LOW_WATERMARK,
    HOLD,
    Partition,
    SourceClocks,
    advance,
    low_watermark_header,
    low_watermark_of,
)
from stream_processors.messages import Outgoing, Source
from stream_processors.validator import to_outgoing
from tests.unit.test_processors_dossiers import context, feed, reasons, record, resolved, vn
from tests.unit.test_processors_validator import JUSTICE, eid, verdict, wire

T0: Final = datetime(2023, 1, 2, 3, 0, tzinfo=UTC)
A: Final = (inbound_topic("000.00.01.H29"), 0)
B: Final = (inbound_topic("000.00.02.H29"), 0)
C: Final = (inbound_topic("000.00.03.H29"), 2)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


# -- the dossier stage's rule ------------------------------------------------------------------


def test_an_unstamped_record_moves_the_watermark_to_its_event_time_as_before() -> None:
    assert advance(None, day(3), None) == day(3)
    assert advance(day(1), day(3), None) == day(3)
    assert advance(day(5), day(3), None) == day(5)  # never back


def test_a_stamped_record_moves_the_watermark_no_further_than_its_stamp() -> None:
    assert advance(None, day(90), day(2)) == day(2)
    assert advance(day(1), day(90), day(2)) == day(2)
    assert advance(day(4), day(90), day(2)) == day(4)  # never back
    assert advance(day(1), day(3), day(90)) == day(3)  # the event's own time still bounds it


def test_hold_and_a_record_without_event_time_leave_the_watermark() -> None:
    assert advance(None, day(3), HOLD) is None
    assert advance(day(1), day(3), HOLD) == day(1)
    assert advance(day(1), None, day(9)) == day(1)


def test_the_header_round_trips_to_the_millisecond() -> None:
    at = datetime(2023, 3, 15, 2, 12, 7, 123000, tzinfo=UTC)
    assert low_watermark_of((low_watermark_header(at),)) == at
    assert low_watermark_of((("dh.source.topic", b"x"), low_watermark_header(HOLD))) == HOLD
    assert low_watermark_of((("dh.source.topic", b"x"),)) is None
    assert low_watermark_of(((HEADER_LOW_WATERMARK, b"not a number"),)) is None


def test_a_held_event_does_not_expire_while_the_stamp_holds_the_watermark_back() -> None:
    """What the simulated year hit: a record of a fast agency, weeks ahead, must not expire (or
    evict) what a slower agency's facts still need."""
    entry, _ = feed([resolved(vn(1))])  # held: its reception has not arrived
    assert entry is not None
    ahead = record(resolved(vn(28), "other"), 5)
    held_back = step(entry, replace(ahead, low_watermark=vn(2)), context(watermark=vn(1)))
    assert held_back.watermark == vn(2)
    assert reasons(held_back.messages) == []
    assert len(held_back.entry.held) == 2
    unbounded = step(entry, ahead, context(watermark=vn(1)))
    assert unbounded.watermark == vn(28)
    assert reasons(unbounded.messages) == ["held_too_long"]


def test_a_redelivered_record_moves_the_watermark_to_its_stamp_again() -> None:
    entry, _ = feed([resolved(vn(1))])
    assert entry is not None
    again = replace(record(resolved(vn(1)), 0), low_watermark=day(-400))
    result = step(entry, again, context(watermark=None))
    assert result.redelivered
    assert result.watermark == day(-400)


# -- the validator's low watermark -----------------------------------------------------------


def test_the_slowest_partition_with_unread_records_holds_the_low_watermark() -> None:
    clocks = SourceClocks()
    clocks.assign([A, B], {A: (0, 100), B: (0, 100)})
    assert clocks.read(A, 0, day(0)) == HOLD  # B has records and no clock yet
    assert clocks.read(B, 0, day(1)) == day(0)
    for offset in range(1, 50):  # A races months ahead
        assert clocks.read(A, offset, day(offset * 3)) == day(1)
    assert clocks.read(B, 1, day(5)) == day(5)
    assert clocks.read(B, 2, day(500)) == day(49 * 3)  # now A is the slower one


def test_a_caught_up_partition_holds_nothing_back() -> None:
    clocks = SourceClocks()
    clocks.assign([A, B, C], {A: (0, 2), B: (7, 7), C: (0, 0)})  # B read to its end, C empty
    assert clocks.read(A, 0, day(3)) == day(3)
    assert clocks.read(A, 1, day(9)) == day(9)  # A caught up too: the latest time read


def test_the_low_watermark_never_goes_back() -> None:
    clocks = SourceClocks()
    clocks.assign([A, B], {A: (0, 1), B: (0, 1)})
    clocks.read(B, 0, day(2))
    assert clocks.read(A, 0, day(10)) == day(10)
    clocks.saw_end(B, 5)  # B's agency sends again, its clock is days behind
    assert clocks.read(A, 1, day(11)) == day(10)
    assert clocks.read(B, 1, day(3)) == day(10)
    for offset in range(2, 5):
        clocks.read(B, offset, day(20))
    assert clocks.low_watermark == day(20)


def test_a_pending_partition_without_a_clock_keeps_the_last_low_watermark() -> None:
    clocks = SourceClocks()
    clocks.assign([A], {A: (0, 1)})
    assert clocks.read(A, 0, day(4)) == day(4)
    clocks.assign([A, B], {B: (0, 3)})  # B newly assigned, not read yet
    clocks.saw_end(A, 2)
    assert clocks.read(A, 1, day(8)) == day(4)
    assert clocks.read(B, 0, day(6)) == day(6)


def test_a_partition_of_unknown_position_waits_unless_its_log_is_empty() -> None:
    clocks = SourceClocks()
    clocks.assign([A, B], {})  # the positions could not be read
    assert clocks.unpositioned == {A, B}
    clocks.saw_end(B, 0)
    assert clocks.read(A, 0, day(1)) == day(1)  # A now has a position; B holds no record
    clocks.saw_end(B, 3)
    assert clocks.read(A, 1, day(2)) == day(1)  # B has records and no clock: wait


def test_refused_records_move_the_position_not_the_clock() -> None:
    clocks = SourceClocks()
    clocks.assign([A, B], {A: (0, 3), B: (0, 10)})
    clocks.read(B, 0, day(30))
    clocks.read(A, 0, day(1))
    assert clocks.read(A, 1, None) == day(1)
    assert clocks.read(A, 2, None) == day(30)  # A is read to its end: only B counts


def test_a_revoked_partition_stops_holding() -> None:
    clocks = SourceClocks()
    clocks.assign([A, B], {A: (0, 10), B: (0, 10)})
    clocks.read(A, 0, day(1))
    assert clocks.read(B, 0, day(9)) == day(1)
    clocks.assign([B], {})
    assert clocks.partitions == {B}
    assert clocks.read(B, 1, day(10)) == day(10)


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.integers(0, 3), st.one_of(st.none(), st.integers(0, 60))),
        st.tuples(st.just("end"), st.integers(0, 3), st.integers(0, 8)),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(ends=st.lists(st.integers(0, 6), min_size=4, max_size=4), ops=_OPS)
def test_the_low_watermark_is_the_running_max_of_the_slowest_pending_clock(
    ends: list[int], ops: list[tuple[str, int, int | None]]
) -> None:
    """Against a brute-force model: after each record, max(previous, min over pending clocks,
    or the latest time read when none is pending), unchanged while a pending one has no clock."""
    partitions = [(inbound_topic(f"000.00.0{i}.H29"), i) for i in range(4)]
    clocks = SourceClocks()
    clocks.assign(partitions, {p: (0, end) for p, end in zip(partitions, ends, strict=True)})
    nxt = dict.fromkeys(partitions, 0)
    end = dict(zip(partitions, ends, strict=True))
    clock: dict[Partition, datetime] = {}
    latest: datetime | None = None
    floor: datetime | None = None
    for op, i, value in ops:
        p = partitions[i]
        if op == "end":
            assert value is not None
            clocks.saw_end(p, value)
            end[p] = max(end[p], value)
            continue
        at = None if value is None else day(value)
        got = clocks.read(p, nxt[p], at)
        nxt[p] += 1
        end[p] = max(end[p], nxt[p])  # a record read existed
        clocks.saw_end(p, end[p])
        if at is not None:
            clock[p] = max(clock.get(p, at), at)
            latest = at if latest is None else max(latest, at)
        pending = [q for q in partitions if nxt[q] < end[q]]
        if all(q in clock for q in pending):
            candidate = min((clock[q] for q in pending), default=latest)
            if candidate is not None and (floor is None or candidate > floor):
                floor = candidate
        assert got == (HOLD if floor is None else floor)


# -- the validator's adapter -----------------------------------------------------------------


@dataclass
class _Record:
    topic: str
    partition: int
    offset: int


@dataclass
class _Consumer:
    """The figures the adapter asks the consumer and the broker for."""

    assigned: list[Partition]
    ends: dict[Partition, int]
    committed: dict[Partition, int]
    down: bool = False
    asked: int = 0

    def positions(self, partitions: Collection[Partition]) -> Mapping[Partition, tuple[int, int]]:
        self.asked += 1
        if self.down:
            raise ServiceUnreachableError("kafka", "localhost:1", "down")
        return {p: (self.committed[p], self.ends[p]) for p in partitions if p in self.committed}

    def alignment(self, now: list[float]) -> Alignment:
        return Alignment(lambda: self.assigned, self.ends.get, self.positions, clock=lambda: now[0])


def _forwarded(label: str, at: datetime, offset: int, topic: str) -> tuple[_Record, Outgoing]:
    event = example_event("DossierReceived", event_id=eid(label))
    event["received_at"] = at
    raw = wire(event)
    record = _Record(topic, 0, offset)
    out = to_outgoing(verdict(raw, JUSTICE), raw, Source(topic, 0, offset), None)
    return record, out


def test_the_adapter_stamps_intake_records_with_the_low_watermark() -> None:
    topic = inbound_topic(JUSTICE)
    slow = (inbound_topic("000.00.99.H29"), 0)
    consumer = _Consumer([(topic, 0), slow], {(topic, 0): 10, slow: 5}, {(topic, 0): 0, slow: 4})
    align = consumer.alignment([0.0])
    asyncio.run(align.prepare())
    align.passed(_Record(slow[0], 0, 4))  # no clock for the slow one: its record was refused
    record, out = _forwarded("a", day(3), 0, topic)
    assert out.topic == DOSSIER_INTAKE
    stamped = align.stamp(record, verdict(out.value, JUSTICE), out)
    assert stamped.headers == (*out.headers, low_watermark_header(day(3)))
    assert low_watermark_of(stamped.headers) == day(3)
    assert consumer.asked == 1
    asyncio.run(align.prepare())  # nothing new: the broker is not asked again
    assert consumer.asked == 1


def test_the_adapter_retries_positions_it_could_not_read() -> None:
    topic = inbound_topic(JUSTICE)
    consumer = _Consumer([(topic, 0)], {(topic, 0): 3}, {(topic, 0): 3}, down=True)
    now = [0.0]
    align = consumer.alignment(now)
    asyncio.run(align.prepare())
    assert align.clocks.unpositioned == {(topic, 0)}
    asyncio.run(align.prepare())
    assert consumer.asked == 1  # not before the retry delay
    consumer.down, now[0] = False, 10.0
    asyncio.run(align.prepare())
    assert consumer.asked == 2
    assert align.clocks.unpositioned == frozenset()


def test_the_adapter_reads_the_batchs_log_ends_and_all_of_them_every_second() -> None:
    topic = inbound_topic(JUSTICE)
    fast, quiet = (topic, 0), (topic, 1)
    consumer = _Consumer([fast, quiet], {fast: 1, quiet: 0}, {fast: 0, quiet: 0})
    now = [0.0]
    align = consumer.alignment(now)
    asyncio.run(align.prepare())
    assert align.clocks.read(fast, 0, day(1)) == day(1)
    consumer.ends.update({fast: 3, quiet: 2})  # both get records; only fast's are in the batch
    asyncio.run(align.prepare([_Record(topic, 0, 1)]))
    assert align.clocks.read(fast, 1, day(5)) == day(5)  # quiet's new end not looked at yet
    now[0] = 1.5
    asyncio.run(align.prepare([_Record(topic, 0, 2)]))
    assert align.clocks.read(fast, 2, day(9)) == day(5)  # quiet waits with no clock: held


def test_the_adapter_asks_for_a_new_partitions_position_at_once_and_a_missing_one_later() -> None:
    topic = inbound_topic(JUSTICE)
    old, new = (topic, 0), (topic, 1)
    consumer = _Consumer([old], {old: 0, new: 0}, {old: 0})
    now = [0.0]
    align = consumer.alignment(now)
    asyncio.run(align.prepare())
    consumer.assigned = [old, new]  # a rebalance right after: new is asked for at once …
    now[0] = 0.5
    asyncio.run(align.prepare())
    assert consumer.asked == 2
    assert align.clocks.unpositioned == {new}  # … but the broker did not know it yet
    asyncio.run(align.prepare())
    assert consumer.asked == 2  # not at every batch
    consumer.committed[new], now[0] = 0, 6.0
    asyncio.run(align.prepare())
    assert consumer.asked == 3
    assert align.clocks.unpositioned == frozenset()
