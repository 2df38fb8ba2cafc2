"""``apply``: one dossier event onto one dossier state, through the transition table.

``apply(state, event, calendar)`` never raises for bad input and never reads a clock: it returns
a ``Transition`` saying whether the event was applied (with the new state and the derived facts
to publish), held (the caller buffers it and retries with ``release_held``), or rejected (with a
stable reason code). A rejected or held event leaves the state untouched; so does a redelivered
one (``duplicate_event``), which makes ``apply`` idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from dossierhub.errors import ValidationError

from ._effects import EFFECTS, TIME_FIELDS, Changes
from .calendar import WorkingCalendar
from .facts import Fact
from .outcome import due_date_in_force, measure, outcome_digest, outcome_fact, paused_working_days
from .state import DossierState, evolve
from .table import Hold, Move, Reason, Reject, Stay, rule_for

__all__ = [
    "DOSSIER_EVENT_TYPES",
    "TIME_FIELDS",
    "Transition",
    "Verdict",
    "apply",
    "event_id",
    "event_time",
]

#: the dossier event types the machine understands (the rows of the table)
DOSSIER_EVENT_TYPES = frozenset(TIME_FIELDS)


class Verdict(StrEnum):
    APPLIED = "applied"
    HELD = "held"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Transition:
    """The result of offering one event to one dossier state."""

    verdict: Verdict
    #: the state after the event: new when applied, the given one otherwise (None if unknown)
    state: DossierState | None
    event: Mapping[str, Any]
    facts: tuple[Fact, ...] = ()
    reason: Reason | None = None
    message: str = ""

    @property
    def applied(self) -> bool:
        return self.verdict is Verdict.APPLIED

    @property
    def held(self) -> bool:
        return self.verdict is Verdict.HELD

    @property
    def rejected(self) -> bool:
        return self.verdict is Verdict.REJECTED


def event_time(event: Mapping[str, Any]) -> datetime:
    """The event's own time (``received_at``, ``resolved_at`` …), an aware instant.

    Raises ``ValidationError`` for an unknown type or a naive or missing time.
    """
    name = event["envelope"]["event_type"]
    field = TIME_FIELDS.get(name)
    if field is None:
        raise ValidationError("envelope.event_type", name, "is not a dossier event type")
    value = event.get(field)
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValidationError(field, value, "must be a timezone-aware datetime")
    return value


def event_id(event: Mapping[str, Any]) -> str:
    return str(event["envelope"]["event_id"])


def apply(
    state: DossierState | None,
    event: Mapping[str, Any],
    calendar: WorkingCalendar,
    *,
    authority_level: str | None = None,
) -> Transition:
    """Offer ``event`` (an Avro-ready dict, already schema-validated) to ``state``.

    ``authority_level`` is the catalog level of the event's procedure, which DossierReceived
    does not carry; the caller looks it up when it has it. It is only read when the event
    creates or receives the dossier.
    """
    try:
        name = str(event["envelope"]["event_type"])
        eid = event_id(event)
        code = str(event["dossier_code"])
    except (KeyError, TypeError) as exc:
        return _reject(state, event, Reason.INVALID_EVENT, f"not a dossier event: {exc!r}")
    if name not in DOSSIER_EVENT_TYPES:
        return _reject(state, event, Reason.UNSUPPORTED_EVENT, f"{name} is not a dossier event")
    if state is not None and code != state.dossier_code:
        return _reject(state, event, Reason.WRONG_DOSSIER, f"{code} != {state.dossier_code}")
    if state is not None and eid in state.applied_event_ids:
        return _reject(state, event, Reason.DUPLICATE_EVENT, f"{name} {eid} was already applied")
    try:
        at = event_time(event)
        rule = rule_for(state, name, event, at)
    except (KeyError, TypeError, ValidationError) as exc:
        return _reject(state, event, Reason.INVALID_EVENT, f"{name} {eid}: {exc}")
    where = "an unknown dossier" if state is None else f"status {state.status.name}"
    if isinstance(rule, Hold):
        message = f"{name} in {where}"
        return Transition(Verdict.HELD, state, event, reason=rule.reason, message=message)
    if isinstance(rule, Reject):
        return _reject(state, event, rule.reason, f"{name} in {where}: {rule.why}")
    try:
        new = _accept(
            state, code=code, name=name, event=event, at=at, rule=rule, level=authority_level
        )
    except (KeyError, TypeError, ValueError) as exc:
        return _reject(state, event, Reason.INVALID_EVENT, f"{name} {eid}: {exc!r}")
    new, facts = _refresh(new, calendar, eid)
    return Transition(Verdict.APPLIED, new, event, facts=facts)


def _reject(
    state: DossierState | None, event: Mapping[str, Any], reason: Reason, message: str
) -> Transition:
    return Transition(Verdict.REJECTED, state, event, reason=reason, message=message)


def _accept(
    state: DossierState | None,
    *,
    code: str,
    name: str,
    event: Mapping[str, Any],
    at: datetime,
    rule: Move | Stay,
    level: str | None,
) -> DossierState:
    """The state with the event's status, fields and id written in one copy."""
    if state is None:
        if not isinstance(rule, Move):  # the NEW column only holds, rejects or creates
            raise ValueError(f"{name} cannot create a dossier")
        state = DossierState(dossier_code=code, status=rule.to, status_since=at)
    changes: Changes = {"applied_event_ids": state.applied_event_ids | {event_id(event)}}
    if isinstance(rule, Move):
        changes.update(status=rule.to, status_since=at)
    if name in {"DossierSubmitted", "DossierReceived"} and level is not None:
        changes["authority_level"] = level
    changes.update(EFFECTS[name](state, event, at))
    return evolve(state, **changes)


def _refresh(
    state: DossierState, calendar: WorkingCalendar, cause: str
) -> tuple[DossierState, tuple[Fact, ...]]:
    """Recompute the derived fields; emit a DossierOutcome when the classification changed
    (first end, or a late fact that moves it: a pause or an apology that arrived late)."""
    due = due_date_in_force(state, calendar)
    paused = paused_working_days(state, calendar, state.ended_at)
    if (due, paused) != (state.due_date, state.paused_working_days):
        state = evolve(state, due_date=due, paused_working_days=paused)
    measurement = measure(state, calendar)
    if measurement is None:
        return state, ()
    fact = outcome_fact(state, measurement, cause)
    digest = outcome_digest(fact)
    if digest == state.outcome_digest:
        return state, ()
    classified = evolve(state, outcome_digest=digest, outcome_class=fact.outcome_class.value)
    return classified, (fact,)
