"""What one dossier contributes to the counts, as a function of its state alone.

Every counter is an *indicator* of the dossier's state attributed to a local day: received on
day d, resolved overdue on day d, still open and entered the books on day d, … A transition then
moves the aggregates by ``tally(after) - tally(before)``: a late event that reclassifies an
outcome retracts the old class and adds the new one, a dimension learnt late (the procedure's
level) moves the dossier from ``UNKNOWN`` to its level, and a redelivered event (same state)
moves nothing. The aggregates are therefore a pure fold of the states, and a replay gives the
same counts whatever the batching.

Counters (``AggregateCounts`` in the Avro schema; see its docs for the Vietnamese terms):

- ``received``, ``received_online``: on the reception day (carried-over backlog excluded);
- ``carried_over``: backlog dossiers, on the day they were carried into the books;
- ``resolved`` and exactly one of ``resolved_early``/``resolved_on_time``/``resolved_overdue``:
  on the resolution day, by the hub's classification (not the agency's);
- ``ended_unresolved``: received, then stopped or withdrawn without a resolution;
- ``apologies_issued``: apology letters (exemptions excluded), on the day each was issued;
- ``in_progress`` / ``in_progress_overdue``: still open now (and alerted overdue for the due date
  in force), on the day the dossier entered the books — so a window's value is "of the dossiers
  that entered in this window, how many are open (overdue) now", and a year window's is the
  year's closing backlog.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from enum import StrEnum
from typing import Final

from stream_processors.dossier import DossierState, local_date

__all__ = ["CITY_KEY", "COUNTERS", "Cell", "Counts", "DimensionKind", "delta", "tally"]

#: dimension key of the whole city (the province code of Ho Chi Minh City)
CITY_KEY: Final = "79"
#: dimension key when a dossier's level or agency is not known (yet)
UNKNOWN: Final = "UNKNOWN"

COUNTERS: Final = (
    "received",
    "received_online",
    "carried_over",
    "resolved",
    "resolved_early",
    "resolved_on_time",
    "resolved_overdue",
    "ended_unresolved",
    "in_progress",
    "in_progress_overdue",
    "apologies_issued",
)
_RESOLVED_BY_CLASS: Final = {
    "EARLY": "resolved_early",
    "ON_TIME": "resolved_on_time",
    "OVERDUE": "resolved_overdue",
}

Counts = dict[str, int]


class DimensionKind(StrEnum):
    """``DimensionKind`` of the Avro schema."""

    AGENCY = "AGENCY"
    LEVEL = "LEVEL"
    PROCEDURE = "PROCEDURE"
    CITY = "CITY"


#: (dimension kind, dimension key, local day, counter)
Cell = tuple[DimensionKind, str, date, str]


def zero_counts() -> Counts:
    return dict.fromkeys(COUNTERS, 0)


def tally(state: DossierState | None) -> Counter[Cell]:
    """The cells ``state`` counts in (each with 1, apologies with their number)."""
    if state is None or state.received_at is None:
        return Counter()  # submitted or refused at reception: not in the books
    days: Counter[tuple[date, str]] = Counter()
    received_on = local_date(state.received_at)
    if state.carried_over:
        entered_on = state.carried_over_on or received_on
        days[entered_on, "carried_over"] += 1
    else:
        entered_on = received_on
        days[received_on, "received"] += 1
        if state.channel == "ONLINE":
            days[received_on, "received_online"] += 1
    if state.resolved_at is not None and state.outcome_class in _RESOLVED_BY_CLASS:
        resolved_on = local_date(state.resolved_at)
        days[resolved_on, "resolved"] += 1
        days[resolved_on, _RESOLVED_BY_CLASS[state.outcome_class]] += 1
    elif state.resolved_at is None and state.stopped_at is not None:
        days[local_date(state.stopped_at), "ended_unresolved"] += 1
    elif state.is_in_progress:
        days[entered_on, "in_progress"] += 1
        if state.overdue_alerted_for is not None and state.overdue_alerted_for == state.due_date:
            days[entered_on, "in_progress_overdue"] += 1
    for apology in state.apologies:
        if apology.exemption_reason is None:
            days[local_date(apology.issued_at), "apologies_issued"] += 1
    # The dimensions are of four kinds and the (day, counter) pairs distinct: no cell repeats,
    # so the cells are built in one go rather than added one by one.
    return Counter(
        {
            (kind, key, day, counter): n
            for kind, key in _dimensions(state)
            for (day, counter), n in days.items()
        }
    )


def delta(before: DossierState | None, after: DossierState | None) -> Counter[Cell]:
    """How the aggregates move when a dossier goes from ``before`` to ``after`` (zeros dropped)."""
    if before is after:
        return Counter()
    change = tally(after)
    change.subtract(tally(before))
    return Counter({cell: n for cell, n in change.items() if n})


def _dimensions(state: DossierState) -> tuple[tuple[DimensionKind, str], ...]:
    agency = state.resolving_agency_code or state.receiving_agency_code or UNKNOWN
    return (
        (DimensionKind.CITY, CITY_KEY),
        (DimensionKind.AGENCY, agency),
        (DimensionKind.LEVEL, state.authority_level or UNKNOWN),
        (DimensionKind.PROCEDURE, state.procedure_code or UNKNOWN),
    )
