"""The on-time decision on worked examples, and the DossierOutcome fact against its schema.

The story: received Wednesday 15 March 2023, 10 working days, appointment Wednesday 29 March.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

import schemas
from stream_processors.dossier import (
    DossierOutcome,
    OutcomeClass,
    derived_event_id,
    fact_event,
    measure,
    outcome,
)
from tests.unit.test_dossier_events import (
    APPOINTMENT,
    CALENDAR,
    CODE,
    LEVEL,
    apology,
    ev,
    march_received,
    received,
    resolved,
    run,
    state_of,
    supplement_requested,
    supplemented,
    vn,
)


def _outcomes(events: list[dict[str, Any]]) -> list[DossierOutcome]:
    facts = run(events).facts
    return [f for f in facts if isinstance(f, DossierOutcome)]


def _outcome(events: list[dict[str, Any]]) -> DossierOutcome:
    found = _outcomes(events)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("resolved_at", "klass", "taken", "late"),
    [
        (vn(2023, 3, 28, 15), OutcomeClass.EARLY, 9, 0),
        (vn(2023, 3, 29, 8), OutcomeClass.ON_TIME, 10, 0),
        (vn(2023, 3, 29, 23, 59), OutcomeClass.ON_TIME, 10, 0),  # 16:59 UTC: still the 29th
        (vn(2023, 3, 30, 0, 0), OutcomeClass.OVERDUE, 11, 1),  # 17:00 UTC on the 29th
        (vn(2023, 3, 31, 10), OutcomeClass.OVERDUE, 12, 2),
        (vn(2023, 4, 1, 10), OutcomeClass.OVERDUE, 12, 2),  # Saturday: 30 and 31 March late
        (vn(2023, 3, 15, 16), OutcomeClass.EARLY, 0, 0),  # same day
    ],
)
def test_classification_by_local_date(
    resolved_at: datetime, klass: OutcomeClass, taken: int, late: int
) -> None:
    fact = _outcome([march_received(), resolved(resolved_at)])
    assert (fact.outcome_class, fact.days_taken, fact.days_late) == (klass, taken, late)
    assert fact.due_date == APPOINTMENT
    assert fact.resolved_at == resolved_at


def test_weekend_resolution_after_a_friday_due_date_is_one_day_late() -> None:
    fact = _outcome(
        [
            received(vn(2023, 3, 15, 9), date(2023, 3, 31)),  # due Friday 31 March
            resolved(vn(2023, 4, 1, 10)),  # Saturday: no working day in (31 Mar, 1 Apr]
        ]
    )
    assert (fact.outcome_class, fact.days_late) == (OutcomeClass.OVERDUE, 1)


def test_supplement_pause_saves_an_otherwise_late_dossier() -> None:
    late_without_pause = _outcome([march_received(), resolved(vn(2023, 4, 3, 10))])
    assert late_without_pause.outcome_class is OutcomeClass.OVERDUE
    # Asked Monday 20, answered Thursday 23 March: 21, 22, 23 are paused, so the due date
    # moves from Wednesday 29 March to Monday 3 April.
    fact = _outcome(
        [
            march_received(),
            supplement_requested(vn(2023, 3, 20, 10)),
            supplemented(vn(2023, 3, 23, 14)),
            resolved(vn(2023, 4, 3, 10)),
        ]
    )
    assert fact.outcome_class is OutcomeClass.ON_TIME
    assert fact.due_date == date(2023, 4, 3)
    assert fact.days_taken == 10  # 13 working days, 3 of them paused
    assert fact.days_late == 0


def test_pause_answered_the_same_day_pauses_nothing() -> None:
    state = state_of(
        [
            march_received(),
            supplement_requested(vn(2023, 3, 20, 10)),
            supplemented(vn(2023, 3, 20, 16)),
        ]
    )
    assert state.paused_working_days == 0
    assert state.due_date == APPOINTMENT


def test_two_supplement_requests_make_it_overdue() -> None:
    fact = _outcome(
        [
            march_received(),
            supplement_requested(vn(2023, 3, 16, 10), seq=1),
            supplemented(vn(2023, 3, 16, 15), seq=1),
            supplement_requested(vn(2023, 3, 17, 10), seq=2),
            supplemented(vn(2023, 3, 17, 15), seq=2),
            resolved(vn(2023, 3, 20, 10)),
        ]
    )
    assert fact.outcome_class is OutcomeClass.OVERDUE
    assert fact.days_late == 0  # overdue by the 766 rule, not by date


def test_two_supplement_requests_rule_can_be_switched_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outcome, "MULTIPLE_SUPPLEMENT_REQUESTS_MAKE_OVERDUE", False)
    fact = _outcome(
        [
            march_received(),
            supplement_requested(vn(2023, 3, 16, 10), seq=1),
            supplemented(vn(2023, 3, 16, 15), seq=1),
            supplement_requested(vn(2023, 3, 17, 10), seq=2),
            supplemented(vn(2023, 3, 17, 15), seq=2),
            resolved(vn(2023, 3, 20, 10)),
        ]
    )
    assert fact.outcome_class is OutcomeClass.EARLY


def test_guidance_before_reception_does_not_count_as_a_request() -> None:
    fact = _outcome(
        [
            ev("DossierSubmitted", vn(2023, 3, 14, 9)),
            supplement_requested(vn(2023, 3, 14, 10), seq=1, stage="RECEPTION"),
            supplemented(vn(2023, 3, 14, 15), seq=1),
            march_received(),
            supplement_requested(vn(2023, 3, 16, 10), seq=2),
            supplemented(vn(2023, 3, 16, 15), seq=2),
            resolved(vn(2023, 3, 20, 10)),
        ]
    )
    assert fact.outcome_class is OutcomeClass.EARLY


def test_apology_re_appointment_does_not_move_the_due_date() -> None:
    fact = _outcome(
        [
            march_received(),
            apology(vn(2023, 3, 27, 10), new_appointment_date=date(2023, 4, 5)),
            ev("AppointmentChanged", vn(2023, 3, 27, 11), new_appointment_date=date(2023, 4, 5)),
            resolved(vn(2023, 4, 4, 10)),
        ]
    )
    assert fact.outcome_class is OutcomeClass.OVERDUE  # before the new date, after the due one
    assert fact.due_date == APPOINTMENT
    assert fact.apology_issued is True


def test_supplement_recomputed_appointment_is_not_trusted() -> None:
    # The producer's own recomputation is informational; the hub extends by the paused days.
    events = [
        march_received(),
        supplement_requested(vn(2023, 3, 20, 10)),
        supplemented(vn(2023, 3, 23, 14), new_appointment_date=date(2023, 4, 28)),
        resolved(vn(2023, 4, 10, 10)),
    ]
    fact = _outcome(events)
    assert fact.due_date == date(2023, 4, 3)
    assert fact.outcome_class is OutcomeClass.OVERDUE
    assert state_of(events).rescheduled_date == date(2023, 4, 28)


def test_apology_after_the_end_is_not_counted_in_the_outcome() -> None:
    fact = _outcome([march_received(), resolved(vn(2023, 4, 4, 10)), apology(vn(2023, 4, 5, 10))])
    assert fact.apology_issued is False


def test_left_waiting_for_a_supplement_ends_at_the_request() -> None:
    request = vn(2023, 3, 20, 10)
    fact = _outcome(
        [march_received(), supplement_requested(request), resolved(vn(2023, 5, 2, 10), "REFUSED")]
    )
    assert fact.resolved_at == request
    assert fact.outcome_class is OutcomeClass.EARLY
    assert fact.days_taken == 3  # 16, 17, 20 March
    assert fact.resolution == "REFUSED"


def test_stopped_dossier_is_classified_without_resolution() -> None:
    fact = _outcome(
        [
            march_received(),
            ev("WithdrawalRequested", vn(2023, 3, 17, 10)),
            ev("DossierStopped", vn(2023, 3, 17, 11), reason="WITHDRAWN"),
        ]
    )
    assert fact.resolution is None
    assert fact.outcome_class is OutcomeClass.EARLY


def test_refused_at_reception_has_no_outcome() -> None:
    assert _outcomes([ev("DossierReceptionRefused", vn(2023, 3, 15, 10))]) == []


def test_late_pause_after_resolution_corrects_the_outcome() -> None:
    in_order = [
        march_received(),
        supplement_requested(vn(2023, 3, 20, 10)),
        supplemented(vn(2023, 3, 23, 14)),
        resolved(vn(2023, 4, 3, 10)),
    ]
    arrival = [in_order[0], in_order[3], in_order[1], in_order[2]]
    outcomes = _outcomes(arrival)
    assert [o.outcome_class for o in outcomes] == [
        OutcomeClass.OVERDUE,  # the pause was not known yet
        OutcomeClass.EARLY,  # the request: waiting since 20 March
        OutcomeClass.ON_TIME,  # the answer: the same as in order
    ]
    assert len({o.event_id for o in outcomes}) == 3
    assert outcomes[-1].body() == _outcome(in_order).body()
    assert state_of(arrival) == state_of(in_order)


def test_outcome_id_is_deterministic() -> None:
    event = resolved(vn(2023, 3, 28, 15))
    first = _outcome([march_received(), event])
    again = _outcome([march_received(), event])
    assert first.event_id == again.event_id
    cause = str(event["envelope"]["event_id"])
    assert first.event_id == derived_event_id(CODE, "DossierOutcome", cause)
    assert first.causation_id == cause


def test_outcome_matches_its_avro_schema() -> None:
    fact = _outcome([march_received(), apology(vn(2023, 3, 27)), resolved(vn(2023, 3, 31, 10))])
    fields = [f["name"] for f in schemas.event_type("DossierOutcome").schema["fields"]]
    assert list(fact.body()) == fields[1:]
    event = fact_event(fact)
    assert event["envelope"]["causation_id"] == fact.causation_id
    assert schemas.validate_event(event) == []
    assert fact.authority_level == LEVEL


def test_measure_is_none_while_in_progress() -> None:
    assert measure(state_of([march_received()]), CALENDAR) is None
