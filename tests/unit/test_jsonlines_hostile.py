"""Malformed and hostile JSON-lines files: each bad line is one clear error with its number, the
good lines around it are read, and ``dossierhub publish`` never shows a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import pytest

from producers.jsonlines import read_jsonlines
from tests.fuzzing import tried
from tests.helpers import run_cli
from tests.hostile_inputs import HOSTILE_EVENT_VALUES, HOSTILE_JSON, Hostile, event_line

AGENCY: Final = "000.00.15.H29"
CASES: Final = [
    *HOSTILE_JSON,
    *(
        Hostile(f"value_{field}_{i}", event_line(**{field: value}), field)
        for i, (field, value) in enumerate(HOSTILE_EVENT_VALUES)
    ),
]


def _file(tmp_path: Path, *lines: bytes) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_hostile_line_is_one_clear_error_between_good_ones(tmp_path: Path, case: Hostile) -> None:
    good = event_line()
    tried("publish: hostile JSON lines")
    batch = read_jsonlines(_file(tmp_path, good, case.data, good), AGENCY, "test")
    assert [n for n, _ in batch.events] == [1, 3]
    [error] = batch.errors
    assert error.line == 2
    assert case.fragment in error.error
    assert "\n" not in error.error
    assert len(error.error) <= 300


def test_a_byte_order_mark_may_open_the_file(tmp_path: Path) -> None:
    batch = read_jsonlines(_file(tmp_path, b"\xef\xbb\xbf" + event_line()), AGENCY, "test")
    assert (len(batch.events), batch.errors) == (1, [])


def test_an_endless_line_is_skipped_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "endless.jsonl"
    with path.open("wb") as out:
        out.write(b'{"x": "' + b"a" * 5_000_000 + b'"}\n')
        out.write(event_line() + b"\n")
    batch = read_jsonlines(path, AGENCY, "test")
    assert [n for n, _ in batch.events] == [2]
    assert batch.errors[0].error == "<line>='5000010 bytes': longer than 1000000 bytes"


def test_publish_reports_every_hostile_line_and_never_a_traceback(tmp_path: Path) -> None:
    # Only bad lines: the command must refuse them all without needing a broker.
    path = _file(tmp_path, *(case.data for case in CASES))
    result = run_cli("publish", "--agency", AGENCY, "--file", str(path), home=tmp_path / "home")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    assert (summary["published"], summary["rejected"]) == (0, len(CASES))
    for error, case in zip(summary["errors"], CASES, strict=True):
        assert case.fragment in error["error"], (case.name, error)
        assert "\n" not in error["error"]


def test_publish_of_an_unreadable_file_is_one_error_line(tmp_path: Path) -> None:
    key = {"DOSSIERHUB_PSEUDONYM_KEY": "00" * 32}  # no key file created and logged first
    result = run_cli("publish", "--agency", AGENCY, "--file", str(tmp_path), home=tmp_path, env=key)
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot read")
    assert result.stderr.count("\n") == 1
