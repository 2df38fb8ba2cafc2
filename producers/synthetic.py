"""Synthetic dossier lifecycles, deterministic by seed: for benchmarks and tests that need many
realistic events (the calibrated year of the city is the simulator's job).

Each dossier is received by one agency on a working-hours instant, gets a 10-working-day
appointment, and is resolved early, on time or overdue (overdue ones get an apology letter
before their due date), then its result is returned. Events come out in event-time order
across dossiers, as agencies would publish them.
"""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from schemas import example_event
from stream_processors.dossier import WorkingCalendar, local_date

__all__ = ["DEFAULT_START", "lifecycles"]

#: 08:00 in Ho Chi Minh City on Monday 6 March 2023
DEFAULT_START: Final = datetime(2023, 3, 6, 1, 0, tzinfo=UTC)
_NAMESPACE: Final = uuid.UUID("2b0c8f3e-5d7a-4e61-9c1a-7f3e2d8b6a40")
_CALENDAR: Final = WorkingCalendar()


def lifecycles(
    dossiers: int,
    *,
    agencies: Sequence[str],
    seed: int = 1,
    start: datetime = DEFAULT_START,
    per_day: int = 5_000,
    overdue_share: float = 0.02,
) -> Iterator[dict[str, Any]]:
    """Events of ``dossiers`` lifecycles (3 or 4 events each), in event-time order."""
    rng = random.Random(seed)
    templates = {
        name: example_event(name)
        for name in ("DossierReceived", "DossierResolved", "ResultReturned", "ApologyIssued")
    }
    events: list[tuple[datetime, int, dict[str, Any]]] = []
    for n in range(dossiers):
        agency = agencies[n % len(agencies)]
        received_at = start + timedelta(seconds=n * 86_400 // per_day)
        code = f"{agency}-{local_date(received_at):%y%m%d}-{n:07d}"
        appointment = _CALENDAR.add_working_days(local_date(received_at), 10)
        overdue = rng.random() < overdue_share
        days = 10 + rng.randint(1, 5) if overdue else rng.randint(1, 10)
        resolved_at = received_at + timedelta(days=days * 7 / 5, hours=rng.randint(0, 6))
        life = [
            _event(
                templates["DossierReceived"],
                (code, agency, n),
                received_at,
                "received",
                received_at=received_at,
                appointment_date=appointment,
                receiving_agency_code=agency,
                resolving_agency_code=agency,
                channel="ONLINE" if rng.random() < 0.52 else "COUNTER",
            ),
            _event(
                templates["DossierResolved"],
                (code, agency, n),
                resolved_at,
                "resolved",
                resolved_at=resolved_at,
            ),
            _event(
                templates["ResultReturned"],
                (code, agency, n),
                resolved_at + timedelta(hours=2),
                "returned",
                returned_at=resolved_at + timedelta(hours=2),
            ),
        ]
        if overdue:
            issued = _apology_time(appointment)
            life.append(
                _event(
                    templates["ApologyIssued"],
                    (code, agency, n),
                    issued,
                    "apology",
                    issued_at=issued,
                    responsible_agency_code=agency,
                    apology_id=f"PXL-{n:07d}",
                    previous_appointment_date=appointment,
                    new_appointment_date=_CALENDAR.add_working_days(appointment, 5),
                )
            )
        events.extend((event["envelope"]["occurred_at"], len(events), event) for event in life)
    events.sort(key=lambda item: (item[0], item[1]))
    for _, _, event in events:
        yield event


def _apology_time(appointment: date) -> datetime:
    """09:00 local, two days before the appointment (the rules want it before the due date)."""
    day = appointment - timedelta(days=2)
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)


def _event(
    template: dict[str, Any],
    dossier: tuple[str, str, int],
    at: datetime,
    label: str,
    **fields: Any,
) -> dict[str, Any]:
    """``template`` as an event of ``dossier`` (code, agency, number) at ``at``."""
    code, agency, n = dossier
    event = copy.deepcopy(template)
    envelope = event["envelope"]
    envelope["event_id"] = uuid.uuid5(_NAMESPACE, f"{n}/{label}")
    envelope["occurred_at"] = envelope["recorded_at"] = at
    envelope["agency_code"] = agency
    event["dossier_code"] = code
    event.update(fields)
    return event
