"""Reference data a simulated year starts from: the agencies, their administrative units and
the official working calendars, announced by the city committee before anything else."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from typing import Any

from schemas._formats import ADMIN_UNIT_CODE
from stream_processors.dossier import HCMC_TZ, WorkingCalendar

from .days import days_between
from .dossiers import SimEvent

__all__ = ["reference_events"]


def reference_events(
    *,
    year: int,
    city: str,
    agencies: Sequence[Any],
    units: Sequence[Any],
    calendar: WorkingCalendar,
) -> Iterator[SimEvent]:
    at = datetime.combine(date(year - 1, 11, 1), time(8), HCMC_TZ)
    # Units are announced under their GSO codes; those the directory lacks (it marks them) are
    # left to the warehouse's seed from the directory files.
    for unit in (u for u in units if _gso(u.code)):
        yield SimEvent(at, city, "AdministrativeUnitChanged", {
            "unit_code": unit.code,
            "name": unit.name,
            "type": unit.type,
            "parent_code": _gso(unit.parent_code),
            "legal_basis": None,
            "valid_from": unit.valid_from,
            "valid_to": unit.valid_to,
            "merged_from": [],
        }, f"unit/{unit.code}/{unit.valid_from}")  # fmt: skip
    for agency in agencies:
        yield SimEvent(at, city, "AgencyRegistered", {
            "agency_code": agency.code,
            "name": agency.name,
            "level": agency.level,
            "parent_code": agency.parent_code,
            "admin_unit_code": _gso(agency.admin_unit_code),
            "valid_from": getattr(agency, "valid_from", None) or date(year - 1, 1, 1),
            "valid_to": getattr(agency, "valid_to", None),
            "successor_code": None,
        }, f"agency/{agency.code}")  # fmt: skip
    for published in (year - 1, year):
        yield SimEvent(at, city, "WorkingCalendarPublished", {
            **_official_calendar(calendar, published),
            "source": "holidays package (Vietnam) with the scenario's decreed days",
        }, f"calendar/{published}")  # fmt: skip


def _gso(code: str | None) -> str | None:
    return code if code is not None and ADMIN_UNIT_CODE.fullmatch(code) else None


def _official_calendar(calendar: WorkingCalendar, year: int) -> dict[str, Any]:
    """The year as the processors receive it: weekdays off and weekend days worked."""
    days = days_between(date(year, 1, 1), date(year, 12, 31))
    weekend = {5, 6}
    return {
        "year": year,
        "holidays": [
            d for d in days if d.weekday() not in weekend and not calendar.is_working_day(d)
        ],
        "make_up_working_days": [
            d for d in days if d.weekday() in weekend and calendar.is_working_day(d)
        ],
    }
