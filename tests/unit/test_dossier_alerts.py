"""Overdue / due-soon detection by watermark, and apology coverage."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest

import schemas
from stream_processors.dossier import (
    ApologyCoverage,
    DossierBecameOverdue,
    DossierDueSoon,
    DossierState,
    apology_coverage,
    derived_event_id,
    fact_event,
    is_overdue,
    scan,
    start_of_local_day,
)
from tests.unit.test_dossier_events import (
    APPOINTMENT,
    CALENDAR,
    CODE,
    POLICE,
    apology,
    ev,
    march_received,
    resolved,
    state_of,
    supplement_requested,
    supplemented,
    vn,
)

_END_OF_DUE_DAY = start_of_local_day(APPOINTMENT + timedelta(days=1))  # 30 March 00:00 local
_MS = timedelta(milliseconds=1)


def _open() -> DossierState:
    return state_of([march_received()])


def test_nothing_before_the_due_soon_window() -> None:
    state, facts = scan(_open(), vn(2023, 3, 20, 10), CALENDAR, due_soon_working_days=3)
    assert facts == ()
    assert state.due_soon_alerted_for is None


def test_due_soon_fires_once_within_n_working_days() -> None:
    watermark = vn(2023, 3, 24, 10)  # Friday; (24, 29] holds 27, 28, 29 March
    state, facts = scan(_open(), watermark, CALENDAR, due_soon_working_days=3)
    (soon,) = facts
    assert isinstance(soon, DossierDueSoon)
    assert (soon.working_days_left, soon.due_date, soon.detected_at) == (3, APPOINTMENT, watermark)
    assert soon.event_id == derived_event_id(CODE, "DossierDueSoon", "2023-03-29")
    again, more = scan(state, watermark + timedelta(days=1), CALENDAR, due_soon_working_days=3)
    assert more == ()
    assert again == state


def test_overdue_fires_once_when_the_watermark_passes_the_end_of_the_due_day() -> None:
    before, none = scan(_open(), _END_OF_DUE_DAY - _MS, CALENDAR, due_soon_working_days=0)
    assert [type(f) for f in none] == [DossierDueSoon]  # due today: 0 working days left
    state, facts = scan(before, _END_OF_DUE_DAY, CALENDAR, due_soon_working_days=0)
    (overdue,) = facts
    assert isinstance(overdue, DossierBecameOverdue)
    assert overdue.due_date == APPOINTMENT
    assert overdue.event_id == derived_event_id(CODE, "DossierBecameOverdue", "2023-03-29")
    assert state.overdue_alerted_for == APPOINTMENT
    _, again = scan(state, _END_OF_DUE_DAY + timedelta(days=3), CALENDAR, 0)
    assert again == ()


def test_jumping_past_the_due_date_raises_only_the_overdue_alert() -> None:
    _, facts = scan(_open(), vn(2023, 4, 10), CALENDAR, due_soon_working_days=3)
    assert [type(f) for f in facts] == [DossierBecameOverdue]


def test_alert_names_the_agency_holding_the_dossier() -> None:
    state = state_of(
        [march_received(), ev("DossierTransferred", vn(2023, 3, 20), to_agency_code=POLICE)]
    )
    _, (overdue,) = scan(state, vn(2023, 4, 10), CALENDAR, 3)
    assert isinstance(overdue, DossierBecameOverdue)
    assert overdue.resolving_agency_code == POLICE


def test_no_alert_while_paused_or_after_the_end() -> None:
    paused = state_of([march_received(), supplement_requested(vn(2023, 3, 20))])
    assert scan(paused, vn(2023, 4, 10), CALENDAR, 3)[1] == ()
    done = state_of([march_received(), resolved(vn(2023, 4, 5))])
    assert scan(done, vn(2023, 4, 10), CALENDAR, 3)[1] == ()
    assert not is_overdue(done, vn(2023, 4, 10), CALENDAR)


def test_a_pause_moves_the_due_date_and_re_arms_the_alerts() -> None:
    first, (soon,) = scan(_open(), vn(2023, 3, 24, 10), CALENDAR, 3)
    assert soon.due_date == APPOINTMENT
    events = [
        march_received(),
        supplement_requested(vn(2023, 3, 27, 10)),
        supplemented(vn(2023, 3, 29, 10)),  # 28 and 29 paused: due Friday 31 March
    ]
    # The state keeps the alert already sent for the old due date.
    moved = replace(state_of(events), due_soon_alerted_for=first.due_soon_alerted_for)
    _, (again,) = scan(moved, vn(2023, 3, 29, 11), CALENDAR, 3)
    assert isinstance(again, DossierDueSoon)
    assert again.due_date == date(2023, 3, 31)
    assert again.event_id != soon.event_id


def test_two_supplement_requests_raise_the_overdue_alert_at_once() -> None:
    state = state_of(
        [
            march_received(),
            supplement_requested(vn(2023, 3, 16), seq=1),
            supplemented(vn(2023, 3, 16, 15), seq=1),
            supplement_requested(vn(2023, 3, 17), seq=2),
            supplemented(vn(2023, 3, 17, 15), seq=2),
        ]
    )
    _, facts = scan(state, vn(2023, 3, 17, 16), CALENDAR, 3)
    assert [type(f) for f in facts] == [DossierBecameOverdue]


@pytest.mark.parametrize("fact_type", [DossierBecameOverdue, DossierDueSoon])
def test_alerts_match_their_avro_schema(fact_type: type[Any]) -> None:
    watermark = vn(2023, 4, 10) if fact_type is DossierBecameOverdue else vn(2023, 3, 27)
    _, (fact,) = scan(state_of([march_received()]), watermark, CALENDAR, 3)
    assert isinstance(fact, fact_type)
    fields = [f["name"] for f in schemas.event_type(fact.event_type).schema["fields"]]
    assert list(fact.body()) == fields[1:]
    assert schemas.validate_event(fact_event(fact)) == []


# -- apology coverage ---------------------------------------------------------------------------

_LATE_END = vn(2023, 4, 4, 10)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ([apology(vn(2023, 3, 28, 10))], ApologyCoverage.TIMELY),  # the day before the due date
        ([apology(vn(2023, 3, 29, 10))], ApologyCoverage.LATE),  # on the due date
        ([apology(vn(2023, 3, 30, 10))], ApologyCoverage.LATE),
        ([apology(vn(2023, 3, 28), exemption_reason="APPLICANT_FAULT")], ApologyCoverage.EXEMPT),
        ([], ApologyCoverage.MISSING),
    ],
)
def test_apology_coverage_of_an_overdue_resolved_dossier(
    extra: list[dict[str, Any]], expected: ApologyCoverage
) -> None:
    state = state_of([march_received(), *extra, resolved(_LATE_END)])
    assert apology_coverage(state, _LATE_END, CALENDAR) is expected


def test_apology_coverage_not_required_when_on_time() -> None:
    state = state_of([march_received(), resolved(vn(2023, 3, 28))])
    assert apology_coverage(state, vn(2023, 3, 28), CALENDAR) is ApologyCoverage.NOT_REQUIRED


def test_apology_coverage_of_an_open_dossier_follows_the_watermark() -> None:
    state = _open()
    on_due_day: datetime = _END_OF_DUE_DAY - _MS
    assert apology_coverage(state, on_due_day, CALENDAR) is ApologyCoverage.NOT_REQUIRED
    assert apology_coverage(state, _END_OF_DUE_DAY, CALENDAR) is ApologyCoverage.MISSING
