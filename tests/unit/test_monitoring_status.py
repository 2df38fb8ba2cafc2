"""Burrow-style status rules over a window of samples, without a broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dossierhub.errors import ConfigError
from dossierhub.monitoring.lag import PartitionLag
from dossierhub.monitoring.state import load_window, save_window
from dossierhub.monitoring.status import (
    GroupStatus,
    LagWindow,
    PartitionStatus,
    Sample,
    StatusPolicy,
    estimate_time_lag,
    group_status,
    partition_status,
)

POLICY = StatusPolicy(stall_after_s=60, stop_after_s=300, growth_samples=3)


def series(*points: tuple[float, int | None, int], assigned: bool | None = True) -> list[Sample]:
    """(at, committed, end) → samples, lag counted from the committed offset."""
    return [
        Sample(at, committed, end, end - (committed or 0), assigned)
        for at, committed, end in points
    ]


def status(*points: tuple[float, int | None, int], assigned: bool | None = True) -> str:
    return partition_status(series(*points, assigned=assigned), POLICY)


def test_no_samples_and_a_consumer_keeping_up_are_ok() -> None:
    assert partition_status([], POLICY) == "OK"
    assert status((0, 10, 12), (10, 12, 15), (20, 15, 17), (30, 17, 20)) == "OK"


def test_an_idle_topic_at_lag_zero_is_ok_however_long_nothing_is_committed() -> None:
    # Burrow's false alarm: no commit for an hour, but nothing to consume either
    assert status((0, 50, 50), (1800, 50, 50), (3600, 50, 50)) == "OK"
    assert status((0, 50, 50), (3600, 50, 50), assigned=False) == "OK"


def test_a_record_arriving_after_a_long_idle_spell_is_not_a_stall() -> None:
    # stuck time counts from the last sample at lag 0, not from the last commit movement
    assert status((0, 50, 50), (3600, 50, 50), (3610, 50, 51)) == "OK"
    assert status((0, 50, 50), (3600, 50, 50), (3610, 50, 51), (3670, 50, 51)) == "STALL"


def test_lag_growing_over_the_last_samples_warns() -> None:
    assert status((0, 10, 12), (10, 11, 15), (20, 12, 19)) == "WARN"
    # not every step must grow, but the last must be above the first
    assert status((0, 10, 12), (10, 11, 13), (20, 12, 14)) == "OK"
    assert status((0, 10, 12), (10, 10, 12), (20, 12, 17)) == "WARN"
    # growth from a caught-up start is not yet a trend
    assert status((0, 10, 10), (10, 10, 12), (20, 10, 19)) == "OK"
    # a shrink inside the growth window clears it
    assert status((0, 10, 15), (10, 14, 15), (20, 14, 18)) == "OK"
    # too few samples to call a trend
    assert status((0, 10, 12), (10, 10, 30)) == "OK"


def test_an_owned_partition_not_moving_while_lagging_stalls_then_stops() -> None:
    assert status((0, 10, 20), (59, 10, 25)) == "OK"
    assert status((0, 10, 20), (60, 10, 25)) == "STALL"
    assert status((0, 10, 20), (299, 10, 25)) == "STALL"
    assert status((0, 10, 20), (300, 10, 25)) == "STOP"


def test_nobody_owning_a_lagging_partition_is_stop_after_the_stall_time() -> None:
    assert status((0, 10, 20), (59, 10, 20), assigned=False) == "OK"
    assert status((0, 10, 20), (60, 10, 20), assigned=False) == "STOP"


def test_stuck_time_counts_from_the_last_commit_movement() -> None:
    assert status((0, 10, 30), (100, 12, 30), (150, 12, 30)) == "OK"
    assert status((0, 10, 30), (100, 12, 30), (160, 12, 30)) == "STALL"


def test_a_never_committed_lagging_partition_stalls_too() -> None:
    assert status((0, None, 20), (60, None, 20)) == "STALL"


def test_an_offset_going_backwards_is_rewind_and_wins() -> None:
    assert status((0, 100, 120), (10, 20, 120)) == "REWIND"
    assert status((0, 100, 120), (10, 20, 120), (400, 20, 130)) == "REWIND"
    # a reset to "never committed" is not a comparison of offsets
    assert status((0, 100, 100), (10, None, 0)) == "OK"


def test_group_status_is_the_worst_of_its_partitions() -> None:
    S = PartitionStatus
    assert group_status([]) == GroupStatus.OK
    assert group_status([S.OK, S.OK]) == GroupStatus.OK
    assert group_status([S.OK, S.WARN]) == GroupStatus.WARN
    assert group_status([S.REWIND, S.OK]) == GroupStatus.WARN
    assert group_status([S.WARN, S.STALL]) == GroupStatus.ERR
    assert group_status([S.STOP]) == GroupStatus.ERR


def test_policy_rejects_contradictions() -> None:
    with pytest.raises(ConfigError, match="stop_after_s"):
        StatusPolicy(stall_after_s=60, stop_after_s=30)
    with pytest.raises(ConfigError, match="stall_after_s"):
        StatusPolicy(stall_after_s=0)
    with pytest.raises(ConfigError, match="growth_samples"):
        StatusPolicy(growth_samples=1)


def test_time_lag_estimated_from_log_end_samples() -> None:
    # the log end passed offset 15 half-way between t=10 (end 10) and t=20 (end 20)
    samples = series((0, 5, 5), (10, 5, 10), (20, 5, 20))
    samples[-1] = Sample(20, 15, 20, 5)
    assert estimate_time_lag(samples, now=30) == pytest.approx(15.0)
    assert estimate_time_lag(series((0, 5, 5)), now=9) == 0.0
    # the oldest unconsumed record is older than the window
    assert estimate_time_lag(series((0, 1, 5), (10, 1, 9)), now=10) is None
    assert estimate_time_lag([], now=1) is None


def test_window_keeps_samples_for_its_length_and_forgets_vanished_partitions() -> None:
    window = LagWindow(StatusPolicy(stall_after_s=10, stop_after_s=20))  # window 40 s
    a = PartitionLag("g", "t", 0, 5, 0, 9, assigned=True)
    b = PartitionLag("g", "t", 1, 0, 0, 0, assigned=True)
    for at in range(0, 50, 10):
        window.add([a, b], at)
    assert [s.at for s in window.samples("g", "t", 0)] == [0, 10, 20, 30, 40]
    assert window.status("g", "t", 0) == "STOP"  # stuck 40 s ≥ 20
    window.add([a], 50)
    assert [s.at for s in window.samples("g", "t", 0)] == [10, 20, 30, 40, 50]
    assert window.samples("g", "t", 1) == ()


@settings(max_examples=200, derandomize=True)
@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=12),
    st.sampled_from([True, False, None]),
)
def test_lag_zero_now_is_ok_unless_rewound(
    steps: list[tuple[int, int]], owned: bool | None
) -> None:
    committed, end, samples = 0, 0, []
    for i, (advance, produce) in enumerate(steps):
        end += produce
        committed = min(end, committed + advance)
        samples.append(Sample(i * 100.0, committed, end, end - committed, owned))
    samples.append(Sample(len(steps) * 100.0, end, end, 0, owned))
    assert partition_status(samples, POLICY) == PartitionStatus.OK


def test_reading_one_group_lets_other_groups_samples_age_out_only() -> None:
    window = LagWindow(StatusPolicy(stall_after_s=10, stop_after_s=20))  # window 40 s
    other = PartitionLag("other", "t", 0, 1, 0, 3)
    mine = PartitionLag("g", "t", 0, 1, 0, 1)
    window.add([other, mine], 0)
    window.add([mine], 30)  # e.g. `dossierhub lag --group g`
    assert len(window.samples("other", "t", 0)) == 1
    window.add([mine], 41)
    assert window.samples("other", "t", 0) == ()


def test_window_saved_and_loaded_between_runs(tmp_path: Path) -> None:
    policy = StatusPolicy(stall_after_s=10, stop_after_s=20)
    window = LagWindow(policy)
    window.add([PartitionLag("g", "t", 0, 5, 0, 9, assigned=True)], 0)
    window.add([PartitionLag("g", "t", 0, 5, 0, 9, assigned=True)], 10)
    path = tmp_path / "monitoring" / "w.json"
    save_window(window, path)
    loaded = load_window(path, policy)
    assert loaded.samples("g", "t", 0) == window.samples("g", "t", 0)
    assert loaded.status("g", "t", 0) == "STALL"
    path.write_text("{not json")
    assert list(load_window(path, policy).items()) == []  # a cache: unreadable means empty
    assert list(load_window(tmp_path / "missing.json", policy).items()) == []


def test_a_faust_apps_own_changelogs_read_without_commits_are_ok() -> None:
    window = LagWindow(POLICY)
    for at in (0.0, 60.0, 120.0):
        window.add(
            [
                PartitionLag("app", "app-dossier_state-changelog", 0, None, 0, 20, assigned=True),
                PartitionLag("app", "hub.dossier.intake", 0, None, 0, 20, assigned=True),
            ],
            at,
        )
    assert window.status("app", "app-dossier_state-changelog", 0) == "OK"
    assert window.status("app", "hub.dossier.intake", 0) == "STALL"  # not a changelog of its
