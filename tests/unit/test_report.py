"""The report's arithmetic without a warehouse: rounding, scaling, the reconciliation with the
city's real published file, the catalog fold, and the table."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from sinks.report.catalog import (
    CatalogEvent,
    count_published_items,
    fold_in_force,
    fold_online_levels,
)
from sinks.report.model import json_number, month_ends, percent, year_bounds
from sinks.report.reconcile import (
    MAPPING,
    PublishedFigures,
    PublishedFiguresError,
    published_report_checks,
    reconcile,
    scale_count,
)
from sinks.report.render_table import render_reconciliation, render_report
from tests.report_helpers import published_2023, report_matching

MILLI = Decimal("0.001")


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (2, 3, Decimal("66.67")),
        (1, 8, Decimal("12.50")),
        (1, 800, Decimal("0.13")),  # 0.125: half up, where banker's rounding gives 0.12
        (22471574, 22509223, Decimal("99.83")),
        (740, 1834, Decimal("40.35")),
        (0, 5, Decimal("0.00")),
    ],
)
def test_percent_rounds_half_up(numerator: int, denominator: int, expected: Decimal) -> None:
    assert percent(numerator, denominator) == expected


def test_a_zero_denominator_gives_null() -> None:
    assert percent(0, 0) is None
    assert json_number(None) is None
    assert json_number(Decimal("100.00")) == 100
    assert json.dumps(json_number(Decimal("40.35"))) == "40.35"


def test_local_year_bounds() -> None:
    start, end = year_bounds(2023)
    assert start == dt.datetime(2022, 12, 31, 17)  # midnight in Ho Chi Minh City, in UTC
    assert end == dt.datetime(2023, 12, 31, 17)
    assert month_ends(2023)[0] == dt.datetime(2023, 1, 31, 17)
    assert month_ends(2023)[-1] == end


@pytest.mark.parametrize(
    ("count", "scale", "expected"),
    [
        (499, MILLI, 0),  # 0.499
        (500, MILLI, 1),  # 0.5: half up
        (37649, MILLI, 38),
        (22471574, MILLI, 22472),
        (22583451, Decimal("0.01"), 225835),
        (7, Decimal(1), 7),
    ],
)
def test_scale_count_rounds_half_up(count: int, scale: Decimal, expected: int) -> None:
    assert scale_count(count, scale) == expected


def test_derived_counts_are_recomputed_from_the_scaled_parts() -> None:
    published = PublishedFigures.load(published_2023(), MILLI)
    by_key = {m.published: m for m in MAPPING}
    # 22472 + 38, not round(22509223 * 0.001) = 22509
    assert published.expected(by_key["dossiers.resolved"]) == 22510
    # scaled implied backlog (499 -> 0) + 22583 received - 22510 resolved
    assert published.expected(by_key["dossiers.in_progress"]) == 73
    assert published.expected(by_key["procedures.in_force_total"]) == 1834  # not scaled
    assert published.expected(by_key["feedback.received"]) == 8161  # not scaled


@pytest.mark.parametrize("scale", [None, MILLI, Decimal("0.01")])
def test_a_report_of_the_published_year_reconciles(scale: Decimal | None) -> None:
    published = PublishedFigures.load(published_2023(), scale)
    report = report_matching(published_2023(), scale or Decimal(1))
    result = reconcile(report, published)
    mismatched = {c.mapped.published for c in result.mismatches}
    # only the printed percentages differ, and each is the printed report's own error
    assert mismatched == {
        "procedures.online_services_rate_pct_as_printed",
        "dossiers.resolved_on_time_pct_as_printed",
        "dossiers.resolved_overdue_pct_as_printed",
    }
    assert all(c.explained for c in result.mismatches)
    assert result.as_json()["unexplained_mismatches"] == 0
    assert len(result.comparisons) == len(MAPPING)


def test_a_wrong_figure_is_an_unexplained_mismatch() -> None:
    published = PublishedFigures.load(published_2023(), MILLI)
    good = report_matching(published_2023(), MILLI)
    bad = dataclasses.replace(
        good, dossiers=dataclasses.replace(good.dossiers, received=good.dossiers.received + 1)
    )
    result = reconcile(bad, published).as_json()
    rows = {row["published_key"]: row for row in result["figures"]}
    assert rows["dossiers.received"]["match"] is False
    assert rows["dossiers.received"]["explained"] is False
    assert rows["dossiers.received"]["note"] == "differs by 1"
    assert rows["dossiers.in_progress"]["match"] is False  # one more received, one more open
    assert result["unexplained_mismatches"] == 2


def test_the_printed_reports_inconsistencies_with_their_arithmetic() -> None:
    published = PublishedFigures.load(published_2023())
    checks = {c.check: c for c in published_report_checks(published)}
    backlog = checks["received - resolved = in progress"]
    assert not backlog.consistent
    assert "22,583,451 - 22,509,223 = 74,228" in backlog.arithmetic
    assert "74,727 (difference +499)" in backlog.arithmetic
    assert backlog.explanation is not None
    assert "opening backlog of 499 dossiers" in backlog.explanation

    on_time = checks["printed on-time share = its exact value"]
    assert "22,471,574 / 22,509,223 = 99.833% (rounds to 99.83%); printed 99.84%" in (
        on_time.arithmetic
    )
    overdue = checks["printed overdue share = its exact value"]
    assert "37,649 / 22,509,223 = 0.167% (rounds to 0.17%); printed 0.16%" in overdue.arithmetic
    assert overdue.explanation is not None
    assert "truncate the overdue share to 0.16" in overdue.explanation

    rate = checks["online-service rate over the procedures in force"]
    assert "1,834" in rate.arithmetic
    assert "denominator 1,837 (difference +3)" in rate.arithmetic
    assert "740 / 1,837 = 40.28%, 740 / 1,834 = 40.35%" in rate.arithmetic
    sums = [
        "resolved = on time + overdue",
        "procedures in force = the sum over levels",
        "online services = full + partial",
        "published procedures = the sum over actions",
        "feedback received = in scope + out of scope",
    ]
    assert all(checks[name].consistent for name in sums)


def test_the_inconsistencies_come_from_the_files_numbers(tmp_path: Path) -> None:
    data = json.loads(published_2023().read_text("utf-8"))
    data["dossiers"]["in_progress"] = data["dossiers"]["received"] - data["dossiers"]["resolved"]
    data["procedures"]["online_services_denominator_as_printed"] = 1834
    data["procedures"]["online_services_rate_pct_as_printed"] = 40.35
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data), "utf-8")
    checks = {c.check: c for c in published_report_checks(PublishedFigures.load(edited))}
    assert checks["received - resolved = in progress"].consistent
    assert checks["online-service rate over the procedures in force"].consistent
    assert not checks["printed on-time share = its exact value"].consistent


def test_a_file_without_a_figure_is_refused_naming_it(tmp_path: Path) -> None:
    data = json.loads(published_2023().read_text("utf-8"))
    del data["dossiers"]["resolved_overdue"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data), "utf-8")
    with pytest.raises(PublishedFiguresError, match=r"dossiers\.resolved_overdue"):
        PublishedFigures.load(broken)
    with pytest.raises(PublishedFiguresError, match="cannot read"):
        PublishedFigures.load(tmp_path / "missing.json")


def _event(kind: str, code: str, day: int, **extra: object) -> CatalogEvent:
    return CatalogEvent(
        event_type=kind,
        code=str(extra.pop("service", code)),
        procedure_code=code,
        effective=dt.date(2023, 1, day),
        occurred_at=dt.datetime(2023, 1, day),
        offset=day,
        **extra,  # type: ignore[arg-type]
    )


def test_catalog_fold_takes_what_took_effect_last() -> None:
    events = [
        _event("ProcedurePublished", "A", 1, authority_level="PROVINCE", internal=False),
        _event("ProcedureAbolished", "A", 5),
        _event("ProcedurePublished", "A", 9, authority_level="DISTRICT"),  # published again
        _event("ProcedurePublished", "B", 2, authority_level="COMMUNE"),
        _event("ProcedureReplaced", "B", 30),  # after the end date
        _event("ProcedurePublished", "C", 3, authority_level="COMMUNE", internal=False),
        _event("ProcedureAmended", "C", 4, internal=True),  # became internal
    ]
    in_force = fold_in_force(events, dt.date(2023, 1, 20))
    assert in_force.levels == {"A": "DISTRICT", "B": "COMMUNE"}

    online = [
        _event("OnlineServiceOffered", "A", 1, service="S1", level="PARTIAL"),
        _event("OnlineServiceOffered", "A", 2, service="S2", level="FULL"),
        _event("OnlineServiceWithdrawn", "A", 3, service="S2", level="FULL"),
        _event("OnlineServiceOffered", "B", 1, service="S3", level="PARTIAL"),
        _event("OnlineServiceLevelChanged", "B", 25, service="S3", level="FULL"),  # too late
        _event("OnlineServiceOffered", "C", 1, service="S4", level="FULL"),  # C not in force
    ]
    assert fold_online_levels(online, dt.date(2023, 1, 20), in_force) == {
        "A": "PARTIAL",
        "B": "PARTIAL",
    }


def test_published_items_by_change_type() -> None:
    items = [
        json.dumps(
            [
                {"procedure_code": "a", "change_type": "NEW", "internal": False},
                {"procedure_code": "b", "change_type": "STANDARDIZED_NEW", "internal": False},
                {"procedure_code": "c", "change_type": "REPLACED", "internal": True},
            ]
        ),
        None,
    ]
    assert count_published_items(items) == {
        "standardized_new": 2,
        "amended": 0,
        "replaced": 0,
        "abolished": 0,
    }


def test_table_has_both_languages_and_aligned_values() -> None:
    report = report_matching(published_2023())
    text = render_report(report)
    lines = text.splitlines()
    received = next(line for line in lines if "Hồ sơ tiếp nhận / Dossiers received" in line)
    assert received.endswith("22,583,451")
    rate = next(line for line in lines if "/ On-time rate" in line)
    assert rate.endswith("99.83")
    assert len({len(line) for line in lines[2:] if line.rstrip()[-1:].isdigit()}) == 1
    assert "counted directly = 74,727" in text

    empty = dataclasses.replace(
        report, dossiers=dataclasses.replace(report.dossiers, resolved_overdue=0)
    )
    coverage = next(
        line for line in render_report(empty).splitlines() if "Overdue with an apology" in line
    )
    assert coverage.endswith("n/a (zero denominator)")


def test_reconciliation_table_flags_each_mismatch() -> None:
    published = PublishedFigures.load(published_2023(), MILLI)
    text = render_reconciliation(reconcile(report_matching(published_2023(), MILLI), published))
    assert "dossier counts scaled by 0.001" in text
    assert text.count("MISMATCH (explained)") == 3
    assert "3 mismatches (0 not explained" in text
    assert "74,228" in text
    assert "opening backlog of 499 dossiers" in text
