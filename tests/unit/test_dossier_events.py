"""Builders of dossier events for the dossier-core tests, and the proof that they are valid.

Every builder starts from ``schemas.example_event`` (so the result always matches the contract),
then sets the event's own time, the envelope times and a deterministic id. Other
``test_dossier_*`` modules import from here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

import schemas
from stream_processors.dossier import (
    HCMC_TZ,
    DossierState,
    FoldResult,
    WorkingCalendar,
    fold,
)
from stream_processors.dossier.machine import DOSSIER_EVENT_TYPES, TIME_FIELDS

CODE = "000.00.15.H29-230315-0042"
JUSTICE = "000.00.15.H29"
POLICE = "000.00.29.G01"
DISTRICT_1 = "000.00.41.H29"
LEVEL = "PROVINCE"
_NS = uuid.UUID("3a0d7c6e-54a1-4f0e-9d55-8e3f3f1c2b10")

#: the package calendar, shared (it caches per year)
CALENDAR = WorkingCalendar()


def vn(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A Ho Chi Minh City wall-clock time as an aware UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=HCMC_TZ).astimezone(UTC)


def ev(name: str, at: datetime, *, eid: str | None = None, **fields: Any) -> dict[str, Any]:
    """An Avro-ready ``name`` event at ``at``; the id is derived from its content unless given."""
    if eid is None:
        eid = str(uuid.uuid5(_NS, f"{name}|{at.isoformat()}|{sorted(fields.items())!r}"))
    event = schemas.example_event(name, event_id=uuid.UUID(eid))
    event["envelope"]["occurred_at"] = at
    event["envelope"]["recorded_at"] = at + timedelta(seconds=2)
    event[TIME_FIELDS[name]] = at
    event.update(fields)
    return event


def received(
    at: datetime, appointment: date, *, eid: str | None = None, **fields: Any
) -> dict[str, Any]:
    return ev("DossierReceived", at, eid=eid, appointment_date=appointment, **fields)


def supplement_requested(at: datetime, seq: int = 1, **fields: Any) -> dict[str, Any]:
    return ev("DossierSupplementRequested", at, sequence_no=seq, **fields)


def supplemented(at: datetime, seq: int = 1, **fields: Any) -> dict[str, Any]:
    return ev("DossierSupplemented", at, sequence_no=seq, **fields)


def resolved(at: datetime, outcome: str = "APPROVED", **fields: Any) -> dict[str, Any]:
    return ev("DossierResolved", at, outcome=outcome, **fields)


def apology(at: datetime, apology_id: str = "PXL-1", **fields: Any) -> dict[str, Any]:
    return ev("ApologyIssued", at, apology_id=apology_id, **fields)


def run(events: Iterable[dict[str, Any]]) -> FoldResult:
    return fold(list(events), CALENDAR, authority_level=LEVEL)


def state_of(events: Iterable[dict[str, Any]]) -> DossierState:
    result = run(events)
    assert result.state is not None
    return result.state


# The March 2023 story of schemas/examples.py: received Wednesday 15 March 2023 at 09:12,
# 10 working days, appointment Wednesday 29 March 2023.
RECEIVED_AT = vn(2023, 3, 15, 9, 12)
APPOINTMENT = date(2023, 3, 29)


def march_received(**fields: Any) -> dict[str, Any]:
    return received(RECEIVED_AT, APPOINTMENT, **fields)


# -- the builders themselves ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DOSSIER_EVENT_TYPES))
def test_every_built_event_is_valid_against_its_schema(name: str) -> None:
    event = ev(name, RECEIVED_AT + timedelta(days=1))
    assert schemas.validate_event(event) == []


def test_the_machine_knows_every_dossier_event_of_the_contract() -> None:
    contract = {t.name for t in schemas.event_types() if t.family is schemas.Family.DOSSIER}
    assert contract == DOSSIER_EVENT_TYPES


def test_vn_is_utc_plus_seven() -> None:
    assert vn(2023, 3, 15, 7, 0) == datetime(2023, 3, 15, 0, 0, tzinfo=UTC)
