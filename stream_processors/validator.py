"""Stage 1, stateless: is an inbound record an event the hub accepts, and where does it go?

:func:`check` is pure (bytes, the writer-schema lookup and the time in; a verdict out), so every
refusal is unit-tested without a broker; ``stream_processors.app`` runs it in a Faust agent.
An accepted record is forwarded as the *original bytes* (same schema id): dossier events to the
intake topic keyed by ``dossier_code`` (the dossier agent decides whether they reach
``hub.dossier.events``), catalog, feedback and reference events straight to their canonical
topic. A refused one goes to ``hub.deadletter`` with a stable reason code.

The lookup may raise when the registry cannot be reached: that is not the record's fault, so it
propagates and the caller retries the same record instead of dead-lettering it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from dossierhub.errors import HubError
from schemas import Family, decode, event_type_by_fullname, peek_schema_id, validate_event
from schemas.catalog import EventType
from schemas.errors import IncompatibleReaderSchemaError, UndecodableMessageError
from schemas.serde import SchemaLookup
from schemas.topics import DOSSIER_INTAKE, inbound_agency

from .identifiers import find_raw_identifier
from .messages import Outgoing, Source, dead_letter

__all__ = [
    "HEADER_TRUNCATED",
    "MAX_FORWARD_BYTES",
    "Accepted",
    "Refusal",
    "Refused",
    "check",
    "read_event",
    "route",
    "to_outgoing",
]

#: the most bytes (value and key) the validator forwards. The processors' producer refuses a
#: request over 1,000,000 bytes (Faust's producer_max_request_size), headers included, and a
#: record it cannot send stops the worker, on the same record after every restart; the broker
#: alone would take 1 MiB. The biggest real event is a few KB.
MAX_FORWARD_BYTES: Final = 900_000
#: a dead letter of a bigger record keeps this much of it; its source headers point at the rest
_KEPT_OF_OVERSIZED: Final = 64 * 1024
#: keys longer than this are not copied onto a dead letter (a key is a code, not a payload)
_MAX_DEAD_LETTER_KEY: Final = 1024
#: on a dead letter whose body was cut short: the size of the agency's record, in bytes
HEADER_TRUNCATED: Final = "dh.truncated_from"


class Refusal(StrEnum):
    """``dh.reason`` codes of the validator."""

    UNDECODABLE = "undecodable"  # not Confluent framing, or a body that does not decode
    UNKNOWN_SCHEMA_ID = "unknown_schema_id"  # the registry does not know the id
    UNKNOWN_EVENT_TYPE = "unknown_event_type"  # a registered schema that is none of the hub's
    INCOMPATIBLE_SCHEMA = "incompatible_schema"  # the hub's schema cannot read the writer's
    UNSUPPORTED_EVENT = "unsupported_event"  # a derived event: only the hub writes those
    NOT_AN_INBOUND_TOPIC = "not_an_inbound_topic"
    AGENCY_MISMATCH = "agency_mismatch"  # envelope.agency_code is not the topic's agency
    FUTURE_TIMESTAMP = "future_timestamp"
    INVALID_EVENT = "invalid_event"  # schemas.validate_event refused it
    TOO_LARGE = "too_large"  # more than MAX_FORWARD_BYTES: it could not be sent on
    RAW_IDENTIFIER = "raw_identifier"  # a free-text field holds something like a CCCD or phone


@dataclass(frozen=True, slots=True)
class Accepted:
    event_type: EventType
    event: Mapping[str, Any]
    schema_id: int
    #: where the original bytes go next, with which key
    topic: str
    key: str


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Refusal
    error: str
    #: the message key to keep on the dead letter (the entity key when it could be read)
    key: str | None = None


def check(
    raw: bytes | None,
    *,
    source_topic: str,
    lookup: SchemaLookup,
    now: datetime,
    future_tolerance: timedelta,
) -> Accepted | Refused:
    """The verdict on one inbound record (see the module docstring)."""
    agency = inbound_agency(source_topic)
    if agency is None:
        return Refused(Refusal.NOT_AN_INBOUND_TOPIC, f"{source_topic} is not hub.inbound.<code>")
    if not raw:
        return Refused(Refusal.UNDECODABLE, "empty value (a tombstone or an empty record)")
    if len(raw) > MAX_FORWARD_BYTES:
        return Refused(Refusal.TOO_LARGE, _too_large(len(raw)))
    try:
        schema_id = peek_schema_id(raw)
    except UndecodableMessageError as exc:
        return Refused(Refusal.UNDECODABLE, exc.reason)
    writer = _writer_schema(lookup, schema_id)
    if writer is None:
        return Refused(Refusal.UNKNOWN_SCHEMA_ID, f"schema id {schema_id} is not registered")
    try:
        known = event_type_by_fullname(str(writer.get("name")))
    except HubError:
        return Refused(
            Refusal.UNKNOWN_EVENT_TYPE,
            f"schema id {schema_id} is {writer.get('name')!r}, not an event type of the hub",
        )
    try:
        # Read into this checkout's schema: an older writer version gets its defaults filled
        # in, so validation sees the current shape; the bytes forwarded stay the writer's.
        _, event = decode(raw, lambda _: writer, reader_schema=known.schema)
    except UndecodableMessageError as exc:
        return Refused(Refusal.UNDECODABLE, exc.reason)
    except IncompatibleReaderSchemaError as exc:
        # One agency's misregistered schema must not stop every agency's stream.
        return Refused(Refusal.INCOMPATIBLE_SCHEMA, exc.reason)
    verdict = _check_event(
        known,
        event=event,
        schema_id=schema_id,
        agency=agency,
        now=now,
        future_tolerance=future_tolerance,
    )
    if isinstance(verdict, Accepted) and len(raw) + len(verdict.key.encode()) > MAX_FORWARD_BYTES:
        return Refused(Refusal.TOO_LARGE, _too_large(len(raw) + len(verdict.key.encode())))
    return verdict


def _too_large(size: int) -> str:
    return f"{size} bytes with its key, more than the {MAX_FORWARD_BYTES} the hub forwards"


def read_event(raw: bytes, lookup: SchemaLookup) -> tuple[EventType, dict[str, Any]]:
    """Decode an already validated record into this checkout's schema of its event type.

    Raises a ``HubError`` (undecodable, unknown id or event type, incompatible schema).
    """
    schema_id = peek_schema_id(raw)
    writer = _writer_schema(lookup, schema_id)
    if writer is None:
        raise UndecodableMessageError(raw, f"unknown schema id {schema_id}", schema_id=schema_id)
    known = event_type_by_fullname(str(writer.get("name")))
    _, event = decode(raw, lambda _: writer, reader_schema=known.schema)
    return known, event


def _writer_schema(lookup: SchemaLookup, schema_id: int) -> Mapping[str, Any] | None:
    try:
        return lookup(schema_id)
    except KeyError:
        return None


def _check_event(
    known: EventType,
    *,
    event: Mapping[str, Any],
    schema_id: int,
    agency: str,
    now: datetime,
    future_tolerance: timedelta,
) -> Accepted | Refused:
    key = _key_or_none(known, event)
    if known.family is Family.DERIVED:
        return Refused(
            Refusal.UNSUPPORTED_EVENT, f"{known.name} is derived: only the hub publishes it", key
        )
    envelope = event.get("envelope") or {}
    if envelope.get("event_type") != known.name:
        return Refused(
            Refusal.INVALID_EVENT,
            f"envelope.event_type={envelope.get('event_type')!r} in a {known.name} record",
            key,
        )
    sender = envelope.get("agency_code")
    if sender != agency:
        return Refused(
            Refusal.AGENCY_MISMATCH,
            f"envelope.agency_code={sender!r} on the inbound topic of {agency}",
            key,
        )
    occurred_at = envelope.get("occurred_at")
    if isinstance(occurred_at, datetime) and occurred_at > now + future_tolerance:
        return Refused(
            Refusal.FUTURE_TIMESTAMP,
            f"envelope.occurred_at={occurred_at.isoformat()} is more than {future_tolerance} "
            f"after the hub's clock ({now.isoformat()})",
            key,
        )
    # Before validation, whose message could quote a field: this one names the field only.
    if (raw_identifier := find_raw_identifier(known, event)) is not None:
        return Refused(Refusal.RAW_IDENTIFIER, raw_identifier.describe(), key)
    try:
        validate_event(event, event_type=known.name)
    except HubError as exc:
        return Refused(Refusal.INVALID_EVENT, str(exc), key)
    if key is None:  # validate_event requires the key fields; kept as a guard
        return Refused(Refusal.INVALID_EVENT, f"{known.name} without its key fields")
    return Accepted(known, event, schema_id, route(known), key)


def route(known: EventType) -> str:
    """The topic an accepted event of ``known`` goes to next."""
    return DOSSIER_INTAKE if known.family is Family.DOSSIER else known.topic


def _key_or_none(known: EventType, event: Mapping[str, Any]) -> str | None:
    try:
        return known.message_key(event)
    except HubError:
        return None


def to_outgoing(
    verdict: Accepted | Refused, raw: bytes | None, source: Source, original_key: bytes | None
) -> Outgoing:
    """The record to send for ``verdict``: the original bytes, forwarded or dead-lettered.

    Forwarded dossier events carry their source coordinates as headers, so that the dossier
    agent's own refusals can still point at the agency's record.
    """
    if isinstance(verdict, Accepted):
        assert raw is not None  # an accepted record was decoded from these bytes
        headers = source.headers() if verdict.topic == DOSSIER_INTAKE else ()
        return Outgoing(verdict.topic, verdict.key.encode(), raw, headers)
    key = verdict.key.encode() if verdict.key is not None else original_key
    if key is not None and len(key) > _MAX_DEAD_LETTER_KEY:
        key = None
    body = raw or b""
    if len(body) <= MAX_FORWARD_BYTES:
        return dead_letter(body, key, verdict.reason.value, verdict.error, source)
    # Whole, it could not be sent: keep its start, and say how big it was.
    letter = dead_letter(
        body[:_KEPT_OF_OVERSIZED], key, verdict.reason.value, verdict.error, source
    )
    return replace(letter, headers=(*letter.headers, (HEADER_TRUNCATED, str(len(body)).encode())))
