"""The dossier stage commits the intake offsets its table folded, so a partition whose Faust
bookkeeping has a hole (records the consumer went past, which no event acknowledges) is still
committed, and never beyond what was folded."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping

from faust.types import TP

from stream_processors.commits import commit_folded

TOPIC = "hub.dossier.intake"


class FaustConsumer:
    """The two members of Faust's consumer that ``commit_folded`` uses, as Faust keeps them:
    the next offset to read as last committed (None: never), and the commit that updates it."""

    def __init__(self, committed: Mapping[int, int]) -> None:
        self._committed_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self._committed_offset.update({TP(TOPIC, p): o for p, o in committed.items()})
        self.commits: list[dict[TP, int]] = []

    async def _commit_offsets(self, offsets: Mapping[TP, int]) -> bool:
        self.commits.append(dict(offsets))
        self._committed_offset.update(offsets)
        return True


def test_a_partition_stuck_before_a_hole_is_committed_past_it() -> None:
    # committed 405, but the records from 459 on were the first delivered and folded to 1975
    consumer = FaustConsumer({0: 405})
    asyncio.run(commit_folded(consumer, TOPIC, {0: 1975}, events=()))
    assert consumer.commits == [{TP(TOPIC, 0): 1976}]


def test_the_next_offset_to_read_is_committed_never_the_last_folded() -> None:
    consumer = FaustConsumer({})
    asyncio.run(commit_folded(consumer, TOPIC, {3: 0}, events=()))
    assert consumer.commits == [{TP(TOPIC, 3): 1}]


def test_only_partitions_behind_their_position_are_committed() -> None:
    # 1: Faust committed it already; 2: Faust is ahead (its acks came in first); 4: never
    consumer = FaustConsumer({1: 101, 2: 250})
    asyncio.run(commit_folded(consumer, TOPIC, {1: 100, 2: 200, 4: 7}, events=()))
    assert consumer.commits == [{TP(TOPIC, 4): 8}]
    assert consumer._committed_offset[TP(TOPIC, 2)] == 250  # never moved back


def test_nothing_to_commit_sends_no_commit() -> None:
    consumer = FaustConsumer({0: 10})
    asyncio.run(commit_folded(consumer, TOPIC, {0: 9}, events=()))
    asyncio.run(commit_folded(consumer, TOPIC, {}, events=()))
    assert consumer.commits == []


class _Event:
    def __init__(self, consumer: FaustConsumer) -> None:
        self.consumer = consumer
        self.acked_before_commit: bool | None = None

    def ack(self) -> bool:
        self.acked_before_commit = not self.consumer.commits
        return True


def test_the_batchs_events_are_acknowledged_before_the_commit() -> None:
    # an acknowledgement below Faust's committed mark is dropped: the event would stay unacked
    consumer = FaustConsumer({0: 405})
    events = [_Event(consumer), _Event(consumer)]
    asyncio.run(commit_folded(consumer, TOPIC, {0: 1975}, events=events))
    assert [e.acked_before_commit for e in events] == [True, True]
    assert consumer.commits == [{TP(TOPIC, 0): 1976}]
