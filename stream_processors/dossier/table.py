"""THE transition table: (lifecycle state x event type) → move, stay, hold or reject.

Read a row as "this event, arriving while the dossier is in that state". Columns:

- ``NEW``: no state yet (unknown dossier);
- one column per ``Status`` (DVCQG codes 1-10);
- ``LATE``: a *received* dossier gets an event whose event time is earlier than the time its
  current status was entered (``status_since``): a fact from another agency that arrived after
  later facts. A late event never changes the status; it is recorded when it is compatible with
  the later facts (a hand-off, a pause, a payment …) and rejected when it contradicts them (a
  second end: stop, return).

Cells:

- ``Move(s)``: accepted, the status becomes ``s`` (always the event's own DVCQG status, so the
  status is the one set by the latest event in event time, whatever the arrival order);
- ``STAY``: accepted, fields updated, status unchanged (events without a DVCQG status, the
  submission record, late facts);
- ``Hold(reason)``: not yet: the caller buffers it and retries it with ``release_held``;
- ``Reject(reason, why)``: never applicable.

A few data-dependent ``_guards`` refine a Move/Stay (e.g. a supplement answers a request that
must be known). The README prints this table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from .state import DossierState, Status

__all__ = [
    "AFTER_RESOLUTION",
    "COLUMNS",
    "PROCESSING_EVENTS",
    "TABLE",
    "Hold",
    "Move",
    "Reason",
    "Reject",
    "Rule",
    "Stay",
    "is_late",
    "rule_for",
]


class Reason(StrEnum):
    """Why an event was held or rejected (stable codes for logs and the dead-letter topic)."""

    # rejections
    DUPLICATE_EVENT = "duplicate_event"
    TRANSITION_NOT_ALLOWED = "transition_not_allowed"
    CONFLICTS_WITH_LATER_EVENT = "conflicts_with_later_event"
    HELD_TOO_LONG = "held_too_long"
    INVALID_EVENT = "invalid_event"
    WRONG_DOSSIER = "wrong_dossier"
    UNSUPPORTED_EVENT = "unsupported_event"
    # holds
    UNKNOWN_DOSSIER = "unknown_dossier"
    AWAITING_RECEPTION = "awaiting_reception"
    AWAITING_PREREQUISITE = "awaiting_prerequisite"


@dataclass(frozen=True, slots=True)
class Move:
    to: Status


@dataclass(frozen=True, slots=True)
class Stay:
    pass


@dataclass(frozen=True, slots=True)
class Hold:
    reason: Reason


@dataclass(frozen=True, slots=True)
class Reject:
    reason: Reason
    why: str


Rule = Move | Stay | Hold | Reject

_S = Status
STAY: Final = Stay()
_HU = Hold(Reason.UNKNOWN_DOSSIER)
_HR = Hold(Reason.AWAITING_RECEPTION)
_HP = Hold(Reason.AWAITING_PREREQUISITE)
_XT = Reject(Reason.TRANSITION_NOT_ALLOWED, "the dossier is closed")
_XD = Reject(Reason.TRANSITION_NOT_ALLOWED, "reception was already decided")
_XS = Reject(Reason.TRANSITION_NOT_ALLOWED, "the dossier is already resolved")
_XN = Reject(Reason.TRANSITION_NOT_ALLOWED, "the dossier was never received")
_XW = Reject(Reason.TRANSITION_NOT_ALLOWED, "withdrawal was already requested")
_XU = Reject(Reason.TRANSITION_NOT_ALLOWED, "the dossier was already submitted")
_XC = Reject(Reason.CONFLICTS_WITH_LATER_EVENT, "it contradicts a later event already applied")

#: column order of every row
COLUMNS: Final[tuple[str | Status, ...]] = (
    "NEW",
    _S.SUBMITTED,
    _S.RECEIVED,
    _S.PROCESSING,
    _S.SUPPLEMENT_REQUESTED,
    _S.FINANCIAL_OBLIGATION_REQUESTED,
    _S.WITHDRAWAL_REQUESTED,
    _S.RESOLVED,
    _S.RECEPTION_REFUSED,
    _S.STOPPED,
    _S.RESULT_RETURNED,
    "LATE",
)

_P = Move(_S.PROCESSING)
# Hand-offs and inter-agency steps: DVCQG 4 "Đang xử lý".
_PROCESSING_ROW: Final = (_HU, _HR, _P, _P, _P, _P, _P, _XS, _XN, _XT, _XT, STAY)
PROCESSING_EVENTS: Final = (
    "DossierAssigned",
    "DossierStepCompleted",
    "DossierTransferred",
    "InterAgencyResultReceived",
)

_ROWS: Final[dict[str, tuple[Rule, ...]]] = {
    #                   NEW                     SUBMITTED               RECEIVED
    #                   PROCESSING  SUPPLEMENT  FINANCIAL   WITHDRAWAL  RESOLVED
    #                   REC_REFUSED STOPPED     RETURNED    LATE
    "DossierSubmitted": (
        Move(_S.SUBMITTED), _XU, STAY,
        STAY, STAY, STAY, STAY, STAY,
        STAY, STAY, STAY, STAY,
    ),
    "DossierReceived": (
        Move(_S.RECEIVED), Move(_S.RECEIVED), _XD,
        _XD, _XD, _XD, _XD, _XD,
        _XD, _XD, _XD, _XD,
    ),
    "DossierReceptionRefused": (
        Move(_S.RECEPTION_REFUSED), Move(_S.RECEPTION_REFUSED), _XD,
        _XD, _XD, _XD, _XD, _XD,
        _XD, _XD, _XD, _XD,
    ),
    **dict.fromkeys(PROCESSING_EVENTS, _PROCESSING_ROW),
    "DossierSupplementRequested": (
        _HU, _HR, Move(_S.SUPPLEMENT_REQUESTED),
        Move(_S.SUPPLEMENT_REQUESTED), Move(_S.SUPPLEMENT_REQUESTED),
        Move(_S.SUPPLEMENT_REQUESTED), Move(_S.SUPPLEMENT_REQUESTED), _XS,
        _XN, _XT, _XT, STAY,
    ),
    "DossierSupplemented": (
        _HU, _HR, _P,
        _P, _P, _P, _P, _XS,
        _XN, _XT, _XT, STAY,
    ),
    "FinancialObligationRequested": (
        _HU, _HR, Move(_S.FINANCIAL_OBLIGATION_REQUESTED),
        Move(_S.FINANCIAL_OBLIGATION_REQUESTED), Move(_S.FINANCIAL_OBLIGATION_REQUESTED),
        Move(_S.FINANCIAL_OBLIGATION_REQUESTED), Move(_S.FINANCIAL_OBLIGATION_REQUESTED),
        Move(_S.FINANCIAL_OBLIGATION_REQUESTED),  # fees collected with the result (AT_RESULT)
        _XN, _XT, _XT, STAY,
    ),
    "PaymentCompleted": (
        _HU, _HR, STAY,
        STAY, STAY, STAY, STAY, STAY,
        _XN, _XT, _XT, STAY,
    ),
    "DossierResolved": (
        _HU, _HR, Move(_S.RESOLVED),
        Move(_S.RESOLVED), Move(_S.RESOLVED), Move(_S.RESOLVED), Move(_S.RESOLVED), _XS,
        _XN, _XT, _XT, STAY,
    ),
    "ResultReturned": (
        _HU, _HR, _HP,
        _HP, _HP, Move(_S.RESULT_RETURNED), _HP, Move(_S.RESULT_RETURNED),
        _XN, _XT, _XT, _XC,
    ),
    "WithdrawalRequested": (
        _HU, _HR, Move(_S.WITHDRAWAL_REQUESTED),
        Move(_S.WITHDRAWAL_REQUESTED), Move(_S.WITHDRAWAL_REQUESTED),
        Move(_S.WITHDRAWAL_REQUESTED), _XW, _XS,
        _XN, _XT, _XT, STAY,
    ),
    "DossierStopped": (
        _HU, _HR, Move(_S.STOPPED),
        Move(_S.STOPPED), Move(_S.STOPPED), Move(_S.STOPPED), Move(_S.STOPPED), _XS,
        _XN, _XT, _XT, _XC,
    ),
    "AppointmentChanged": (
        _HU, _HR, STAY,
        STAY, STAY, STAY, STAY, _XS,
        _XN, _XT, _XT, STAY,
    ),
    "ApologyIssued": (
        _HU, _HR, STAY,
        STAY, STAY, STAY, STAY, _XS,
        _XN, _XT, _XT, STAY,
    ),
    "ServiceRated": (
        _HU, _HR, STAY,
        STAY, STAY, STAY, STAY, STAY,
        _XN, _XT, STAY, STAY,
    ),
}  # fmt: skip

#: the table, keyed by (column, event type); column is "NEW", a Status, or "LATE"
_Column = str | Status
TABLE: Final[Mapping[tuple[_Column, str], Rule]] = MappingProxyType(
    {(column, name): row[i] for name, row in _ROWS.items() for i, column in enumerate(COLUMNS)}
)

#: events still acceptable once a dossier is resolved: fees collected with the result, the
#: return, the rating, and the submission record (history that another system sends late)
AFTER_RESOLUTION: Final = frozenset(
    {
        "DossierSubmitted",
        "FinancialObligationRequested",
        "PaymentCompleted",
        "ResultReturned",
        "ServiceRated",
    }
)


# -- guards: data-dependent refinements of a Move/Stay ------------------------------------------

_Guard = Callable[[DossierState, Mapping[str, Any], bool], Rule | None]


def _submitted(state: DossierState, event: Mapping[str, Any], late: bool) -> Rule | None:
    return _XU if state.submitted_at is not None else None


def _supplement_requested(state: DossierState, event: Mapping[str, Any], late: bool) -> Rule | None:
    if any(p.sequence_no == event["sequence_no"] for p in state.pauses):
        return Reject(
            Reason.TRANSITION_NOT_ALLOWED, f"request {event['sequence_no']} is already known"
        )
    return None


def _supplemented(state: DossierState, event: Mapping[str, Any], late: bool) -> Rule | None:
    pause = next((p for p in state.pauses if p.sequence_no == event["sequence_no"]), None)
    if pause is None:
        return _HP  # the request (another agency's event) has not arrived yet
    if pause.supplemented_at is not None:
        return Reject(
            Reason.TRANSITION_NOT_ALLOWED, f"request {event['sequence_no']} is already answered"
        )
    return None


def _resolved(state: DossierState, event: Mapping[str, Any], late: bool) -> Rule | None:
    if state.resolved_at is not None:
        return _XS
    # Only fees collected with the result may legitimately follow a resolution in event time.
    if late and state.status is not Status.FINANCIAL_OBLIGATION_REQUESTED:
        return _XC
    return None


def _returned(state: DossierState, event: Mapping[str, Any], late: bool) -> Rule | None:
    return _HP if state.resolved_at is None else None


def _withdrawal(state: DossierState, event: Mapping[str, Any], late: bool) -> Rule | None:
    return _XW if state.withdrawal_requested_at is not None else None


def _apology(state: DossierState, event: Mapping[str, Any], late: bool) -> Rule | None:
    if any(a.apology_id == event["apology_id"] for a in state.apologies):
        return Reject(Reason.TRANSITION_NOT_ALLOWED, "this apology letter is already recorded")
    return None


_GUARDS: Final[Mapping[str, _Guard]] = MappingProxyType(
    {
        "DossierSubmitted": _submitted,
        "DossierSupplementRequested": _supplement_requested,
        "DossierSupplemented": _supplemented,
        "DossierResolved": _resolved,
        "ResultReturned": _returned,
        "WithdrawalRequested": _withdrawal,
        "ApologyIssued": _apology,
    }
)


def is_late(state: DossierState | None, at: datetime) -> bool:
    """A received dossier gets an event older than its current status."""
    return state is not None and state.received_at is not None and at < state.status_since


def rule_for(
    state: DossierState | None, event_type: str, event: Mapping[str, Any], at: datetime
) -> Rule:
    """The table's cell for this event, refined by the guards. ``event_type`` must be a row."""
    late = is_late(state, at)
    column: str | Status = "NEW" if state is None else ("LATE" if late else state.status)
    rule = TABLE[(column, event_type)]
    if state is None or not isinstance(rule, Move | Stay):
        return rule
    if not late and state.resolved_at is not None and event_type not in AFTER_RESOLUTION:
        return _XS  # e.g. a hand-off while fees are collected with the result
    guard = _GUARDS.get(event_type)
    refined = guard(state, event, late) if guard is not None else None
    return refined if refined is not None else rule
