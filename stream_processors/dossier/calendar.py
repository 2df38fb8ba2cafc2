"""Vietnam's working-day calendar in Asia/Ho_Chi_Minh, for due dates and lateness.

A day is a working day unless it falls on a weekend (Saturday, Sunday) or a non-working weekday,
and a weekend day can be turned into a working day (ngày làm bù). The data come from two places:

- the maintained ``holidays`` package's Vietnam calendar: statutory holidays, Tết, compensatory
  days (nghỉ bù) and the swaps it knows of (``weekend_workdays``);
- the hub's own ``WorkingCalendarPublished`` events, one per year. A published year *replaces* the
  package for that year: its ``holidays`` list is the complete set of non-working weekdays and its
  ``make_up_working_days`` the complete set of working weekend days (that is how the schema
  defines them), so a wrong package day can be removed, not only added to.

``extra_days_off`` / ``make_up_days`` given to the constructor are per-day overrides that win over
both sources (tests, emergencies decreed at short notice).

All functions are pure. Per-year tables are built on first use and cached on the instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any, Final

import holidays

from dossierhub.errors import ValidationError

__all__ = [
    "HCMC_TZ",
    "PublishedYear",
    "WorkingCalendar",
    "local_date",
    "start_of_local_day",
]

# Vietnam has kept UTC+7 without daylight saving since 1975; a fixed offset needs no tzdata.
HCMC_TZ: Final = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")
_SATURDAY: Final = 5
_ONE_DAY: Final = timedelta(days=1)
#: the most add_working_days answers a calendar keeps (a few thousand per year in practice)
_ADDED_KEPT: Final = 100_000


def local_date(instant: datetime) -> date:
    """The Ho Chi Minh City calendar date of an aware instant."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValidationError("instant", instant, "must be timezone-aware")
    return instant.astimezone(HCMC_TZ).date()


def start_of_local_day(day: date) -> datetime:
    """The UTC instant at which local ``day`` begins (00:00 in Ho Chi Minh City)."""
    return datetime.combine(day, time(0), HCMC_TZ).astimezone(UTC)


def _is_weekend(day: date) -> bool:
    return day.weekday() >= _SATURDAY


@lru_cache(maxsize=64)
def _package_year(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(non-working weekdays, working weekend days) of ``year`` per the holidays package."""
    vn = holidays.country_holidays("VN", years=year)
    days_off = frozenset(day for day in vn if day.year == year and not _is_weekend(day))
    # weekend_workdays also lists swaps of other years (cross-year substitutions); keep ours.
    make_up = frozenset(day for day in vn.weekend_workdays if day.year == year)
    return days_off, make_up


@dataclass(frozen=True)
class PublishedYear:
    """One ``WorkingCalendarPublished`` event: the official calendar of a year."""

    year: int
    holidays: frozenset[date]
    make_up_working_days: frozenset[date]
    source: str = ""

    def __post_init__(self) -> None:
        lists = (("holidays", self.holidays), ("make_up_working_days", self.make_up_working_days))
        for field, days in lists:
            stray = sorted(day for day in days if day.year != self.year)
            if stray:
                raise ValidationError(field, stray[0].isoformat(), f"is not in year {self.year}")
        both = sorted(self.holidays & self.make_up_working_days)
        if both:
            raise ValidationError("make_up_working_days", both[0].isoformat(), "is also a holiday")
        weekdays = sorted(day for day in self.make_up_working_days if not _is_weekend(day))
        if weekdays:
            raise ValidationError(
                "make_up_working_days", weekdays[0].isoformat(), "is not a Saturday or Sunday"
            )

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> PublishedYear:
        """From an Avro-ready ``WorkingCalendarPublished`` dict (``date`` objects)."""
        return cls(
            year=int(event["year"]),
            holidays=frozenset(event["holidays"]),
            make_up_working_days=frozenset(event["make_up_working_days"]),
            source=str(event.get("source", "")),
        )


@dataclass(frozen=True)
class _YearTable:
    working: tuple[bool, ...]  # index: day of year - 1
    prefix: tuple[int, ...]  # prefix[i] = working days among the first i days of the year

    @property
    def total(self) -> int:
        return self.prefix[-1]


class WorkingCalendar:
    """Working days in Ho Chi Minh City. Immutable: ``with_published`` returns a new calendar."""

    def __init__(
        self,
        *,
        extra_days_off: Iterable[date] = (),
        make_up_days: Iterable[date] = (),
        published: Iterable[PublishedYear] = (),
        use_package: bool = True,
    ) -> None:
        self._days_off = frozenset(extra_days_off)
        self._make_up = frozenset(make_up_days)
        both = sorted(self._days_off & self._make_up)
        if both:
            raise ValidationError("make_up_days", both[0].isoformat(), "is also an extra day off")
        # A later publication for the same year replaces the earlier one (schema doc).
        self._published: dict[int, PublishedYear] = {}
        for year in published:
            self._published[year.year] = year
        self._use_package = use_package
        self._tables: dict[int, _YearTable] = {}
        #: (day, n) → add_working_days(day, n): this calendar never changes (see with_published)
        self._added: dict[tuple[date, int], date] = {}

    def with_published(self, year: PublishedYear) -> WorkingCalendar:
        """This calendar with ``year`` published (replacing an earlier publication of it)."""
        return WorkingCalendar(
            extra_days_off=self._days_off,
            make_up_days=self._make_up,
            published=[*self._published.values(), year],
            use_package=self._use_package,
        )

    @property
    def published_years(self) -> frozenset[int]:
        return frozenset(self._published)

    def is_working_day(self, day: date) -> bool:
        return self._table(day.year).working[day.timetuple().tm_yday - 1]

    def add_working_days(self, day: date, n: int) -> date:
        """The date ``n`` working days after ``day`` (before it when ``n`` < 0); ``day`` itself
        is not counted, so ``add_working_days(d, 0) == d`` even on a holiday."""
        known = self._added.get((day, n))
        if known is not None:  # the same due dates are asked for at every event of a dossier
            return known
        step = _ONE_DAY if n >= 0 else -_ONE_DAY
        remaining = abs(n)
        current = day
        while remaining:
            current += step
            if self.is_working_day(current):
                remaining -= 1
        if len(self._added) < _ADDED_KEPT:
            self._added[day, n] = current
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in the half-open interval (start, end]; negative when end < start.

        This is the hub's single counting convention: reception on Wednesday and resolution on
        Friday take 2 working days; same-day resolution takes 0.
        """
        if end < start:
            return -self.working_days_between(end, start)
        return self._cumulative(end, start.year) - self._cumulative(start, start.year)

    def _cumulative(self, day: date, base_year: int) -> int:
        """Working days from 1 January of ``base_year`` up to and including ``day``."""
        before = sum(self._table(year).total for year in range(base_year, day.year))
        return before + self._table(day.year).prefix[day.timetuple().tm_yday]

    def _table(self, year: int) -> _YearTable:
        table = self._tables.get(year)
        if table is None:
            table = self._tables[year] = self._build(year)
        return table

    def _build(self, year: int) -> _YearTable:
        published = self._published.get(year)
        if published is not None:
            days_off, make_up = published.holidays, published.make_up_working_days
        elif self._use_package:
            days_off, make_up = _package_year(year)
        else:
            days_off, make_up = frozenset(), frozenset()
        working: list[bool] = []
        prefix = [0]
        day = date(year, 1, 1)
        while day.year == year:
            if day in self._make_up:
                is_working = True
            elif day in self._days_off:
                is_working = False
            elif _is_weekend(day):
                is_working = day in make_up
            else:
                is_working = day not in days_off
            working.append(is_working)
            prefix.append(prefix[-1] + is_working)
            day += _ONE_DAY
        return _YearTable(tuple(working), tuple(prefix))
