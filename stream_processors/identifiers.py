"""Raw citizen identifiers in free text: the validator's last guard for personal data.

The contract carries citizens' identifiers only as pseudonyms (``*_hash``), but a reason or a
step name is typed by a clerk, who may write "công dân 079190000001 bổ sung, SĐT 0901 234 567".
:func:`find_raw_identifier` looks for something shaped like a CCCD (12 digits) or a Vietnamese
phone number in the event's free-text fields, and nowhere else: codes, ids and numbers of
documents are not free text, may legitimately be long digit strings, and are left alone.

Which fields are free text is derived from the schema once per event type: a string field (or an
array of strings) with no ``format`` and no ``pii`` attribute, whose name does not say it holds a
code, id, number, key or URL. ``tests/unit/test_processors_validator.py`` lists the result, so a
new field's classification is a visible decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any, Final

from schemas._walk import non_null_branches, resolve
from schemas.catalog import EventType

__all__ = ["RawIdentifier", "find_raw_identifier", "free_text_paths", "raw_identifier_kind"]

#: a field path: field names, and None for "every element of this array"
FieldPath = tuple[str | None, ...]

# Names that hold codes, ids or references, not prose.
_NOT_PROSE_SUFFIXES: Final = ("_code", "_id", "_no", "_url", "_key", "_hash")
_NOT_PROSE: Final = frozenset({"merged_from"})  # GSO codes of merged units
_SKIPPED_RECORDS: Final = frozenset({"envelope"})  # codes and ids only, checked elsewhere

# One pass over the text. Before a match: no letter, digit, '+', '.', ',' or '-' (so a digit
# run inside a longer number or an amount like 12.090.123.456 does not count); after it: no
# letter or digit, and no '.'/',' followed by a digit. A phone's first group (0 plus two digits,
# or +84 plus two digits) has no separator inside, which keeps dates such as 05.12.2023 out;
# between groups a space, dot or hyphen, or the ')' of "(028) 3829 1234" / "(+84)90…".
_RAW: Final = re.compile(
    r"""
    (?=[0-9+])  # lets the engine skip to candidate characters: half the time on prose
    (?<![\w+.,-])
    (?:
        (?P<citizen_id>[0-9]{12})
      | (?P<phone>
            (?:\+84|0084|84)\)?[ .-]?(?:[35789][0-9](?:[ .-]|\)\ ?)?[0-9](?:[ .-]?[0-9]){6}
                                      |2[0-9](?:[ .-]|\)\ ?)?[0-9](?:[ .-]?[0-9]){7})
          | 0(?:[35789][0-9](?:[ .-]|\)\ ?)?[0-9](?:[ .-]?[0-9]){6}
                |2[0-9](?:[ .-]|\)\ ?)?[0-9](?:[ .-]?[0-9]){7})
        )
    )
    (?![\w]|[.,][0-9])
    """,
    re.ASCII | re.VERBOSE,
)
_KINDS: Final = {"citizen_id": "citizen ID number (CCCD)", "phone": "phone number"}


class RawIdentifier:
    """Where a raw identifier was found: the field path and the kind, never the value."""

    __slots__ = ("field", "kind")

    def __init__(self, field: str, kind: str) -> None:
        self.field = field
        self.kind = kind

    def __repr__(self) -> str:
        return f"RawIdentifier({self.field!r}, {self.kind!r})"

    def describe(self) -> str:
        return (
            f"{self.field} holds what looks like a raw {self.kind}; personal data goes only "
            "into the *_hash fields, pseudonymized by the publisher SDK"
        )


def find_raw_identifier(known: EventType, event: Mapping[str, Any]) -> RawIdentifier | None:
    """The first free-text field of ``event`` that contains a raw identifier, if any."""
    for path in free_text_paths(known):
        name = path[0]
        if len(path) == 1 and name is not None:  # most are: no generator for them
            text = event.get(name)
            if type(text) is str and (match := _RAW.search(text)) is not None:
                return RawIdentifier(name, _KINDS[str(match.lastgroup)])
            continue
        for where, text in _texts(event, path, ""):
            match = _RAW.search(text)
            if match is not None:
                return RawIdentifier(where, _KINDS[str(match.lastgroup)])
    return None


def raw_identifier_kind(text: str) -> str | None:
    """What kind of raw identifier ``text`` holds (as :func:`find_raw_identifier` words it)."""
    match = _RAW.search(text)
    return None if match is None else _KINDS[str(match.lastgroup)]


@cache
def free_text_paths(known: EventType) -> tuple[FieldPath, ...]:
    """The paths of ``known``'s free-text strings (computed once per event type)."""
    named = known.schema.get("__named_schemas", {})
    return tuple(_record_paths(known.schema, named, ()))


def _record_paths(record: Mapping[str, Any], named: Mapping[str, Any], at: FieldPath) -> Any:
    for field in record["fields"]:
        name = field["name"]
        if name in _SKIPPED_RECORDS:
            continue
        yield from _type_paths(field, field["type"], named, (*at, name))


def _type_paths(
    field: Mapping[str, Any], schema: Any, named: Mapping[str, Any], at: FieldPath
) -> Iterator[FieldPath]:
    schema = resolve(schema, named)
    if isinstance(schema, list):
        for branch in non_null_branches(schema):
            yield from _type_paths(field, branch, named, at)
    elif schema == "string" or (isinstance(schema, Mapping) and schema.get("type") == "string"):
        if _is_prose(field):
            yield at
    elif isinstance(schema, Mapping) and schema.get("type") == "record":
        yield from _record_paths(schema, named, at)
    elif isinstance(schema, Mapping) and schema.get("type") == "array":
        yield from _type_paths(field, schema["items"], named, (*at, None))


def _is_prose(field: Mapping[str, Any]) -> bool:
    name = str(field["name"])
    return (
        "format" not in field
        and "pii" not in field
        and name not in _NOT_PROSE
        and not name.endswith(_NOT_PROSE_SUFFIXES)
    )


def _texts(value: Any, path: FieldPath, where: str) -> Iterator[tuple[str, str]]:
    if not path:
        if isinstance(value, str):
            yield where, value
        return
    step, rest = path[0], path[1:]
    if step is None:
        if isinstance(value, list):
            for index, item in enumerate(value):
                yield from _texts(item, rest, f"{where}[{index}]")
    elif isinstance(value, Mapping) and value.get(step) is not None:
        yield from _texts(value[step], rest, f"{where}.{step}" if where else step)
