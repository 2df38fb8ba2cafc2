"""Out-of-order arrival: held events, their release, their expiry, and a reference fold.

The machine *holds* an event it cannot apply yet but may later (see ``table.Reason``:
``unknown_dossier``, ``awaiting_reception``, ``awaiting_prerequisite``). The caller keeps held
events per dossier (a bounded buffer: it decides how long with ``max_hold``) and calls
``release_held`` after every applied event; ``expire_held`` turns the ones held longer than
``max_hold`` of event time into ``held_too_long`` rejections. ``fold`` is the whole loop, pure:
the reference for the Faust agent and the tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .calendar import WorkingCalendar
from .facts import Fact
from .machine import Transition, Verdict, apply, event_id, event_time
from .state import DossierState
from .table import Reason

__all__ = ["FoldResult", "Release", "expire_held", "fold", "hold_expired", "release_held"]

_Event = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Release:
    """What ``release_held`` did: the new state, the facts to publish, the held events it
    applied or rejected (in order), and those still held."""

    state: DossierState | None
    facts: tuple[Fact, ...]
    transitions: tuple[Transition, ...]
    still_held: tuple[_Event, ...]


def _order(event: _Event) -> tuple[datetime, str]:
    return event_time(event), event_id(event)


def _unique(events: Iterable[_Event]) -> list[_Event]:
    """One copy per event id (a redelivered held event is held once), in event-time order."""
    by_id: dict[str, _Event] = {}
    for event in events:
        by_id.setdefault(event_id(event), event)
    return sorted(by_id.values(), key=_order)


def release_held(
    state: DossierState | None, held: Iterable[_Event], calendar: WorkingCalendar
) -> Release:
    """Re-offer held events in event-time order until none of them can move.

    An applied event can unblock an earlier-held one (a supplement request unblocks its answer),
    so the pass restarts from the earliest held event after every change.
    """
    pending = _unique(held)
    facts: list[Fact] = []
    done: list[Transition] = []
    progress = True
    while progress:
        progress = False
        for event in pending:
            transition = apply(state, event, calendar)
            if transition.held:
                continue
            pending.remove(event)
            done.append(transition)
            state = transition.state
            facts.extend(transition.facts)
            progress = True
            break
    return Release(state, tuple(facts), tuple(done), tuple(pending))


def hold_expired(event: _Event, watermark: datetime, max_hold: timedelta) -> bool:
    """True once the watermark (event time, not the wall clock) is more than ``max_hold``
    past the held event's own time, so replay and live expire the same events."""
    return watermark - event_time(event) > max_hold


def expire_held(
    state: DossierState | None,
    held: Iterable[_Event],
    watermark: datetime,
    max_hold: timedelta,
) -> tuple[tuple[_Event, ...], tuple[Transition, ...]]:
    """Split held events into (still held, rejected as ``held_too_long``)."""
    kept: list[_Event] = []
    expired: list[Transition] = []
    for event in _unique(held):
        if hold_expired(event, watermark, max_hold):
            message = f"held longer than {max_hold} (event time {event_time(event).isoformat()})"
            expired.append(
                Transition(
                    Verdict.REJECTED, state, event, reason=Reason.HELD_TOO_LONG, message=message
                )
            )
        else:
            kept.append(event)
    return tuple(kept), tuple(expired)


@dataclass(frozen=True, slots=True)
class FoldResult:
    state: DossierState | None
    facts: tuple[Fact, ...]
    held: tuple[_Event, ...]
    rejected: tuple[Transition, ...]


def fold(
    events: Sequence[_Event],
    calendar: WorkingCalendar,
    *,
    state: DossierState | None = None,
    held: Sequence[_Event] = (),
    authority_level: str | None = None,
) -> FoldResult:
    """Apply ``events`` in arrival order with holding and release, as the agent does.

    Duplicates are rejected like any other refusal (``duplicate_event``); callers that treat
    them as no-ops filter on ``Transition.reason``.
    """
    buffer = list(held)
    facts: list[Fact] = []
    rejected: list[Transition] = []
    for event in events:
        transition = apply(state, event, calendar, authority_level=authority_level)
        if transition.held:
            buffer.append(event)
            continue
        if transition.rejected:
            rejected.append(transition)
            continue
        state = transition.state
        facts.extend(transition.facts)
        released = release_held(state, buffer, calendar)
        state = released.state
        facts.extend(released.facts)
        rejected.extend(t for t in released.transitions if t.rejected)
        buffer = list(released.still_held)
    return FoldResult(state, tuple(facts), tuple(_unique(buffer)), tuple(rejected))
