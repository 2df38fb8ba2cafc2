"""Derived facts the dossier core asks its caller to publish.

Each fact carries what the envelope needs (``event_type``, ``event_id``, ``occurred_at``,
``causation_id``) and ``body()``: the Avro-ready fields of its ``vn.hcmc.dossierhub.derived.*``
schema without the envelope, so the caller publishes ``{"envelope": make_envelope(...),
**fact.body()}``.

Ids are deterministic (``uuid5``) so that a replay of the same log yields the same ids and the
sink can drop duplicates by id.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Final

from schemas.envelope import HUB_AGENCY_CODE, HUB_PRODUCER_SYSTEM, make_envelope

__all__ = [
    "DERIVED_ID_NAMESPACE",
    "DossierBecameOverdue",
    "DossierDueSoon",
    "DossierOutcome",
    "Fact",
    "OutcomeClass",
    "derived_event_id",
    "fact_event",
]

#: namespace of every derived event id; never change it (ids would change on replay)
DERIVED_ID_NAMESPACE: Final = uuid.UUID("0b99e04a-2d34-4347-b084-3e9f57badf6a")


def derived_event_id(dossier_code: str, kind: str, discriminator: str) -> uuid.UUID:
    """``uuid5(namespace, "<dossier_code>|<kind>|<discriminator>")``."""
    return uuid.uuid5(DERIVED_ID_NAMESPACE, f"{dossier_code}|{kind}|{discriminator}")


class OutcomeClass(StrEnum):
    """Symbols of ``DossierOutcome.outcome_class``."""

    EARLY = "EARLY"  # trước hạn
    ON_TIME = "ON_TIME"  # đúng hạn
    OVERDUE = "OVERDUE"  # quá hạn / trễ hạn


@dataclass(frozen=True, slots=True)
class DossierOutcome:
    """On-time classification of a dossier whose processing ended (resolved or stopped)."""

    event_type: ClassVar[str] = "DossierOutcome"

    event_id: uuid.UUID
    #: when processing ended (resolution or stop): the envelope's occurred_at
    occurred_at: datetime
    #: event_id of the dossier event whose application produced this fact
    causation_id: str
    dossier_code: str
    outcome_class: OutcomeClass
    received_at: datetime
    #: end used for the classification (the request time if left waiting for a supplement)
    resolved_at: datetime
    due_date: date
    days_taken: int
    days_late: int
    receiving_agency_code: str
    resolving_agency_code: str
    procedure_code: str
    #: None when the catalog level was not known at reception; the schema field is required,
    #: so the caller must look it up or hold the fact (see README, open questions)
    authority_level: str | None
    channel: str
    apology_issued: bool
    resolution: str | None

    def body(self) -> dict[str, Any]:
        return {
            "dossier_code": self.dossier_code,
            "outcome_class": self.outcome_class.value,
            "received_at": self.received_at,
            "resolved_at": self.resolved_at,
            "due_date": self.due_date,
            "days_taken": self.days_taken,
            "days_late": self.days_late,
            "receiving_agency_code": self.receiving_agency_code,
            "resolving_agency_code": self.resolving_agency_code,
            "procedure_code": self.procedure_code,
            "authority_level": self.authority_level,
            "channel": self.channel,
            "apology_issued": self.apology_issued,
            "resolution": self.resolution,
        }


@dataclass(frozen=True, slots=True)
class _Alert:
    """What both alerts say about an in-progress dossier and its due date in force."""

    event_id: uuid.UUID
    occurred_at: datetime
    dossier_code: str
    due_date: date
    #: the agency holding the dossier when the alert fired (schema: "Agency holding")
    resolving_agency_code: str
    procedure_code: str
    authority_level: str | None
    detected_at: datetime

    def body(self) -> dict[str, Any]:
        return {
            "dossier_code": self.dossier_code,
            "due_date": self.due_date,
            "resolving_agency_code": self.resolving_agency_code,
            "procedure_code": self.procedure_code,
            "authority_level": self.authority_level,
            "detected_at": self.detected_at,
        }


@dataclass(frozen=True, slots=True)
class DossierBecameOverdue(_Alert):
    """An in-progress dossier passed the end of its due date in force."""

    event_type: ClassVar[str] = "DossierBecameOverdue"

    causation_id: str | None = None


@dataclass(frozen=True, slots=True)
class DossierDueSoon(_Alert):
    """An in-progress dossier is within N working days of its due date in force."""

    event_type: ClassVar[str] = "DossierDueSoon"

    working_days_left: int = 0
    causation_id: str | None = None

    def body(self) -> dict[str, Any]:
        return {**_Alert.body(self), "working_days_left": self.working_days_left}


Fact = DossierOutcome | DossierBecameOverdue | DossierDueSoon


def fact_event(fact: Fact, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The fact as the hub publishes it: its body (or ``body``) under a fresh envelope.

    The envelope carries the hub's agency, the fact's deterministic id and the causing event;
    ``recorded_at`` is the fact's own time, not the clock, so a replay writes identical bytes.
    """
    envelope = make_envelope(
        fact.event_type,
        agency_code=HUB_AGENCY_CODE,
        occurred_at=fact.occurred_at,
        event_id=fact.event_id,
        producer_system=HUB_PRODUCER_SYSTEM,
        causation_id=fact.causation_id,
    )
    return {"envelope": envelope, **(fact.body() if body is None else body)}
