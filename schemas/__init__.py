"""The hub's event contract: Avro schemas, the event-type catalog, topics, wire format,
validation and examples. See schemas/README.md."""

from __future__ import annotations

from .catalog import (
    COMPATIBILITY,
    NAMESPACE,
    EventType,
    Family,
    event_type,
    event_type_by_fullname,
    event_types,
    subject_for,
)
from .conversion import from_json, to_utc_millis
from .dvcqg import DvcqgStatus, dvcqg_status
from .envelope import make_envelope
from .errors import (
    IncompatibleReaderSchemaError,
    SchemaError,
    SchemaLoadError,
    UndecodableMessageError,
    UnencodableEventError,
    UnknownEventTypeError,
)
from .examples import example_event, example_events, pseudonym
from .serde import SchemaLookup, decode, encode, peek_schema_id
from .topics import TopicKind, TopicSpec, all_topics, canonical_topics, inbound_topic
from .validation import ValidationWarning, event_type_of, validate_event

__all__ = [
    "COMPATIBILITY",
    "NAMESPACE",
    "DvcqgStatus",
    "EventType",
    "Family",
    "IncompatibleReaderSchemaError",
    "SchemaError",
    "SchemaLoadError",
    "SchemaLookup",
    "TopicKind",
    "TopicSpec",
    "UndecodableMessageError",
    "UnencodableEventError",
    "UnknownEventTypeError",
    "ValidationWarning",
    "all_topics",
    "canonical_topics",
    "decode",
    "dvcqg_status",
    "encode",
    "event_type",
    "event_type_by_fullname",
    "event_type_of",
    "event_types",
    "example_event",
    "example_events",
    "from_json",
    "inbound_topic",
    "make_envelope",
    "peek_schema_id",
    "pseudonym",
    "subject_for",
    "to_utc_millis",
    "validate_event",
]
