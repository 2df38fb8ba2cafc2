"""The computed report against a published one (a file shaped like
``shared/reference/hcmc-2023-published-figures.json``): every figure that maps, and the printed
report's own inconsistencies with their arithmetic.

Scaling (``--scale X``, for a demo run at a fraction of the city's volume) follows the
simulator's rule: a published dossier count ``n`` becomes ``round_half_up(n * X)``; the derived
counts are recomputed from the scaled parts, never scaled themselves (resolved = on time +
overdue; in progress = the implied opening backlog + received - resolved, each part scaled).
Procedure and feedback counts, and percentages, are not scaled.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Final

from dossierhub.errors import HubError
from sinks.report.model import AnnualReport, json_number, percent

__all__ = [
    "MAPPING",
    "Comparison",
    "Kind",
    "PublishedFigures",
    "PublishedFiguresError",
    "Reconciliation",
    "reconcile",
    "scale_count",
]


class PublishedFiguresError(HubError):
    """The published-figures file is missing, unreadable or lacks a figure; names which."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(
            f"published figures {path}: {problem}",
            hint="pass a file shaped like shared/reference/hcmc-2023-published-figures.json",
        )
        self.path = path


class Kind(Enum):
    PROCEDURES = "procedure count (not scaled)"
    DOSSIERS = "dossier count (scaled)"
    RESOLVED = "derived: on time + overdue, from the scaled parts"
    IN_PROGRESS = "derived: implied opening backlog + received - resolved, from the scaled parts"
    FEEDBACK = "feedback count (not scaled)"
    PERCENT = "percentage as printed (not scaled)"


@dataclass(frozen=True, slots=True)
class Mapped:
    published: str  # dotted path in the published file
    report: str  # dotted path in the report's JSON
    kind: Kind
    # for a percentage: the published counts (numerator, denominator) it should equal
    exact_from: tuple[str, str] | None = None


_PROC: Final = Kind.PROCEDURES

# Published key -> report key: the one table the reconciliation reads.
MAPPING: Final = (
    Mapped("procedures.in_force_by_level.province", "procedures.in_force.province", _PROC),
    Mapped("procedures.in_force_by_level.district", "procedures.in_force.district", _PROC),
    Mapped("procedures.in_force_by_level.commune", "procedures.in_force.commune", _PROC),
    Mapped("procedures.in_force_total", "procedures.in_force.total", _PROC),
    Mapped("procedures.online_services_full", "procedures.online.full", _PROC),
    Mapped("procedures.online_services_partial", "procedures.online.partial", _PROC),
    Mapped("procedures.online_services_total", "procedures.online.total", _PROC),
    Mapped(
        "procedures.online_services_rate_pct_as_printed",
        "procedures.online.rate_pct",
        Kind.PERCENT,
        ("procedures.online_services_total", "procedures.in_force_total"),
    ),
    Mapped("procedures.publication_decisions", "procedures.published.decisions", _PROC),
    Mapped(
        "procedures.published_by_action.standardized_new",
        "procedures.published.standardized_new",
        _PROC,
    ),
    Mapped("procedures.published_by_action.amended", "procedures.published.amended", _PROC),
    Mapped("procedures.published_by_action.replaced", "procedures.published.replaced", _PROC),
    Mapped("procedures.published_by_action.abolished", "procedures.published.abolished", _PROC),
    Mapped("procedures.published_procedures", "procedures.published.total", _PROC),
    Mapped("dossiers.received", "dossiers.received", Kind.DOSSIERS),
    Mapped("dossiers.resolved", "dossiers.resolved", Kind.RESOLVED),
    Mapped("dossiers.resolved_on_time", "dossiers.resolved_on_time", Kind.DOSSIERS),
    Mapped("dossiers.resolved_overdue", "dossiers.resolved_overdue", Kind.DOSSIERS),
    Mapped(
        "dossiers.resolved_on_time_pct_as_printed",
        "dossiers.on_time_rate_pct",
        Kind.PERCENT,
        ("dossiers.resolved_on_time", "dossiers.resolved"),
    ),
    Mapped(
        "dossiers.resolved_overdue_pct_as_printed",
        "dossiers.overdue_rate_pct",
        Kind.PERCENT,
        ("dossiers.resolved_overdue", "dossiers.resolved"),
    ),
    Mapped("dossiers.in_progress", "dossiers.closing_backlog", Kind.IN_PROGRESS),
    Mapped("dossiers.online_full_or_partial", "dossiers.received_online", Kind.DOSSIERS),
    Mapped(
        "dossiers.apology_letter_coverage_of_overdue_pct_as_printed",
        "dossiers.apology_coverage_pct",
        Kind.PERCENT,
    ),
    Mapped("feedback.received", "feedback.received", Kind.FEEDBACK),
    Mapped("feedback.about_regulations_or_procedures", "feedback.about_procedures", Kind.FEEDBACK),
    Mapped("feedback.out_of_scope", "feedback.out_of_scope", Kind.FEEDBACK),
)

# Published figures the hub's events cannot produce, and why (shown, not silently skipped).
NOT_COMPARED: Final = {
    "procedures.online_services_denominator_as_printed": "used in the inconsistency checks",
    "dossiers.online_full_or_partial_previous_year": "a figure of the previous year's report",
    "reform_plan": "plans, inspections and legal documents are not events of the hub",
    "digital_transformation_index_rank": "a national ranking, not an event of the hub",
}


def scale_count(count: int, scale: Decimal) -> int:
    """The simulator's rule: ``count * scale`` rounded half up to an integer."""
    return int((Decimal(count) * scale).quantize(Decimal(1), ROUND_HALF_UP))


def _get(data: Mapping[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(dotted)
        value = value[part]
    return value


def _fmt(value: int | Decimal | float | None) -> str:
    """22,583,451 / 99.84 / n/a — numbers as the arithmetic lines print them."""
    return "n/a" if value is None else f"{value:,}"


class PublishedFigures:
    """The published file, with its dossier counts scaled by ``scale`` (None: as printed)."""

    def __init__(self, data: Mapping[str, Any], source: str, scale: Decimal | None = None) -> None:
        self.data = data
        self.source = source
        self.scale = scale
        for mapped in MAPPING:  # fail early, naming the figure, rather than half-way through
            self.raw(mapped.published)
        self.raw("procedures.online_services_denominator_as_printed")

    @classmethod
    def load(cls, path: Path, scale: Decimal | None = None) -> PublishedFigures:
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise PublishedFiguresError(str(path), f"cannot read it ({exc})") from exc
        if not isinstance(data, dict):
            raise PublishedFiguresError(str(path), "not a JSON object")
        return cls(data, str(path), scale)

    def raw(self, dotted: str) -> int | Decimal:
        """A figure as printed (percentages as Decimal, so 40.28 stays 40.28)."""
        try:
            value = _get(self.data, dotted)
        except KeyError:
            raise PublishedFiguresError(self.source, f"no figure {dotted!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PublishedFiguresError(self.source, f"{dotted} is not a number: {value!r}")
        return value if isinstance(value, int) else Decimal(str(value))

    def count(self, dotted: str) -> int:
        value = self.raw(dotted)
        if not isinstance(value, int):
            raise PublishedFiguresError(self.source, f"{dotted} is not a count: {value}")
        return value

    def scaled(self, dotted: str) -> int:
        count = self.count(dotted)
        return count if self.scale is None else scale_count(count, self.scale)

    @property
    def implied_opening_backlog(self) -> int:
        """in_progress - (received - resolved): the dossiers the printed in-progress figure needs
        beyond the year's own (an opening backlog, net of withdrawals)."""
        return self.count("dossiers.in_progress") - (
            self.count("dossiers.received") - self.count("dossiers.resolved")
        )

    def expected(self, mapped: Mapped) -> int | Decimal:
        """What the computed report should show for ``mapped`` at this scale."""
        if mapped.kind is Kind.PERCENT:
            return self.raw(mapped.published)
        if self.scale is None or mapped.kind in (Kind.PROCEDURES, Kind.FEEDBACK):
            return self.count(mapped.published)
        if mapped.kind is Kind.RESOLVED:
            return self._resolved()
        if mapped.kind is Kind.IN_PROGRESS:
            backlog = scale_count(self.implied_opening_backlog, self.scale)
            return backlog + self.scaled("dossiers.received") - self._resolved()
        return self.scaled(mapped.published)

    def _resolved(self) -> int:
        return self.scaled("dossiers.resolved_on_time") + self.scaled("dossiers.resolved_overdue")

    def exact_percent(self, mapped: Mapped) -> Decimal | None:
        """The percentage recomputed from the published counts it is a ratio of (scaled)."""
        if mapped.exact_from is None:
            return None
        numerator, denominator = (self._as_expected(key) for key in mapped.exact_from)
        return percent(numerator, denominator)

    def _as_expected(self, dotted: str) -> int:
        for mapped in MAPPING:
            if mapped.published == dotted:
                value = self.expected(mapped)
                return int(value)
        return self.scaled(dotted)


@dataclass(frozen=True, slots=True)
class Comparison:
    mapped: Mapped
    published: int | Decimal
    expected: int | Decimal
    computed: int | Decimal | None
    exact: Decimal | None  # percentages only: recomputed from the published counts

    @property
    def match(self) -> bool:
        return self.computed is not None and Decimal(self.expected) == Decimal(self.computed)

    @property
    def explained(self) -> bool:
        """A mismatch the printed report explains itself: the computed percentage is the exact
        one from the published counts, the printed one is not."""
        return (
            not self.match
            and self.exact is not None
            and self.computed is not None
            and self.exact == self.computed
        )

    @property
    def note(self) -> str:
        if self.match:
            return ""
        if self.explained:
            return (
                f"printed {_fmt(self.published)} is not the exact {_fmt(self.exact)} "
                "from the published counts (see the printed report's inconsistencies)"
            )
        return f"differs by {_fmt(_diff(self.computed, self.expected))}"

    def as_json(self) -> dict[str, Any]:
        return {
            "published_key": self.mapped.published,
            "report_key": self.mapped.report,
            "kind": self.mapped.kind.value,
            "published": _number(self.published),
            "expected": _number(self.expected),
            "computed": _number(self.computed),
            "exact_from_published_counts": json_number(self.exact),
            "match": self.match,
            "explained": self.explained,
            "note": self.note or None,
        }


def _diff(computed: int | Decimal | None, expected: int | Decimal) -> int | Decimal | None:
    if computed is None:
        return None
    return Decimal(computed) - Decimal(expected)


def _number(value: int | Decimal | None) -> int | float | None:
    return value if value is None or isinstance(value, int) else json_number(value)


@dataclass(frozen=True, slots=True)
class Inconsistency:
    """One check of the printed report against itself, with its arithmetic."""

    check: str
    arithmetic: str
    consistent: bool
    explanation: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "consistent": self.consistent,
            "arithmetic": self.arithmetic,
            "explanation": self.explanation,
        }


@dataclass(frozen=True, slots=True)
class Reconciliation:
    source: str
    scale: Decimal | None
    comparisons: tuple[Comparison, ...]
    inconsistencies: tuple[Inconsistency, ...]

    @property
    def mismatches(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if not c.match)

    def as_json(self) -> dict[str, Any]:
        return {
            "against": self.source,
            "scale": None if self.scale is None else str(self.scale),
            "mismatches": len(self.mismatches),
            "unexplained_mismatches": sum(1 for c in self.mismatches if not c.explained),
            "figures": [c.as_json() for c in self.comparisons],
            "not_compared": dict(NOT_COMPARED),
            "published_report_checks": [i.as_json() for i in self.inconsistencies],
        }


def reconcile(report: AnnualReport, published: PublishedFigures) -> Reconciliation:
    computed = report.as_json()
    comparisons = []
    for mapped in MAPPING:
        value = _get(computed, mapped.report)
        comparisons.append(
            Comparison(
                mapped=mapped,
                published=published.raw(mapped.published),
                expected=published.expected(mapped),
                computed=None if value is None else _as_decimal_or_int(value),
                exact=published.exact_percent(mapped),
            )
        )
    return Reconciliation(
        source=published.source,
        scale=published.scale,
        comparisons=tuple(comparisons),
        inconsistencies=published_report_checks(published, report),
    )


def _as_decimal_or_int(value: int | float) -> int | Decimal:
    return value if isinstance(value, int) else Decimal(str(value))


def published_report_checks(
    published: PublishedFigures, report: AnnualReport | None = None
) -> tuple[Inconsistency, ...]:
    """The printed report against itself, from the file's numbers (as printed, not scaled)."""
    count = published.count
    return (
        _backlog_check(published, report),
        _sum_check(
            "resolved = on time + overdue",
            count("dossiers.resolved"),
            ("dossiers.resolved_on_time", "dossiers.resolved_overdue"),
            published,
        ),
        *_percent_checks(published),
        _denominator_check(published),
        _sum_check(
            "procedures in force = the sum over levels",
            count("procedures.in_force_total"),
            tuple(f"procedures.in_force_by_level.{level}" for level in _LEVEL_KEYS),
            published,
        ),
        _sum_check(
            "online services = full + partial",
            count("procedures.online_services_total"),
            ("procedures.online_services_full", "procedures.online_services_partial"),
            published,
        ),
        _sum_check(
            "published procedures = the sum over actions",
            count("procedures.published_procedures"),
            tuple(f"procedures.published_by_action.{key}" for key in _ACTION_KEYS),
            published,
        ),
        _sum_check(
            "feedback received = in scope + out of scope",
            count("feedback.received"),
            ("feedback.about_regulations_or_procedures", "feedback.out_of_scope"),
            published,
        ),
    )


_LEVEL_KEYS: Final = ("province", "district", "commune")
_ACTION_KEYS: Final = ("standardized_new", "amended", "replaced", "abolished")


def _backlog_check(published: PublishedFigures, report: AnnualReport | None) -> Inconsistency:
    received = published.count("dossiers.received")
    resolved = published.count("dossiers.resolved")
    in_progress = published.count("dossiers.in_progress")
    gap = published.implied_opening_backlog
    arithmetic = (
        f"received - resolved = {_fmt(received)} - {_fmt(resolved)} = {_fmt(received - resolved)}"
        f"; in progress is printed as {_fmt(in_progress)} (difference {gap:+,})"
    )
    if gap == 0:
        return Inconsistency("received - resolved = in progress", arithmetic, True)
    if gap > 0:
        explanation = (
            f"consistent with an opening backlog of {_fmt(gap)} dossiers (net of withdrawals) "
            "carried over from the previous year - the assumption scenarios/hcmc-2023.json makes"
        )
    else:
        explanation = f"would need {_fmt(-gap)} more dossiers withdrawn than carried over"
    if report is not None:
        dossiers = report.dossiers
        expected = gap if published.scale is None else scale_count(gap, published.scale)
        explanation += (
            f"; the warehouse has opening backlog - withdrawn = {_fmt(dossiers.opening_backlog)}"
            f" - {_fmt(dossiers.withdrawn)} = {_fmt(dossiers.opening_backlog - dossiers.withdrawn)}"
            f" (expected {_fmt(expected)}"
            + ("" if published.scale is None else f" at scale {published.scale}")
            + ")"
        )
    return Inconsistency("received - resolved = in progress", arithmetic, False, explanation)


def _sum_check(
    check: str, total: int, parts: tuple[str, ...], published: PublishedFigures
) -> Inconsistency:
    values = [published.count(key) for key in parts]
    arithmetic = (
        " + ".join(_fmt(v) for v in values)
        + f" = {_fmt(sum(values))}; printed {_fmt(total)}"
        + ("" if sum(values) == total else f" (difference {total - sum(values):+,})")
    )
    return Inconsistency(check, arithmetic, sum(values) == total)


def _exact(numerator: int, denominator: int, places: int = 3) -> Decimal:
    quantum = Decimal(1).scaleb(-places)
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(quantum, ROUND_HALF_UP)


def _percent_checks(published: PublishedFigures) -> tuple[Inconsistency, ...]:
    on_time = published.count("dossiers.resolved_on_time")
    overdue = published.count("dossiers.resolved_overdue")
    resolved = published.count("dossiers.resolved")
    checks = []
    printed_on_time = published.raw("dossiers.resolved_on_time_pct_as_printed")
    printed_overdue = published.raw("dossiers.resolved_overdue_pct_as_printed")
    # the reading that explains both printed figures, if it does: truncate the overdue share,
    # then print 100 minus it as the on-time share
    truncated = (Decimal(overdue) * 100 / Decimal(resolved)).quantize(Decimal("0.01"), ROUND_DOWN)
    explained = truncated == Decimal(printed_overdue) and 100 - truncated == Decimal(
        printed_on_time
    )
    explanation = (
        f"the printed figures truncate the overdue share to {truncated} and print the on-time "
        f"share as 100 - {truncated} = {100 - truncated}"
        if explained
        else None
    )
    for label, numerator, printed in (
        ("on-time share", on_time, printed_on_time),
        ("overdue share", overdue, printed_overdue),
    ):
        exact = percent(numerator, resolved)
        arithmetic = (
            f"{_fmt(numerator)} / {_fmt(resolved)} = {_exact(numerator, resolved)}% "
            f"(rounds to {exact}%); printed {printed}%"
        )
        consistent = exact == Decimal(printed)
        checks.append(
            Inconsistency(
                f"printed {label} = its exact value",
                arithmetic,
                consistent,
                None if consistent else explanation,
            )
        )
    return tuple(checks)


def _denominator_check(published: PublishedFigures) -> Inconsistency:
    online = published.count("procedures.online_services_total")
    in_force = published.count("procedures.in_force_total")
    denominator = published.count("procedures.online_services_denominator_as_printed")
    printed = published.raw("procedures.online_services_rate_pct_as_printed")
    arithmetic = (
        f"procedures in force printed as {_fmt(in_force)}, online-service rate denominator "
        f"{_fmt(denominator)} (difference {denominator - in_force:+,}): "
        f"{_fmt(online)} / {_fmt(denominator)} = {percent(online, denominator)}%, "
        f"{_fmt(online)} / {_fmt(in_force)} = {percent(online, in_force)}%; printed {printed}%"
    )
    consistent = denominator == in_force and percent(online, in_force) == Decimal(printed)
    explanation = None
    if not consistent and percent(online, denominator) == Decimal(printed):
        explanation = (
            f"the printed rate uses {_fmt(denominator)} procedures, not the {_fmt(in_force)} "
            "in force; the hub reports the rate over the procedures it finds in force"
        )
    return Inconsistency(
        "online-service rate over the procedures in force", arithmetic, consistent, explanation
    )
