"""``dossierhub bench year``: a scenario's whole year end to end on a throwaway stack.

Stages, each a hub command in a child process, as an operator would run them: ``simulate``
(publish through the SDK), ``run --until-idle`` (validator, dossier state, aggregates, then the
sink into chDB), ``report --format json``. Records wall time and events/s per stage, the peak
memory of the children, the disk the stack's home uses, the report's query time, and whether the
report equals the scenario's targets. The reference figure, measured in the same run, is the
simulator's publishing rate: the ratio says how far the pipeline is behind its own input.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dossierhub.settings import Settings
from dossierhub.stack import Stack

__all__ = ["run_year_bench"]

_MIB = 1024 * 1024


def run_year_bench(
    scenario_path: Path,
    *,
    scale: float,
    seed: int,
    timeout_s: float,
    say: Callable[[str], None],
) -> dict[str, Any]:
    from producers.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    if scale != 1:
        scenario = scenario.scaled(scale)
    with tempfile.TemporaryDirectory(prefix="dossierhub-bench-year-") as temp:
        home = Path(temp)
        stack = Stack(Settings(home=home))
        stack.up(only=("kafka", "registry"), progress=say)
        try:
            stages: dict[str, Any] = {}
            started = time.monotonic()
            simulate = _timed(
                home, say, "simulate", "--scenario", str(scenario_path), "--scale", str(scale),
                "--seed", str(seed), timeout_s=timeout_s,
            )  # fmt: skip
            summary = json.loads(simulate.stdout)
            events = int(summary["events"])
            stages["simulate"] = _stage(simulate.seconds, events)
            process = _timed(
                home, say, "run", "--until-idle", "--timeout", str(int(timeout_s)),
                timeout_s=timeout_s + 120,
            )  # fmt: skip
            stages["process_and_sink"] = _stage(process.seconds, events)
            report = _timed(
                home, say, "report", "--year", str(scenario.year), "--format", "json",
                timeout_s=timeout_s,
            )  # fmt: skip
            # (the command's own start, ~1-2 s of imports, included)
            stages["report"] = {"seconds": round(report.seconds, 2)}
            total = time.monotonic() - started
            mismatches = scenario.differences(json.loads(report.stdout))
            disk = _disk_bytes(home)
        finally:
            stack.down(progress=lambda line: None)
    publish_rate = stages["simulate"]["events_per_s"]
    end_to_end = events / total if total else None
    return {
        "benchmark": "year",
        "scenario": scenario.name,
        "scale": scale,
        "seed": seed,
        "events": events,
        "dossiers": scenario.dossiers.received + scenario.dossiers.opening_backlog,
        "stages": stages,
        "wall_seconds": round(total, 1),
        "events_per_s": round(end_to_end) if end_to_end else None,
        "reference": {
            "what": "the simulator publishing the same events through the SDK, same run",
            "events_per_s": publish_rate,
        },
        "ratio": round(end_to_end / publish_rate, 4) if end_to_end and publish_rate else None,
        "peak_child_memory_mib": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / _MIB
        ),
        "disk_mib": round(disk / _MIB),
        "report_exact": not mismatches,
        "report_mismatches": mismatches,
        "projected_full_year_minutes": round(total / scale / 60) if scale else None,
    }


class _Result:
    def __init__(self, stdout: str, seconds: float) -> None:
        self.stdout = stdout
        self.seconds = seconds


def _timed(home: Path, say: Callable[[str], None], *args: str, timeout_s: float) -> _Result:
    say(f"bench year: dossierhub {' '.join(args)}")
    env = {**os.environ, "DOSSIERHUB_HOME": str(home)}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "dossierhub.cli", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=None,  # the stage's own progress lines go straight to the terminal
        timeout=timeout_s,
        check=False,
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        from dossierhub.errors import HubError

        raise HubError(f"bench year: dossierhub {args[0]} exited {result.returncode}")
    say(f"bench year: dossierhub {args[0]} took {seconds:.0f}s")
    return _Result(result.stdout, seconds)


def _stage(seconds: float, events: int) -> dict[str, Any]:
    return {
        "seconds": round(seconds, 1),
        "events_per_s": round(events / seconds) if seconds else None,
    }


def _disk_bytes(home: Path) -> int:
    """Blocks in use, not file sizes: Kafka preallocates its index files sparsely."""
    return sum(p.stat().st_blocks * 512 for p in home.rglob("*") if p.is_file())
