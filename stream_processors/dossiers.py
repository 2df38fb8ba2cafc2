"""Stage 2, stateful: one dossier's table entry plus one intake record → the new entry and the
records to send. Pure (the decoder, the fact encoder and the time come in), so the agent's whole
per-event logic is unit-tested without a broker; ``stream_processors.app`` runs it.

The entry holds ``DossierState.to_dict()``, the held records (raw bytes: held events contain
datetimes, and the bytes are what must reach the canonical topic once released) and the intake
offset of the last record seen. Per record:

- **applied** → the original bytes to ``hub.dossier.events`` (only accepted events land there),
  each derived fact encoded with a fresh envelope, then ``release_held`` (released events are
  forwarded or dead-lettered the same way);
- **held** → kept in the entry (at most ``max_held`` per dossier), expired with ``expire_held``
  once the partition's event-time watermark is ``max_hold`` past them;
- **rejected** (``transition_not_allowed``, ``duplicate_event`` …) → ``hub.deadletter``.

At-least-once: a record at or below ``last_offset`` is a redelivery after a restart (its effects
are already in the state): an applied one is forwarded again (the same bytes, so the canonical
topic's consumers drop it by event id), nothing else is repeated; an agency's own resend has a
new offset and is refused as ``duplicate_event``.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from dossierhub.errors import HubError, ValidationError
from schemas import encode, event_type
from schemas.catalog import EventType
from schemas.envelope import HUB_AGENCY_CODE, HUB_PRODUCER_SYSTEM, make_envelope
from schemas.topics import DOSSIER_EVENTS
from stream_processors.aggregates import PartialCounts, parse_cell_key
from stream_processors.dossier import (
    DERIVED_ID_NAMESPACE,
    DossierState,
    Fact,
    Transition,
    WorkingCalendar,
    apply,
    due_date_in_force,
    event_id,
    event_time,
    expire_held,
    fact_event,
    is_expired,
    local_date,
    release_held,
    scan,
)

from .eventtime import advance
from .messages import Outgoing, Source, dead_letter

__all__ = [
    "DEFAULT_AUTHORITY_LEVEL",
    "ENTRY_FORMAT",
    "HOLD_BUFFER_FULL",
    "Context",
    "Entry",
    "HeldRecord",
    "IntakeRecord",
    "Step",
    "Sweep",
    "encode_fact",
    "encode_slice",
    "event_time_or_none",
    "next_alarm",
    "step",
    "sweep",
]

_log = logging.getLogger(__name__)

ENTRY_FORMAT: Final = 1
#: ``dh.reason`` when a dossier already holds ``max_held`` events
HOLD_BUFFER_FULL: Final = "hold_buffer_full"
#: ``dh.reason`` when an intake record cannot be decoded any more (the registry lost its id)
UNDECODABLE: Final = "undecodable"
#: written into a fact whose procedure level is unknown: the Avro field is required, and the
#: catalog of this slice only knows the procedures it has seen published (README: known gaps)
DEFAULT_AUTHORITY_LEVEL: Final = "PROVINCE"

_Event = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class HeldRecord:
    event_id: str
    raw: bytes
    source: Source
    #: the held event's own time (when it expires: ``max_hold`` later); None if unknown
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """The table value of one dossier."""

    state: DossierState | None = None
    held: tuple[HeldRecord, ...] = ()
    #: intake offset of the last record applied to this entry (a dossier's records all share
    #: one intake partition, so offsets only grow)
    last_offset: int = -1

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": ENTRY_FORMAT,
            "state": None if self.state is None else self.state.to_dict(),
            "held": [
                {
                    "event_id": h.event_id,
                    "raw": base64.b64encode(h.raw).decode("ascii"),
                    "topic": h.source.topic,
                    "partition": h.source.partition,
                    "offset": h.source.offset,
                    "at": None if h.at is None else h.at.isoformat(),
                }
                for h in self.held
            ],
            "last_offset": self.last_offset,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entry:
        if data.get("format") != ENTRY_FORMAT:
            raise ValidationError("format", data.get("format"), "unknown dossier entry format")
        state = data.get("state")
        return cls(
            state=None if state is None else DossierState.from_dict(state),
            held=tuple(
                HeldRecord(
                    str(h["event_id"]),
                    base64.b64decode(h["raw"]),
                    Source(str(h["topic"]), int(h["partition"]), int(h["offset"])),
                    None if h.get("at") is None else datetime.fromisoformat(h["at"]),
                )
                for h in data.get("held", ())
            ),
            last_offset=int(data.get("last_offset", -1)),
        )


@dataclass(frozen=True, slots=True)
class IntakeRecord:
    raw: bytes
    key: bytes | None
    #: the record's offset in its intake partition
    offset: int
    #: the agency's original record (from the validator's headers)
    source: Source
    #: the validator's low watermark stamped on the record (``eventtime``); None: unbounded
    low_watermark: datetime | None = None


@dataclass(frozen=True, slots=True)
class Context:
    calendar: WorkingCalendar
    #: raw bytes → Avro-ready event; raises ``HubError`` when the bytes cannot be decoded
    decode: Callable[[bytes], _Event]
    #: a derived fact → the record to send
    encode_fact: Callable[[Fact], Outgoing]
    #: procedure_code → its catalog authority level, when known
    authority_level: Callable[[str], str | None]
    #: the event-time watermark of the partition before this record (None: nothing seen yet)
    watermark: datetime | None
    max_hold: timedelta
    max_held: int
    #: alert this many working days before the due date (``DossierDueSoon``)
    due_soon_working_days: int = 3
    #: how long (event time) a closed dossier stays in the table to catch late events
    retention: timedelta = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Step:
    entry: Entry
    messages: tuple[Outgoing, ...]
    #: the partition's watermark including this record
    watermark: datetime | None
    redelivered: bool = False


def step(entry: Entry | None, record: IntakeRecord, context: Context) -> Step:
    """Offer one intake record to its dossier's entry (see the module docstring)."""
    entry = entry or Entry()
    if record.offset <= entry.last_offset:
        return _redelivered(entry, record, context)
    try:
        event = context.decode(record.raw)
    except HubError as exc:
        letter = dead_letter(record.raw, record.key, UNDECODABLE, str(exc), record.source)
        return Step(_advanced(entry, record), (letter,), context.watermark)
    watermark = _later(context.watermark, event, record.low_watermark)
    out: list[Outgoing] = []
    state, held = entry.state, list(entry.held)
    eid = _event_id_or_none(event)
    if eid is not None and any(h.event_id == eid for h in held):
        message = f"{event['envelope'].get('event_type')} {eid} is already held"
        out.append(dead_letter(record.raw, record.key, "duplicate_event", message, record.source))
        return Step(_advanced(entry, record), tuple(out), watermark)

    transition = apply(state, event, context.calendar, authority_level=_level(event, context))
    if transition.applied:
        state = transition.state
        out.append(Outgoing(DOSSIER_EVENTS, record.key, record.raw))
        out.extend(context.encode_fact(fact) for fact in transition.facts)
        state, held = _release(state, held, context, out)
    elif transition.held:
        if len(held) >= context.max_held:
            why = f"the dossier already holds {len(held)} events waiting for earlier ones"
            out.append(dead_letter(record.raw, record.key, HOLD_BUFFER_FULL, why, record.source))
        else:
            at = event_time_or_none(event)
            held.append(HeldRecord(eid or "", record.raw, record.source, at))
    else:
        out.append(_refusal(transition, record.raw, record.key, record.source))

    if watermark is not None and held:
        held = _expire(state, held, watermark, context, out)
    new = Entry(state, tuple(held), record.offset)
    return Step(new, tuple(out), watermark)


@dataclass(frozen=True, slots=True)
class Sweep:
    #: the entry after the sweep; None when the dossier leaves the table (retention)
    entry: Entry | None
    messages: tuple[Outgoing, ...]
    changed: bool


def sweep(entry: Entry, watermark: datetime, context: Context) -> Sweep:
    """What the passing of event time does to one entry: overdue / due-soon alerts, held events
    expired into dead letters, and a closed dossier leaving the table after ``retention``.

    Run by the agent, for each entry whose alarm (:func:`next_alarm`) has come, whenever its
    partition's watermark enters a new local day, at the record that moved it there — so a
    replay sweeps at the same records and raises the same alerts as the live run, whatever the
    batching.
    """
    out: list[Outgoing] = []
    state, held = entry.state, list(entry.held)
    if state is not None:
        state, facts = scan(state, watermark, context.calendar, context.due_soon_working_days)
        out.extend(context.encode_fact(fact) for fact in facts)
    if held:
        held = _expire(state, held, watermark, context, out)
    if state is not None and not held and is_expired(state, watermark, context.retention):
        return Sweep(None, tuple(out), True)
    changed = state != entry.state or len(held) != len(entry.held)
    new = Entry(state, tuple(held), entry.last_offset) if changed else entry
    return Sweep(new, tuple(out), changed)


def next_alarm(entry: Entry, context: Context) -> date | None:
    """The first local day on which :func:`sweep` may change ``entry`` (a lower bound: a sweep
    on that day may still find nothing to do); None when only a new event can change it.

    The agent sweeps only the entries whose alarm has come, instead of the whole table every day.
    """
    days: list[date] = []
    state = entry.state
    for held in entry.held:
        days.append(local_date(held.at + context.max_hold) if held.at is not None else date.min)
    if state is not None and state.is_closed:
        days.append(local_date(state.status_since + context.retention))
    elif state is not None and state.is_in_progress and state.open_pause is None:
        due = due_date_in_force(state, context.calendar)
        if due is not None and state.overdue_alerted_for != due:
            before = context.calendar.add_working_days(due, -context.due_soon_working_days)
            alerted = state.due_soon_alerted_for == due
            days.append(due + timedelta(days=1) if alerted else before - timedelta(days=1))
            if state.supplement_request_count > 1:
                days.append(date.min)  # overdue by the 766 rule: at the next sweep
    return min(days) if days else None


def _redelivered(entry: Entry, record: IntakeRecord, context: Context) -> Step:
    try:
        event = context.decode(record.raw)
        eid = event_id(event)
    except (HubError, KeyError, TypeError):
        return Step(entry, (), context.watermark, redelivered=True)
    applied = entry.state is not None and eid in entry.state.applied_event_ids
    again = (Outgoing(DOSSIER_EVENTS, record.key, record.raw),) if applied else ()
    # The record moved the watermark the first time, so it must again: watermarks are persisted
    # after the entries, and a replay that moved it later would sweep at another record than
    # the interrupted run did (and evict, expire or alert at another point).
    watermark = _later(context.watermark, event, record.low_watermark)
    return Step(entry, again, watermark, redelivered=True)


def _advanced(entry: Entry, record: IntakeRecord) -> Entry:
    return Entry(entry.state, entry.held, record.offset)


def _later(watermark: datetime | None, event: _Event, bound: datetime | None) -> datetime | None:
    """The watermark after ``event``: its time, held back to the validator's low watermark
    ``bound`` (``eventtime.advance``); an event without a valid time leaves it (the machine
    refuses such an event as invalid_event)."""
    return advance(watermark, event_time_or_none(event), bound)


def event_time_or_none(event: _Event) -> datetime | None:
    """The event's own time (``event_time``), or None when it has no valid one (the machine
    refuses such an event as invalid_event)."""
    try:
        return event_time(event)
    except (ValidationError, KeyError, TypeError):
        return None


def _event_id_or_none(event: _Event) -> str | None:
    try:
        return event_id(event)
    except (KeyError, TypeError):
        return None


def _level(event: _Event, context: Context) -> str | None:
    procedure = event.get("procedure_code")
    return context.authority_level(procedure) if isinstance(procedure, str) else None


def _decoded_held(held: list[HeldRecord], context: Context, out: list[Outgoing]) -> list[_Event]:
    """Held records as events; one that no longer decodes is dead-lettered and dropped."""
    events: list[_Event] = []
    for record in list(held):
        try:
            events.append(context.decode(record.raw))
        except HubError as exc:
            held.remove(record)
            out.append(dead_letter(record.raw, None, UNDECODABLE, str(exc), record.source))
    return events


def _release(
    state: DossierState | None,
    held: list[HeldRecord],
    context: Context,
    out: list[Outgoing],
) -> tuple[DossierState | None, list[HeldRecord]]:
    if not held:
        return state, held
    by_id = {h.event_id: h for h in held}
    released = release_held(state, _decoded_held(held, context, out), context.calendar)
    for transition in released.transitions:
        record = by_id[event_id(transition.event)]
        key = transition.event["dossier_code"].encode()
        if transition.applied:
            out.append(Outgoing(DOSSIER_EVENTS, key, record.raw))
        else:
            out.append(_refusal(transition, record.raw, key, record.source))
    out.extend(context.encode_fact(fact) for fact in released.facts)
    return released.state, [by_id[event_id(e)] for e in released.still_held]


def _expire(
    state: DossierState | None,
    held: list[HeldRecord],
    watermark: datetime,
    context: Context,
    out: list[Outgoing],
) -> list[HeldRecord]:
    by_id = {h.event_id: h for h in held}
    events = _decoded_held(held, context, out)
    kept, expired = expire_held(state, events, watermark, context.max_hold)
    for transition in expired:
        record = by_id[event_id(transition.event)]
        key = transition.event["dossier_code"].encode()
        out.append(_refusal(transition, record.raw, key, record.source))
    return [by_id[event_id(e)] for e in kept]


def _refusal(transition: Transition, raw: bytes, key: bytes | None, source: Source) -> Outgoing:
    reason = transition.reason.value if transition.reason is not None else "rejected"
    return dead_letter(raw, key, reason, transition.message or reason, source)


def encode_slice(
    cell: str,
    counts: PartialCounts,
    *,
    at: datetime,
    schema_id_of: Callable[[EventType], int],
) -> Outgoing:
    """One aggregate slice as an ``AggregateUpdated`` record for the aggregates topic; its id
    is derived from the slice and its ``as_of``, so a re-sent copy has the same id."""
    window, dimension, key = parse_cell_key(cell)
    known = event_type("AggregateUpdated")
    body = {
        "window_kind": window.kind.value,
        "window_start": window.start,
        "window_end": window.end,
        "dimension_kind": dimension.value,
        "dimension_key": key,
        "counts": dict(counts.counts),
        "source_partition": counts.partition,
        "as_of_offset": counts.as_of,
    }
    envelope = make_envelope(
        known.name,
        agency_code=HUB_AGENCY_CODE,
        occurred_at=at,
        event_id=uuid.uuid5(DERIVED_ID_NAMESPACE, f"{cell}|{counts.partition}|{counts.as_of}"),
        producer_system=HUB_PRODUCER_SYSTEM,
    )
    value = encode({"envelope": envelope, **body}, schema_id_of(known), known.schema)
    return Outgoing(known.topic, known.message_key(body).encode(), value)


def encode_fact(
    fact: Fact,
    *,
    schema_id_of: Callable[[EventType], int],
    authority_level: Callable[[str], str | None],
) -> Outgoing:
    """A derived fact framed for its topic (see :func:`fact_event`), authority level filled in."""
    known = event_type(fact.event_type)
    body = fact.body()
    if body.get("authority_level") is None:
        level = authority_level(fact.procedure_code)
        if level is None:
            _log.debug("%s: level of %s unknown", fact.dossier_code, fact.procedure_code)
        body["authority_level"] = level or DEFAULT_AUTHORITY_LEVEL
    value = encode(fact_event(fact, body), schema_id_of(known), known.schema)
    return Outgoing(known.topic, known.message_key(body).encode(), value)
