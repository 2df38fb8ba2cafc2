"""Reading an agency's JSON-lines export: every bad line named, every good one validated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from producers.jsonlines import read_jsonlines
from schemas import example_event
from tests.helpers import as_json

AGENCY = "000.00.15.H29"


def _as_json(event: dict[str, Any]) -> dict[str, Any]:
    """An Avro-ready example as an agency would export it: ISO strings, no filled-in fields."""
    text = as_json(event)
    for filled in ("event_id", "recorded_at", "schema_version", "producer_system"):
        text["envelope"].pop(filled)
    return text


def _write(tmp_path: Path, lines: list[str | bytes]) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(x if isinstance(x, bytes) else x.encode() for x in lines) + b"\n")
    return path


def test_valid_lines_are_converted_and_completed(tmp_path: Path) -> None:
    line = _as_json(example_event("DossierReceived"))
    batch = read_jsonlines(_write(tmp_path, [json.dumps(line)]), AGENCY, "test")
    assert batch.errors == []
    [(number, event)] = batch.events
    assert number == 1
    envelope = event["envelope"]
    assert envelope["agency_code"] == AGENCY
    assert envelope["producer_system"] == "test"
    assert envelope["recorded_at"] == envelope["occurred_at"]
    assert batch.per_type() == {"DossierReceived": 1}


def test_event_ids_derived_from_content_are_stable(tmp_path: Path) -> None:
    line = json.dumps(_as_json(example_event("DossierResolved")))
    first = read_jsonlines(_write(tmp_path, [line]), AGENCY, "test").events[0][1]
    again = read_jsonlines(_write(tmp_path, [line]), AGENCY, "test").events[0][1]
    assert first["envelope"]["event_id"] == again["envelope"]["event_id"]


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (b"\xff\xfe not utf-8", "not UTF-8"),
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (
            '{"envelope": {"event_type": "DossierReceived"}, "n": ' + "9" * 5000 + "}",
            "not usable JSON",
        ),
        ('{"dossier_code": "x"}', "envelope"),
        ('{"envelope": {"event_type": "NoSuchEvent"}}', "unknown event type 'NoSuchEvent'"),
    ],
)
def test_malformed_lines_are_reported_not_raised(
    tmp_path: Path, line: str | bytes, fragment: str
) -> None:
    good = json.dumps(_as_json(example_event("DossierReceived")))
    batch = read_jsonlines(_write(tmp_path, [good, line, good]), AGENCY, "test")
    assert [n for n, _ in batch.events] == [1, 3]
    [error] = batch.errors
    assert error.line == 2
    assert fragment in error.error
    assert "\n" not in error.error


def test_wrong_agency_and_bad_fields_name_the_field(tmp_path: Path) -> None:
    other = _as_json(example_event("DossierReceived"))
    other["envelope"]["agency_code"] = "000.00.41.H29"
    naive = _as_json(example_event("DossierReceived"))
    naive["received_at"] = "2023-03-15T09:12:34"
    bad_code = _as_json(example_event("DossierReceived"))
    bad_code["procedure_code"] = "2-000488"
    lines = [json.dumps(e) for e in (other, naive, bad_code)]
    errors = read_jsonlines(_write(tmp_path, lines), AGENCY, "test").errors
    assert [e.line for e in errors] == [1, 2, 3]
    assert "envelope.agency_code='000.00.41.H29'" in errors[0].error
    assert "received_at='2023-03-15T09:12:34'" in errors[1].error
    assert "procedure_code='2-000488'" in errors[2].error
