"""Windows of the aggregates: tumbling local days and calendar years (year to date).

Only these two are *stored*: a hopping window (the last 7 or 30 days, moving by a day) is the
sum of its day windows, computed when read (``rolling``). Storing each hop would write 7 + 30
copies of every change for no extra information, which is also why Faust's own hopping tables
are not used (they write one changelog record per overlapping window per update).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from dossierhub.errors import ValidationError

from .tally import COUNTERS, Counts, DimensionKind, zero_counts

__all__ = [
    "Window",
    "WindowKind",
    "add_all",
    "cell_key",
    "day_window",
    "parse_cell_key",
    "rolling",
    "year_window",
]


class WindowKind(StrEnum):
    """``WindowKind`` of the Avro schema (the hub stores DAY and YEAR)."""

    DAY = "DAY"
    MONTH = "MONTH"
    QUARTER = "QUARTER"
    YEAR = "YEAR"


@dataclass(frozen=True, slots=True, order=True)
class Window:
    kind: WindowKind
    #: first local day, inclusive
    start: date
    #: day after the last, exclusive
    end: date


def day_window(day: date) -> Window:
    return Window(WindowKind.DAY, day, day + timedelta(days=1))


def year_window(day: date) -> Window:
    return Window(WindowKind.YEAR, date(day.year, 1, 1), date(day.year + 1, 1, 1))


def cell_key(window: Window, dimension: DimensionKind, key: str) -> str:
    """``DAY|2023-03-15|AGENCY|000.00.15.H29``: the key of one window of one dimension value."""
    return f"{window.kind.value}|{window.start.isoformat()}|{dimension.value}|{key}"


def parse_cell_key(text: str) -> tuple[Window, DimensionKind, str]:
    try:
        kind_text, start_text, dimension_text, key = text.split("|", 3)
        kind, start = WindowKind(kind_text), date.fromisoformat(start_text)
        dimension = DimensionKind(dimension_text)
    except ValueError as exc:
        raise ValidationError("cell_key", text, f"not KIND|DATE|DIMENSION|KEY: {exc}") from exc
    window = day_window(start) if kind is WindowKind.DAY else year_window(start)
    if window.kind is not kind or window.start != start:
        raise ValidationError("cell_key", text, "not the start of a stored window")
    return window, dimension, key


def rolling(days: Mapping[date, Counts], end: date, length: int) -> Counts:
    """Sum of the day windows ``end - length + 1 … end`` (a hopping window read at ``end``)."""
    if length < 1:
        raise ValidationError("length", length, "a rolling window spans at least one day")
    return add_all(days.get(end - timedelta(days=n)) for n in range(length))


def add_all(counts: Iterable[Counts | None]) -> Counts:
    total = zero_counts()
    for one in counts:
        if one:
            for name in COUNTERS:
                total[name] += one.get(name, 0)
    return total
