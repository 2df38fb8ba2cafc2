"""``dossiers_current`` on both backends: who holds each dossier now, the appointment in force
and the due date, over events inserted the way the sink inserts them (in arrival order, which
need not be event-time order)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from schemas import example_event
from schemas.topics import DOSSIER_EVENTS, DOSSIER_OUTCOMES
from sinks.rows import TableRows
from sinks.tables import table_for
from sinks.warehouse import Warehouse, connect
from sinks.warehouse.migrate import migrate

pytestmark = pytest.mark.timeout(300)
JUSTICE, POLICE = "000.00.15.H29", "000.00.29.G01"
RECEIVED = dt.datetime(2023, 3, 15, 2, 0, tzinfo=dt.UTC)


def _insert(warehouse: Warehouse, topic: str, events: list[dict[str, Any]]) -> None:
    rows = TableRows(table_for(topic))
    for offset, event in enumerate(events):
        rows.add(event, (topic, 0, offset), 1)
    warehouse.insert_columns(rows.batch())


def _event(event_type: str, code: str, hours: int, /, **fields: Any) -> dict[str, Any]:
    event = example_event(event_type, event_id=uuid.uuid4())
    event["dossier_code"] = code
    event["envelope"] = {**event["envelope"], "occurred_at": RECEIVED + dt.timedelta(hours=hours)}
    event.update(fields)
    return event


def test_holder_appointment_and_due_date(warehouse_url: str) -> None:
    received = {"resolving_agency_code": JUSTICE, "appointment_date": dt.date(2023, 3, 29)}
    open_one = [  # arrival order: the transfer and the result come before the reception
        _event("DossierTransferred", "OPEN", 1, to_agency_code=POLICE),
        _event("InterAgencyResultReceived", "OPEN", 30),  # the envelope's agency: JUSTICE
        _event("DossierReceived", "OPEN", 0, received_at=RECEIVED, **received),
        _event("AppointmentChanged", "OPEN", 40, new_appointment_date=dt.date(2023, 4, 3)),
    ]
    with_police = [
        _event("DossierReceived", "AT-POLICE", 0, received_at=RECEIVED, **received),
        _event("DossierTransferred", "AT-POLICE", 2, to_agency_code=POLICE),
    ]
    resolved = [
        _event("DossierReceived", "DONE", 0, received_at=RECEIVED, **received),
        _event("DossierResolved", "DONE", 50, resolved_at=RECEIVED + dt.timedelta(hours=50)),
    ]
    outcome = example_event("DossierOutcome", event_id=uuid.uuid4())
    outcome.update(dossier_code="DONE", due_date=dt.date(2023, 3, 28))
    with connect(warehouse_url) as warehouse:
        migrate(warehouse)
        _insert(warehouse, DOSSIER_EVENTS, [*open_one, *with_police, *resolved])
        _insert(warehouse, DOSSIER_OUTCOMES, [outcome])
        rows = warehouse.query(
            "SELECT dossier_code, status, holding_agency_code, holding_since, "
            "appointment_in_force, current_due_date, outcome_class "
            "FROM dossiers_current ORDER BY dossier_code"
        )

    def at(hours: int) -> dt.datetime:
        return (RECEIVED + dt.timedelta(hours=hours)).replace(tzinfo=None)

    assert rows == [
        ("AT-POLICE", 4, POLICE, at(2), dt.date(2023, 3, 29), dt.date(2023, 3, 29), ""),
        ("DONE", 9, JUSTICE, at(0), dt.date(2023, 3, 29), dt.date(2023, 3, 28), "ON_TIME"),
        ("OPEN", 4, JUSTICE, at(30), dt.date(2023, 4, 3), dt.date(2023, 4, 3), ""),
    ]
