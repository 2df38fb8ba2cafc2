"""Day ranges of a simulated year, on the hub's working calendar."""

from __future__ import annotations

from datetime import date, timedelta

from stream_processors.dossier import WorkingCalendar

__all__ = ["days_between", "working_days"]


def days_between(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last``, both included."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def working_days(first: date, last: date, calendar: WorkingCalendar) -> list[date]:
    """The working days from ``first`` to ``last``, both included."""
    return [day for day in days_between(first, last) if calendar.is_working_day(day)]
