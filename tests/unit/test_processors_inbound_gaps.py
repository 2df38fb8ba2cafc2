"""The validator follows each inbound partition from the group's committed offset: records its
consumer went past are read back and validated first, and the next offset is what gets
committed."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from dossierhub.errors import HubError
from stream_processors.eventtime import Partition
from stream_processors.inbound_gaps import InboundGaps
from stream_processors.refill import Refill, RefilledRecord

TOPIC = "hub.inbound.000.00.31.H29"


@dataclass
class _Record:
    topic: str
    partition: int
    offset: int


class _Topic:
    """Every offset of every partition holds a record; remembers what was asked."""

    def __init__(self) -> None:
        self.reads: list[tuple[str, int, int, int]] = []

    async def read(self, topic: str, partition: int, start: int, end: int) -> Refill:
        self.reads.append((topic, partition, start, end))
        found = tuple(
            RefilledRecord(topic, partition, o, None, b"", (), None) for o in range(start, end)
        )
        return Refill(partition, start, end, found, 0)


def _gaps(
    committed: Mapping[Partition, int], topic: _Topic, assigned: list[Partition] | None = None
) -> InboundGaps:
    owned = list(committed) if assigned is None else assigned

    def starts(partitions: Collection[Partition]) -> Mapping[Partition, int]:
        return {p: committed[p] for p in partitions if p in committed}

    return InboundGaps(lambda: owned, starts, topic.read)


def _offsets(records: Sequence[_Record | RefilledRecord]) -> list[int]:
    return [r.offset for r in records]


def test_records_beyond_the_committed_offset_are_read_back_and_validated_first() -> None:
    # seen after a restart: committed 1777, the first record delivered 1780
    topic = _Topic()
    gaps = _gaps({(TOPIC, 1): 1777}, topic)
    records = [_Record(TOPIC, 1, 1780), _Record(TOPIC, 1, 1781)]
    filled = asyncio.run(gaps.fill(records))
    assert _offsets(filled) == [1777, 1778, 1779, 1780, 1781]
    assert topic.reads == [(TOPIC, 1, 1777, 1780)]
    assert len(filled) - len(records) == 3  # read back
    assert gaps.next_offsets([(TOPIC, 1)]) == {(TOPIC, 1): 1782}


def test_the_next_record_and_redeliveries_are_no_gap() -> None:
    topic = _Topic()
    gaps = _gaps({(TOPIC, 0): 10}, topic)
    asyncio.run(gaps.fill([_Record(TOPIC, 0, 10), _Record(TOPIC, 0, 11)]))
    asyncio.run(gaps.fill([_Record(TOPIC, 0, 5), _Record(TOPIC, 0, 12)]))  # 5: sought back
    assert topic.reads == []
    assert gaps.next_offsets([(TOPIC, 0)]) == {(TOPIC, 0): 13}


def test_a_partition_whose_committed_offset_is_unknown_is_not_followed() -> None:
    topic = _Topic()

    def unreadable(partitions: Collection[Partition]) -> Mapping[Partition, int]:
        raise HubError("broker unreachable")

    gaps = InboundGaps(lambda: [(TOPIC, 2)], unreadable, topic.read)
    filled = asyncio.run(gaps.fill([_Record(TOPIC, 2, 500)]))
    assert _offsets(filled) == [500]
    assert topic.reads == []
    assert gaps.next_offsets([(TOPIC, 2)]) == {}  # nothing committed by the validator


def test_a_partition_given_away_is_no_longer_followed_nor_committed() -> None:
    topic = _Topic()
    owned: list[Partition] = [(TOPIC, 0), (TOPIC, 1)]
    gaps = InboundGaps(lambda: owned, lambda ps: dict.fromkeys(ps, 0), topic.read)
    asyncio.run(gaps.fill([_Record(TOPIC, 0, 0), _Record(TOPIC, 1, 0)]))
    owned.remove((TOPIC, 1))
    # a record of partition 1 fetched before the rebalance took it: passed on, not read around
    filled = asyncio.run(gaps.fill([_Record(TOPIC, 1, 40)]))
    assert _offsets(filled) == [40]
    assert topic.reads == []
    assert gaps.next_offsets([(TOPIC, 0), (TOPIC, 1)]) == {(TOPIC, 0): 1}
