"""Overdue and due-soon detection for in-progress dossiers, and apology coverage.

``scan`` is driven by a *watermark* (event time: the latest event time the caller has seen, not
the wall clock), so a replay of the log raises the same alerts as the live run did. Each alert
fires once per due date in force: a supplement pause that moves the due date re-arms it.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from .calendar import WorkingCalendar, local_date
from .facts import DossierBecameOverdue, DossierDueSoon, Fact, OutcomeClass, derived_event_id
from .outcome import MULTIPLE_SUPPLEMENT_REQUESTS_MAKE_OVERDUE, due_date_in_force, measure
from .state import DossierState, evolve

__all__ = ["ApologyCoverage", "apology_coverage", "is_overdue", "scan"]


def is_overdue(state: DossierState, watermark: datetime, calendar: WorkingCalendar) -> bool:
    """An in-progress dossier past the end (local midnight) of its due date in force, or with
    more than one supplement request (766 rule). A paused dossier is never overdue by date:
    its clock stands still."""
    due = due_date_in_force(state, calendar)
    if not state.is_in_progress or due is None:
        return False
    if MULTIPLE_SUPPLEMENT_REQUESTS_MAKE_OVERDUE and state.supplement_request_count > 1:
        return True
    return state.open_pause is None and local_date(watermark) > due


def scan(
    state: DossierState,
    watermark: datetime,
    calendar: WorkingCalendar,
    due_soon_working_days: int,
) -> tuple[DossierState, tuple[Fact, ...]]:
    """Alerts due for ``state`` at ``watermark``, and the state marked so they fire once."""
    due = due_date_in_force(state, calendar)
    if not state.is_in_progress or due is None or state.open_pause is not None:
        return state, ()
    state = evolve(state, due_date=due)
    # In progress means received, and reception sets the holder and the procedure.
    holder = state.holding_agency_code or state.reception_field("resolving_agency_code")
    procedure = state.reception_field("procedure_code")
    if is_overdue(state, watermark, calendar):
        if state.overdue_alerted_for == due:
            return state, ()
        overdue = DossierBecameOverdue(
            event_id=derived_event_id(
                state.dossier_code, DossierBecameOverdue.event_type, due.isoformat()
            ),
            occurred_at=watermark,
            dossier_code=state.dossier_code,
            due_date=due,
            resolving_agency_code=holder,
            procedure_code=procedure,
            authority_level=state.authority_level,
            detected_at=watermark,
        )
        return evolve(state, overdue_alerted_for=due), (overdue,)
    left = calendar.working_days_between(local_date(watermark), due)
    if left > due_soon_working_days or state.due_soon_alerted_for == due:
        return state, ()
    soon = DossierDueSoon(
        event_id=derived_event_id(state.dossier_code, DossierDueSoon.event_type, due.isoformat()),
        occurred_at=watermark,
        dossier_code=state.dossier_code,
        due_date=due,
        resolving_agency_code=holder,
        procedure_code=procedure,
        authority_level=state.authority_level,
        detected_at=watermark,
        working_days_left=left,
    )
    return evolve(state, due_soon_alerted_for=due), (soon,)


class ApologyCoverage(StrEnum):
    """Whether an overdue dossier got the apology the rules ask for (Mẫu 04, at the latest
    one day before the due date [S])."""

    NOT_REQUIRED = "not_required"  # not overdue (yet)
    TIMELY = "timely"  # apology issued before the due date in force
    LATE = "late"  # issued, but on or after the due date
    EXEMPT = "exempt"  # waived for a recognised exemption
    MISSING = "missing"  # overdue, and no apology


def apology_coverage(
    state: DossierState, watermark: datetime, calendar: WorkingCalendar
) -> ApologyCoverage:
    """Coverage for an ended dossier (by its outcome) or an in-progress one (at ``watermark``)."""
    measurement = measure(state, calendar)
    due: date | None
    if measurement is not None:
        overdue = measurement.outcome_class is OutcomeClass.OVERDUE
        due = measurement.due_date
    else:
        overdue = is_overdue(state, watermark, calendar)
        due = due_date_in_force(state, calendar)
    if not overdue or due is None:
        return ApologyCoverage.NOT_REQUIRED
    first = state.first_apology_at
    if first is not None:
        return ApologyCoverage.TIMELY if local_date(first) < due else ApologyCoverage.LATE
    if state.apology_exemption is not None:
        return ApologyCoverage.EXEMPT
    return ApologyCoverage.MISSING
