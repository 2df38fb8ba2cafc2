"""The registry of event types: name, family, Avro record, key and canonical topic.

Subjects follow RecordNameStrategy (subject = the record's fullname) and every subject is
FULL_TRANSITIVE; schemas/README.md explains why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from dossierhub.errors import ValidationError

from . import _files, topics
from .errors import UnknownEventTypeError

__all__ = [
    "COMPATIBILITY",
    "NAMESPACE",
    "EventType",
    "Family",
    "event_type",
    "event_type_by_fullname",
    "event_types",
    "subject_for",
]

NAMESPACE: Final = "vn.hcmc.dossierhub"
# FULL_TRANSITIVE, stricter than backward: agencies upgrade their producers on their own schedule,
# so both an old reader of new data and a new reader of old data must work, against every
# version ever registered. It is also what refuses the removal of a field without a default.
COMPATIBILITY: Final = "FULL_TRANSITIVE"
# Separates the parts of a composite message key; none of the key values can contain it.
_KEY_SEPARATOR: Final = "|"


class Family(StrEnum):
    """Event families; the value is the sub-namespace of their records."""

    CATALOG = "catalog"
    DOSSIER = "dossier"
    FEEDBACK = "feedback"
    REFERENCE = "reference"
    DERIVED = "derived"


@dataclass(frozen=True, slots=True)
class EventType:
    """One event type of the contract."""

    name: str
    family: Family
    key_fields: tuple[str, ...]
    topic: str
    #: written by producers into ``envelope.schema_version``; bump with every contract change
    schema_version: int = 1

    @property
    def fullname(self) -> str:
        return f"{NAMESPACE}.{self.family.value}.{self.name}"

    @property
    def subject(self) -> str:
        return self.fullname

    @property
    def schema(self) -> dict[str, Any]:
        """fastavro's parsed schema, loaded from the .avsc files on first use."""
        return _files.parsed_schema(self.fullname)

    @property
    def registered_schema(self) -> str:
        """The self-contained schema JSON to register under :attr:`subject`."""
        return _files.registered_schema(self.fullname)

    def message_key(self, event: Mapping[str, Any]) -> str:
        """The Kafka message key (sent as UTF-8): the key fields joined with ``|``."""
        parts = []
        for name in self.key_fields:
            value = event.get(name)
            if value is None or value == "":
                raise ValidationError(name, value, f"key field of {self.name} is missing")
            parts.append(value.isoformat() if isinstance(value, date) else str(value))
        return _KEY_SEPARATOR.join(parts)


def _family(family: Family, key: str, topic: str, *names: str) -> list[EventType]:
    return [EventType(name, family, (key,), topic) for name in names]


_ALL: Final[tuple[EventType, ...]] = (
    EventType("PublicationDecisionIssued", Family.CATALOG, ("decision_no",), topics.CATALOG_EVENTS),
    *_family(
        Family.CATALOG,
        "procedure_code",
        topics.CATALOG_EVENTS,
        "ProcedurePublished",
        "ProcedureAmended",
        "ProcedureReplaced",
        "ProcedureAbolished",
        "OnlineServiceOffered",
        "OnlineServiceLevelChanged",
        "OnlineServiceWithdrawn",
    ),
    *_family(
        Family.DOSSIER,
        "dossier_code",
        topics.DOSSIER_EVENTS,
        "DossierSubmitted",
        "DossierReceived",
        "DossierReceptionRefused",
        "DossierSupplementRequested",
        "DossierSupplemented",
        "DossierAssigned",
        "DossierStepCompleted",
        "DossierTransferred",
        "InterAgencyResultReceived",
        "FinancialObligationRequested",
        "PaymentCompleted",
        "DossierResolved",
        "ResultReturned",
        "WithdrawalRequested",
        "DossierStopped",
        "AppointmentChanged",
        "ApologyIssued",
        "ServiceRated",
    ),
    *_family(
        Family.FEEDBACK,
        "feedback_id",
        topics.FEEDBACK_EVENTS,
        "FeedbackReceived",
        "FeedbackClassified",
        "FeedbackRejected",
        "FeedbackForwarded",
        "FeedbackResolved",
        "FeedbackPublished",
    ),
    # Reference data is effective-dated and its topic compacted: keying on the code alone would
    # let compaction drop the 2023 version of an agency once its 2025 successor version arrives,
    # and a replay could no longer rebuild 2023. One key per (code, valid_from) keeps each version.
    *(
        EventType(name, Family.REFERENCE, ("agency_code", "valid_from"), topics.REFERENCE_EVENTS)
        for name in ("AgencyRegistered", "AgencyChanged")
    ),
    EventType(
        "AdministrativeUnitChanged",
        Family.REFERENCE,
        ("unit_code", "valid_from"),
        topics.REFERENCE_EVENTS,
    ),
    EventType("WorkingCalendarPublished", Family.REFERENCE, ("year",), topics.REFERENCE_EVENTS),
    EventType("DossierOutcome", Family.DERIVED, ("dossier_code",), topics.DOSSIER_OUTCOMES),
    *_family(
        Family.DERIVED,
        "dossier_code",
        topics.DOSSIER_ALERTS,
        "DossierBecameOverdue",
        "DossierDueSoon",
    ),
    EventType(
        "AggregateUpdated",
        Family.DERIVED,
        ("window_kind", "window_start", "dimension_kind", "dimension_key", "source_partition"),
        topics.AGGREGATES,
    ),
)
_BY_NAME: Final = MappingProxyType({t.name: t for t in _ALL})
_BY_FULLNAME: Final = MappingProxyType({t.fullname: t for t in _ALL})


def event_type(name: str) -> EventType:
    """The event type called ``name`` (e.g. ``"DossierReceived"``)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownEventTypeError(name) from None


def event_type_by_fullname(fullname: str) -> EventType:
    """The event type whose record (and subject) is ``fullname``."""
    try:
        return _BY_FULLNAME[fullname]
    except KeyError:
        raise UnknownEventTypeError(fullname) from None


def event_types(family: Family | None = None) -> tuple[EventType, ...]:
    """All event types, or those of one family, in contract order."""
    return tuple(t for t in _ALL if family is None or t.family is family)


def subject_for(event_type_name: str) -> str:
    """Schema-registry subject of an event type's value schema (RecordNameStrategy)."""
    return event_type(event_type_name).subject
