"""Properties of the fold over generated, valid dossier lifecycles (Hypothesis, derandomized).

- a valid lifecycle folds without rejection or leftover holds;
- redelivery of any events changes nothing (idempotence);
- any arrival order, with the caller holding what cannot apply yet within the hold window,
  gives the same final state as the order of event time;
- the outcome depends only on the events' times and dates, not on ids or envelope noise;
- the dict form round-trips every state; alerts fire at most once per due date.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream_processors.dossier import (
    DossierBecameOverdue,
    DossierOutcome,
    DossierState,
    Fact,
    Status,
    apply,
    expire_held,
    local_date,
    release_held,
    scan,
)
from tests.unit.test_dossier_events import (
    CALENDAR,
    LEVEL,
    POLICE,
    ev,
    received,
    resolved,
    run,
    supplement_requested,
    supplemented,
    vn,
)

_PROPERTY = settings(derandomize=True, max_examples=150, deadline=None)
_HOLD_WINDOW = timedelta(days=800)  # longer than any generated lifecycle
_STEPS = ("assign", "step", "transfer", "pause", "fees", "pay", "appointment", "apology", "rate")
_ENDINGS = (
    "open",
    "waiting",
    "resolved",
    "returned",
    "rated",
    "fees_at_result",
    "waiting_resolved",
    "withdrawn",
    "stopped",
)


@dataclass
class _Story:
    """Builds one lifecycle with strictly increasing event times and unique ids."""

    draw: st.DrawFn
    at: datetime
    salt: int
    events: list[dict[str, Any]]

    def later(self) -> datetime:
        self.at += timedelta(minutes=self.draw(st.integers(1, 3 * 24 * 60)))
        return self.at

    def add(self, event: dict[str, Any]) -> None:
        eid = uuid.uuid5(uuid.NAMESPACE_OID, f"{self.salt}|{len(self.events)}")
        event["envelope"]["event_id"] = eid
        self.events.append(event)


@st.composite
def lifecycles(draw: st.DrawFn) -> list[dict[str, Any]]:
    day = draw(st.dates(min_value=date(2022, 1, 3), max_value=date(2026, 11, 30)))
    start = vn(day.year, day.month, day.day, draw(st.integers(7, 16)), draw(st.integers(0, 59)))
    story = _Story(draw, start - timedelta(days=2), draw(st.integers(0, 10**6)), [])
    if draw(st.booleans()):
        story.add(ev("DossierSubmitted", story.later()))
    if draw(st.integers(0, 9)) == 9:  # refused at reception (rarely)
        story.add(ev("DossierReceptionRefused", story.later()))
        return story.events
    seq = 1
    guidance = draw(st.booleans())
    if story.events and guidance:  # one-time guidance to an online applicant, before reception
        story.add(supplement_requested(story.later(), seq=seq, stage="RECEPTION"))
        story.add(supplemented(story.later(), seq=seq))
        seq += 1
    story.at = max(story.at, start)
    appointment = CALENDAR.add_working_days(local_date(story.at), draw(st.integers(0, 25)))
    story.add(received(story.at, appointment, carried_over=draw(st.booleans())))
    for step in draw(st.lists(st.sampled_from(_STEPS), max_size=8)):
        if step == "transfer":
            story.add(ev("DossierTransferred", story.later(), to_agency_code=POLICE))
            story.add(ev("InterAgencyResultReceived", story.later(), from_agency_code=POLICE))
        elif step == "pause":
            story.add(supplement_requested(story.later(), seq=seq))
            story.add(supplemented(story.later(), seq=seq))
            seq += 1
        elif step == "apology":
            new = appointment + timedelta(days=draw(st.integers(1, 10)))
            story.add(
                ev("ApologyIssued", story.later(), apology_id=f"PXL-{seq}-{len(story.events)}")
                | {"new_appointment_date": new}
            )
        elif step == "appointment":
            new = appointment + timedelta(days=draw(st.integers(1, 10)))
            story.add(ev("AppointmentChanged", story.later(), new_appointment_date=new))
        else:
            name = {
                "assign": "DossierAssigned",
                "step": "DossierStepCompleted",
                "fees": "FinancialObligationRequested",
                "pay": "PaymentCompleted",
                "rate": "ServiceRated",
            }[step]
            story.add(ev(name, story.later()))
    ending = draw(st.sampled_from(_ENDINGS))
    if ending in {"waiting", "waiting_resolved"}:
        story.add(supplement_requested(story.later(), seq=seq))
    if ending in {"resolved", "returned", "rated", "fees_at_result", "waiting_resolved"}:
        story.add(resolved(story.later(), draw(st.sampled_from(["APPROVED", "REFUSED"]))))
    if ending == "fees_at_result":
        story.add(ev("FinancialObligationRequested", story.later()))
        story.add(ev("PaymentCompleted", story.later()))
    if ending in {"returned", "rated", "fees_at_result"}:
        story.add(ev("ResultReturned", story.later()))
    if ending == "rated":
        story.add(ev("ServiceRated", story.later()))
    if ending == "withdrawn":
        story.add(ev("WithdrawalRequested", story.later()))
        story.add(ev("DossierStopped", story.later(), reason="WITHDRAWN"))
    if ending == "stopped":
        story.add(ev("DossierStopped", story.later(), reason="NOT_ELIGIBLE"))
    return story.events


@dataclass(frozen=True)
class _Delivery:
    state: DossierState | None
    facts: tuple[Fact, ...]
    held: tuple[Mapping[str, Any], ...]
    rejected: tuple[str, ...]


def _deliver(events: Sequence[dict[str, Any]]) -> _Delivery:
    """The agent's loop: apply, hold, release after every change, expire by watermark."""
    state: DossierState | None = None
    held: list[Mapping[str, Any]] = []
    facts: list[Fact] = []
    rejected: list[str] = []
    watermark: datetime | None = None
    for event in events:
        at = event["envelope"]["occurred_at"]
        watermark = at if watermark is None else max(watermark, at)
        transition = apply(state, event, CALENDAR, authority_level=LEVEL)
        if transition.held:
            held.append(event)
        elif transition.rejected:
            rejected.append(f"{transition.reason}: {transition.message}")
        else:
            state = transition.state
            facts.extend(transition.facts)
            released = release_held(state, held, CALENDAR)
            state = released.state
            facts.extend(released.facts)
            rejected.extend(f"{t.reason}: {t.message}" for t in released.transitions if t.rejected)
            held = list(released.still_held)
        kept, expired = expire_held(state, held, watermark, _HOLD_WINDOW)
        held = list(kept)
        rejected.extend(f"{t.reason}: {t.message}" for t in expired)
    return _Delivery(state, tuple(facts), tuple(held), tuple(rejected))


def _last_outcome(facts: Sequence[Fact]) -> dict[str, Any] | None:
    outcomes = [f.body() for f in facts if isinstance(f, DossierOutcome)]
    return outcomes[-1] if outcomes else None


@_PROPERTY
@given(events=lifecycles())
def test_a_valid_lifecycle_folds_cleanly(events: list[dict[str, Any]]) -> None:
    result = _deliver(events)
    assert result.rejected == ()
    assert result.held == ()
    assert result.state is not None
    assert len(result.state.applied_event_ids) == len(events)
    last = events[-1]["envelope"]["event_type"]
    if last in {"DossierResolved", "DossierStopped"}:
        assert _last_outcome(result.facts) is not None
    if last == "ResultReturned":
        assert result.state.status is Status.RESULT_RETURNED


@_PROPERTY
@given(events=lifecycles(), data=st.data())
def test_redelivery_changes_nothing(events: list[dict[str, Any]], data: st.DataObject) -> None:
    in_order = _deliver(events)
    cut = data.draw(st.integers(0, len(events)))
    # Redelivered copies arrive after their original (an earlier copy would be out-of-order
    # delivery, covered below).
    again = data.draw(st.lists(st.sampled_from(events[:cut]), max_size=8)) if cut else []
    redelivered = _deliver([*events[:cut], *again, *events[cut:], *events[: len(events) // 2]])
    assert redelivered.state == in_order.state
    assert [f.event_id for f in redelivered.facts] == [f.event_id for f in in_order.facts]
    assert all(reason.startswith("duplicate_event") for reason in redelivered.rejected)


@_PROPERTY
@given(events=lifecycles())
def test_applying_the_same_event_twice_equals_applying_it_once(
    events: list[dict[str, Any]],
) -> None:
    state: DossierState | None = None
    for event in events:
        once = apply(state, event, CALENDAR, authority_level=LEVEL)
        twice = apply(once.state, event, CALENDAR, authority_level=LEVEL)
        assert twice.state == once.state
        assert twice.facts == ()
        state = once.state if once.applied else state


@_PROPERTY
@given(events=lifecycles(), order=st.randoms(use_true_random=False))
def test_any_arrival_order_within_the_hold_window_converges(
    events: list[dict[str, Any]], order: Any
) -> None:
    in_order = _deliver(events)
    shuffled = list(events)
    order.shuffle(shuffled)
    out_of_order = _deliver(shuffled)
    assert out_of_order.rejected == ()
    assert out_of_order.held == ()
    assert out_of_order.state == in_order.state
    assert _last_outcome(out_of_order.facts) == _last_outcome(in_order.facts)


@_PROPERTY
@given(events=lifecycles(), data=st.data())
def test_events_arriving_before_reception_are_held_and_released(
    events: list[dict[str, Any]], data: st.DataObject
) -> None:
    creators = {"DossierSubmitted", "DossierReceived", "DossierReceptionRefused"}
    movable = [e for e in events if e["envelope"]["event_type"] not in creators]
    early = data.draw(st.lists(st.sampled_from(movable), unique_by=id)) if movable else []
    rest = [e for e in events if all(e is not x for x in early)]
    delivered = _deliver([*early, *rest])
    assert delivered.state == _deliver(events).state
    assert delivered.held == ()


@_PROPERTY
@given(events=lifecycles(), salt=st.integers(0, 10**6))
def test_outcome_depends_only_on_the_times(events: list[dict[str, Any]], salt: int) -> None:
    renamed = []
    for i, event in enumerate(events):
        copy = {**event, "envelope": dict(event["envelope"])}
        copy["envelope"]["event_id"] = uuid.uuid5(uuid.NAMESPACE_URL, f"{salt}/{i}")
        copy["envelope"]["recorded_at"] += timedelta(hours=salt % 48)
        copy["envelope"]["producer_system"] = f"system-{salt}"
        copy["envelope"]["correlation_id"] = None
        renamed.append(copy)
    assert _last_outcome(_deliver(renamed).facts) == _last_outcome(_deliver(events).facts)


@_PROPERTY
@given(events=lifecycles(), data=st.data())
def test_every_state_round_trips_through_its_dict(
    events: list[dict[str, Any]], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(1, len(events)))
    state = run(events[:cut]).state
    if state is not None:
        assert DossierState.from_dict(state.to_dict()) == state


@_PROPERTY
@given(events=lifecycles(), steps=st.lists(st.integers(1, 72), min_size=1, max_size=40))
def test_alerts_fire_at_most_once_per_due_date(
    events: list[dict[str, Any]], steps: list[int]
) -> None:
    state = _deliver(events).state
    assert state is not None
    watermark = events[-1]["envelope"]["occurred_at"]
    seen: list[tuple[str, date]] = []
    for hours in steps:
        watermark += timedelta(hours=hours)
        state, facts = scan(state, watermark, CALENDAR, due_soon_working_days=2)
        seen.extend((f.event_type, f.due_date) for f in facts if not isinstance(f, DossierOutcome))
    assert len(seen) == len(set(seen))
    overdue = [f for f in seen if f[0] == DossierBecameOverdue.event_type]
    assert len(overdue) <= 1
