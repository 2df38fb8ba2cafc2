"""``dossierhub report`` against a real warehouse on both backends, filled by inserting rows the
way the sink builds them (no Kafka: the report reads tables). The data set is small and built
from explicit counts, each edge case named where it is made; every key of the JSON is asserted.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dossierhub.settings import Settings
from dossierhub.stack import Stack
from schemas import example_event
from schemas.topics import CATALOG_EVENTS, DOSSIER_EVENTS, DOSSIER_OUTCOMES, FEEDBACK_EVENTS
from sinks.report import build_report
from sinks.report.queries import MissingTablesError
from sinks.rows import TableRows
from sinks.tables import table_for
from sinks.warehouse import Warehouse, connect
from sinks.warehouse.migrate import migrate
from tests.helpers import REPO, run_cli

pytestmark = pytest.mark.timeout(300)
UTC = dt.UTC
ICT = dt.timezone(dt.timedelta(hours=7))  # Asia/Ho_Chi_Minh: UTC+7, no DST since 1975


def _local(year: int, month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=ICT).astimezone(UTC)


class _Events:
    """Events by topic, each given its own offset (the order they are added in)."""

    def __init__(self) -> None:
        self.by_topic: dict[str, list[dict[str, Any]]] = {}

    def add(
        self,
        topic: str,
        name: str,
        at: dt.datetime,
        *,
        event_id: uuid.UUID | None = None,
        **body: Any,
    ) -> dict[str, Any]:
        event = example_event(name, event_id=event_id or uuid.uuid4())
        event["envelope"]["occurred_at"] = at
        event["envelope"]["recorded_at"] = at
        event.update(body)
        self.by_topic.setdefault(topic, []).append(event)
        return event

    def write(self, warehouse: Warehouse) -> None:
        for topic, events in self.by_topic.items():
            rows = TableRows(table_for(topic))
            for offset, event in enumerate(events):
                rows.add(event, (topic, 0, offset), 1)
            warehouse.insert_columns(rows.batch())


def _catalog(events: _Events) -> None:
    """In force at the end of 2023: PROVINCE 5, DISTRICT 2, COMMUNE 2 (total 9); online FULL 3,
    PARTIAL 2; decisions 2 with 2 new, 2 amended, 1 replaced, 2 abolished (total 7)."""
    before = dt.date(2022, 6, 1)

    def publish(
        code: str, level: str, valid_from: dt.date = before, internal: bool = False
    ) -> None:
        events.add(
            CATALOG_EVENTS,
            "ProcedurePublished",
            _local(valid_from.year, valid_from.month, valid_from.day),
            procedure_code=code,
            authority_level=level,
            valid_from=valid_from,
            internal=internal,
        )

    def end(kind: str, code: str, valid_from: dt.date, **extra: Any) -> None:
        events.add(
            CATALOG_EVENTS,
            kind,
            _local(valid_from.year, valid_from.month, valid_from.day),
            procedure_code=code,
            valid_from=valid_from,
            **extra,
        )

    for code in ("P1", "P2", "P3", "P4", "P5"):
        publish(code, "PROVINCE")
    for code in ("D1", "D2", "D3"):
        publish(code, "DISTRICT")
    publish("C1", "COMMUNE")
    publish("C2", "COMMUNE")
    publish("I1", "PROVINCE", internal=True)  # internal: never counted
    publish("P9", "PROVINCE", dt.date(2024, 1, 1))  # in force only from 2024
    # D3 moves to the province level in May
    events.add(
        CATALOG_EVENTS,
        "ProcedureAmended",
        _local(2023, 5, 2),
        procedure_code="D3",
        authority_level="PROVINCE",
        valid_from=dt.date(2023, 5, 2),
        internal=False,
    )
    end("ProcedureAbolished", "P5", dt.date(2023, 7, 1))
    end("ProcedureAbolished", "P4", dt.date(2024, 2, 1))  # after the year: P4 still counts
    end("ProcedureReplaced", "C2", dt.date(2023, 8, 1), replaced_by_code="C3")
    publish("C3", "COMMUNE", dt.date(2023, 8, 1))

    def online(kind: str, service: str, code: str, level: str, valid_from: dt.date) -> None:
        events.add(
            CATALOG_EVENTS,
            kind,
            _local(valid_from.year, valid_from.month, valid_from.day),
            service_code=service,
            procedure_code=code,
            level=level,
            valid_from=valid_from,
        )

    offered = "OnlineServiceOffered"
    online(offered, "S1", "P1", "FULL", before)
    online(offered, "S2", "P2", "PARTIAL", before)
    online(offered, "S2b", "P2", "FULL", before)  # P2 counts once, at FULL
    online(offered, "S3", "P3", "PARTIAL", before)
    online(offered, "S4", "D1", "FULL", before)
    online("OnlineServiceWithdrawn", "S4", "D1", "FULL", dt.date(2023, 9, 1))  # D1: none
    online(offered, "S5", "D2", "PARTIAL", before)
    online("OnlineServiceLevelChanged", "S5", "D2", "FULL", dt.date(2023, 3, 1))
    online(offered, "S6", "C1", "PARTIAL", before)
    online(offered, "S7", "P5", "FULL", before)  # P5 abolished: not counted
    online(offered, "S8", "I1", "FULL", before)  # internal: not counted
    online(offered, "S9", "P4", "FULL", dt.date(2024, 1, 5))  # after the year

    def decision(signed: dt.date, items: list[tuple[str, str, bool]]) -> dict[str, Any]:
        return events.add(
            CATALOG_EVENTS,
            "PublicationDecisionIssued",
            _local(signed.year, signed.month, signed.day),
            signed_date=signed,
            items=[
                {"procedure_code": code, "change_type": change, "internal": internal}
                for code, change, internal in items
            ],
        )

    first = decision(
        dt.date(2023, 2, 10),
        [
            ("X1", "STANDARDIZED_NEW", False),
            ("X2", "NEW", False),
            ("X3", "AMENDED", False),
            ("X4", "REPLACED", False),
            ("X5", "ABOLISHED", True),  # internal: not counted
        ],
    )
    decision(
        dt.date(2023, 11, 20),
        [("Y1", "ABOLISHED", False), ("Y2", "ABOLISHED", False), ("Y3", "AMENDED", False)],
    )
    decision(dt.date(2022, 12, 30), [("Z1", "AMENDED", False)])  # the previous year
    events.by_topic[CATALOG_EVENTS].append(first)  # delivered twice: counts once


def _dossier(
    events: _Events, code: str, received: dt.datetime, channel: str = "COUNTER"
) -> dict[str, Any]:
    return events.add(
        DOSSIER_EVENTS,
        "DossierReceived",
        received,
        dossier_code=code,
        received_at=received,
        channel=channel,
    )


def _resolve(
    events: _Events,
    code: str,
    at: dt.datetime,
    cls: str,
    *,
    apology: bool = False,
    level: str = "PROVINCE",
) -> None:
    events.add(DOSSIER_EVENTS, "DossierResolved", at, dossier_code=code, resolved_at=at)
    events.add(
        DOSSIER_OUTCOMES,
        "DossierOutcome",
        at,
        dossier_code=code,
        outcome_class=cls,
        resolved_at=at,
        apology_issued=apology,
        authority_level=level,
    )


def _dossiers(events: _Events) -> None:
    """2023: opening backlog 5, received 10 (6 online), resolved 5 on time + 3 overdue,
    withdrawn 2, closing backlog 5, apology letters 3, overdue with an apology 2 of 3."""
    # the opening backlog: received in 2022, open on 1 January
    for code in ("B1", "B2", "B3"):
        _dossier(events, code, _local(2022, 12, 5))
    # 20:00 local on 31 December 2022 (13:00 UTC): the previous year, so backlog, not received
    _dossier(events, "B4", _local(2022, 12, 31, 20))
    # loaded into the books when the hub opened: received in 2022, the event in 2023
    carried = _dossier(events, "B5", _local(2022, 10, 1))
    carried.update(carried_over=True)
    carried["envelope"]["occurred_at"] = _local(2023, 1, 1, 0)
    _dossier(events, "B0", _local(2022, 11, 1))
    _resolve(events, "B0", _local(2022, 12, 1), "ON_TIME")  # closed before the year
    # received in 2023; N1 at 03:00 local on 1 January, which is still 2022 in UTC
    channels = ["ONLINE"] * 6 + ["COUNTER"] * 3 + ["POSTAL"]
    received = {
        f"N{i}": _dossier(
            events,
            f"N{i}",
            _local(2023, 1, 1, 3) if i == 1 else _local(2023, i, 10),
            channels[i - 1],
        )
        for i in range(1, 11)
    }
    events.by_topic[DOSSIER_EVENTS].append(received["N1"])  # delivered twice: counts once
    # 01:00 local on 1 January 2024 (18:00 UTC on 31 December 2023): not 2023
    _dossier(events, "L1", _local(2024, 1, 1, 1), "ONLINE")

    _resolve(events, "B1", _local(2023, 1, 20), "ON_TIME", level="DISTRICT")
    _resolve(events, "B2", _local(2023, 2, 20), "OVERDUE", apology=True, level="DISTRICT")
    _resolve(events, "N1", _local(2023, 1, 5), "EARLY")
    _resolve(events, "N2", _local(2023, 2, 15), "ON_TIME")
    _resolve(events, "N3", _local(2023, 3, 15), "ON_TIME", level="COMMUNE")
    _resolve(events, "N4", _local(2023, 4, 25), "OVERDUE", apology=True)
    _resolve(events, "N5", _local(2023, 5, 25), "OVERDUE")
    # N6: first classed OVERDUE, then corrected to ON_TIME by a later outcome
    events.add(
        DOSSIER_OUTCOMES,
        "DossierOutcome",
        _local(2023, 6, 15),
        dossier_code="N6",
        outcome_class="OVERDUE",
        resolved_at=_local(2023, 6, 15),
        apology_issued=False,
        authority_level="PROVINCE",
    )
    _resolve(events, "N6", _local(2023, 6, 15), "ON_TIME")

    for code, at in (("B3", _local(2023, 3, 1)), ("N7", _local(2023, 8, 1))):
        events.add(
            DOSSIER_EVENTS,
            "DossierStopped",
            at,
            dossier_code=code,
            stopped_at=at,
            reason="WITHDRAWN",
        )
        # the processors classify a stopped dossier too, without a resolution: not resolved
        events.add(
            DOSSIER_OUTCOMES,
            "DossierOutcome",
            at,
            dossier_code=code,
            outcome_class="ON_TIME",
            resolved_at=at,
            apology_issued=False,
            authority_level="PROVINCE",
            resolution=None,
        )
    for code, at in (
        ("B2", _local(2023, 2, 1)),
        ("N4", _local(2023, 4, 20)),
        ("N9", _local(2023, 9, 20)),
    ):
        events.add(DOSSIER_EVENTS, "ApologyIssued", at, dossier_code=code, issued_at=at)
    events.add(  # an exemption (no apology owed) is no letter
        DOSSIER_EVENTS,
        "ApologyIssued",
        _local(2023, 5, 20),
        dossier_code="N5",
        issued_at=_local(2023, 5, 20),
        exemption_reason="FORCE_MAJEURE",
    )
    events.add(  # a letter of the previous year
        DOSSIER_EVENTS,
        "ApologyIssued",
        _local(2022, 12, 20),
        dossier_code="B2",
        issued_at=_local(2022, 12, 20),
    )


def _feedback(events: _Events) -> None:
    """2023: 5 received, 2 about procedures (F2's latest classification), 2 out of scope."""

    def received(fid: str, at: dt.datetime) -> None:
        events.add(FEEDBACK_EVENTS, "FeedbackReceived", at, feedback_id=fid, received_at=at)

    def classified(fid: str, at: dt.datetime, scope: str) -> None:
        events.add(
            FEEDBACK_EVENTS,
            "FeedbackClassified",
            at,
            feedback_id=fid,
            classified_at=at,
            scope=scope,
        )

    received("F0", _local(2022, 12, 1))
    classified("F0", _local(2022, 12, 2), "IN_SCOPE")  # the previous year's
    for i in range(1, 6):
        received(f"F{i}", _local(2023, i, 3))
    classified("F1", _local(2023, 1, 4), "IN_SCOPE")
    classified("F2", _local(2023, 2, 4), "OUT_OF_SCOPE")
    classified("F2", _local(2023, 2, 9), "IN_SCOPE")  # reclassified
    classified("F3", _local(2023, 3, 4), "OUT_OF_SCOPE")
    classified("F4", _local(2023, 4, 4), "OUT_OF_SCOPE")  # F5: not classified yet


EXPECTED: dict[str, Any] = {
    "year": 2023,
    "procedures": {
        "in_force": {"province": 5, "district": 2, "commune": 2, "total": 9},
        "online": {"full": 3, "partial": 2, "total": 5, "rate_pct": 55.56},
        "published": {
            "decisions": 2,
            "standardized_new": 2,
            "amended": 2,
            "replaced": 1,
            "abolished": 2,
            "total": 7,
        },
    },
    "dossiers": {
        "opening_backlog": 5,
        "received": 10,
        "resolved": 8,
        "resolved_on_time": 5,
        "resolved_overdue": 3,
        "on_time_rate_pct": 62.5,
        "overdue_rate_pct": 37.5,
        "withdrawn": 2,
        "closing_backlog": 5,
        "received_online": 6,
        "online_rate_pct": 60,
        "apology_letters": 3,
        "apology_coverage_pct": 66.67,
    },
    "feedback": {"received": 5, "about_procedures": 2, "out_of_scope": 2},
    "checks": {
        "backlog": {
            "closing_backlog_by_balance": 5,
            "closing_backlog_counted": 5,
            "consistent": True,
            "finding": None,
        }
    },
}


@pytest.fixture(scope="module")
def clickhouse_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Only the stack's ClickHouse server (18.16): these tests need no broker or registry."""
    local = Stack(Settings(home=tmp_path_factory.mktemp("report-stack")))
    local.up(only=("clickhouse",), progress=lambda line: None)
    try:
        yield local
    finally:
        local.down(only=("clickhouse",), progress=lambda line: None)


@pytest.fixture(params=["chdb", "clickhouse"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty warehouse on each backend (the sink tests' fixture of the same name
    starts the whole stack; this one only what it needs)."""
    if request.param == "chdb":
        return f"chdb://{tmp_path / 'warehouse'}"
    server: Stack = request.getfixturevalue("clickhouse_only")
    database = f"test_{uuid.uuid4().hex[:12]}"
    with connect(server.clickhouse.url) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    return server.clickhouse.url.rsplit("/", 1)[0] + f"/{database}"


def _fill(url: str) -> str:
    events = _Events()
    _catalog(events)
    _dossiers(events)
    _feedback(events)
    with connect(url) as warehouse:
        migrate(warehouse)
        events.write(warehouse)
    return url


@pytest.fixture
def filled(warehouse_url: str) -> str:
    return _fill(warehouse_url)


@pytest.fixture
def filled_chdb(tmp_path: Path) -> str:
    """For the tests of what does not depend on the backend (the command's arguments, the
    embedded warehouse's loopback)."""
    return _fill(f"chdb://{tmp_path / 'warehouse'}")


def test_every_figure_of_the_year(filled: str) -> None:
    with connect(filled) as warehouse:
        report = build_report(warehouse, 2023)
    assert report.as_json() == EXPECTED
    charts = report.charts
    assert len(charts.backlog) == 13
    assert (charts.backlog[0], charts.backlog[-1]) == (5, 5)
    # end of January: B1 resolved, N1 received and resolved; B2, B3, B4, B5 open
    assert charts.backlog[1] == 4
    assert sum(received for received, _ in charts.online_by_month) == 10
    assert charts.online_by_month[0] == (1, 1)  # N1, received on 1 January local time
    assert charts.on_time_by_level["DISTRICT"][0] == (1, 1)  # B1 in January
    assert charts.on_time_by_level["DISTRICT"][1] == (1, 0)  # B2 overdue in February
    assert sum(r for r, _ in charts.on_time_by_level["PROVINCE"]) == 5
    assert charts.procedures_by_online_level == {
        "PROVINCE": {"FULL": 2, "PARTIAL": 1, "NONE": 2},
        "DISTRICT": {"FULL": 1, "PARTIAL": 0, "NONE": 1},
        "COMMUNE": {"FULL": 0, "PARTIAL": 1, "NONE": 1},
    }


def test_the_dossiers_split_into_buckets_give_the_same_figures(filled: str) -> None:
    """At the city's scale the per-dossier GROUP BYs run bucket by bucket (memory); a bucket of
    a handful of rows must give exactly what one pass gives, duplicates and corrections too."""
    with connect(filled) as warehouse:
        whole = build_report(warehouse, 2023)
        split = build_report(warehouse, 2023, rows_per_pass=4)
    assert split.as_json() == EXPECTED
    assert split.charts == whole.charts


def test_a_dossier_closed_without_an_outcome_is_a_finding(filled: str) -> None:
    """N8 stopped as not eligible: it leaves the backlog, yet neither resolved nor withdrawn
    counts it, so the balance and the direct count differ — reported, not silently fixed."""
    events = _Events()
    at = _local(2023, 10, 2)
    events.add(
        DOSSIER_EVENTS,
        "DossierStopped",
        at,
        dossier_code="N8",
        stopped_at=at,
        reason="NOT_ELIGIBLE",
    )
    with connect(filled) as warehouse:
        events.write(warehouse)
        check = build_report(warehouse, 2023).as_json()["checks"]["backlog"]
    assert check["closing_backlog_by_balance"] == 5
    assert check["closing_backlog_counted"] == 4
    assert check["consistent"] is False
    assert "difference 1" in check["finding"]


def test_an_empty_year_gives_nulls_for_its_rates(filled: str) -> None:
    with connect(filled) as warehouse:
        figures = build_report(warehouse, 2030).as_json()
    assert figures["dossiers"]["received"] == 0
    assert figures["dossiers"]["on_time_rate_pct"] is None
    assert figures["dossiers"]["online_rate_pct"] is None
    assert figures["dossiers"]["apology_coverage_pct"] is None
    assert figures["procedures"]["in_force"]["total"] == 9  # P9 in from 2024, P4 out from 2024
    assert figures["procedures"]["published"]["decisions"] == 0


def test_report_command(filled: str, tmp_path: Path) -> None:
    env = {"DOSSIERHUB_WAREHOUSE_URL": filled}
    result = run_cli("report", "--year", "2023", "--format", "json", home=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == EXPECTED

    table = run_cli("report", "--year", "2023", home=tmp_path, env=env)
    assert table.returncode == 0, table.stderr
    assert "Hồ sơ tiếp nhận / Dossiers received" in table.stdout
    line = next(x for x in table.stdout.splitlines() if "Dossiers received" in x)
    assert line.split()[-1] == "10"

    page = tmp_path / "report.html"
    html = run_cli(
        "report", "--year", "2023", "--format", "html", "--out", str(page), home=tmp_path, env=env
    )
    assert html.returncode == 0, html.stderr
    assert page.read_text("utf-8").count('class="chart"') == 4


def test_report_while_another_process_holds_the_embedded_warehouse(
    filled_chdb: str, tmp_path: Path
) -> None:
    """As while `dossierhub run` holds chDB: the report goes through the loopback server."""
    filled = filled_chdb
    from sinks.warehouse._chdb import ChdbWarehouse
    from sinks.warehouse.loopback import LoopbackServer

    holder = ChdbWarehouse(filled.removeprefix("chdb://"))
    server = LoopbackServer(holder).start()
    try:
        env = {"DOSSIERHUB_WAREHOUSE_URL": filled}
        result = run_cli("report", "--year", "2023", "--format", "json", home=tmp_path, env=env)
    finally:
        server.close()
        holder.close()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == EXPECTED


def test_report_command_reconciles_and_flags_mismatches(filled_chdb: str, tmp_path: Path) -> None:
    """The small data set is not the city's year: every figure differs; the exit code says so."""
    env = {"DOSSIERHUB_WAREHOUSE_URL": filled_chdb}
    published = str(REPO.parent / "shared" / "reference" / "hcmc-2023-published-figures.json")
    result = run_cli(
        "report", "--year", "2023", "--format", "json", "--against", published,
        "--scale", "0.001", home=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert {k: v for k, v in data.items() if k != "reconciliation"} == EXPECTED
    rows = {row["published_key"]: row for row in data["reconciliation"]["figures"]}
    assert rows["dossiers.received"]["expected"] == 22583
    assert rows["dossiers.received"]["computed"] == 10
    assert rows["dossiers.received"]["match"] is False
    assert data["reconciliation"]["scale"] == "0.001"

    no_file = run_cli("report", "--year", "2023", "--scale", "0.001", home=tmp_path, env=env)
    assert no_file.returncode == 2
    assert "--against" in no_file.stderr


def test_an_unmigrated_warehouse_is_named(warehouse_url: str) -> None:
    with connect(warehouse_url) as warehouse, pytest.raises(MissingTablesError) as raised:
        build_report(warehouse, 2023)
    assert "dossier_outcomes" in raised.value.missing
    assert raised.value.hint is not None
    assert "warehouse migrate" in raised.value.hint
