"""What each accepted event writes into the state, apart from the status: each effect returns
the fields it changes, and ``machine.apply`` writes them in one copy of the state.

Every effect is written so that the result does not depend on the order in which a dossier's
events arrive: sums are sums, sets are kept sorted, and a field set by several events (the
holding agency, the re-announced appointment) keeps the value of the latest *event time*.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Final, TypeVar

from .calendar import local_date
from .state import Apology, DossierState, Pause

__all__ = ["EFFECTS", "TIME_FIELDS", "Changes"]

#: the field holding each dossier event's own time (the envelope's occurred_at mirrors it)
TIME_FIELDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "DossierSubmitted": "submitted_at",
        "DossierReceived": "received_at",
        "DossierReceptionRefused": "refused_at",
        "DossierAssigned": "assigned_at",
        "DossierStepCompleted": "completed_at",
        "DossierTransferred": "transferred_at",
        "InterAgencyResultReceived": "received_at",
        "DossierSupplementRequested": "requested_at",
        "DossierSupplemented": "supplemented_at",
        "FinancialObligationRequested": "requested_at",
        "PaymentCompleted": "paid_at",
        "DossierResolved": "resolved_at",
        "ResultReturned": "returned_at",
        "WithdrawalRequested": "requested_at",
        "DossierStopped": "stopped_at",
        "AppointmentChanged": "changed_at",
        "ApologyIssued": "issued_at",
        "ServiceRated": "rated_at",
    }
)

_T = TypeVar("_T", str, date)
Changes = dict[str, Any]
_Effect = Callable[[DossierState, Mapping[str, Any], datetime], Changes]


def _latest(
    value: _T | None, since: datetime | None, new: _T, at: datetime
) -> tuple[_T | None, datetime | None]:
    """Last writer wins by event time; equal times break the tie on the value itself, so
    that the arrival order never decides."""
    if since is None or at > since or (at == since and value is not None and new > value):
        return new, at
    return value, since


def _hold(state: DossierState, agency: str, at: datetime) -> Changes:
    holder, since = _latest(state.holding_agency_code, state.holding_since, agency, at)
    return {"holding_agency_code": holder, "holding_since": since}


def _submitted(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    # DossierReceived is the authority on procedure and channel; submission only fills gaps.
    return {
        "submitted_at": at,
        "procedure_code": state.procedure_code or e["procedure_code"],
        "channel": state.channel or e.get("channel", "ONLINE"),
    }


def _received(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    carried = bool(e.get("carried_over", False))
    return {
        "received_at": at,
        "procedure_code": e["procedure_code"],
        "channel": e["channel"],
        "online_level": e["online_level"],
        "receiving_agency_code": e["receiving_agency_code"],
        "resolving_agency_code": e["resolving_agency_code"],
        "appointment_date": e["appointment_date"],
        "carried_over": carried,
        "carried_over_on": local_date(e["envelope"]["occurred_at"]) if carried else None,
        **_hold(state, e["resolving_agency_code"], at),
    }


def _refused(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    return {
        "reception_refused_at": at,
        "procedure_code": state.procedure_code or e.get("procedure_code"),
    }


def _transferred(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    return _hold(state, e["to_agency_code"], at)


def _result_back(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    # The agency that emits "result received" is the one that holds the dossier again.
    return _hold(state, e["envelope"]["agency_code"], at)


def _requested(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    pauses = (*state.pauses, Pause(sequence_no=int(e["sequence_no"]), requested_at=at))
    return {"pauses": tuple(sorted(pauses, key=lambda p: p.sequence_no))}


def _supplemented(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    sequence_no = int(e["sequence_no"])
    pauses = tuple(
        replace(p, supplemented_at=at) if p.sequence_no == sequence_no else p for p in state.pauses
    )
    new_date = e.get("new_appointment_date")
    rescheduled = _rescheduled(state, new_date, at) if new_date is not None else {}
    return {"pauses": pauses, **rescheduled}


def _rescheduled(state: DossierState, new_date: date, at: datetime) -> Changes:
    value, since = _latest(state.rescheduled_date, state.rescheduled_at, new_date, at)
    return {"rescheduled_date": value, "rescheduled_at": since}


def _fees(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    due = sum(int(fee["amount_vnd"]) for fee in e["fees"])
    return {"amount_due_vnd": state.amount_due_vnd + due}


def _paid(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    return {"amount_paid_vnd": state.amount_paid_vnd + int(e["amount_vnd"])}


def _resolved(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    return {"resolved_at": at, "resolution": e["outcome"]}


def _returned(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    return {"returned_at": at}


def _withdrawal(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    return {"withdrawal_requested_at": at}


def _stopped(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    return {"stopped_at": at, "stop_reason": e["reason"]}


def _appointment(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    return _rescheduled(state, e["new_appointment_date"], at)


def _apology(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    letter = Apology(
        apology_id=str(e["apology_id"]),
        issued_at=at,
        new_appointment_date=e.get("new_appointment_date"),
        exemption_reason=e.get("exemption_reason"),
    )
    apologies = sorted((*state.apologies, letter), key=lambda a: (a.issued_at, a.apology_id))
    return {"apologies": tuple(apologies)}


def _nothing(state: DossierState, e: Mapping[str, Any], at: datetime) -> Changes:
    return {}  # the status (or the applied id) is all these events change


EFFECTS: Final[Mapping[str, _Effect]] = MappingProxyType(
    {
        "DossierSubmitted": _submitted,
        "DossierReceived": _received,
        "DossierReceptionRefused": _refused,
        "DossierAssigned": _nothing,
        "DossierStepCompleted": _nothing,
        "DossierTransferred": _transferred,
        "InterAgencyResultReceived": _result_back,
        "DossierSupplementRequested": _requested,
        "DossierSupplemented": _supplemented,
        "FinancialObligationRequested": _fees,
        "PaymentCompleted": _paid,
        "DossierResolved": _resolved,
        "ResultReturned": _returned,
        "WithdrawalRequested": _withdrawal,
        "DossierStopped": _stopped,
        "AppointmentChanged": _appointment,
        "ApologyIssued": _apology,
        "ServiceRated": _nothing,
    }
)
