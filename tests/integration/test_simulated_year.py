"""The main job end to end: a scenario's year through the real broker, the processors and the
sink, and the annual report from each warehouse backend equal to the scenario's targets.

Two scenarios: the city's 2023 at 1/1000, and a small, very different 2024 (a backlog carried
in, withdrawn dossiers, apology letters for only some overdue dossiers, an extra day off).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from dossierhub.stack import Stack
from producers.scenario import Scenario, load_scenario
from schemas import peek_schema_id
from schemas.errors import UndecodableMessageError
from schemas.topics import DEADLETTER
from tests.helpers import isolated_stack, read_topic

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {
    "hcmc-2023-scaled": (ROOT / "scenarios" / "hcmc-2023.json", 0.001),
    "small-2024": (ROOT / "tests" / "scenarios" / "small-2024.json", 1.0),
}
_TIMEOUT_S = 900


@dataclass(frozen=True)
class Year:
    scenario: Scenario
    home: Path
    simulated: dict[str, Any]
    bootstrap: str
    registry_url: str


def _cli(home: Path, *args: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "dossierhub.cli", *args],
        env={**os.environ, "DOSSIERHUB_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"dossierhub {' '.join(args)}:\n{result.stderr[-4000:]}"
    return result.stdout


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def year(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Year]:
    """One scenario simulated on a broker of its own and processed until idle (sink: chDB)."""
    path, scale = SCENARIOS[request.param]
    scenario = load_scenario(path).scaled(scale) if scale != 1 else load_scenario(path)
    home = tmp_path_factory.mktemp(f"year-{request.param}")
    with isolated_stack(home) as local:
        out = _cli(home, "simulate", "--scenario", str(path), "--scale", str(scale), "--seed", "7")
        # (seed 7: the raw-identifier scan below regenerates the same people)
        _cli(home, "run", "--until-idle", "--timeout", str(_TIMEOUT_S - 60))
        yield Year(scenario, home, json.loads(out), local.kafka.bootstrap, local.registry.url)


def _pct(part: int, whole: int) -> float | None:
    if not whole:
        return None
    exact = Decimal(part) * 100 / Decimal(whole)
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _assert_report_realizes(report: dict[str, Any], scenario: Scenario) -> None:
    assert scenario.differences(report) == []
    d, p = scenario.dossiers, scenario.procedures
    assert report["dossiers"]["on_time_rate_pct"] == _pct(d.resolved_on_time, d.resolved)
    assert report["dossiers"]["overdue_rate_pct"] == _pct(d.resolved_overdue, d.resolved)
    assert report["dossiers"]["online_rate_pct"] == _pct(d.received_online, d.received)
    assert report["dossiers"]["apology_coverage_pct"] == _pct(d.apology_letters, d.resolved_overdue)
    online = p.online_full + p.online_partial
    assert report["procedures"]["online"]["rate_pct"] == _pct(online, p.in_force)


def test_the_simulator_summary_counts_what_it_sent(year: Year) -> None:
    realized = year.simulated["realized"]
    d = year.scenario.dossiers
    assert realized["dossiers.received"] == d.received
    assert realized.get("dossiers.withdrawn", 0) == d.withdrawn
    assert year.simulated["planned_fates"]["overdue"] == d.resolved_overdue
    assert year.simulated["published"] is True


def test_the_report_from_chdb_equals_the_scenario(year: Year) -> None:
    out = _cli(year.home, "report", "--year", str(year.scenario.year), "--format", "json")
    _assert_report_realizes(json.loads(out), year.scenario)


def test_the_report_from_the_clickhouse_server_equals_the_scenario(
    year: Year, stack: Stack
) -> None:
    """The same topics loaded by the sink into a fresh database on the 18.16 server."""
    from sinks.warehouse import connect

    database = f"year_{uuid.uuid4().hex[:10]}"
    with connect(stack.clickhouse.url) as server:
        server.execute(f"CREATE DATABASE {database}")
    url = stack.clickhouse.url.rsplit("/", 1)[0] + f"/{database}"
    _cli(
        year.home, "sink", "--until-idle", "--metrics-port", "0", "--group", f"sink-{database}",
        DOSSIERHUB_WAREHOUSE_URL=url,
    )  # fmt: skip
    out = _cli(
        year.home, "report", "--year", str(year.scenario.year), "--format", "json",
        DOSSIERHUB_WAREHOUSE_URL=url,
    )  # fmt: skip
    _assert_report_realizes(json.loads(out), year.scenario)


def test_no_raw_identifier_of_the_simulated_people_reaches_the_warehouse(year: Year) -> None:
    """Every table of the warehouse the run filled, scanned for the applicants' and feedback
    submitters' raw citizen IDs, names and phones, and for anything shaped like one."""
    from producers.simulation.people import person, pool_size
    from sinks.warehouse import connect
    from tests.pii_scan import raw_identifiers_in

    d, seed = year.scenario.dossiers, 7
    applicants = [person(seed, n) for n in range(pool_size(d.received + d.opening_backlog))]
    submitters = [person(seed + 1, n) for n in range(year.scenario.feedback.received)]
    with connect(f"chdb://{year.home / 'warehouse'}", read_only=True) as warehouse:
        assert raw_identifiers_in(warehouse, applicants + submitters) == []


def test_no_late_fact_is_dead_lettered_as_held_too_long(year: Year) -> None:
    """Event-time alignment: the validator reads hundreds of inbound topics at different speeds,
    yet no dossier leaves the table (nor does a held event expire) before the facts of the
    slower agencies that belong to it have arrived — a rating 15 minutes after the return used
    to be dead-lettered ``held_too_long`` (130 of 1,137 ratings at 1/1000) because its
    partition's watermark ran months ahead."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    registry = SchemaRegistryClient({"url": year.registry_url})
    names: dict[int, str] = {}

    def type_of(raw: bytes) -> str:
        try:
            schema_id = peek_schema_id(raw)
        except UndecodableMessageError:
            return "undecodable"
        if schema_id not in names:
            names[schema_id] = json.loads(registry.get_schema(schema_id).schema_str)["name"]
        return names[schema_id]

    letters = read_topic(year.bootstrap, DEADLETTER)
    by_reason = Counter(r.headers["dh.reason"].decode() for r in letters)
    too_long = Counter(
        type_of(r.value) for r in letters if r.headers["dh.reason"] == b"held_too_long"
    )
    assert too_long == Counter(), f"held_too_long by event type: {too_long}; all: {by_reason}"
