"""Malformed and hostile file contents, for every reader of user files (JSON lines, scenarios).

Each case is the bytes of one line (or of a whole JSON document) and a fragment the reader's
one-line error must contain; put it after a good line (some cases are only hostile there). A
reader passes when it reports each case as a clear, one-line error (never a traceback, a hang,
or gigabytes of memory) and goes on with the next line.

    from tests.hostile_inputs import HOSTILE_JSON
    @pytest.mark.parametrize("case", HOSTILE_JSON, ids=lambda c: c.name)
    def test_...(case): ...

``event_line`` builds a line that is a valid event except for one hostile value, for the cases
that need to get past the JSON parser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from schemas import example_event
from tests.helpers import as_json

__all__ = ["HOSTILE_EVENT_VALUES", "HOSTILE_JSON", "Hostile", "event_line"]


@dataclass(frozen=True)
class Hostile:
    name: str
    data: bytes
    #: a fragment of the expected error (case-sensitive)
    fragment: str


def event_line(**changes: Any) -> bytes:
    """A DossierReceived JSON line from the Department of Justice with ``changes`` applied; a
    value of type ``bytes`` is spliced in verbatim (to write what ``json.dumps`` would not)."""
    event = as_json(example_event("DossierReceived"))
    spliced: dict[str, bytes] = {}
    for key, value in changes.items():
        if isinstance(value, bytes):
            spliced[key] = value
            event[key] = f"@@{key}@@"
        else:
            event[key] = value
    text = json.dumps(event).encode()
    for key, value in spliced.items():
        text = text.replace(json.dumps(f"@@{key}@@").encode(), value)
    return text


_MiB: Final = 1 << 20

HOSTILE_JSON: Final = (
    Hostile("deep_arrays", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    Hostile("deep_objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
    Hostile("deep_unclosed", b"[" * 999_000, "nested too deeply"),
    Hostile("huge_float_literal", event_line(receipt_no=b"1e999999"), "not a finite number"),
    Hostile("infinity_literal", event_line(receipt_no=b"Infinity"), "not a finite number"),
    Hostile("nan_literal", event_line(receipt_no=b"NaN"), "not a finite number"),
    Hostile("huge_integer", event_line(receipt_no=b"9" * 100_000), "not usable JSON"),
    Hostile("non_utf8", b'{"envelope": "\xff\xfe"}', "not UTF-8"),
    Hostile("latin1_name", event_line(receipt_no=b'"Nguy\xe9n"'), "not UTF-8"),
    Hostile("nul_byte", b'{"envelope":\x00 {}}', "not JSON"),
    Hostile("nul_escaped_in_code", event_line(dossier_code="000.00.15.H29\u0000"), "dossier_code"),
    # (a BOM opening the file is fine: readers skip it; anywhere else it is refused)
    Hostile("bom_not_first_line", b"\xef\xbb\xbf" + event_line(), "byte order mark"),
    Hostile("lone_surrogate", event_line(receipt_no=b'"\\ud800"'), "lone surrogate"),
    Hostile("duplicate_key", event_line(receipt_no=b'"A", "receipt_no": "B"'), "duplicate key"),
    Hostile("long_line", b'{"x": "' + b"a" * (2 * _MiB) + b'"}', "longer than"),
    Hostile("not_an_object", b'"just a string"', "expected a JSON object"),
    Hostile("truncated", event_line()[:-20], "not JSON"),
    Hostile("envelope_not_object", b'{"envelope": [1, 2]}', "envelope"),
    Hostile("event_type_not_string", b'{"envelope": {"event_type": {"a": 1}}}', "event_type"),
)

#: values that reach validation (JSON-valid) but no field may hold
HOSTILE_EVENT_VALUES: Final = (
    ("received_at", "2023-03-15T09:12:34"),  # naive
    ("received_at", "+275760-09-13T00:00:00Z"),  # beyond datetime
    ("received_at", "9999-12-31T23:59:59.999-23:59"),  # overflows when made UTC
    ("appointment_date", "0000-01-01"),
    ("appointment_date", 20230329),
    ("processing_time", {"value": 2**63, "unit": "DAY"}),
    ("carried_over", "true"),
    ("procedure_code", "\uff12.\uff10\uff10\uff10\uff14\uff18\uff18"),  # fullwidth digits
    ("applicant_id_hash", "079190000001"),  # a raw CCCD where a pseudonym belongs
)
