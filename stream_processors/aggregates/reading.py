"""Which stored windows make up a window someone asks for: a day, the last 7 or 30 days, or
the year to date, anchored on a local day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from dossierhub.errors import ValidationError

from .tally import CITY_KEY, DimensionKind
from .windows import Window, cell_key, day_window, year_window

__all__ = ["DIMENSION_PATHS", "Asked", "WindowName", "cells"]

#: URL segment → dimension (``/agencies/{code}/…``, ``/city/…``)
DIMENSION_PATHS: Final = {
    "agencies": DimensionKind.AGENCY,
    "levels": DimensionKind.LEVEL,
    "procedures": DimensionKind.PROCEDURE,
    "city": DimensionKind.CITY,
}


class WindowName(StrEnum):
    TODAY = "today"
    LAST_7_DAYS = "7d"
    LAST_30_DAYS = "30d"
    YEAR_TO_DATE = "ytd"


@dataclass(frozen=True, slots=True)
class Asked:
    dimension: DimensionKind
    key: str
    window: WindowName
    #: the local day the window ends on (inclusive)
    anchor: date

    @classmethod
    def parse(cls, dimension: str, key: str | None, window: str, anchor: date) -> Asked:
        try:
            kind = DIMENSION_PATHS[dimension]
        except KeyError:
            known = ", ".join(sorted(DIMENSION_PATHS))
            raise ValidationError("dimension", dimension, f"expected one of {known}") from None
        try:
            name = WindowName(window)
        except ValueError:
            known = ", ".join(w.value for w in WindowName)
            raise ValidationError("window", window, f"expected one of {known}") from None
        if kind is DimensionKind.CITY:
            key = CITY_KEY
        if not key:
            raise ValidationError("key", key, f"{dimension} needs a code")
        return cls(kind, key, name, anchor)

    @property
    def span(self) -> tuple[date, date]:
        """First day (inclusive) and the day after the last."""
        end = self.anchor + timedelta(days=1)
        if self.window is WindowName.TODAY:
            return self.anchor, end
        if self.window is WindowName.LAST_7_DAYS:
            return end - timedelta(days=7), end
        if self.window is WindowName.LAST_30_DAYS:
            return end - timedelta(days=30), end
        return date(self.anchor.year, 1, 1), end


def cells(asked: Asked) -> list[str]:
    """The stored cells whose sum is the asked window (the year to date of a past year's last
    day is that year's window; otherwise days are summed)."""
    start, end = asked.span
    if asked.window is WindowName.YEAR_TO_DATE and end == year_window(asked.anchor).end:
        windows: list[Window] = [year_window(asked.anchor)]
    else:
        windows = [day_window(start + timedelta(days=n)) for n in range((end - start).days)]
    return [cell_key(w, asked.dimension, asked.key) for w in windows]
