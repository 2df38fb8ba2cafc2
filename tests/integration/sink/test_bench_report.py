"""``dossierhub bench report`` at a small N on chDB: the command's JSON, and the report computed
on the generated warehouse against counts derived here from the fill's documented rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sinks.report import build_report
from sinks.report.bench import MAX_DOSSIERS, DossierCountError, FillShape, fill_warehouse
from sinks.warehouse import connect
from sinks.warehouse.migrate import migrate
from tests.helpers import run_cli

pytestmark = pytest.mark.timeout(300)
DOSSIERS = 20_000


def _expected(shape: FillShape) -> dict[str, int]:
    """The dossier figures, counted from FillShape's rules one dossier at a time."""
    counts = dict.fromkeys(
        ("received", "received_online", "resolved", "overdue", "apologies", "withdrawn", "open"),
        0,
    )
    for n in range(shape.dossiers):
        counts["received"] += 1
        counts["received_online"] += n % shape.online_every < shape.online_share
        if n % shape.open_every == 0:
            withdrawn = n % shape.withdrawn_every == 0
            counts["withdrawn"] += withdrawn
            counts["open"] += not withdrawn
            continue
        counts["resolved"] += 1
        if n % 10 == 9:
            counts["overdue"] += 1
            counts["apologies"] += (n // 10) % 2 == 0
    return counts


def test_the_report_on_a_generated_warehouse(tmp_path: Path) -> None:
    shape = FillShape(DOSSIERS)
    expected = _expected(shape)
    with connect(f"chdb://{tmp_path / 'warehouse'}") as warehouse:
        migrate(warehouse)
        rows = fill_warehouse(warehouse, shape, progress=lambda line: None)
        report = build_report(warehouse, shape.year).as_json()
    events = (
        expected["received"]
        + expected["resolved"]
        + expected["withdrawn"]  # their DossierStopped
        + expected["apologies"]
    )
    outcomes = expected["resolved"] + expected["withdrawn"]  # a stopped one has no resolution
    catalog = shape.procedures + (shape.procedures + 1) // 2
    assert rows == events + outcomes + catalog + 2 * shape.feedback
    dossiers = report["dossiers"]
    assert dossiers["opening_backlog"] == 0
    assert dossiers["received"] == expected["received"]
    assert dossiers["received_online"] == expected["received_online"]
    assert dossiers["resolved"] == expected["resolved"]
    assert dossiers["resolved_overdue"] == expected["overdue"]
    assert dossiers["resolved_on_time"] == expected["resolved"] - expected["overdue"]
    assert dossiers["withdrawn"] == expected["withdrawn"]
    assert dossiers["apology_letters"] == expected["apologies"]
    assert dossiers["closing_backlog"] == expected["open"]
    assert report["checks"]["backlog"]["consistent"] is True
    assert report["procedures"]["in_force"]["total"] == shape.procedures
    assert report["procedures"]["online"]["full"] == (shape.procedures + 1) // 2
    in_scope = sum(1 for i in range(shape.feedback) if i % 3)
    assert report["feedback"] == {
        "received": shape.feedback,
        "about_procedures": in_scope,
        "out_of_scope": shape.feedback - in_scope,
    }
    # the bench's own exactness check uses FillShape.expected(): it must agree with the above
    mine = shape.expected()
    assert (mine["received"], mine["resolved_overdue"], mine["closing_backlog"]) == (
        expected["received"],
        expected["overdue"],
        expected["open"],
    )


def test_bench_report_command(tmp_path: Path) -> None:
    done = run_cli(
        "bench", "report", "--dossiers", str(DOSSIERS), "--runs", "1", home=tmp_path, timeout=240
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {
        "backend",
        "dossiers",
        "rows",
        "fill_seconds",
        "report_seconds",
        "scan_seconds",
        "ratio",
        "runs",
        "report_exact",
    }
    assert (result["backend"], result["dossiers"], result["runs"]) == ("chdb", DOSSIERS, 1)
    assert result["report_exact"] is True
    assert result["rows"] > 2 * DOSSIERS
    assert result["report_seconds"] > 0
    assert result["scan_seconds"] > 0
    assert "filled dossiers 20,000 / 20,000" in done.stderr


@pytest.mark.parametrize("dossiers", [0, MAX_DOSSIERS])
def test_a_count_the_generator_cannot_fill_is_refused(dossiers: int) -> None:
    with pytest.raises(DossierCountError) as refused:
        FillShape(dossiers)
    assert refused.value.dossiers == dossiers
