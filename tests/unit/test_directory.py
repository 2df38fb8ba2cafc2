"""The agency/administrative-unit directory: the counts of each structure, parents, codes."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from dossierhub.directory import (
    AGENCY_LEVELS,
    NoStructureError,
    agency_rows,
    load_directory,
    unit_rows,
)
from schemas.topics import inbound_agency, inbound_topic

IN_2023 = date(2023, 6, 15)
FROM_JULY_2025 = date(2025, 7, 1)

# Figures of domain-notes §6.1 (and the issue): what the reference files must reproduce.
UNITS_2023 = {
    "PROVINCE": 1,
    "URBAN_DISTRICT": 16,
    "PROVINCIAL_CITY": 1,
    "RURAL_DISTRICT": 5,
    "WARD": 249,
    "COMMUNE": 58,
    "TOWNSHIP": 5,
}
UNITS_2025 = {"PROVINCE": 1, "WARD": 113, "COMMUNE": 54, "SPECIAL_ZONE": 1}
WARDS_PER_DISTRICT_2023 = {
    "Thành phố Thủ Đức": 34,
    "Quận 1": 10,
    "Quận 3": 12,
    "Quận 4": 13,
    "Quận 5": 14,
    "Quận 6": 14,
    "Quận 7": 10,
    "Quận 8": 16,
    "Quận 10": 14,
    "Quận 11": 16,
    "Quận 12": 11,
    "Quận Bình Thạnh": 20,
    "Quận Gò Vấp": 16,
    "Quận Phú Nhuận": 13,
    "Quận Tân Bình": 15,
    "Quận Tân Phú": 11,
    "Quận Bình Tân": 10,
    "Huyện Bình Chánh": 16,
    "Huyện Cần Giờ": 7,
    "Huyện Củ Chi": 21,
    "Huyện Hóc Môn": 12,
    "Huyện Nhà Bè": 7,
}


@pytest.mark.parametrize(("on", "expected"), [(IN_2023, UNITS_2023), (FROM_JULY_2025, UNITS_2025)])
def test_units_per_type(on: date, expected: dict[str, int]) -> None:
    directory = load_directory(on)
    assert Counter(unit.type for unit in directory.units) == expected


def test_commune_level_units_per_district_2023() -> None:
    directory = load_directory(IN_2023)
    names = {unit.code: unit.name for unit in directory.units}
    per_district = Counter(
        names[unit.parent_code]
        for unit in directory.units
        if unit.type in {"WARD", "COMMUNE", "TOWNSHIP"} and unit.parent_code
    )
    assert per_district == WARDS_PER_DISTRICT_2023
    assert sum(per_district.values()) == 312


@pytest.mark.parametrize(
    ("on", "departments", "districts", "communes"),
    [(IN_2023, 21, 22, 312), (FROM_JULY_2025, 16, 0, 168)],
)
def test_agencies_per_level(on: date, departments: int, districts: int, communes: int) -> None:
    directory = load_directory(on)
    assert len(directory.by_level("CITY_COMMITTEE")) == 1
    assert len(directory.by_level("CITY_DEPARTMENT")) == departments
    assert len(directory.by_level("DISTRICT_COMMITTEE")) == districts
    assert len(directory.by_level("COMMUNE_COMMITTEE")) == communes
    assert {agency.level for agency in directory.agencies} <= AGENCY_LEVELS


@pytest.mark.parametrize("on", [IN_2023, date(2024, 12, 31), FROM_JULY_2025, date(2030, 1, 1)])
def test_parents_exist_and_codes_are_unique(on: date) -> None:
    directory = load_directory(on)
    agencies = {agency.code: agency for agency in directory.agencies}
    units = {unit.code: unit for unit in directory.units}
    assert len(agencies) == len(directory.agencies)
    assert len(units) == len(directory.units)
    for agency in directory.agencies:
        assert inbound_agency(inbound_topic(agency.code)) == agency.code
        if agency.level == "CITY_COMMITTEE":
            assert agency.parent_code is None
        else:
            assert agency.parent_code in agencies, agency
        assert agency.admin_unit_code in units, agency
    for unit in directory.units:
        assert unit.type == "PROVINCE" or unit.parent_code in units, unit


def test_ward_committee_sits_under_its_district_committee_in_2023() -> None:
    directory = load_directory(IN_2023)
    agencies = {agency.code: agency for agency in directory.agencies}
    units = {unit.code: unit for unit in directory.units}
    for ward in directory.by_level("COMMUNE_COMMITTEE"):
        district = agencies[ward.parent_code or ""]
        assert district.level == "DISTRICT_COMMITTEE"
        # the ward's unit lies in the district committee's unit
        assert units[ward.admin_unit_code or ""].parent_code == district.admin_unit_code


def test_a_date_between_the_recorded_structures_is_refused() -> None:
    with pytest.raises(NoStructureError, match="2025-03-01"):
        load_directory(date(2025, 3, 1))


def test_every_row_says_where_it_comes_from() -> None:
    for row in (*unit_rows(), *agency_rows()):
        assert row["code_source"], row
        assert row["name_source"], row
