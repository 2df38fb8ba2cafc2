"""The warehouse scan for raw citizen identifiers (tests/pii_scan.py) finds what it must, on
both backends, and nothing in a freshly migrated warehouse."""

from __future__ import annotations

from dataclasses import dataclass

from sinks.warehouse import connect
from sinks.warehouse.migrate import migrate
from tests.pii_scan import Finding, raw_identifiers_in


@dataclass(frozen=True)
class Person:
    citizen_id: str
    name: str
    phone: str


PEOPLE = [
    Person("079190000001", "Nguyễn Văn An", "0901234567"),
    Person("079290000002", "Trần Thị Mai", "0912345678"),
]


def test_raw_values_and_shapes_are_found_where_they_are(warehouse_url: str) -> None:
    with connect(warehouse_url) as warehouse:
        warehouse.execute(
            "CREATE TABLE leaky (id UInt64, note String, maybe Nullable(String),"
            " items Array(String)) ENGINE = MergeTree ORDER BY id"
        )
        # through the driver's insert: an inline INSERT … VALUES waits for data on the server
        warehouse.insert_rows(
            "leaky",
            ("id", "note", "maybe", "items"),
            [
                (1, "hồ sơ của công dân 079190000001", None, []),
                (2, "không có gì", "gọi +84 912 345 678", []),
                (3, "bổ sung", None, ["giấy tờ", "ông NGUYỄN  VĂN AN ký"]),
                (4, "gọi 0988 777 666", None, []),
                (979190000001, "mã 000.00.15.H29-230315-0042", None, []),  # a number: no text
            ],
        )
        assert raw_identifiers_in(warehouse, PEOPLE) == [
            Finding("leaky", "items", "a raw name of the input"),
            Finding("leaky", "maybe", "a raw phone number of the input"),
            Finding("leaky", "maybe", "something shaped like a phone number"),
            Finding("leaky", "note", "a raw citizen ID of the input"),
            Finding("leaky", "note", "something shaped like a citizen ID number (CCCD)"),
            Finding("leaky", "note", "something shaped like a phone number"),
        ]
        assert raw_identifiers_in(warehouse, PEOPLE, shapes=False) == [
            Finding("leaky", "items", "a raw name of the input"),
            Finding("leaky", "maybe", "a raw phone number of the input"),
            Finding("leaky", "note", "a raw citizen ID of the input"),
        ]


def test_a_migrated_warehouse_holds_nothing_to_find(warehouse_url: str) -> None:
    with connect(warehouse_url) as warehouse:
        migrate(warehouse)
        assert raw_identifiers_in(warehouse, PEOPLE) == []
