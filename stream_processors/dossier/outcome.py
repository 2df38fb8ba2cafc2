"""The on-time decision: due date in force, pause accounting, and the DossierOutcome fact.

Rules (sources and confidence in stream_processors/README.md):

- the due date in force is the receipt's appointment date moved forward by the working days the
  clock was paused for supplements (766 engine: supplement time is excluded) [S];
- re-appointments (AppointmentChanged, an apology's new date) never move it: a late dossier with
  an apology is still late;
- a dossier left waiting for a supplement ends at the request time (766 engine) [S];
- more than one supplement request after reception makes the dossier overdue (766 engine) [S],
  behind ``MULTIPLE_SUPPLEMENT_REQUESTS_MAKE_OVERDUE``;
- EARLY / ON_TIME / OVERDUE compare the local date of the end with the due date in force.

All counting uses ``WorkingCalendar.working_days_between``: working days in (start, end].
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from .calendar import WorkingCalendar, local_date
from .facts import DossierOutcome, OutcomeClass, derived_event_id
from .state import DossierState

__all__ = [
    "CLASSIFY_STOPPED_DOSSIERS",
    "MULTIPLE_SUPPLEMENT_REQUESTS_MAKE_OVERDUE",
    "Measurement",
    "due_date_in_force",
    "measure",
    "outcome_digest",
    "outcome_fact",
    "paused_working_days",
]

#: 766 engine, indicator 2.1: "more than one supplement request makes it overdue" [S: a
#: vendor's transcription of the national formula document, not the legal text]
MULTIPLE_SUPPLEMENT_REQUESTS_MAKE_OVERDUE: Final = True

#: 766 engine: a received dossier that is stopped (withdrawn, not eligible) ends at the stop and
#: is classified like a resolved one, with ``resolution = None`` [S]
CLASSIFY_STOPPED_DOSSIERS: Final = True


@dataclass(frozen=True, slots=True)
class Measurement:
    """The numbers behind a DossierOutcome."""

    outcome_class: OutcomeClass
    #: end used for the classification (request time when left waiting for a supplement)
    end: datetime
    due_date: date
    days_taken: int
    days_late: int
    paused_working_days: int
    apology_issued: bool


def _pause_spans(state: DossierState, end: datetime | None) -> list[tuple[date, date]]:
    """Closed pauses as local-date spans (start, stop], clipped to reception and to ``end``.

    The request day counts as worked and the supplement day as paused: the same half-open
    convention as every other count, so a same-day answer pauses nothing.
    """
    received = state.received_at
    if received is None:
        return []
    spans: list[tuple[date, date]] = []
    for pause in state.pauses:
        answered = pause.supplemented_at
        if answered is None or (end is not None and answered > end):
            continue  # still open at ``end``: handled by the waiting rule, not as a pause
        start = max(local_date(pause.requested_at), local_date(received))
        stop = local_date(answered)
        if end is not None:
            stop = min(stop, local_date(end))
        if stop > start:
            spans.append((start, stop))
    spans.sort()
    merged: list[tuple[date, date]] = []
    for start, stop in spans:  # overlapping requests must not pause the same day twice
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
        else:
            merged.append((start, stop))
    return merged


def paused_working_days(
    state: DossierState, calendar: WorkingCalendar, end: datetime | None = None
) -> int:
    """Working days the clock stood still for answered supplement requests (up to ``end``)."""
    return sum(calendar.working_days_between(a, b) for a, b in _pause_spans(state, end))


def due_date_in_force(state: DossierState, calendar: WorkingCalendar) -> date | None:
    """The appointment date extended by the paused working days; None before reception."""
    if state.appointment_date is None:
        return None
    paused = paused_working_days(state, calendar, state.ended_at)
    return calendar.add_working_days(state.appointment_date, paused)


def _waiting_since(state: DossierState, end: datetime) -> datetime | None:
    """Request time of a post-reception supplement request still unanswered at ``end``."""
    received = state.received_at
    waiting = [
        p.requested_at
        for p in state.pauses
        if received is not None
        and received <= p.requested_at <= end
        and (p.supplemented_at is None or p.supplemented_at > end)
    ]
    return min(waiting, default=None)


def measure(state: DossierState, calendar: WorkingCalendar) -> Measurement | None:
    """The classification of a dossier whose processing ended; None while it has not."""
    raw_end = state.ended_at
    received = state.received_at
    if raw_end is None or received is None or state.appointment_date is None:
        return None
    if state.resolved_at is None and not CLASSIFY_STOPPED_DOSSIERS:
        return None
    end = _waiting_since(state, raw_end) or raw_end
    paused = paused_working_days(state, calendar, end)
    due = calendar.add_working_days(state.appointment_date, paused)
    end_day = local_date(end)
    taken = max(0, calendar.working_days_between(local_date(received), end_day) - paused)
    if end_day > due:
        # A Saturday resolution after a Friday due date is late by date but counts no working
        # day; report it as one day late rather than "OVERDUE, 0 days".
        late = max(1, calendar.working_days_between(due, end_day))
        outcome_class = OutcomeClass.OVERDUE
    elif MULTIPLE_SUPPLEMENT_REQUESTS_MAKE_OVERDUE and state.supplement_request_count > 1:
        outcome_class, late = OutcomeClass.OVERDUE, 0  # overdue by rule, not by date
    elif end_day < due:
        outcome_class, late = OutcomeClass.EARLY, 0
    else:
        outcome_class, late = OutcomeClass.ON_TIME, 0
    first_apology = state.first_apology_at
    return Measurement(
        outcome_class=outcome_class,
        end=end,
        due_date=due,
        days_taken=taken,
        days_late=late,
        paused_working_days=paused,
        apology_issued=first_apology is not None and first_apology <= raw_end,
    )


def outcome_fact(
    state: DossierState, measurement: Measurement, causation_id: str
) -> DossierOutcome:
    """The DossierOutcome of ``state``; its id is derived from the event that caused it."""
    received, ended = state.received_at, state.ended_at
    if received is None or ended is None:
        raise ValueError(f"dossier {state.dossier_code} has not ended")
    return DossierOutcome(
        event_id=derived_event_id(state.dossier_code, DossierOutcome.event_type, causation_id),
        occurred_at=ended,
        causation_id=causation_id,
        dossier_code=state.dossier_code,
        outcome_class=measurement.outcome_class,
        received_at=received,
        resolved_at=measurement.end,
        due_date=measurement.due_date,
        days_taken=measurement.days_taken,
        days_late=measurement.days_late,
        receiving_agency_code=state.reception_field("receiving_agency_code"),
        resolving_agency_code=state.reception_field("resolving_agency_code"),
        procedure_code=state.reception_field("procedure_code"),
        authority_level=state.authority_level,
        channel=state.reception_field("channel"),
        apology_issued=measurement.apology_issued,
        resolution=state.resolution,
    )


def outcome_digest(fact: DossierOutcome) -> str:
    """A stable digest of an outcome's content (not its id), to emit only on change."""
    return hashlib.sha256(_digest_text(fact.body()).encode("utf-8")).hexdigest()[:32]


def _digest_text(body: dict[str, Any]) -> str:
    """``json.dumps(body, sort_keys=True, default=str, separators=(",", ":"))``, the text the
    digests stored in the states were made of, written out for the flat bodies of outcomes:
    json's encoder calling ``default`` for each date was a tenth of the fold. Anything else
    than text, numbers, booleans, dates and None goes to json itself."""
    parts = []
    for key in sorted(body):
        value = body[key]
        if isinstance(value, str):
            text = _quoted(value)
        elif value is None:
            text = "null"
        elif value is True or value is False:
            text = "true" if value else "false"
        elif type(value) is int:
            text = int.__repr__(value)
        elif isinstance(value, date):  # a datetime too: default=str, then quoted
            text = _quoted(str(value))
        else:
            return json.dumps(body, sort_keys=True, default=str, separators=(",", ":"))
        parts.append(f"{_quoted(key)}:{text}")
    return "{" + ",".join(parts) + "}"


#: how json writes a string with ensure_ascii (its C encoder when available)
_quoted: Final[Callable[[str], str]] = json.encoder.encode_basestring_ascii
