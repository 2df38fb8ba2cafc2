"""The folded state of one dossier: an immutable value, serializable to a JSON-safe dict.

Only ``machine.apply`` builds new states (with ``dataclasses.replace``); everything here is a
plain value with read-only helpers. Times are aware UTC instants; legal dates are local dates in
Asia/Ho_Chi_Minh (see ``calendar.local_date``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from enum import IntEnum
from typing import Any, Final

from dossierhub.errors import ValidationError
from schemas.dvcqg import DvcqgStatus

__all__ = [
    "STATE_FORMAT_VERSION",
    "Apology",
    "DossierState",
    "Pause",
    "Status",
    "evolve",
    "is_expired",
]

#: bump when the dict form changes incompatibly; ``from_dict`` refuses other versions
STATE_FORMAT_VERSION: Final = 1


class Status(IntEnum):
    """Lifecycle states of a dossier; the value is the national portal's status code (1-10)."""

    SUBMITTED = 1  # Mới đăng ký
    RECEIVED = 2  # Được tiếp nhận: the clock starts
    RECEPTION_REFUSED = 3  # Không được tiếp nhận (terminal)
    PROCESSING = 4  # Đang xử lý
    SUPPLEMENT_REQUESTED = 5  # Yêu cầu bổ sung giấy tờ: the clock is paused
    FINANCIAL_OBLIGATION_REQUESTED = 6  # Yêu cầu thực hiện nghĩa vụ tài chính
    WITHDRAWAL_REQUESTED = 7  # Công dân yêu cầu rút hồ sơ
    STOPPED = 8  # Dừng xử lý (terminal)
    RESOLVED = 9  # Đã xử lý xong
    RESULT_RETURNED = 10  # Đã trả kết quả (terminal)

    @property
    def dvcqg(self) -> DvcqgStatus:
        return DvcqgStatus(self.value)

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL: Final = frozenset({Status.RECEPTION_REFUSED, Status.STOPPED, Status.RESULT_RETURNED})


@dataclass(frozen=True, slots=True)
class Pause:
    """One supplement request (Mẫu 02) and, once answered, the applicant's supplement."""

    sequence_no: int
    requested_at: datetime
    supplemented_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Apology:
    """One ``ApologyIssued`` event: an apology letter (Mẫu 04) or a recorded exemption."""

    apology_id: str
    issued_at: datetime
    new_appointment_date: date | None = None
    exemption_reason: str | None = None


@dataclass(frozen=True, slots=True)
class DossierState:
    """Everything the hub knows about one dossier, folded from its events."""

    dossier_code: str
    status: Status
    #: event time of the event that set ``status``; an event older than this is "late" and
    #: never changes the status (see the README's out-of-order policy)
    status_since: datetime
    procedure_code: str | None = None
    #: level of the procedure (catalog data: DossierReceived does not carry it)
    authority_level: str | None = None
    channel: str | None = None
    online_level: str | None = None
    receiving_agency_code: str | None = None
    resolving_agency_code: str | None = None
    #: agency holding the dossier now: the resolving agency, the target of an inter-agency
    #: transfer, the agency that got the inter-agency result back; last writer by event time
    holding_agency_code: str | None = None
    holding_since: datetime | None = None
    submitted_at: datetime | None = None
    received_at: datetime | None = None
    reception_refused_at: datetime | None = None
    carried_over: bool = False
    #: local date the backlog dossier was carried into the hub's books (the DossierReceived
    #: envelope's occurred_at): the day its carry-over counts in the aggregates
    carried_over_on: date | None = None
    #: appointment date on the receipt (Mẫu 01)
    appointment_date: date | None = None
    #: due date in force: the appointment moved by the paused working days of closed pauses;
    #: re-appointments (AppointmentChanged, apologies) never move it
    due_date: date | None = None
    paused_working_days: int = 0
    pauses: tuple[Pause, ...] = ()
    #: latest date announced to the applicant by AppointmentChanged or by a supplement's
    #: recomputed appointment; informational, not used for the on-time decision
    rescheduled_date: date | None = None
    rescheduled_at: datetime | None = None
    apologies: tuple[Apology, ...] = ()
    amount_due_vnd: int = 0
    amount_paid_vnd: int = 0
    withdrawal_requested_at: datetime | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    resolved_at: datetime | None = None
    #: APPROVED or REFUSED (Outcome enum of DossierResolved)
    resolution: str | None = None
    returned_at: datetime | None = None
    #: digest of the last DossierOutcome emitted, so a re-computation only emits on change
    outcome_digest: str | None = None
    #: outcome_class of the last DossierOutcome emitted (EARLY, ON_TIME, OVERDUE)
    outcome_class: str | None = None
    #: due date for which DossierBecameOverdue / DossierDueSoon was emitted (once per due date)
    overdue_alerted_for: date | None = None
    due_soon_alerted_for: date | None = None
    applied_event_ids: frozenset[str] = field(default_factory=frozenset)

    # -- read-only views -------------------------------------------------------------------

    @property
    def is_received(self) -> bool:
        return self.received_at is not None

    @property
    def is_closed(self) -> bool:
        """Terminal: refused at reception, stopped, or result returned."""
        return self.status.is_terminal

    @property
    def ended_at(self) -> datetime | None:
        """End of processing as the 766 engine sees it: resolution, else stop (received only)."""
        if self.resolved_at is not None:
            return self.resolved_at
        if self.stopped_at is not None and self.received_at is not None:
            return self.stopped_at
        return None

    @property
    def is_in_progress(self) -> bool:
        """Received, and neither resolved nor stopped: the processing clock is relevant."""
        return self.received_at is not None and self.ended_at is None and not self.is_closed

    @property
    def open_pause(self) -> Pause | None:
        """The earliest unanswered supplement request, if any."""
        return next((p for p in self.pauses if p.supplemented_at is None), None)

    @property
    def supplement_request_count(self) -> int:
        """Supplement requests made after reception; earlier ones are the one-time guidance at
        reception (a submitted online dossier) and do not count against the 766 rule."""
        received = self.received_at
        if received is None:
            return 0
        return sum(1 for p in self.pauses if p.requested_at >= received)

    @property
    def first_apology_at(self) -> datetime | None:
        """When the first actual apology letter (not an exemption) was issued."""
        return next((a.issued_at for a in self.apologies if a.exemption_reason is None), None)

    @property
    def apology_exemption(self) -> str | None:
        return next((a.exemption_reason for a in self.apologies if a.exemption_reason), None)

    @property
    def apology_appointment_date(self) -> date | None:
        """New appointment date of the latest apology that set one (kept apart from the due
        date in force)."""
        dated = [a for a in self.apologies if a.new_appointment_date is not None]
        return dated[-1].new_appointment_date if dated else None

    def reception_field(self, name: str) -> str:
        """A text field that DossierReceived always sets (procedure, channel, agencies);
        ``ValueError`` if the dossier has not been received."""
        value = getattr(self, name)
        if not isinstance(value, str):
            raise ValueError(f"{self.dossier_code}: {name} is unknown before reception")
        return value

    # -- dict form for a Faust table ---------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: ISO strings for instants and dates, names for enums."""
        out: dict[str, Any] = {"format": STATE_FORMAT_VERSION}
        for name, encode in _ENCODERS:
            value = getattr(self, name)
            out[name] = value if encode is None else encode(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DossierState:
        if data.get("format") != STATE_FORMAT_VERSION:
            raise ValidationError("format", data.get("format"), "unknown dossier state format")
        values = {}
        for name, value in data.items():
            if name in _PLAIN:
                values[name] = value
            elif (decode := _DECODERS.get(name)) is not None:
                values[name] = decode(value)
            elif name != "format":
                raise ValidationError(name, value, "unknown dossier state field")
        return cls(**values)


def evolve(state: DossierState, **changes: Any) -> DossierState:
    """``dataclasses.replace(state, **changes)``, without its per-call look at the fields: a
    copy of the slots, then the changes (several per event: 5x faster matters here)."""
    new = object.__new__(DossierState)
    for copy, read in _SLOTS:
        copy(new, read(state))
    for name, value in changes.items():
        _SETTERS[name](new, value)
    return new


def is_expired(state: DossierState, watermark: datetime, retention: timedelta) -> bool:
    """True when a closed dossier can leave the table: it has been terminal for ``retention``
    of event time. Open and resolved-but-not-returned dossiers never expire."""
    return state.is_closed and watermark - state.status_since >= retention


# -- codec ------------------------------------------------------------------------------------

_INSTANTS: Final = frozenset(
    {
        "status_since",
        "holding_since",
        "submitted_at",
        "received_at",
        "reception_refused_at",
        "rescheduled_at",
        "withdrawal_requested_at",
        "stopped_at",
        "resolved_at",
        "returned_at",
    }
)
_DATES: Final = frozenset(
    {
        "appointment_date",
        "carried_over_on",
        "due_date",
        "rescheduled_date",
        "overdue_alerted_for",
        "due_soon_alerted_for",
    }
)


def _instant_out(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _required_instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValidationError("instant", value, "must carry a UTC offset")
    return parsed


def _instant_in(value: str | None) -> datetime | None:
    return None if value is None else _required_instant(value)


def _date_out(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date_in(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _pauses_out(pauses: tuple[Pause, ...]) -> list[dict[str, Any]]:
    return [
        {
            "sequence_no": p.sequence_no,
            "requested_at": _instant_out(p.requested_at),
            "supplemented_at": _instant_out(p.supplemented_at),
        }
        for p in pauses
    ]


def _apologies_out(apologies: tuple[Apology, ...]) -> list[dict[str, Any]]:
    return [
        {
            "apology_id": a.apology_id,
            "issued_at": _instant_out(a.issued_at),
            "new_appointment_date": _date_out(a.new_appointment_date),
            "exemption_reason": a.exemption_reason,
        }
        for a in apologies
    ]


def _pauses_in(value: Any) -> tuple[Pause, ...]:
    return tuple(
        Pause(
            sequence_no=int(p["sequence_no"]),
            requested_at=_required_instant(p["requested_at"]),
            supplemented_at=_instant_in(p["supplemented_at"]),
        )
        for p in value
    )


def _apologies_in(value: Any) -> tuple[Apology, ...]:
    return tuple(
        Apology(
            apology_id=str(a["apology_id"]),
            issued_at=_required_instant(a["issued_at"]),
            new_appointment_date=_date_in(a["new_appointment_date"]),
            exemption_reason=a["exemption_reason"],
        )
        for a in value
    )


# Per field, its codec, looked up once instead of tested field by field on every entry (the
# dict form is written per changed entry and read per entry loaded).
_CODED: Final = _INSTANTS | _DATES | {"status", "applied_event_ids", "pauses", "apologies"}
_NAMES: Final = tuple(f.name for f in fields(DossierState))
_PLAIN: Final = frozenset(_NAMES) - _CODED
_ENCODE: Final[dict[str, Callable[[Any], Any]]] = {
    **dict.fromkeys(_INSTANTS, _instant_out),
    **dict.fromkeys(_DATES, _date_out),
    "status": lambda status: status.name,
    "applied_event_ids": sorted,
    "pauses": _pauses_out,
    "apologies": _apologies_out,
}
_ENCODERS: Final = tuple((name, _ENCODE.get(name)) for name in _NAMES)
_DECODERS: Final[dict[str, Callable[[Any], Any]]] = {
    **dict.fromkeys(_INSTANTS, _instant_in),
    "status_since": _required_instant,
    **dict.fromkeys(_DATES, _date_in),
    "status": lambda name: Status[name],
    "applied_event_ids": frozenset,
    "pauses": _pauses_in,
    "apologies": _apologies_in,
}
# Each field's slot, written directly (the frozen class's __setattr__ refuses, by design).
_SETTERS: Final[dict[str, Callable[[DossierState, Any], None]]] = {
    name: getattr(DossierState, name).__set__ for name in _NAMES
}
_SLOTS: Final = tuple((_SETTERS[name], getattr(DossierState, name).__get__) for name in _NAMES)
