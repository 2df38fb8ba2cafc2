"""Range planning and what the range record says after a crash (pure)."""

from __future__ import annotations

import pytest

from sinks.ranges import (
    OffsetOrderError,
    OffsetRange,
    RangeState,
    cut,
    pending_ranges,
    redo_bounds,
    resume_offsets,
    summarize,
)

T = "hub.dossier.events"


def _r(first: int, last: int, partition: int = 0) -> OffsetRange:
    return OffsetRange(T, partition, first, last)


def test_a_partition_is_one_range_normally() -> None:
    assert cut((T, 0), [5, 6, 9, 10]) == [(0, 4)]
    assert cut((T, 0), []) == []


def test_a_redo_is_cut_at_the_end_of_the_attempt_it_replaces() -> None:
    offsets = [10, 11, 12, 13, 14, 15]
    assert cut((T, 0), offsets, redo_last=12) == [(0, 3), (3, 6)]
    # a compacted topic may have lost the bound itself: cut after the last offset below it
    assert cut((T, 0), [10, 11, 14, 15], redo_last=12) == [(0, 2), (2, 4)]
    assert cut((T, 0), offsets, redo_last=20) == [(0, 6)]  # not reached yet: all one range
    assert cut((T, 0), offsets, redo_last=3) == [(0, 6)]  # behind: irrelevant


def test_offsets_must_increase() -> None:
    with pytest.raises(OffsetOrderError) as error:
        cut((T, 3), [1, 2, 2])
    assert error.value.partition == (T, 3)
    assert error.value.offsets == [1, 2, 2]


def test_confirmed_wins_and_resume_is_after_the_last_confirmed_range() -> None:
    statuses = summarize(
        [
            (_r(0, 99), "pending", 100),
            (_r(0, 99), "confirmed", 100),
            (_r(100, 199), "pending", 100),
            (_r(0, 49, partition=1), "pending", 50),
        ]
    )
    assert [(s.range, s.state) for s in statuses] == [  # in (partition, offset) order
        (_r(0, 99), RangeState.CONFIRMED),
        (_r(100, 199), RangeState.PENDING),
        (_r(0, 49, partition=1), RangeState.PENDING),
    ]
    assert resume_offsets(statuses) == {(T, 0): 100}
    assert [s.range for s in pending_ranges(statuses)] == [_r(100, 199), _r(0, 49, 1)]
    assert [s.rows for s in pending_ranges(statuses)] == [100, 50]


def test_an_aborted_attempt_is_pending_again_only_when_retried() -> None:
    aborted = [(_r(100, 199), "pending", 100), (_r(100, 199), "aborted", 0)]
    statuses = summarize([(_r(0, 99), "confirmed", 100), *aborted])
    assert statuses[-1].state is RangeState.ABORTED
    assert redo_bounds(statuses) == {(T, 0): 199}
    retried = summarize([*aborted, (_r(100, 199), "pending", 100)])
    assert retried[-1].state is RangeState.PENDING
    done = summarize([*aborted, (_r(100, 199), "pending", 100), (_r(100, 199), "confirmed", 100)])
    assert done[-1].state is RangeState.CONFIRMED
    assert redo_bounds(done) == {}


def test_an_abort_behind_the_last_confirmed_range_is_not_a_redo_bound() -> None:
    statuses = summarize(
        [
            (_r(0, 99), "pending", 100),
            (_r(0, 99), "aborted", 0),
            (_r(0, 120), "pending", 121),
            (_r(0, 120), "confirmed", 121),
        ]
    )
    assert resume_offsets(statuses) == {(T, 0): 121}
    assert redo_bounds(statuses) == {}
