"""Hostile scenario files (tests/hostile_inputs.py): each is one clear error, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from dossierhub.errors import HubError
from producers.scenario import load_scenario
from tests.fuzzing import tried
from tests.hostile_inputs import HOSTILE_JSON, Hostile


@pytest.mark.parametrize("case", HOSTILE_JSON, ids=lambda c: c.name)
def test_a_hostile_scenario_file_is_one_clear_error(tmp_path: Path, case: Hostile) -> None:
    path = tmp_path / "scenario.json"
    path.write_bytes(case.data)
    tried("scenario: hostile files")
    with pytest.raises(HubError) as caught:
        load_scenario(path)
    message = caught.value.one_line()
    assert str(path) in message
    assert "\n" not in message
    assert len(message) < 1000
