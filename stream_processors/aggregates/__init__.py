"""Rolling aggregates of the dossier stream: pure Python, no I/O.

- ``tally``: what one dossier contributes to the counts (``tally``), and the change between two
  of its states (``delta``) — the aggregates are a fold of these deltas, so any transition
  (late, out of order, corrected) moves the counts by exactly what it changed;
- ``windows``: day and year windows, the cells a change lands in, rolling 7/30-day sums;
- ``partials``: per-intake-partition counts (what a worker owns and persists) and their merge.
"""

from __future__ import annotations

from .partials import PartialCounts, merge_slices
from .tally import CITY_KEY, COUNTERS, Cell, Counts, DimensionKind, delta, tally, zero_counts
from .windows import (
    Window,
    WindowKind,
    add_all,
    cell_key,
    day_window,
    parse_cell_key,
    rolling,
    year_window,
)

__all__ = [
    "CITY_KEY",
    "COUNTERS",
    "Cell",
    "Counts",
    "DimensionKind",
    "PartialCounts",
    "Window",
    "WindowKind",
    "add_all",
    "cell_key",
    "day_window",
    "delta",
    "merge_slices",
    "parse_cell_key",
    "rolling",
    "tally",
    "year_window",
    "zero_counts",
]
