"""`make demo`'s command on a fresh home, as on a fresh machine: it starts the stack itself,
runs every stage, prints the report and its reconciliation, and writes the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dossierhub.settings import Settings
from dossierhub.stack import Stack
from tests.helpers import run_cli

_PUBLISHED = Path(__file__).resolve().parents[3] / "shared" / "reference"


@pytest.mark.skipif(
    not (_PUBLISHED / "hcmc-2023-published-figures.json").exists(),
    reason="the city's published figures (../shared/reference) are not beside the project",
)
def test_demo_runs_every_stage_and_reconciles(tmp_path: Path) -> None:
    home = tmp_path / "home"
    try:
        # a tenth of the demo's default volume keeps the suite short; the stages are the same
        result = run_cli("demo", "--scale", "0.0001", home=home, timeout=900)
    finally:
        Stack(Settings(home=home)).down(progress=lambda line: None)
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-2000:]
    for stage in range(1, 8):
        assert f"== {stage}/7 " in out
    assert "356 agencies" in out
    assert re.search(r"[\d,]+ events from \d+ agencies", out)
    assert "processors: idle" in out
    assert "Hồ sơ tiếp nhận" in out  # the report's table, Vietnamese labels beside English
    assert "499" in out  # the reconciliation explains the printed in-progress by the backlog
    page = home / "reports" / "report-2023.html"
    assert f"written: {page}" in out
    assert page.stat().st_size > 10_000
    _assert_no_raw_identifier(home, scale=0.0001, seed=1)


def _assert_no_raw_identifier(home: Path, *, scale: float, seed: int) -> None:
    """Every table the demo filled, scanned for the simulated people's raw identifiers."""
    from producers.scenario import load_scenario
    from producers.simulation.people import person, pool_size
    from sinks.warehouse import connect
    from tests.pii_scan import raw_identifiers_in

    scenario = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "hcmc-2023.json")
    d = scenario.scaled(scale).dossiers
    people = [person(seed, n) for n in range(pool_size(d.received + d.opening_backlog))]
    people += [person(seed + 1, n) for n in range(scenario.feedback.received)]
    with connect(f"chdb://{home / 'warehouse'}", read_only=True) as warehouse:
        assert raw_identifiers_in(warehouse, people) == []
