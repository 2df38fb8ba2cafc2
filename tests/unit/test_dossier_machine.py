"""The transition table, cell by cell, and what each accepted event writes into the state."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import schemas
from schemas.dvcqg import dvcqg_status
from stream_processors.dossier import (
    COLUMNS,
    TABLE,
    DossierState,
    Hold,
    Move,
    Reason,
    Reject,
    Status,
    Stay,
    apply,
)
from stream_processors.dossier.machine import DOSSIER_EVENT_TYPES
from tests.unit.test_dossier_events import (
    APPOINTMENT,
    CALENDAR,
    CODE,
    JUSTICE,
    LEVEL,
    POLICE,
    RECEIVED_AT,
    apology,
    ev,
    march_received,
    received,
    resolved,
    state_of,
    supplement_requested,
    supplemented,
)


def _h(hours: float) -> datetime:
    return RECEIVED_AT + timedelta(hours=hours)


def _prefix(column: str | Status, event_type: str) -> list[dict[str, Any]]:
    """Events that put a dossier in ``column``, with an open supplement request n° 1 wherever
    the status allows one (so that a DossierSupplemented n° 1 passes its guard)."""
    base = [march_received()]
    open_pause = supplement_requested(_h(1), seq=1)
    if column == Status.FINANCIAL_OBLIGATION_REQUESTED and event_type == "ResultReturned":
        # The only way to leave "fees requested" for "returned": fees collected with the result.
        return [*base, resolved(_h(2)), ev("FinancialObligationRequested", _h(3))]
    prefixes: dict[str | Status, list[dict[str, Any]]] = {
        "NEW": [],
        Status.SUBMITTED: [ev("DossierSubmitted", _h(-24))],
        # A request before reception (guidance to an online applicant) is a late fact.
        Status.RECEIVED: [*base, supplement_requested(_h(-1), seq=1)],
        Status.PROCESSING: [*base, open_pause, ev("DossierAssigned", _h(2))],
        Status.SUPPLEMENT_REQUESTED: [*base, open_pause],
        Status.FINANCIAL_OBLIGATION_REQUESTED: [
            *base,
            open_pause,
            ev("FinancialObligationRequested", _h(2)),
        ],
        Status.WITHDRAWAL_REQUESTED: [*base, open_pause, ev("WithdrawalRequested", _h(2))],
        Status.RESOLVED: [*base, resolved(_h(2))],
        Status.RECEPTION_REFUSED: [ev("DossierReceptionRefused", _h(0))],
        Status.STOPPED: [*base, ev("DossierStopped", _h(2), reason="NOT_ELIGIBLE")],
        Status.RESULT_RETURNED: [*base, resolved(_h(2)), ev("ResultReturned", _h(3))],
        # Status entered at +10 h; the offered event (+5 h) is older: late.
        "LATE": [*base, open_pause, ev("FinancialObligationRequested", _h(10))],
    }
    return prefixes[column]


def _offered(event_type: str, at: datetime) -> dict[str, Any]:
    """An event of each type that passes the data guards on the prefixes above."""
    special: dict[str, dict[str, Any]] = {
        "DossierReceived": received(at, APPOINTMENT),
        "DossierSupplementRequested": supplement_requested(at, seq=2),
        "DossierSupplemented": supplemented(at, seq=1),
        "DossierResolved": resolved(at),
        "DossierStopped": ev("DossierStopped", at, reason="NOT_ELIGIBLE"),
        "ApologyIssued": apology(at, apology_id="PXL-offered"),
    }
    return special.get(event_type) or ev(event_type, at)


_CELLS = sorted(TABLE.items(), key=lambda item: (item[0][1], COLUMNS.index(item[0][0])))


@pytest.mark.parametrize(
    ("column", "event_type", "rule"),
    [(column, name, rule) for (column, name), rule in _CELLS],
    ids=[f"{name}-in-{getattr(column, 'name', column)}" for (column, name), _ in _CELLS],
)
def test_every_cell_of_the_table(column: str | Status, event_type: str, rule: Any) -> None:
    state = state_of(_prefix(column, event_type)) if column != "NEW" else None
    if state is not None and column != "LATE":
        assert state.status is column
    at = _h(5) if column == "LATE" else _h(48)
    event = _offered(event_type, at)
    transition = apply(state, event, CALENDAR, authority_level=LEVEL)
    if isinstance(rule, Move):
        assert transition.applied, transition.message
        assert transition.state is not None
        assert transition.state.status is rule.to
        assert transition.state.status_since == at
        assert str(event["envelope"]["event_id"]) in transition.state.applied_event_ids
    elif isinstance(rule, Stay):
        assert transition.applied, transition.message
        assert state is not None
        assert transition.state is not None
        assert transition.state.status is state.status
        assert transition.state.status_since == state.status_since
        assert str(event["envelope"]["event_id"]) in transition.state.applied_event_ids
    elif isinstance(rule, Hold):
        assert transition.held
        assert transition.reason is rule.reason
        assert transition.state is state
    else:
        assert isinstance(rule, Reject)
        assert transition.rejected
        assert transition.reason is rule.reason
        assert transition.state is state
        assert rule.why in transition.message


# -- the table's shape ------------------------------------------------------------------------


def test_table_has_every_event_type_in_every_column() -> None:
    assert {name for _, name in TABLE} == DOSSIER_EVENT_TYPES
    assert len(TABLE) == len(DOSSIER_EVENT_TYPES) * len(COLUMNS)
    assert set(COLUMNS) >= set(Status)


def test_a_move_always_enters_the_events_own_dvcqg_status() -> None:
    # This is what makes the status order-independent: it is the DVCQG status of the latest
    # (in event time) status-setting event.
    for (_, name), rule in TABLE.items():
        if isinstance(rule, Move):
            assert rule.to.dvcqg is dvcqg_status(name), name


def test_events_without_a_dvcqg_status_never_move() -> None:
    for (_, name), rule in TABLE.items():
        if dvcqg_status(name) is None:
            assert not isinstance(rule, Move), name


def test_late_events_never_move_and_terminal_states_accept_only_history_and_ratings() -> None:
    for (column, name), rule in TABLE.items():
        if column == "LATE":
            assert not isinstance(rule, Move), name
        if isinstance(column, Status) and column.is_terminal and isinstance(rule, Move | Stay):
            assert name in {"DossierSubmitted", "ServiceRated"}, (column, name)
            assert name != "ServiceRated" or column is Status.RESULT_RETURNED


def test_only_submission_reception_and_refusal_create_a_dossier() -> None:
    creators = {
        name
        for (column, name), r in TABLE.items()
        if column == "NEW" and r != Hold(Reason.UNKNOWN_DOSSIER)
    }
    assert creators == {"DossierSubmitted", "DossierReceived", "DossierReceptionRefused"}


_LABELS = {
    "NEW": "new",
    Status.SUBMITTED: "1 sub",
    Status.RECEIVED: "2 rcv",
    Status.PROCESSING: "4 proc",
    Status.SUPPLEMENT_REQUESTED: "5 supp",
    Status.FINANCIAL_OBLIGATION_REQUESTED: "6 fee",
    Status.WITHDRAWAL_REQUESTED: "7 wdr",
    Status.RESOLVED: "9 res",
    Status.RECEPTION_REFUSED: "3 ref",
    Status.STOPPED: "8 stop",
    Status.RESULT_RETURNED: "10 ret",
    "LATE": "late",
}
_HOLDS = {
    Reason.UNKNOWN_DOSSIER: "hold U",
    Reason.AWAITING_RECEPTION: "hold R",
    Reason.AWAITING_PREREQUISITE: "hold P",
}


def _cell(rule: Any) -> str:
    if isinstance(rule, Move):
        return f"→ {rule.to.value}"
    if isinstance(rule, Stay):
        return "stay"
    if isinstance(rule, Hold):
        return _HOLDS[rule.reason]
    return "✗ late" if rule.reason is Reason.CONFLICTS_WITH_LATER_EVENT else "✗"


def render_table() -> str:
    """The table as the Markdown printed in stream_processors/README.md."""
    names = list(dict.fromkeys(name for _, name in TABLE))
    lines = [
        "| event \\ state | " + " | ".join(_LABELS[c] for c in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for name in names:
        cells = " | ".join(_cell(TABLE[(c, name)]) for c in COLUMNS)
        lines.append(f"| `{name}` | {cells} |")
    return "\n".join(lines)


def test_readme_prints_the_table_of_the_code() -> None:
    readme = (Path(__file__).parents[2] / "stream_processors" / "README.md").read_text("utf-8")
    printed = readme.split("<!-- table:begin -->\n")[1].split("\n<!-- table:end -->")[0]
    assert printed == render_table()


# -- guards and envelope-level refusals ---------------------------------------------------------


def _processing() -> DossierState:
    return state_of([march_received(), ev("DossierAssigned", _h(1))])


def test_duplicate_event_changes_nothing() -> None:
    event = ev("DossierAssigned", _h(2))
    once = apply(_processing(), event, CALENDAR)
    assert once.applied
    assert once.state is not None
    twice = apply(once.state, event, CALENDAR)
    assert twice.rejected
    assert twice.reason is Reason.DUPLICATE_EVENT
    assert twice.state == once.state
    assert twice.facts == ()


def test_duplicate_resolution_emits_the_outcome_once() -> None:
    state = _processing()
    event = resolved(_h(30))
    first = apply(state, event, CALENDAR)
    assert len(first.facts) == 1
    assert first.state is not None
    again = apply(first.state, event, CALENDAR)
    assert again.reason is Reason.DUPLICATE_EVENT
    assert again.facts == ()


def test_a_second_reception_with_a_new_id_is_refused() -> None:
    again = apply(_processing(), received(_h(3), APPOINTMENT), CALENDAR)
    assert again.rejected
    assert again.reason is Reason.TRANSITION_NOT_ALLOWED


def test_event_of_another_dossier_is_refused() -> None:
    other = ev("DossierAssigned", _h(2), dossier_code="000.00.15.H29-230315-0043")
    result = apply(_processing(), other, CALENDAR)
    assert result.rejected
    assert result.reason is Reason.WRONG_DOSSIER


def test_non_dossier_event_is_unsupported() -> None:
    result = apply(
        None, {**schemas.example_event("FeedbackReceived"), "dossier_code": CODE}, CALENDAR
    )
    assert result.rejected
    assert result.reason is Reason.UNSUPPORTED_EVENT


@pytest.mark.parametrize(
    "broken",
    [
        {"dossier_code": CODE},  # no envelope
        {**ev("DossierAssigned", _h(2)), "assigned_at": datetime(2023, 3, 16, 9, 0)},  # naive
        {**ev("DossierAssigned", _h(2)), "assigned_at": None},
    ],
)
def test_malformed_events_are_rejected_not_raised(broken: dict[str, Any]) -> None:
    result = apply(_processing(), broken, CALENDAR)
    assert result.rejected
    assert result.reason is Reason.INVALID_EVENT


def test_missing_field_in_an_accepted_event_is_invalid() -> None:
    event = ev("DossierTransferred", _h(2))
    del event["to_agency_code"]
    result = apply(_processing(), event, CALENDAR)
    assert result.rejected
    assert result.reason is Reason.INVALID_EVENT


def test_same_supplement_request_number_twice_is_refused() -> None:
    state = state_of([march_received(), supplement_requested(_h(1), seq=1)])
    result = apply(state, supplement_requested(_h(2), seq=1), CALENDAR)
    assert result.rejected
    assert "already known" in result.message


def test_supplement_without_its_request_is_held_and_answered_twice_is_refused() -> None:
    state = _processing()
    held = apply(state, supplemented(_h(3), seq=1), CALENDAR)
    assert held.held
    assert held.reason is Reason.AWAITING_PREREQUISITE
    answered = state_of([march_received(), supplement_requested(_h(1)), supplemented(_h(2))])
    again = apply(answered, supplemented(_h(3), seq=1), CALENDAR)
    assert again.rejected
    assert "already answered" in again.message


def test_withdrawal_is_refused_after_resolution_even_while_fees_are_collected() -> None:
    state = state_of([march_received(), resolved(_h(2)), ev("FinancialObligationRequested", _h(3))])
    assert state.status is Status.FINANCIAL_OBLIGATION_REQUESTED
    for event in (ev("WithdrawalRequested", _h(4)), ev("DossierStopped", _h(4), reason="OTHER")):
        result = apply(state, event, CALENDAR)
        assert result.rejected
        assert "already resolved" in result.message


def test_return_while_fees_are_requested_before_resolution_waits() -> None:
    state = state_of([march_received(), ev("FinancialObligationRequested", _h(1))])
    result = apply(state, ev("ResultReturned", _h(2)), CALENDAR)
    assert result.held
    assert result.reason is Reason.AWAITING_PREREQUISITE


def test_the_same_apology_letter_twice_is_refused() -> None:
    state = state_of([march_received(), apology(_h(1), apology_id="PXL-9")])
    result = apply(state, apology(_h(2), apology_id="PXL-9"), CALENDAR)
    assert result.rejected


def test_late_resolution_conflicts_unless_fees_followed_it() -> None:
    state = state_of([march_received(), ev("DossierAssigned", _h(10))])
    result = apply(state, resolved(_h(5)), CALENDAR)
    assert result.rejected
    assert result.reason is Reason.CONFLICTS_WITH_LATER_EVENT


# -- effects: what the accepted events write ------------------------------------------------------


def test_reception_fills_the_dossier() -> None:
    state = state_of([march_received(carried_over=True)])
    assert state.status is Status.RECEIVED
    assert state.received_at == RECEIVED_AT
    assert state.appointment_date == state.due_date == APPOINTMENT
    assert state.procedure_code == "2.000488"
    assert state.authority_level == LEVEL
    assert (state.channel, state.online_level) == ("ONLINE", "FULL")
    assert state.receiving_agency_code == state.resolving_agency_code == JUSTICE
    assert state.holding_agency_code == JUSTICE
    assert state.carried_over is True
    assert state.status.dvcqg == 2


def test_transfer_and_result_back_move_the_holding_agency() -> None:
    transferred = state_of(
        [march_received(), ev("DossierTransferred", _h(1), to_agency_code=POLICE)]
    )
    assert transferred.holding_agency_code == POLICE
    back = state_of(
        [
            march_received(),
            ev("DossierTransferred", _h(1), to_agency_code=POLICE),
            ev("InterAgencyResultReceived", _h(5), from_agency_code=POLICE),
        ]
    )
    assert back.holding_agency_code == JUSTICE  # the agency that emitted "result received"
    assert back.status is Status.PROCESSING


def test_pause_is_recorded_and_closed() -> None:
    state = state_of(
        [
            march_received(),
            supplement_requested(_h(24), seq=1),
            supplemented(_h(120), seq=1, new_appointment_date=date(2023, 3, 31)),
        ]
    )
    (pause,) = state.pauses
    assert (pause.sequence_no, pause.requested_at, pause.supplemented_at) == (1, _h(24), _h(120))
    assert state.open_pause is None
    assert state.supplement_request_count == 1
    # Asked Thursday 16, answered Monday 20 March: (16, 20] holds Friday 17 and Monday 20.
    assert state.paused_working_days == 2
    assert state.due_date == date(2023, 3, 31)  # 29 March + 2 working days
    assert state.rescheduled_date == date(2023, 3, 31)  # informational only


def test_fees_and_payments_add_up() -> None:
    state = state_of(
        [
            march_received(),
            ev("FinancialObligationRequested", _h(1)),
            ev("PaymentCompleted", _h(2), amount_vnd=200_000),
            ev("PaymentCompleted", _h(3), amount_vnd=5_000),
        ]
    )
    assert (state.amount_due_vnd, state.amount_paid_vnd) == (205_000, 205_000)
    assert state.status is Status.FINANCIAL_OBLIGATION_REQUESTED  # payment sets no status


def test_withdrawal_then_stop() -> None:
    state = state_of(
        [
            march_received(),
            ev("WithdrawalRequested", _h(1)),
            ev("DossierStopped", _h(2), reason="WITHDRAWN"),
        ]
    )
    assert state.status is Status.STOPPED
    assert state.is_closed
    assert state.withdrawal_requested_at == _h(1)
    assert (state.stopped_at, state.stop_reason) == (_h(2), "WITHDRAWN")


def test_resolution_and_return() -> None:
    state = state_of(
        [
            march_received(),
            resolved(_h(30), outcome="REFUSED"),
            ev("ResultReturned", _h(31)),
            ev("ServiceRated", _h(32)),
        ]
    )
    assert state.status is Status.RESULT_RETURNED
    assert (state.resolved_at, state.resolution, state.returned_at) == (_h(30), "REFUSED", _h(31))


def test_apology_and_appointment_change_are_kept_apart_from_the_due_date() -> None:
    state = state_of(
        [
            march_received(),
            apology(_h(24), new_appointment_date=date(2023, 4, 5)),
            ev("AppointmentChanged", _h(25), new_appointment_date=date(2023, 4, 5)),
        ]
    )
    assert state.due_date == APPOINTMENT
    assert state.apology_appointment_date == date(2023, 4, 5)
    assert state.rescheduled_date == date(2023, 4, 5)
    assert state.first_apology_at == _h(24)


def test_exemption_is_not_an_apology() -> None:
    state = state_of([march_received(), apology(_h(24), exemption_reason="FORCE_MAJEURE")])
    assert state.first_apology_at is None
    assert state.apology_exemption == "FORCE_MAJEURE"


def test_late_submission_is_recorded_without_changing_the_status() -> None:
    state = state_of([march_received(), ev("DossierSubmitted", _h(-5))])
    assert state.status is Status.RECEIVED
    assert state.submitted_at == _h(-5)
    in_order = state_of([ev("DossierSubmitted", _h(-5)), march_received()])
    assert replace(in_order) == state


def test_submitted_then_refused() -> None:
    state = state_of([ev("DossierSubmitted", _h(-5)), ev("DossierReceptionRefused", _h(1))])
    assert state.status is Status.RECEPTION_REFUSED
    assert state.is_closed
    assert state.received_at is None


def test_event_ids_are_strings_in_the_state() -> None:
    eid = str(uuid.uuid4())
    state = state_of([march_received(eid=eid)])
    assert state.applied_event_ids == {eid}
