"""`make demo`'s command on the session's stack: every stage runs and says what it did."""

from __future__ import annotations

import re

from dossierhub.settings import Settings
from dossierhub.stack import Stack
from tests.helpers import run_cli


def test_demo_runs_every_stage_and_reports_it(stack: Stack, settings: Settings) -> None:
    result = run_cli("demo", home=settings.home, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    for stage in range(1, 7):
        assert f"== {stage}/6 " in out
    assert out.count("already running") == 3  # the session's stack, reused, not restarted
    assert "40 subjects" in out
    assert "acknowledged on hub.inbound.000.00.15.H29" in out
    assert "processors: idle" in out
    assert "messages on hub.dossier.events" in out
    assert "Not yet part of the demo" in out  # it says what it did not do
    # the sink loaded what the processors accepted
    loaded = re.search(r"events_dossier\s+(\d+)", out)
    assert loaded, out[-2000:]
    assert int(loaded.group(1)) > 0
