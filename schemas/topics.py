"""Every Kafka topic of the hub, declared once.

Event topics keep their log forever (``retention.ms=-1``): the log is the source of truth and
every projection is rebuilt by replaying it. State topics (reference data, outcomes,
aggregates) are compacted: only the latest value per key matters there.

Agencies write only to their own inbound topic (``hub.inbound.<agency_code>``), which lets
ACLs be per agency; the hub validates and copies the records to the canonical topics.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from dossierhub.errors import ConfigError, ValidationError

__all__ = [
    "AGGREGATES",
    "CATALOG_EVENTS",
    "DEADLETTER",
    "DOSSIER_ALERTS",
    "DOSSIER_EVENTS",
    "DOSSIER_INTAKE",
    "DOSSIER_OUTCOMES",
    "FEEDBACK_EVENTS",
    "INBOUND_PREFIX",
    "REFERENCE_EVENTS",
    "TopicKind",
    "TopicSpec",
    "all_topics",
    "canonical_topics",
    "inbound_agency",
    "inbound_topic",
    "inbound_topic_spec",
    "processor_topics",
]

INBOUND_PREFIX: Final = "hub.inbound."
CATALOG_EVENTS: Final = "hub.catalog.events"
DOSSIER_EVENTS: Final = "hub.dossier.events"
FEEDBACK_EVENTS: Final = "hub.feedback.events"
REFERENCE_EVENTS: Final = "hub.reference.events"
DOSSIER_OUTCOMES: Final = "hub.dossier.outcomes"
DOSSIER_ALERTS: Final = "hub.dossier.alerts"
AGGREGATES: Final = "hub.aggregates"
DEADLETTER: Final = "hub.deadletter"
#: validated dossier events on their way to the dossier agent (stream_processors), keyed by
#: dossier_code; only the events the agent accepts are copied on to DOSSIER_EVENTS
DOSSIER_INTAKE: Final = "hub.dossier.intake"

# Kafka topic names allow dots, so the electronic identifier can be used verbatim.
_AGENCY_CODE = re.compile(r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}")
_THIRTY_DAYS_MS: Final = 30 * 24 * 3600 * 1000


class TopicKind(StrEnum):
    """How a topic keeps its data."""

    EVENT_LOG = "event_log"  # append-only, kept forever
    STATE = "state"  # compacted: latest value per key
    ALERT = "alert"  # transient notifications, re-derivable
    DEADLETTER = "deadletter"  # rejected input, kept until someone has looked at it
    INTERNAL = "internal"  # a buffer between two processor stages, re-derivable from inbound


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """What an admin client needs to create a topic."""

    name: str
    kind: TopicKind
    partitions: int
    replication_factor: int
    config: Mapping[str, str] = field(hash=False)
    description: str


@dataclass(frozen=True, slots=True)
class _Template:
    name: str
    kind: TopicKind
    partitions: int
    description: str


# Partition counts: dossier events carry almost all the volume (22.6 M dossiers in 2023, ~10
# events each, ≈ 7 events/s on average), so 6 partitions are ample and leave room for 6 consumer
# instances. The derived dossier topics use the same key and count, so a dossier lands on the
# same partition number everywhere (co-partitioning for joins). The catalog and reference topics
# hold a few thousand events a year and need one total order across keys (a decision before the
# procedures it publishes, an agency before the units that refer to it), hence one partition.
_CANONICAL: Final[tuple[_Template, ...]] = (
    _Template(
        CATALOG_EVENTS, TopicKind.EVENT_LOG, 1, "procedure catalog events (công bố TTHC, DVCTT)"
    ),
    _Template(DOSSIER_EVENTS, TopicKind.EVENT_LOG, 6, "dossier lifecycle events (hồ sơ TTHC)"),
    _Template(FEEDBACK_EVENTS, TopicKind.EVENT_LOG, 3, "feedback and proposals (PAKN)"),
    _Template(
        REFERENCE_EVENTS, TopicKind.STATE, 1, "agencies, administrative units, working calendar"
    ),
    _Template(DOSSIER_OUTCOMES, TopicKind.STATE, 6, "on-time class of finished dossiers"),
    _Template(DOSSIER_ALERTS, TopicKind.ALERT, 6, "dossiers overdue or due soon"),
    _Template(AGGREGATES, TopicKind.STATE, 3, "windowed counts per agency/level/procedure/city"),
    _Template(DEADLETTER, TopicKind.DEADLETTER, 3, "inbound messages the hub could not accept"),
)
_INBOUND_PARTITIONS: Final = 3
# The intake has the partitions of the topic the dossier agent copies to, so a dossier keeps its
# partition number from intake to canonical topic to derived topics (and the agent's table).
_PROCESSOR: Final[tuple[_Template, ...]] = (
    _Template(
        DOSSIER_INTAKE, TopicKind.INTERNAL, 6, "validated dossier events awaiting the state agent"
    ),
)
_SEVEN_DAYS_MS: Final = 7 * 24 * 3600 * 1000


def _config(kind: TopicKind, replication_factor: int) -> dict[str, str]:
    # With 3+ replicas, acks=all survives one broker down while still refusing lone writes.
    config = {"min.insync.replicas": "2" if replication_factor >= 3 else "1"}
    if kind is TopicKind.EVENT_LOG:
        config |= {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
    elif kind is TopicKind.STATE:
        config |= {"cleanup.policy": "compact"}
    elif kind is TopicKind.ALERT:
        config |= {"cleanup.policy": "delete", "retention.ms": str(_THIRTY_DAYS_MS)}
    elif kind is TopicKind.INTERNAL:
        # Only has to outlive the dossier agent's lag: what the agent still needs of a record
        # (a held event) it keeps in its own state, and a rebuild replays the inbound topics.
        config |= {"cleanup.policy": "delete", "retention.ms": str(_SEVEN_DAYS_MS)}
    else:
        # A rejected message is an agency's fact that has not reached the log yet: never drop it.
        config |= {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
    return config


def _check_replication(replication_factor: int) -> None:
    if replication_factor < 1:
        raise ConfigError("replication_factor", replication_factor, "must be at least 1")


def _spec(template: _Template, replication_factor: int) -> TopicSpec:
    return TopicSpec(
        name=template.name,
        kind=template.kind,
        partitions=template.partitions,
        replication_factor=replication_factor,
        config=_config(template.kind, replication_factor),
        description=template.description,
    )


def inbound_topic(agency_code: str) -> str:
    """The topic an agency writes to, e.g. ``hub.inbound.000.00.15.H29``."""
    if not _AGENCY_CODE.fullmatch(agency_code):
        raise ValidationError(
            "agency_code", agency_code, "not an electronic agency identifier like 000.00.15.H29"
        )
    return INBOUND_PREFIX + agency_code


def inbound_agency(topic: str) -> str | None:
    """The agency code of an inbound topic name, or None when the topic is not an inbound one."""
    if not topic.startswith(INBOUND_PREFIX):
        return None
    code = topic.removeprefix(INBOUND_PREFIX)
    return code if _AGENCY_CODE.fullmatch(code) else None


def inbound_topic_spec(agency_code: str, replication_factor: int) -> TopicSpec:
    _check_replication(replication_factor)
    template = _Template(
        inbound_topic(agency_code),
        TopicKind.EVENT_LOG,
        _INBOUND_PARTITIONS,
        f"events sent by agency {agency_code}",
    )
    return _spec(template, replication_factor)


def canonical_topics(replication_factor: int) -> tuple[TopicSpec, ...]:
    """The hub's own topics (everything but the per-agency inbound ones)."""
    _check_replication(replication_factor)
    return tuple(_spec(template, replication_factor) for template in _CANONICAL)


def processor_topics(replication_factor: int) -> tuple[TopicSpec, ...]:
    """Topics between the stream processors' stages (``dossierhub run`` applies them).

    Kept apart from :func:`canonical_topics`: nothing outside the processors reads them.
    """
    _check_replication(replication_factor)
    return tuple(_spec(template, replication_factor) for template in _PROCESSOR)


def all_topics(replication_factor: int, agency_codes: Iterable[str] = ()) -> tuple[TopicSpec, ...]:
    """The canonical topics plus one inbound topic per agency, in a stable order."""
    inbound = (inbound_topic_spec(code, replication_factor) for code in sorted(set(agency_codes)))
    return canonical_topics(replication_factor) + tuple(inbound)
