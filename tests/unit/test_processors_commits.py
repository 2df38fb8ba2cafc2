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
    """The members of Faust's consumer that ``commit_folded`` uses, as Faust keeps them: the
    next offset to read as last committed (None: never), the commit that updates it, and the
    slot that lets one commit run at a time. ``commit`` is Faust's own, from its
    acknowledgements."""

    def __init__(self, committed: Mapping[int, int]) -> None:
        self._committed_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self._committed_offset.update({TP(TOPIC, p): o for p, o in committed.items()})
        self._commit_fut: asyncio.Future[None] | None = None
        #: what the broker was sent, in order
        self.commits: list[dict[TP, int]] = []
        #: seconds each commit's producer flush takes, before the commit is sent
        self.flush_s = 0.0

    async def _commit_offsets(self, offsets: Mapping[TP, int]) -> bool:
        await asyncio.sleep(self.flush_s)
        self.commits.append(dict(offsets))
        self._committed_offset.update(offsets)
        return True

    async def commit(self, acknowledged: Mapping[TP, int]) -> bool:
        """Faust's ``Consumer.commit``, its offsets worked out from ``acknowledged``."""
        if self._commit_fut is not None:
            await self._commit_fut
            return False
        self._commit_fut = asyncio.get_running_loop().create_future()
        try:
            due = {
                tp: o
                for tp, o in acknowledged.items()
                if (mark := self._committed_offset[tp]) is None or o > mark
            }
            return bool(due) and await self._commit_offsets(due)
        finally:
            fut, self._commit_fut = self._commit_fut, None
            fut.set_result(None)

    def broker(self, partition: int) -> int | None:
        """The group's offset of ``partition`` as the broker has it."""
        tp = TP(TOPIC, partition)
        return next((c[tp] for c in reversed(self.commits) if tp in c), None)


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


def test_a_faust_commit_running_meanwhile_never_moves_the_group_offset_back() -> None:
    # Faust's periodic commit worked out 500 from older acknowledgements and is flushing its
    # producer when the batch folded to 1975 commits; were the two sent in the other order,
    # the group would stay at 500 with nothing left to commit it further
    consumer = FaustConsumer({0: 405})
    consumer.flush_s = 0.01

    async def both() -> None:
        faust = asyncio.ensure_future(consumer.commit({TP(TOPIC, 0): 500}))
        await asyncio.sleep(0)  # Faust's commit holds the slot, flushing
        consumer.flush_s = 0.0  # the batch's flush is quicker
        await commit_folded(consumer, TOPIC, {0: 1975}, events=())
        await faust

    asyncio.run(both())
    assert consumer.broker(0) == 1976
    assert consumer.commits == [{TP(TOPIC, 0): 500}, {TP(TOPIC, 0): 1976}]


def test_a_faust_commit_coming_while_the_batch_commits_skips_its_turn() -> None:
    consumer = FaustConsumer({0: 405})
    consumer.flush_s = 0.01

    async def both() -> bool:
        batch = asyncio.ensure_future(commit_folded(consumer, TOPIC, {0: 1975}, events=()))
        await asyncio.sleep(0)  # the batch's commit holds the slot
        did = await consumer.commit({TP(TOPIC, 0): 500})
        await batch
        return did

    assert asyncio.run(both()) is False
    assert consumer.commits == [{TP(TOPIC, 0): 1976}]
    assert consumer._commit_fut is None  # the slot is free again
