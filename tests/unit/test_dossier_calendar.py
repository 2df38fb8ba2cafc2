"""The working-day calendar: package data, published years, overrides, counting conventions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas
from dossierhub.errors import ValidationError
from stream_processors.dossier import PublishedYear, WorkingCalendar, local_date, start_of_local_day
from tests.unit.test_dossier_events import CALENDAR

YEARS = range(2022, 2027)


def _package(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=year)


# -- package data -----------------------------------------------------------------------------


@pytest.mark.parametrize("year", YEARS)
def test_every_package_holiday_is_a_day_off(year: int) -> None:
    for day in _package(year):
        assert not CALENDAR.is_working_day(day), (day, _package(year)[day])


@pytest.mark.parametrize("year", YEARS)
def test_weekdays_are_working_days_unless_the_package_says_otherwise(year: int) -> None:
    package = _package(year)
    day = date(year, 1, 1)
    while day.year == year:
        if day.weekday() < 5 and day not in package:
            assert CALENDAR.is_working_day(day), day
        day += timedelta(days=1)


@pytest.mark.parametrize("year", YEARS)
def test_weekends_are_days_off_unless_the_package_swaps_them(year: int) -> None:
    swapped = {d for d in _package(year).weekend_workdays if d.year == year}
    day = date(year, 1, 1)
    while day.year == year:
        if day.weekday() >= 5:
            assert CALENDAR.is_working_day(day) is (day in swapped), day
        day += timedelta(days=1)


def test_tet_2023_anchor_is_20_to_26_january() -> None:
    # Government decision for civil servants: Tết 2023 off Friday 20 to Thursday 26 January.
    assert CALENDAR.is_working_day(date(2023, 1, 19))
    for day in range(20, 27):
        assert not CALENDAR.is_working_day(date(2023, 1, day)), day
    assert CALENDAR.is_working_day(date(2023, 1, 27))


def test_national_day_2023_anchor() -> None:
    # 2 September 2023 was a Saturday; the package has 1 and 4 September off as well.
    assert not CALENDAR.is_working_day(date(2023, 9, 2))
    assert {date(2023, 9, 1), date(2023, 9, 4)} <= set(_package(2023))
    assert not CALENDAR.is_working_day(date(2023, 9, 4))


def test_hung_kings_2023_is_what_the_package_says() -> None:
    package = _package(2023)
    hung_kings = sorted(d for d, name in package.items() if "Hung Kings" in name)
    assert hung_kings[0] == date(2023, 4, 29)  # 10th of the 3rd lunar month, a Saturday
    for day in hung_kings:
        assert not CALENDAR.is_working_day(day)


def test_package_make_up_day_2024_is_a_working_saturday() -> None:
    assert date(2024, 5, 4) in _package(2024).weekend_workdays
    assert CALENDAR.is_working_day(date(2024, 5, 4))
    assert not CALENDAR.is_working_day(date(2024, 4, 29))  # the Monday it was swapped for


# -- published years and overrides --------------------------------------------------------------


def test_published_year_replaces_the_package_for_that_year_only() -> None:
    published = PublishedYear(
        year=2023,
        holidays=frozenset({date(2023, 1, 2), date(2023, 3, 20)}),
        make_up_working_days=frozenset({date(2023, 1, 14)}),
        source="test",
    )
    calendar = WorkingCalendar().with_published(published)
    assert not calendar.is_working_day(date(2023, 3, 20))  # decreed extra day off
    assert calendar.is_working_day(date(2023, 1, 14))  # make-up Saturday
    assert calendar.is_working_day(date(2023, 1, 23))  # not in the publication: replaced
    assert not calendar.is_working_day(date(2024, 2, 12))  # other years keep the package


def test_later_publication_of_a_year_replaces_the_earlier() -> None:
    first = PublishedYear(2023, frozenset({date(2023, 3, 20)}), frozenset())
    second = PublishedYear(2023, frozenset({date(2023, 3, 21)}), frozenset())
    calendar = WorkingCalendar().with_published(first).with_published(second)
    assert calendar.is_working_day(date(2023, 3, 20))
    assert not calendar.is_working_day(date(2023, 3, 21))
    assert calendar.published_years == {2023}


def test_published_year_from_the_example_event() -> None:
    event = schemas.example_event("WorkingCalendarPublished")
    published = PublishedYear.from_event(event)
    calendar = WorkingCalendar().with_published(published)
    assert published.year == 2023
    for day in event["holidays"]:
        assert not calendar.is_working_day(day)
    for day in event["make_up_working_days"]:
        assert calendar.is_working_day(day)


def test_overrides_win_over_package_and_publication() -> None:
    calendar = WorkingCalendar(
        extra_days_off=[date(2023, 3, 15)],
        make_up_days=[date(2023, 3, 18), date(2023, 1, 23)],
        published=[PublishedYear(2023, frozenset({date(2023, 3, 16)}), frozenset())],
    )
    assert not calendar.is_working_day(date(2023, 3, 15))
    assert calendar.is_working_day(date(2023, 3, 18))
    assert calendar.is_working_day(date(2023, 1, 23))
    assert not calendar.is_working_day(date(2023, 3, 16))


@pytest.mark.parametrize(
    ("holidays_", "make_up", "field"),
    [
        ({date(2022, 12, 30)}, set(), "holidays"),
        (set(), {date(2024, 1, 6)}, "make_up_working_days"),
        ({date(2023, 1, 14)}, {date(2023, 1, 14)}, "make_up_working_days"),
        (set(), {date(2023, 1, 16)}, "make_up_working_days"),  # a Monday
    ],
)
def test_malformed_publication_is_refused(
    holidays_: set[date], make_up: set[date], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        PublishedYear(2023, frozenset(holidays_), frozenset(make_up))
    assert caught.value.field == field


def test_a_day_cannot_be_both_off_and_made_up() -> None:
    with pytest.raises(ValidationError):
        WorkingCalendar(extra_days_off=[date(2023, 1, 14)], make_up_days=[date(2023, 1, 14)])


def test_without_package_only_weekends_are_off() -> None:
    bare = WorkingCalendar(use_package=False)
    assert bare.is_working_day(date(2023, 1, 23))
    assert not bare.is_working_day(date(2023, 1, 21))


# -- counting ---------------------------------------------------------------------------------


def test_add_working_days_skips_tet() -> None:
    assert CALENDAR.add_working_days(date(2023, 1, 19), 1) == date(2023, 1, 27)
    assert CALENDAR.add_working_days(date(2023, 1, 27), -1) == date(2023, 1, 19)
    assert CALENDAR.working_days_between(date(2023, 1, 19), date(2023, 1, 27)) == 1


def test_ten_working_days_from_the_example_reception_is_the_example_appointment() -> None:
    received = schemas.example_event("DossierReceived")
    start = local_date(received["received_at"])
    assert CALENDAR.add_working_days(start, 10) == received["appointment_date"]


def test_zero_days_is_the_same_date_even_on_a_holiday() -> None:
    assert CALENDAR.add_working_days(date(2023, 1, 23), 0) == date(2023, 1, 23)
    assert CALENDAR.working_days_between(date(2023, 1, 23), date(2023, 1, 23)) == 0


def test_between_is_half_open_and_crosses_years() -> None:
    # (Fri 30 Dec 2022, Tue 3 Jan 2023]: Sat, Sun, the New Year observed Monday, then Tuesday.
    assert CALENDAR.working_days_between(date(2022, 12, 30), date(2023, 1, 3)) == 1
    assert CALENDAR.working_days_between(date(2023, 1, 3), date(2022, 12, 30)) == -1
    per_year = [CALENDAR.working_days_between(date(y - 1, 12, 31), date(y, 12, 31)) for y in YEARS]
    assert CALENDAR.working_days_between(date(2021, 12, 31), date(2026, 12, 31)) == sum(per_year)
    assert all(240 <= n <= 255 for n in per_year), per_year


_days = st.dates(min_value=date(2015, 1, 1), max_value=date(2032, 12, 31))


@settings(derandomize=True, max_examples=300, deadline=None)
@given(start=_days, n=st.integers(0, 400))
def test_add_then_count_round_trips(start: date, n: int) -> None:
    end = CALENDAR.add_working_days(start, n)
    assert CALENDAR.working_days_between(start, end) == n
    assert n == 0 or CALENDAR.is_working_day(end)
    # Back from a working day lands on the last working day not after ``start``.
    back = CALENDAR.add_working_days(end, -n)
    assert back <= start
    assert CALENDAR.working_days_between(back, start) == 0


@settings(derandomize=True, max_examples=300, deadline=None)
@given(a=_days, b=_days, c=_days)
def test_counting_is_additive_and_antisymmetric(a: date, b: date, c: date) -> None:
    between = CALENDAR.working_days_between
    assert between(a, b) == -between(b, a)
    assert between(a, b) + between(b, c) == between(a, c)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(start=_days, n=st.integers(1, 60), make_up=_days)
def test_make_up_day_is_honoured_in_counting(start: date, n: int, make_up: date) -> None:
    saturday = make_up + timedelta(days=(5 - make_up.weekday()) % 7)
    calendar = WorkingCalendar(make_up_days=[saturday])
    end = saturday + timedelta(days=1)
    assert calendar.working_days_between(saturday - timedelta(days=1), end) == 1
    assert calendar.working_days_between(start, end) - CALENDAR.working_days_between(
        start, end
    ) == (1 if start < saturday and not CALENDAR.is_working_day(saturday) else 0)


# -- local time -------------------------------------------------------------------------------


def test_local_date_is_utc_plus_seven() -> None:
    assert local_date(datetime(2023, 3, 14, 16, 59, 59, tzinfo=UTC)) == date(2023, 3, 14)
    assert local_date(datetime(2023, 3, 14, 17, 0, tzinfo=UTC)) == date(2023, 3, 15)


def test_local_date_refuses_naive_datetimes() -> None:
    with pytest.raises(ValidationError):
        local_date(datetime(2023, 3, 14, 17, 0))


def test_start_of_local_day() -> None:
    assert start_of_local_day(date(2023, 3, 15)) == datetime(2023, 3, 14, 17, 0, tzinfo=UTC)
    assert local_date(start_of_local_day(date(2023, 3, 15))) == date(2023, 3, 15)
