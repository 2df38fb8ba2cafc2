"""Building the common envelope that every event carries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

from .catalog import event_type as _lookup_event_type

__all__ = ["HUB_AGENCY_CODE", "HUB_PRODUCER_SYSTEM", "make_envelope"]

#: agency code the hub itself writes into the envelope of derived events (UBND TP.HCM)
HUB_AGENCY_CODE: Final = "000.00.00.H29"
#: ``producer_system`` of every event the hub derives
HUB_PRODUCER_SYSTEM: Final = "dossierhub"


def make_envelope(
    event_type_name: str,
    *,
    agency_code: str,
    occurred_at: datetime,
    event_id: uuid.UUID | None = None,
    recorded_at: datetime | None = None,
    producer_system: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    rule_regime: str = "ND61_107",
) -> dict[str, Any]:
    """An envelope for ``event_type_name``; the id defaults to a new random UUID."""
    return {
        "event_id": event_id if event_id is not None else uuid.uuid4(),
        "event_type": event_type_name,
        "schema_version": _lookup_event_type(event_type_name).schema_version,
        "occurred_at": occurred_at,
        "recorded_at": recorded_at if recorded_at is not None else occurred_at,
        "agency_code": agency_code,
        "producer_system": producer_system,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "rule_regime": rule_regime,
    }
