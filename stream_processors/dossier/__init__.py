"""The event-sourcing core of a dossier: pure Python, no I/O, no clock.

- ``calendar``: Vietnam's working days (``WorkingCalendar``, ``local_date``);
- ``state``: ``DossierState``, the folded, immutable, dict-serializable value;
- ``table``: THE transition table (state x event type → move / stay / hold / reject);
- ``machine``: ``apply(state, event, calendar) -> Transition``;
- ``holding``: out-of-order arrival (``release_held``, ``expire_held``, ``fold``);
- ``outcome``: the on-time decision and the ``DossierOutcome`` fact;
- ``alerts``: ``scan`` for overdue / due-soon alerts, apology coverage;
- ``facts``: the derived facts, shaped like the ``derived.*`` Avro schemas.

See stream_processors/README.md for the lifecycle, the rules and their sources.
"""

from __future__ import annotations

from .alerts import ApologyCoverage, apology_coverage, is_overdue, scan
from .calendar import HCMC_TZ, PublishedYear, WorkingCalendar, local_date, start_of_local_day
from .facts import (
    DERIVED_ID_NAMESPACE,
    DossierBecameOverdue,
    DossierDueSoon,
    DossierOutcome,
    Fact,
    OutcomeClass,
    derived_event_id,
    fact_event,
)
from .holding import FoldResult, Release, expire_held, fold, hold_expired, release_held
from .machine import DOSSIER_EVENT_TYPES, Transition, Verdict, apply, event_id, event_time
from .outcome import (
    CLASSIFY_STOPPED_DOSSIERS,
    MULTIPLE_SUPPLEMENT_REQUESTS_MAKE_OVERDUE,
    Measurement,
    due_date_in_force,
    measure,
    paused_working_days,
)
from .state import STATE_FORMAT_VERSION, Apology, DossierState, Pause, Status, is_expired
from .table import COLUMNS, TABLE, Hold, Move, Reason, Reject, Rule, Stay

__all__ = [
    "CLASSIFY_STOPPED_DOSSIERS",
    "COLUMNS",
    "DERIVED_ID_NAMESPACE",
    "DOSSIER_EVENT_TYPES",
    "HCMC_TZ",
    "MULTIPLE_SUPPLEMENT_REQUESTS_MAKE_OVERDUE",
    "STATE_FORMAT_VERSION",
    "TABLE",
    "Apology",
    "ApologyCoverage",
    "DossierBecameOverdue",
    "DossierDueSoon",
    "DossierOutcome",
    "DossierState",
    "Fact",
    "FoldResult",
    "Hold",
    "Measurement",
    "Move",
    "OutcomeClass",
    "Pause",
    "PublishedYear",
    "Reason",
    "Reject",
    "Release",
    "Rule",
    "Status",
    "Stay",
    "Transition",
    "Verdict",
    "WorkingCalendar",
    "apology_coverage",
    "apply",
    "derived_event_id",
    "due_date_in_force",
    "event_id",
    "event_time",
    "expire_held",
    "fact_event",
    "fold",
    "hold_expired",
    "is_expired",
    "is_overdue",
    "local_date",
    "measure",
    "paused_working_days",
    "release_held",
    "scan",
    "start_of_local_day",
]
