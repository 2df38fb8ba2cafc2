"""The dimensions (agencies, administrative units) and the catalog's history on both backends:
seeded from the directory's reference files, fed by reference and catalog events inserted the
way the sink inserts them (no Kafka needed: the views read tables)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from dossierhub.directory import agency_rows, load_directory, unit_rows
from dossierhub.settings import Settings
from dossierhub.stack import Stack
from dossierhub.stack._process import wait_until
from producers import Publisher
from schemas import example_event
from schemas.registry import SchemaIds
from schemas.topics import CATALOG_EVENTS, REFERENCE_EVENTS
from sinks.rows import TableRows
from sinks.sink import Sink, SinkOptions
from sinks.tables import table_for
from sinks.warehouse import Warehouse, connect
from sinks.warehouse.migrate import migrate
from tests.sink_helpers import create_topic

pytestmark = pytest.mark.timeout(300)

IN_FORCE_BY_LEVEL = (  # the README's example query, with the date as a parameter
    "SELECT authority_level, count() AS procedures FROM procedure_history "
    "WHERE toDate('{day}') BETWEEN valid_from AND valid_until "
    "GROUP BY authority_level ORDER BY authority_level"
)
ONLINE_BY_LEVEL = (
    "SELECT level, count() AS services FROM online_service_history "
    "WHERE toDate('{day}') BETWEEN valid_from AND valid_until GROUP BY level ORDER BY level"
)
UNITS_SIDE_BY_SIDE = (
    "SELECT type, countIf(toDate('2023-06-15') BETWEEN valid_from AND valid_until) AS in_2023, "
    "countIf(toDate('2025-07-01') BETWEEN valid_from AND valid_until) AS from_2025_07 "
    "FROM dim_admin_units GROUP BY type ORDER BY type"
)


def _insert(warehouse: Warehouse, topic: str, events: list[dict[str, Any]]) -> None:
    rows = TableRows(table_for(topic))
    for offset, event in enumerate(events):
        rows.add(event, (topic, 0, offset), 1)
    warehouse.insert_columns(rows.batch())


def _event(event_type: str, /, **fields: Any) -> dict[str, Any]:
    event = example_event(event_type, event_id=uuid.uuid4())
    event.update(fields)
    return event


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _catalog() -> list[dict[str, Any]]:
    """P1 district-level, amended to commune level, abolished; P2 replaced by P3; P4 later.
    Listed out of date order: the views sort by the date each change applies."""
    return [
        _event("ProcedureAmended", procedure_code="1.000001", name="P1 v2",
               authority_level="COMMUNE", valid_from=_day("2023-07-01")),
        _event("ProcedurePublished", procedure_code="1.000001", name="P1",
               authority_level="DISTRICT", valid_from=_day("2023-01-01")),
        _event("ProcedureAbolished", procedure_code="1.000001", authority_level="COMMUNE",
               valid_from=_day("2025-07-01")),
        _event("ProcedurePublished", procedure_code="1.000002", name="P2",
               authority_level="PROVINCE", valid_from=_day("2022-05-01")),
        _event("ProcedureReplaced", procedure_code="1.000002", replaced_by_code="1.000003",
               authority_level="PROVINCE", valid_from=_day("2023-05-01")),
        _event("ProcedurePublished", procedure_code="1.000003", name="P3",
               authority_level="PROVINCE", valid_from=_day("2023-05-01")),
        _event("ProcedurePublished", procedure_code="1.000004", name="P4",
               authority_level="COMMUNE", valid_from=_day("2024-01-01")),
        _event("OnlineServiceOffered", procedure_code="1.000001", service_code="S1",
               level="PARTIAL", valid_from=_day("2023-01-01")),
        _event("OnlineServiceLevelChanged", procedure_code="1.000001", service_code="S1",
               level="FULL", previous_level="PARTIAL", valid_from=_day("2023-06-01")),
        _event("OnlineServiceWithdrawn", procedure_code="1.000001", service_code="S1",
               level="FULL", valid_from=_day("2024-01-01")),
        _event("OnlineServiceOffered", procedure_code="1.000003", service_code="S3",
               level="FULL", valid_from=_day("2023-05-01")),
    ]  # fmt: skip


@pytest.fixture
def loaded(warehouse_url: str) -> str:
    with connect(warehouse_url) as warehouse:
        migrate(warehouse)
        _insert(warehouse, CATALOG_EVENTS, _catalog())
    return warehouse_url


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2022-12-31", [("PROVINCE", 1)]),
        ("2023-06-30", [("DISTRICT", 1), ("PROVINCE", 1)]),  # P2 replaced by P3 on 05-01
        ("2023-07-01", [("COMMUNE", 1), ("PROVINCE", 1)]),  # P1 amended to commune level
        ("2025-07-01", [("COMMUNE", 1), ("PROVINCE", 1)]),  # P1 abolished, P4 in force
    ],
)
def test_procedures_in_force_on_a_date_by_level(
    loaded: str, day: str, expected: list[tuple[str, int]]
) -> None:
    with connect(loaded) as warehouse:
        assert warehouse.query(IN_FORCE_BY_LEVEL.format(day=day)) == expected


def test_procedure_versions_and_what_ended_them(loaded: str) -> None:
    with connect(loaded) as warehouse:
        rows = warehouse.query(
            "SELECT procedure_code, name, valid_from, valid_to, started_by, ended_by, "
            "replaced_by_code FROM procedure_history ORDER BY procedure_code, valid_from"
        )
    assert rows == [
        ("1.000001", "P1", _day("2023-01-01"), _day("2023-06-30"), "ProcedurePublished",
         "ProcedureAmended", ""),
        ("1.000001", "P1 v2", _day("2023-07-01"), _day("2025-06-30"), "ProcedureAmended",
         "ProcedureAbolished", ""),
        ("1.000002", "P2", _day("2022-05-01"), _day("2023-04-30"), "ProcedurePublished",
         "ProcedureReplaced", "1.000003"),
        ("1.000003", "P3", _day("2023-05-01"), None, "ProcedurePublished", "", ""),
        ("1.000004", "P4", _day("2024-01-01"), None, "ProcedurePublished", "", ""),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2023-03-01", [("PARTIAL", 1)]),
        ("2023-06-30", [("FULL", 2)]),  # S1 raised to full on 06-01
        ("2024-06-01", [("FULL", 1)]),  # S1 withdrawn
    ],
)
def test_online_services_on_a_date_by_level(
    loaded: str, day: str, expected: list[tuple[str, int]]
) -> None:
    with connect(loaded) as warehouse:
        assert warehouse.query(ONLINE_BY_LEVEL.format(day=day)) == expected


def test_both_structures_side_by_side(warehouse_url: str) -> None:
    with connect(warehouse_url) as warehouse:
        migrate(warehouse)
        rows = warehouse.query(UNITS_SIDE_BY_SIDE)
    in_2023 = load_directory(_day("2023-06-15"))
    from_2025 = load_directory(_day("2025-07-01"))
    assert rows == [
        (kind, len(in_2023.by_type(kind)), len(from_2025.by_type(kind)))
        for kind in sorted({u.type for u in (*in_2023.units, *from_2025.units)})
    ]
    assert sum(r[1] for r in rows if r[0] in {"WARD", "COMMUNE", "TOWNSHIP"}) == 312
    assert sum(r[2] for r in rows if r[0] in {"WARD", "COMMUNE", "SPECIAL_ZONE"}) == 168


def test_agency_unit_and_parent_on_a_date_with_events_over_the_seed(warehouse_url: str) -> None:
    renamed = _event(
        "AgencyChanged",
        agency_code="000.00.41.H29",
        name="UBND Quận 1 (đổi tên)",
        level="DISTRICT_COMMITTEE",
        parent_code="000.00.00.H29",
        admin_unit_code="760",
        valid_from=_day("2021-01-01"),
        valid_to=_day("2024-12-31"),
        successor_code=None,
    )
    ward = next(
        agency
        for agency in load_directory(_day("2023-06-15")).by_level("COMMUNE_COMMITTEE")
        if agency.parent_code == "000.00.41.H29"
    )
    with connect(warehouse_url) as warehouse:
        migrate(warehouse)
        _insert(warehouse, REFERENCE_EVENTS, [renamed])
        on_date = (
            "SELECT agency_name, admin_unit_code, unit_name, parent_code, parent_name "
            "FROM v_agency_structure WHERE agency_code = '{code}' "
            "AND toDate('{day}') BETWEEN valid_from AND valid_until"
        )
        district = warehouse.query(on_date.format(code="000.00.41.H29", day="2023-06-15"))
        in_ward = warehouse.query(on_date.format(code=ward.code, day="2023-06-15"))
        gone = warehouse.query(on_date.format(code=ward.code, day="2025-07-01"))
        source = warehouse.query("SELECT source FROM dim_agencies WHERE code = '000.00.41.H29'")
    assert district == [
        ("UBND Quận 1 (đổi tên)", "760", "Quận 1", "000.00.00.H29",
         "Ủy ban nhân dân Thành phố Hồ Chí Minh"),
    ]  # fmt: skip
    # the event's version replaced the seed's: the ward's parent shows the new name
    assert in_ward == [
        (ward.name, ward.admin_unit_code, ward.name.removeprefix("Ủy ban nhân dân "),
         "000.00.41.H29", "UBND Quận 1 (đổi tên)"),
    ]  # fmt: skip
    assert gone == []  # 2023's ward committees are not in the 1 July 2025 structure
    assert source == [(f"event:{renamed['envelope']['event_id']}",)]


def test_seeding_is_idempotent_and_exact_after_an_interrupted_seed(warehouse_url: str) -> None:
    count = (
        "SELECT (SELECT count() FROM dim_admin_units_seed) "
        "+ (SELECT count() FROM dim_agencies_seed)"
    )
    record = "SELECT count() FROM reference_seeds WHERE seed_file = 'units-2023.csv'"
    with connect(warehouse_url) as warehouse:
        migrate(warehouse)
        seeded = warehouse.query(count)[0][0]
        migrate(warehouse)
        assert warehouse.query(count)[0][0] == seeded
        # a seed killed after its inserts, before its record: the next run re-seeds exactly
        warehouse.execute("ALTER TABLE reference_seeds DELETE WHERE seed_file = 'units-2023.csv'")
        assert wait_until(lambda: warehouse.query(record)[0][0] == 0, timeout_s=60)
        migrate(warehouse)
        assert warehouse.query(count)[0][0] == seeded
        assert warehouse.query(record)[0][0] == 1
    files = (unit_rows(), agency_rows())
    assert seeded == sum(len(rows) for rows in files)  # every data row of the reference files


@pytest.mark.usefixtures("applied_contract")
def test_reference_and_catalog_events_loaded_by_the_sink(
    stack: Stack, settings: Settings, warehouse_url: str
) -> None:
    """The same views over events the sink loads from Kafka (published with the SDK)."""
    suffix = uuid.uuid4().hex[:10]
    catalog, reference = f"test.catalog.{suffix}", f"test.reference.{suffix}"
    unit = _event(
        "AdministrativeUnitChanged",
        unit_code="26734",
        name="Phường Tân Định",
        type="WARD",
        parent_code="760",
        valid_from=_day("2021-01-01"),
        valid_to=_day("2024-12-31"),
        merged_from=[],
    )
    for topic, events in ((catalog, _catalog()), (reference, [unit])):
        create_topic(stack.kafka.bootstrap, topic, partitions=1)
        with Publisher(
            "000.00.00.H29",
            bootstrap=stack.kafka.bootstrap,
            schema_id_of=SchemaIds.connect(stack.registry.url).id_of,
            topic=topic,
        ) as publisher:
            for event in events:  # the city committee publishes the catalog and the units
                event["envelope"] = {**event["envelope"], "agency_code": "000.00.00.H29"}
                publisher.publish(event)
            publisher.flush()
    local = Settings(home=settings.home, warehouse_url=warehouse_url)
    routes = {catalog: CATALOG_EVENTS, reference: REFERENCE_EVENTS}
    options = SinkOptions.from_settings(local, routes=routes, group_id=catalog)
    stats = Sink(local, options).run_until_idle(timeout_s=120)
    assert stats.rows == len(_catalog()) + 1
    with connect(warehouse_url) as warehouse:
        assert warehouse.query(IN_FORCE_BY_LEVEL.format(day="2023-06-30")) == [
            ("DISTRICT", 1),
            ("PROVINCE", 1),
        ]
        assert warehouse.query(ONLINE_BY_LEVEL.format(day="2023-06-30")) == [("FULL", 2)]
        added = warehouse.query(
            "SELECT name, type, parent_code, source FROM dim_admin_units WHERE code = '26734'"
        )
    assert added == [("Phường Tân Định", "WARD", "760", f"event:{unit['envelope']['event_id']}")]
