"""Partitions whose records wait while the consumer delivers none: sought back, or committed
when every record is done, after a spell without progress; never otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest
from faust.types import TP

from dossierhub.monitoring import PartitionLag
from stream_processors.stuck import StuckPartitions

INTAKE = "hub.dossier.intake"
TP0, TP1 = TP(INTAKE, 0), TP(INTAKE, 1)


@dataclass
class Worker:
    """A consumer's assignment, what its stage has done, and what was asked of it."""

    assigned: set[TP] = field(default_factory=lambda: {TP0, TP1})
    done: dict[TP, int] = field(default_factory=dict)
    now: float = 0.0
    paused: bool = False
    seeks: list[tuple[TP, int]] = field(default_factory=list)
    commits: list[dict[TP, int]] = field(default_factory=list)

    def stuck(self) -> StuckPartitions:
        async def seek(tp: TP, offset: int) -> None:
            self.seeks.append((tp, offset))

        async def commit(offsets: Mapping[TP, int]) -> None:
            self.commits.append(dict(offsets))

        return StuckPartitions(
            assignment=lambda: self.assigned,
            done_until=lambda tp: self.done.get(tp) if tp.topic == INTAKE else None,
            seek=seek,
            commit=commit,
            paused=lambda: self.paused,
            patience_s=15.0,
            clock=lambda: self.now,
        )


def lag(tp: TP, committed: int | None, end: int) -> PartitionLag:
    return PartitionLag("app", tp.topic, tp.partition, committed, 0, end)


def readings(
    worker: Worker, stuck: StuckPartitions, *lags: PartitionLag, every: float = 10.0
) -> None:
    """One watchdog reading now, then one ``every`` seconds later, of the same ``lags``."""

    async def two() -> None:
        await stuck.check(lags)
        worker.now += every
        await stuck.check(lags)

    asyncio.run(two())


def test_records_no_one_delivers_are_sought_back_to_after_a_spell() -> None:
    worker = Worker(done={TP0: 1900})
    stuck = worker.stuck()
    readings(worker, stuck, lag(TP0, 1800, 1966), every=10.0)
    assert worker.seeks == []  # 10 s without progress: patience
    worker.now += 10.0
    asyncio.run(stuck.check([lag(TP0, 1800, 1966)]))
    assert worker.seeks == [(TP0, 1900)]
    assert stuck.rewound == 1


def test_a_seek_that_moved_nothing_is_not_repeated() -> None:
    # the stage itself is stuck then (the watchdog says so); once it moves, the patience is
    # back in force
    worker = Worker(done={TP0: 1900})
    stuck = worker.stuck()
    readings(worker, stuck, lag(TP0, 1800, 1966), every=20.0)
    readings(worker, stuck, lag(TP0, 1800, 1966), every=60.0)
    assert worker.seeks == [(TP0, 1900)]
    worker.done[TP0] = 1920
    readings(worker, stuck, lag(TP0, 1800, 1966), every=20.0)
    assert worker.seeks == [(TP0, 1900), (TP0, 1920)]


def test_progress_starts_the_patience_over() -> None:
    worker = Worker(done={TP0: 1900})
    stuck = worker.stuck()
    asyncio.run(stuck.check([lag(TP0, 1800, 1966)]))
    worker.now, worker.done[TP0] = 12.0, 1950  # a batch folded more
    asyncio.run(stuck.check([lag(TP0, 1800, 1966)]))
    worker.now = 24.0
    asyncio.run(stuck.check([lag(TP0, 1951, 1966)]))  # and it was committed
    assert worker.seeks == []
    assert worker.commits == []


def test_every_record_done_and_the_group_behind_commits_the_next_offset() -> None:
    worker = Worker(done={TP0: 1966})
    stuck = worker.stuck()
    readings(worker, stuck, lag(TP0, 1900, 1966), every=20.0)
    assert worker.commits == [{TP0: 1966}]
    assert worker.seeks == []
    assert (stuck.recommitted, stuck.rewound) == (1, 0)


def test_a_stage_behind_the_group_goes_back_to_the_groups_offset() -> None:
    # not indexed yet (0), or what it knows is older than the group's offset
    worker = Worker(done={TP0: 0, TP1: 300})
    stuck = worker.stuck()
    readings(worker, stuck, lag(TP0, 405, 1976), lag(TP1, 620, 2102), every=20.0)
    assert worker.seeks == [(TP0, 405), (TP1, 620)]


@pytest.mark.parametrize(
    ("what", "reading"),
    [
        ("caught up", lag(TP0, 1966, 1966)),
        ("assigned to another worker", lag(TP(INTAKE, 5), 10, 1966)),
        ("another stage's topic, not known here", lag(TP("hub.inbound.x", 0), 10, 1966)),
    ],
)
def test_partitions_left_alone(what: str, reading: PartitionLag) -> None:
    worker = Worker(done={TP0: 1966, TP(INTAKE, 5): 10}, assigned={TP0, TP("hub.inbound.x", 0)})
    stuck = worker.stuck()
    readings(worker, stuck, reading, every=60.0)
    assert (worker.seeks, worker.commits) == ([], []), what


def test_a_partition_given_away_and_back_starts_its_patience_over() -> None:
    worker = Worker(done={TP0: 1900})
    stuck = worker.stuck()
    asyncio.run(stuck.check([lag(TP0, 1800, 1966)]))
    worker.assigned, worker.now = {TP1}, 10.0
    asyncio.run(stuck.check([lag(TP0, 1800, 1966)]))
    worker.assigned, worker.now = {TP0, TP1}, 20.0
    asyncio.run(stuck.check([lag(TP0, 1800, 1966)]))
    assert worker.seeks == []


def test_a_pause_starts_the_patience_over() -> None:
    # Faust pauses the partitions while it rebalances and recovers tables: no progress is due
    worker = Worker(done={TP0: 1900})
    stuck = worker.stuck()
    asyncio.run(stuck.check([lag(TP0, 1800, 1966)]))
    worker.paused, worker.now = True, 20.0
    asyncio.run(stuck.check([lag(TP0, 1800, 1966)]))
    worker.paused, worker.now = False, 30.0
    asyncio.run(stuck.check([lag(TP0, 1800, 1966)]))
    assert worker.seeks == []
    worker.now = 45.0
    asyncio.run(stuck.check([lag(TP0, 1800, 1966)]))
    assert worker.seeks == [(TP0, 1900)]


def test_a_failed_seek_is_said_and_the_checks_go_on(caplog: pytest.LogCaptureFixture) -> None:
    # e.g. the partition given away between the reading and the seek
    worker = Worker(done={TP0: 1900, TP1: 10})
    stuck = worker.stuck()

    async def refused(tp: TP, offset: int) -> None:
        raise RuntimeError(f"no current assignment for {tp}")

    stuck.seek = refused
    readings(worker, stuck, lag(TP0, 1800, 1966), lag(TP1, 5, 20), every=20.0)
    assert stuck.rewound == 2
    assert "no current assignment" in caplog.text
