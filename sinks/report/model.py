"""The annual report's figures: exact counts, the percentages derived from them, the JSON shape.

Every percentage is computed from exact integer counts with :class:`~decimal.Decimal` and
rounded half up to two decimals (the way a person rounds, not Python's banker's rounding); a
zero denominator gives ``None`` (null in JSON, "n/a" in the table) rather than a made-up 0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

__all__ = [
    "LEVELS",
    "LOCAL_TZ",
    "MONTHS",
    "AnnualReport",
    "BacklogCheck",
    "Charts",
    "DossierFigures",
    "FeedbackFigures",
    "ProcedureFigures",
    "json_number",
    "month_ends",
    "percent",
    "year_bounds",
]

LOCAL_TZ: Final = ZoneInfo("Asia/Ho_Chi_Minh")
LEVELS: Final = ("PROVINCE", "DISTRICT", "COMMUNE")
MONTHS: Final = tuple(range(1, 13))
_CENT: Final = Decimal("0.01")


def percent(numerator: int, denominator: int) -> Decimal | None:
    """``numerator / denominator`` in percent, rounded half up to 2 decimals; None if 0/0."""
    if denominator == 0:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(_CENT, ROUND_HALF_UP)


def json_number(value: Decimal | None) -> float | int | None:
    """A percentage as JSON prints it: 40.35, 100 — the float of a 2-decimal Decimal prints
    back exactly as those two decimals."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants [start, end) of ``year`` in local time (Asia/Ho_Chi_Minh)."""
    return _local_midnight(dt.date(year, 1, 1)), _local_midnight(dt.date(year + 1, 1, 1))


def month_ends(year: int) -> tuple[dt.datetime, ...]:
    """The UTC instants at which each local month of ``year`` ends (12 of them)."""
    firsts = [dt.date(year, m + 1, 1) if m < 12 else dt.date(year + 1, 1, 1) for m in MONTHS]
    return tuple(_local_midnight(day) for day in firsts)


def _local_midnight(day: dt.date) -> dt.datetime:
    local = dt.datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class ProcedureFigures:
    in_force: dict[str, int]  # PROVINCE / DISTRICT / COMMUNE
    online_full: int
    online_partial: int
    decisions: int
    published: dict[str, int]  # standardized_new / amended / replaced / abolished

    @property
    def in_force_total(self) -> int:
        return sum(self.in_force.values())

    def as_json(self) -> dict[str, Any]:
        online_total = self.online_full + self.online_partial
        return {
            "in_force": {
                "province": self.in_force["PROVINCE"],
                "district": self.in_force["DISTRICT"],
                "commune": self.in_force["COMMUNE"],
                "total": self.in_force_total,
            },
            "online": {
                "full": self.online_full,
                "partial": self.online_partial,
                "total": online_total,
                "rate_pct": json_number(percent(online_total, self.in_force_total)),
            },
            "published": {
                "decisions": self.decisions,
                **{key: self.published[key] for key in _PUBLISHED_KEYS},
                "total": sum(self.published[key] for key in _PUBLISHED_KEYS),
            },
        }


_PUBLISHED_KEYS: Final = ("standardized_new", "amended", "replaced", "abolished")


@dataclass(frozen=True, slots=True)
class DossierFigures:
    opening_backlog: int
    received: int
    received_online: int
    resolved_on_time: int
    resolved_overdue: int
    overdue_with_apology: int
    withdrawn: int
    apology_letters: int

    @property
    def resolved(self) -> int:
        return self.resolved_on_time + self.resolved_overdue

    @property
    def closing_backlog(self) -> int:
        return self.opening_backlog + self.received - self.resolved - self.withdrawn

    def as_json(self) -> dict[str, Any]:
        return {
            "opening_backlog": self.opening_backlog,
            "received": self.received,
            "resolved": self.resolved,
            "resolved_on_time": self.resolved_on_time,
            "resolved_overdue": self.resolved_overdue,
            "on_time_rate_pct": json_number(percent(self.resolved_on_time, self.resolved)),
            "overdue_rate_pct": json_number(percent(self.resolved_overdue, self.resolved)),
            "withdrawn": self.withdrawn,
            "closing_backlog": self.closing_backlog,
            "received_online": self.received_online,
            "online_rate_pct": json_number(percent(self.received_online, self.received)),
            "apology_letters": self.apology_letters,
            "apology_coverage_pct": json_number(
                percent(self.overdue_with_apology, self.resolved_overdue)
            ),
        }


@dataclass(frozen=True, slots=True)
class FeedbackFigures:
    received: int
    about_procedures: int
    out_of_scope: int

    def as_json(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "about_procedures": self.about_procedures,
            "out_of_scope": self.out_of_scope,
        }


@dataclass(frozen=True, slots=True)
class BacklogCheck:
    """The closing backlog two ways: by the balance (opening + received - resolved - withdrawn)
    and by counting the dossiers still open at the end of the year. They differ when dossiers
    close without an outcome (stopped for a reason other than withdrawal, resolved with no
    DossierOutcome) or get an outcome without a reception: a data-quality finding."""

    computed: int
    counted: int

    @property
    def consistent(self) -> bool:
        return self.computed == self.counted

    def as_json(self) -> dict[str, Any]:
        finding = None
        if not self.consistent:
            finding = (
                f"closing backlog by balance {self.computed} != dossiers open at year end "
                f"{self.counted} (difference {self.computed - self.counted})"
            )
        return {
            "closing_backlog_by_balance": self.computed,
            "closing_backlog_counted": self.counted,
            "consistent": self.consistent,
            "finding": finding,
        }


@dataclass(frozen=True, slots=True)
class Charts:
    """The month-by-month series the HTML page draws (not part of the JSON)."""

    # level -> 12 (resolved, on time incl. early) pairs
    on_time_by_level: dict[str, list[tuple[int, int]]]
    # 12 (received, received online) pairs
    online_by_month: list[tuple[int, int]]
    # open dossiers at the start of the year, then at each month end (13 values)
    backlog: list[int]
    # level -> {FULL, PARTIAL, NONE} counts of procedures in force at year end
    procedures_by_online_level: dict[str, dict[str, int]]


@dataclass(frozen=True, slots=True)
class AnnualReport:
    year: int
    procedures: ProcedureFigures
    dossiers: DossierFigures
    feedback: FeedbackFigures
    backlog_check: BacklogCheck
    charts: Charts = field(compare=False)

    def as_json(self) -> dict[str, Any]:
        """Exactly the keys of issue #6, plus ``checks`` (the backlog cross-check)."""
        return {
            "year": self.year,
            "procedures": self.procedures.as_json(),
            "dossiers": self.dossiers.as_json(),
            "feedback": self.feedback.as_json(),
            "checks": {"backlog": self.backlog_check.as_json()},
        }
