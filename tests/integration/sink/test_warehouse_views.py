"""The analysts' views and ``dossierhub warehouse query`` on both backends, over rows built the
way the sink builds them (no Kafka needed: the views read tables)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from schemas import example_event
from schemas.topics import AGGREGATES, DOSSIER_EVENTS, DOSSIER_OUTCOMES
from sinks.rows import TableRows
from sinks.tables import table_for
from sinks.warehouse import Warehouse, connect
from sinks.warehouse.migrate import migrate
from tests.helpers import run_cli

pytestmark = pytest.mark.timeout(300)
AGENCY = "000.00.15.H29"


def _insert(warehouse: Warehouse, topic: str, events: list[tuple[int, dict[str, Any]]]) -> None:
    rows = TableRows(table_for(topic))
    for offset, event in events:
        rows.add(event, (topic, 0, offset), 1)
    warehouse.insert_columns(rows.batch())


def _outcome(code: str, outcome_class: str, *, apology: bool, resolved_day: int) -> dict[str, Any]:
    event = example_event("DossierOutcome", event_id=uuid.uuid4())
    resolved = dt.datetime(2023, 3, resolved_day, 3, tzinfo=dt.UTC)
    event.update(
        dossier_code=code,
        outcome_class=outcome_class,
        apology_issued=apology,
        resolving_agency_code=AGENCY,
        resolved_at=resolved,
    )
    return event


def _slice(partition: int, as_of: int, received: int, window: str = "YEAR") -> dict[str, Any]:
    event = example_event("AggregateUpdated", event_id=uuid.uuid4())
    event.update(
        window_kind=window,
        window_start=dt.date(2023, 1, 1),
        window_end=dt.date(2024, 1, 1),
        dimension_kind="AGENCY",
        dimension_key=AGENCY,
        source_partition=partition,
        as_of_offset=as_of,
    )
    event["counts"] = {**event["counts"], "received": received, "received_online": received // 2}
    return event


@pytest.fixture
def loaded(warehouse_url: str) -> str:
    with connect(warehouse_url) as warehouse:
        migrate(warehouse)
        _insert(
            warehouse,
            DOSSIER_OUTCOMES,
            [
                (0, _outcome("D1", "OVERDUE", apology=False, resolved_day=10)),
                (1, _outcome("D1", "ON_TIME", apology=False, resolved_day=10)),  # correction
                (2, _outcome("D2", "OVERDUE", apology=False, resolved_day=20)),
                (3, _outcome("D3", "OVERDUE", apology=True, resolved_day=21)),
                (4, _outcome("D4", "EARLY", apology=False, resolved_day=22)),
            ],
        )
        _insert(
            warehouse,
            AGGREGATES,
            [
                (0, _slice(0, as_of=10, received=5)),
                (1, _slice(0, as_of=20, received=8)),  # supersedes the slice above
                (2, _slice(1, as_of=15, received=4)),
                (3, _slice(1, as_of=15, received=4)),  # the same copy delivered twice
            ],
        )
        received = example_event("DossierReceived", event_id=uuid.uuid4())
        counter = {**received, "channel": "COUNTER"}
        counter["envelope"] = {**received["envelope"], "event_id": uuid.uuid4()}
        _insert(warehouse, DOSSIER_EVENTS, [(0, received), (1, counter)])
    return warehouse_url


def test_latest_outcome_wins_and_on_time_rate(loaded: str) -> None:
    with connect(loaded) as warehouse:
        rows = warehouse.query(
            "SELECT month, resolved, early, on_time, overdue, on_time_rate FROM v_on_time_rate"
        )
        assert rows == [(dt.date(2023, 3, 1), 4, 1, 1, 2, 0.5)]
        late = warehouse.query("SELECT dossier_code FROM v_overdue_without_apology")
        assert late == [("D2",)]


def test_aggregates_take_the_newest_copy_of_each_slice_and_sum_them(loaded: str) -> None:
    with connect(loaded) as warehouse:
        report = warehouse.query(
            "SELECT year, agency_code, received, received_online, online_share FROM v_annual_report"
        )
        assert report == [(2023, AGENCY, 12, 6, 0.5)]
        slices = warehouse.query("SELECT slices FROM v_aggregates")
        assert slices == [(2,)]


def test_online_share_from_the_event_store(loaded: str) -> None:
    with connect(loaded) as warehouse:
        rows = warehouse.query("SELECT received, received_online, online_share FROM v_online_share")
        assert rows == [(2, 1, 0.5)]


def test_warehouse_query_command(loaded: str, tmp_path: Path) -> None:
    env = {"DOSSIERHUB_WAREHOUSE_URL": loaded}
    sql = "SELECT dossier_code, outcome_class FROM v_dossier_outcomes ORDER BY dossier_code"
    result = run_cli("warehouse", "query", sql, "--format", "json", home=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0] == {"dossier_code": "D1", "outcome_class": "ON_TIME"}

    result = run_cli("warehouse", "query", sql, "--format", "csv", home=tmp_path, env=env)
    assert list(csv.reader(io.StringIO(result.stdout)))[:2] == [
        ["dossier_code", "outcome_class"],
        ["D1", "ON_TIME"],
    ]
    table = run_cli("warehouse", "query", sql, home=tmp_path, env=env)
    assert table.stdout.splitlines()[1].split() == ["D1", "ON_TIME"]

    refused = run_cli("warehouse", "query", "DROP TABLE sink_ranges", home=tmp_path, env=env)
    assert refused.returncode == 2
    assert "only SELECT" in refused.stderr


def test_current_state_of_each_dossier(warehouse_url: str) -> None:
    received = example_event("DossierReceived", event_id=uuid.uuid4())
    code = received["dossier_code"]
    at = received["received_at"]

    def later(name: str, hours: int, **fields: Any) -> dict[str, Any]:
        event = example_event(name, event_id=uuid.uuid4())
        event["dossier_code"] = code
        event["envelope"]["occurred_at"] = at + dt.timedelta(hours=hours)
        event.update(fields)
        return event

    resolved = later("DossierResolved", 48, resolved_at=at + dt.timedelta(hours=48))
    paid = later("PaymentCompleted", 50)  # sets no status: the dossier stays resolved
    other = example_event("DossierReceived", event_id=uuid.uuid4())
    other["dossier_code"] = "D-OPEN"
    with connect(warehouse_url) as warehouse:
        migrate(warehouse)
        _insert(warehouse, DOSSIER_EVENTS, [(0, received), (1, paid), (2, resolved), (3, other)])
        _insert(
            warehouse,
            DOSSIER_OUTCOMES,
            [(0, _outcome(code, "EARLY", apology=False, resolved_day=17))],
        )
        rows = warehouse.query(
            "SELECT dossier_code, status, procedure_code, resolution, outcome_class, received_at "
            "FROM v_dossiers ORDER BY dossier_code"
        )

    def naive(instant: dt.datetime) -> dt.datetime:
        return instant.replace(tzinfo=None, microsecond=0)

    assert rows == [  # an open dossier has no outcome yet: the join's default
        (code, 9, received["procedure_code"], resolved["outcome"], "EARLY", naive(at)),
        ("D-OPEN", 2, other["procedure_code"], None, "", naive(other["received_at"])),
    ]
