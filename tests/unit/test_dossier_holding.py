"""Out-of-order arrival: holds, release in event-time order, expiry, late facts."""

from __future__ import annotations

from datetime import timedelta

from stream_processors.dossier import (
    DossierOutcome,
    Reason,
    Status,
    apply,
    expire_held,
    hold_expired,
    release_held,
)
from tests.unit.test_dossier_events import (
    CALENDAR,
    RECEIVED_AT,
    ev,
    march_received,
    resolved,
    run,
    state_of,
    supplement_requested,
    supplemented,
    vn,
)

_RESOLVED = resolved(vn(2023, 3, 28, 10))


def test_resolution_before_reception_is_held_then_released() -> None:
    held = apply(None, _RESOLVED, CALENDAR)
    assert held.held
    assert held.reason is Reason.UNKNOWN_DOSSIER
    assert held.state is None
    created = apply(None, march_received(), CALENDAR)
    assert created.state is not None
    released = release_held(created.state, [held.event], CALENDAR)
    assert released.still_held == ()
    assert released.state is not None
    assert released.state.status is Status.RESOLVED
    assert [type(f) for f in released.facts] == [DossierOutcome]


def test_events_for_a_submitted_dossier_wait_for_reception() -> None:
    submitted = state_of([ev("DossierSubmitted", vn(2023, 3, 14))])
    held = apply(submitted, ev("DossierAssigned", vn(2023, 3, 15, 10)), CALENDAR)
    assert held.held
    assert held.reason is Reason.AWAITING_RECEPTION


def test_release_follows_event_time_not_buffer_order() -> None:
    request = supplement_requested(vn(2023, 3, 20, 10))
    answer = supplemented(vn(2023, 3, 23, 14))
    done = resolved(vn(2023, 4, 3, 10))
    state = state_of([march_received()])
    released = release_held(state, [done, answer, request], CALENDAR)
    order = [t.event["envelope"]["event_type"] for t in released.transitions]
    assert order == ["DossierSupplementRequested", "DossierSupplemented", "DossierResolved"]
    (fact,) = released.facts
    assert isinstance(fact, DossierOutcome)
    assert fact.outcome_class.value == "ON_TIME"


def test_a_supplement_answer_waits_for_its_request() -> None:
    answer = supplemented(vn(2023, 3, 23, 14))
    result = run([march_received(), answer])
    assert result.held == (answer,)
    later = run([march_received(), answer, supplement_requested(vn(2023, 3, 20, 10))])
    assert later.held == ()
    assert later.state is not None
    assert later.state.status is Status.PROCESSING


def test_return_before_resolution_waits_for_it() -> None:
    returned = ev("ResultReturned", vn(2023, 3, 29))
    result = run([march_received(), returned, _RESOLVED])
    assert result.held == ()
    assert result.state is not None
    assert result.state.status is Status.RESULT_RETURNED


def test_redelivered_held_event_is_held_once() -> None:
    result = run([_RESOLVED, _RESOLVED])
    assert result.held == (_RESOLVED,)
    assert result.state is None


def test_hold_expires_by_event_time() -> None:
    limit = timedelta(days=2)
    at = _RESOLVED["resolved_at"]
    assert not hold_expired(_RESOLVED, at + limit, limit)
    assert hold_expired(_RESOLVED, at + limit + timedelta(milliseconds=1), limit)
    kept, expired = expire_held(None, [_RESOLVED], at + timedelta(days=3), limit)
    assert kept == ()
    (rejection,) = expired
    assert rejection.rejected
    assert rejection.reason is Reason.HELD_TOO_LONG
    kept, expired = expire_held(None, [_RESOLVED], at + timedelta(days=1), limit)
    assert (kept, expired) == ((_RESOLVED,), ())


def test_late_hand_off_is_recorded_without_moving_the_status() -> None:
    state = state_of([march_received(), _RESOLVED])
    late = apply(state, ev("DossierAssigned", RECEIVED_AT + timedelta(hours=1)), CALENDAR)
    assert late.applied
    assert late.state is not None
    assert late.state.status is Status.RESOLVED
    assert late.facts == ()  # a hand-off does not change the classification


def test_late_stop_after_a_return_is_a_conflict() -> None:
    state = state_of([march_received(), _RESOLVED, ev("ResultReturned", vn(2023, 3, 29))])
    late = apply(state, ev("DossierStopped", vn(2023, 3, 20), reason="OTHER"), CALENDAR)
    assert late.rejected
    assert late.reason is Reason.CONFLICTS_WITH_LATER_EVENT


def test_late_withdrawal_before_a_stop_is_history() -> None:
    stop = ev("DossierStopped", vn(2023, 3, 20, 11), reason="WITHDRAWN")
    state = state_of([march_received(), stop, ev("WithdrawalRequested", vn(2023, 3, 20, 10))])
    assert state.status is Status.STOPPED
    assert state.withdrawal_requested_at == vn(2023, 3, 20, 10)
