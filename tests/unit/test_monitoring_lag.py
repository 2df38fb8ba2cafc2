"""The idle rule of ``dossierhub run --until-idle``, without a broker."""

from __future__ import annotations

from dossierhub.monitoring.lag import IdleWatch, PartitionLag, all_caught_up


def lag(committed: int | None, start: int, end: int) -> PartitionLag:
    return PartitionLag("g", "t", 0, committed, start, end)


def test_lag_counts_from_the_committed_offset_or_the_log_start() -> None:
    assert lag(5, 0, 5).lag == 0
    assert lag(3, 0, 5).lag == 2
    assert lag(None, 0, 0).lag == 0  # never committed, nothing to read
    assert lag(None, 0, 4).lag == 4
    assert lag(None, 7, 7).lag == 0  # everything deleted by retention
    assert lag(2, 5, 9).lag == 4  # committed before what retention kept


def test_caught_up_means_every_partition() -> None:
    assert all_caught_up([lag(5, 0, 5), lag(None, 0, 0)])
    assert not all_caught_up([lag(5, 0, 5), lag(4, 0, 5)])
    assert all_caught_up([])


def test_idle_only_after_the_whole_window_without_lag() -> None:
    now = [0.0]
    watch = IdleWatch(3.0, clock=lambda: now[0])
    assert not watch.update(True)
    now[0] = 2.0
    assert not watch.update(True)
    now[0] = 2.5
    assert not watch.update(False)  # new records: the window starts again
    now[0] = 3.0
    assert not watch.update(True)
    now[0] = 5.9
    assert not watch.update(True)
    now[0] = 6.0
    assert watch.update(True)
