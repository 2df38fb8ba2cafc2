"""Look for citizens' raw identifiers in every table of a warehouse (after a demo run, say).

    findings = raw_identifiers_in(warehouse, people)   # people: the simulator's raw identities
    assert findings == [], findings

Two checks over every string in every table (arrays and maps included; views skipped, as they
only show tables' data):

- the raw values given: a citizen ID or phone number found as a run of digits (spaces, dots and
  hyphens ignored; a phone also as +84… / 84…), a name found as consecutive words (case and
  Unicode normalization ignored);
- anything shaped like a raw CCCD or Vietnamese phone number, by the same pattern the hub's
  validator uses for free text (``stream_processors.identifiers``), unless ``shapes=False``.

A finding names the table, the column and what was found, never the value itself. Rows are
read into Python, so keep it for test-sized warehouses.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Protocol

from sinks.warehouse import Warehouse
from stream_processors.identifiers import raw_identifier_kind

__all__ = ["Finding", "RawIdentity", "raw_identifiers_in"]

_DIGIT_RUN: Final = re.compile(r"\+?[0-9](?:[ .-]?[0-9])*")
_HEX_ID: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32,}"
)
_NAME_WORDS: Final = range(2, 6)  # Vietnamese full names have two to five words


class RawIdentity(Protocol):
    citizen_id: str
    name: str
    phone: str


@dataclass(frozen=True, order=True)
class Finding:
    table: str
    column: str
    what: str  # e.g. "a raw citizen ID", "something shaped like a phone number"


def _name_key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


def _phone_forms(phone: str) -> set[str]:
    digits = _digits(phone)
    national = digits[2:] if digits.startswith("84") else digits.lstrip("0")
    return {"0" + national, "84" + national, national}


def raw_identifiers_in(
    warehouse: Warehouse, people: Iterable[RawIdentity] = (), *, shapes: bool = True
) -> list[Finding]:
    """Where raw identifiers of ``people`` (or shaped like one) appear in ``warehouse``."""
    ids: set[str] = set()
    phones: set[str] = set()
    names: set[str] = set()
    for person in people:
        ids.add(_digits(person.citizen_id))
        phones |= _phone_forms(person.phone)
        names.add(_name_key(person.name))
    tables = [
        str(row[0])
        for row in warehouse.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase()"
            " AND engine NOT IN ('View', 'MaterializedView')"
        )
    ]
    found: set[Finding] = set()
    for table in sorted(tables):
        columns, rows = warehouse.query_with_names(f"SELECT * FROM {table}")
        for row in rows:
            for column, value in zip(columns, row, strict=True):
                for text in _strings(value):
                    for what in _look(text, ids, phones, names, shapes):
                        found.add(Finding(table, column, what))
    return sorted(found)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _look(
    text: str, ids: set[str], phones: set[str], names: set[str], shapes: bool
) -> Iterator[str]:
    # An event id or a pseudonym is hex the hub derived: any digit run in it is chance (among a
    # hundred thousand ids, a run matching one of thousands of phone numbers turns up).
    if _HEX_ID.fullmatch(text):
        return
    if ids or phones:
        for run in _DIGIT_RUN.findall(text):
            digits = _digits(run)
            if digits in ids:
                yield "a raw citizen ID of the input"
            if digits in phones:
                yield "a raw phone number of the input"
    if names:
        words = _name_key(text).split()
        for size in _NAME_WORDS:
            for start in range(len(words) - size + 1):
                if " ".join(words[start : start + size]) in names:
                    yield "a raw name of the input"
    if shapes and (kind := raw_identifier_kind(text)) is not None:
        yield f"something shaped like a {kind}"
