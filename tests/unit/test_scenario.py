"""Scenario files: the shipped one loads, and each kind of bad file is refused naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from producers.scenario import ScenarioError, load_scenario, parse_scenario, scale_count

ROOT = Path(__file__).resolve().parents[2]
HCMC = ROOT / "scenarios" / "hcmc-2023.json"


def _document() -> dict[str, Any]:
    return json.loads(HCMC.read_text())


def _refused(document: Any) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(json.dumps(document), source="case")
    return caught.value


def test_the_city_scenario_loads_with_its_derived_counts() -> None:
    scenario = load_scenario(HCMC)
    assert scenario.procedures.in_force == 1487 + 219 + 128
    # the catalog on 1 January: the end-of-year one without the new, with the abolished
    assert scenario.procedures.at_start == scenario.procedures.in_force - 140 + 169
    assert scenario.dossiers.closing_backlog == 499 + 22583451 - 22471574 - 37649 - 0


def test_scale_rounds_half_up_and_recomputes_the_derived_counts() -> None:
    scaled = load_scenario(HCMC).scaled(0.001)
    assert scaled.dossiers.received == 22583  # 22583.451
    assert scaled.dossiers.resolved_on_time == 22472  # 22471.574
    assert scaled.dossiers.resolved_overdue == 38  # 37.649
    assert scaled.dossiers.opening_backlog == 0  # 0.499
    assert scaled.dossiers.closing_backlog == 0 + 22583 - 22472 - 38
    assert scaled.procedures == load_scenario(HCMC).procedures
    assert scale_count(1500, 0.001) == 2  # exactly half: up, not to even
    assert scale_count(2500, 0.001) == 3


def _set(path: str, value: Any) -> dict[str, Any]:
    document = _document()
    *parents, last = path.split(".")
    node = document
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return document


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field", "words"),
    [
        ("dossiers.withdrawn", _DELETE, "dossiers.withdrawn", "is missing"),
        ("dossiers.received", 12.5, "dossiers.received", "whole number"),
        ("dossiers.received", "22583451", "dossiers.received", "whole number"),
        ("dossiers.received", True, "dossiers.received", "boolean"),
        ("dossiers.received", -1, "dossiers.received", "negative"),
        ("dossiers.received_online", 22583452, "dossiers.received_online", "more than"),
        ("dossiers.apology_letters", 37650, "dossiers.apology_letters", "resolved overdue"),
        ("dossiers.resolved_on_time", 23000000, "dossiers", "more dossiers closed"),
        ("procedures.online.full", 1700, "procedures.online", "subset"),
        ("procedures.published.decisions", 0, "procedures.published.decisions", "touched"),
        ("procedures.published.decisions", 700, "procedures.published.decisions", "cannot each"),
        ("procedures.published.amended", 1800, "procedures.published.amended", "could be changed"),
        ("procedures.in_force", [1, 2, 3], "procedures.in_force", "JSON object"),
        ("feedback.spam", 3, "feedback.spam", "not a scenario field"),
        ("timezone", "Europe/Paris", "timezone", "Asia/Ho_Chi_Minh"),
        ("timezone", "Mars/Olympus", "timezone", "IANA"),
        ("year", 1850, "year", "between"),
        ("name", "", "name", "non-empty"),
        ("calendar", {"extra_days_off": ["2023-02-30"]}, "calendar.extra_days_off[0]", "date"),
    ],
)
def test_an_inconsistent_file_is_refused_naming_the_field(
    path: str, value: Any, field: str, words: str
) -> None:
    error = _refused(_set(path, value))
    assert error.field == field
    assert words in str(error)
    assert "\n" not in error.one_line()


def test_hostile_files_give_one_line_errors(tmp_path: Path) -> None:
    cases = {
        "nested": b"[" * 100_000,
        "huge-number": b'{"year": ' + b"9" * 100_000 + b"}",
        "infinity": b'{"year": 1e999999}',
        "nan": b'{"year": NaN}',
        "not-utf8": b'{"name": "\xff\xfe"}',
        "not-json": b"name = hcmc",
        "empty": b"",
        "huge-file": b" " * 2_000_000,
    }
    for name, content in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(content)
        with pytest.raises(ScenarioError) as caught:
            load_scenario(path)
        assert caught.value.field in ("file", "year", "name"), name
        assert "\n" not in caught.value.one_line(), name


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot be read"):
        load_scenario(tmp_path / "absent.json")


def test_a_bad_scale_is_refused() -> None:
    with pytest.raises(ScenarioError, match="--scale"):
        load_scenario(HCMC).scaled(-1)
