"""The city's agencies and administrative units, as in force on a given date.

The structure is kept in versioned reference files next to this module (``units-*.csv``,
``agencies-*.csv``); every row carries its own ``valid_from``/``valid_to`` (inclusive, local
dates) and its provenance (``code_source``, ``name_source``: see ``README.md`` here), so the
same rows seed the warehouse's effective-dated dimensions. Two structures are recorded: the
2023 one (22 district-level units, 312 commune-level units; in force 2021-01-01 to 2024-12-31)
and the one from 1 July 2025 (no district level, 168 commune-level units). The 1 January 2025
reorganisation (273 commune-level units) is not recorded, so a date in the first half of 2025
has no structure and :func:`load_directory` says so.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from dossierhub.errors import HubError

__all__ = [
    "AGENCY_LEVELS",
    "UNIT_TYPES",
    "AdminUnit",
    "Agency",
    "Directory",
    "DirectoryError",
    "NoStructureError",
    "agency_rows",
    "load_directory",
    "unit_rows",
]

_HERE = Path(__file__).parent

#: the AgencyLevel symbols a directory row may carry (schemas/avro/…reference.AgencyLevel)
AGENCY_LEVELS = frozenset(
    {"CITY_COMMITTEE", "CITY_DEPARTMENT", "DISTRICT_COMMITTEE", "COMMUNE_COMMITTEE"}
)
#: the AdministrativeUnitType symbols a directory row may carry
UNIT_TYPES = frozenset(
    {
        "PROVINCE",
        "URBAN_DISTRICT",
        "RURAL_DISTRICT",
        "PROVINCIAL_CITY",
        "TOWN",
        "WARD",
        "COMMUNE",
        "TOWNSHIP",
        "SPECIAL_ZONE",
    }
)


class DirectoryError(HubError):
    """A reference file of the directory is malformed."""

    def __init__(self, file: str, line: int, problem: str) -> None:
        super().__init__(
            f"{file}:{line}: {problem}", hint=f"fix the row in dossierhub/directory/{file}"
        )
        self.file = file
        self.line = line


class NoStructureError(HubError):
    """No recorded structure is in force on the date asked for."""

    def __init__(self, on: date, known: str) -> None:
        super().__init__(
            f"no administrative structure recorded for {on.isoformat()}",
            hint=f"the reference files cover {known}; add a units-/agencies- file for that period",
        )
        self.on = on


@dataclass(frozen=True)
class Agency:
    code: str  # electronic agency identifier, e.g. 000.00.15.H29
    name: str  # Vietnamese name
    level: str  # AgencyLevel symbol
    parent_code: str | None  # the agency above; None for the city committee
    admin_unit_code: str | None  # the unit it serves


@dataclass(frozen=True)
class AdminUnit:
    code: str
    name: str
    type: str  # AdministrativeUnitChanged.type symbol
    parent_code: str | None
    valid_from: date
    valid_to: date | None  # inclusive; None while in force


@dataclass(frozen=True)
class Directory:
    agencies: tuple[Agency, ...]
    units: tuple[AdminUnit, ...]

    def by_level(self, level: str) -> tuple[Agency, ...]:
        """The agencies of one AgencyLevel symbol, in file order."""
        return tuple(agency for agency in self.agencies if agency.level == level)

    def agency(self, code: str) -> Agency | None:
        """The agency with this code, or None."""
        return next((agency for agency in self.agencies if agency.code == code), None)

    def by_type(self, unit_type: str) -> tuple[AdminUnit, ...]:
        """The units of one AdministrativeUnitType symbol, in file order."""
        return tuple(unit for unit in self.units if unit.type == unit_type)


def _in_force(row: dict[str, str], on: date) -> bool:
    valid_to = row["valid_to"]
    return date.fromisoformat(row["valid_from"]) <= on and (
        not valid_to or on <= date.fromisoformat(valid_to)
    )


@functools.cache
def _read(prefix: str) -> tuple[dict[str, str], ...]:
    """Every row of every ``<prefix>-*.csv``, with its file and line in ``_file``, ``_line``."""
    rows: list[dict[str, str]] = []
    for path in sorted(_HERE.glob(f"{prefix}-*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                _check(path.name, line, row, prefix)
                rows.append({**row, "_file": path.name, "_line": str(line)})
    return tuple(rows)


def _check(file: str, line: int, row: dict[str, str], prefix: str) -> None:
    allowed = AGENCY_LEVELS if prefix == "agencies" else UNIT_TYPES
    kind = row.get("level" if prefix == "agencies" else "type", "")
    if kind not in allowed:
        raise DirectoryError(file, line, f"{kind!r} is not one of {sorted(allowed)}")
    try:
        start = date.fromisoformat(row["valid_from"])
        end = date.fromisoformat(row["valid_to"]) if row["valid_to"] else None
    except (KeyError, ValueError) as exc:
        raise DirectoryError(file, line, f"valid_from/valid_to not ISO dates ({exc})") from exc
    if end is not None and end < start:
        raise DirectoryError(file, line, f"valid_to {end} is before valid_from {start}")


def unit_rows() -> tuple[dict[str, str], ...]:
    """Every unit row of every reference file (all periods), as the CSV has it."""
    return _read("units")


def agency_rows() -> tuple[dict[str, str], ...]:
    """Every agency row of every reference file (all periods), as the CSV has it."""
    return _read("agencies")


def _periods() -> str:
    spans = sorted({(row["valid_from"], row["valid_to"] or "open") for row in unit_rows()})
    return ", ".join(f"{start} to {end}" for start, end in spans)


def load_directory(on: date) -> Directory:
    """The agencies and units in force on ``on`` (a local date in Asia/Ho_Chi_Minh)."""
    units = tuple(
        AdminUnit(
            code=row["code"],
            name=row["name"],
            type=row["type"],
            parent_code=row["parent_code"] or None,
            valid_from=date.fromisoformat(row["valid_from"]),
            valid_to=date.fromisoformat(row["valid_to"]) if row["valid_to"] else None,
        )
        for row in unit_rows()
        if _in_force(row, on)
    )
    if not units:
        raise NoStructureError(on, _periods())
    agencies = tuple(
        Agency(
            code=row["code"],
            name=row["name"],
            level=row["level"],
            parent_code=row["parent_code"] or None,
            admin_unit_code=row["admin_unit_code"] or None,
        )
        for row in agency_rows()
        if _in_force(row, on)
    )
    return Directory(agencies=agencies, units=units)
