"""The simulator against the hub's own rules, without a broker: every dossier's events folded
by the processors' state machine classify exactly as the scenario asks."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from dossierhub.directory import load_directory
from producers import Pseudonymizer
from producers.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from producers.simulation import Simulation
from producers.simulation.people import person
from producers.simulation.tally import Tally
from schemas import encode, event_type
from stream_processors.dossier import DOSSIER_EVENT_TYPES, fold, local_date

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "tests" / "scenarios" / "small-2024.json"
HCMC = ROOT / "scenarios" / "hcmc-2023.json"
_KEY = bytes(range(32))


def _simulate(
    scenario: Scenario, seed: int = 1
) -> tuple[Simulation, list[tuple[str, dict[str, Any]]]]:
    directory = load_directory(date(scenario.year, 12, 31))
    simulation = Simulation(
        scenario, directory, seed=seed, pseudonymize=Pseudonymizer(_KEY).applicant
    )
    return simulation, list(simulation.stream())


@pytest.fixture(scope="module")
def small() -> tuple[Scenario, Simulation, list[tuple[str, dict[str, Any]]]]:
    scenario = load_scenario(SMALL)
    simulation, events = _simulate(scenario)
    return scenario, simulation, events


def _classified(
    simulation: Simulation, events: list[tuple[str, dict[str, Any]]], year: int
) -> Counter[str]:
    """Fold each dossier's events as the dossier agent does; count the year's final outcomes."""
    lives: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, event in events:
        if event["envelope"]["event_type"] in DOSSIER_EVENT_TYPES:
            lives[event["dossier_code"]].append(event)
    counts: Counter[str] = Counter()
    for code, life in lives.items():
        result = fold(life, simulation.calendar)
        assert not result.rejected, (code, [t.message for t in result.rejected])
        assert not result.held, code
        outcomes = [f for f in result.facts if type(f).__name__ == "DossierOutcome"]
        if not outcomes:
            counts["open"] += 1
            continue
        last = outcomes[-1]
        if local_date(last.resolved_at).year != year:
            continue
        if last.resolution is None:
            counts["withdrawn"] += 1
        elif last.outcome_class.value == "OVERDUE":
            counts["overdue"] += 1
            counts["overdue_with_apology"] += last.apology_issued
        else:
            counts["on_time"] += 1
    return counts


def test_the_hubs_rules_classify_every_dossier_as_the_scenario_asks(small) -> None:
    scenario, simulation, events = small
    counts = _classified(simulation, events, scenario.year)
    d = scenario.dossiers
    assert counts["on_time"] == d.resolved_on_time
    assert counts["overdue"] == d.resolved_overdue
    assert counts["withdrawn"] == d.withdrawn
    assert counts["open"] == d.closing_backlog
    # every letter goes to a dossier that ends overdue, before its due date passed
    assert counts["overdue_with_apology"] == d.apology_letters


def test_the_events_realize_the_observable_targets(small) -> None:
    scenario, _, events = small
    tally = Tally(scenario.year)
    for agency, event in events:
        tally.observe(agency, event)
    realized = tally.summary()["realized"]
    d, p, f = scenario.dossiers, scenario.procedures, scenario.feedback
    assert realized["dossiers.received"] == d.received
    assert realized["dossiers.received_online"] == d.received_online
    assert realized["dossiers.opening_backlog"] == d.opening_backlog
    assert realized["dossiers.withdrawn"] == d.withdrawn
    assert realized["dossiers.apology_letters"] == d.apology_letters
    assert realized["procedures.published.decisions"] == p.decisions
    assert realized["procedures.published.standardized_new"] == p.standardized_new
    assert realized["procedures.published.amended"] == p.amended
    assert realized["procedures.published.replaced"] == p.replaced
    assert realized["procedures.published.abolished"] == p.abolished
    assert realized["feedback.about_procedures"] == f.about_procedures
    assert realized["feedback.out_of_scope"] == f.out_of_scope


def test_the_catalog_at_year_end_has_the_targets_per_level_and_online_level(small) -> None:
    """A fold of the catalog events independent of the simulator's plan."""
    scenario, _, events = small
    end = date(scenario.year, 12, 31)
    level: dict[str, str] = {}
    gone: set[str] = set()
    online: dict[str, str] = {}
    for _, event in events:
        name = event["envelope"]["event_type"]
        if event.get("valid_from") is None or event["valid_from"] > end:
            continue
        if name == "ProcedurePublished":
            level[event["procedure_code"]] = event["authority_level"]
        elif name in ("ProcedureAbolished", "ProcedureReplaced"):
            gone.add(event["procedure_code"])
        elif name in ("OnlineServiceOffered", "OnlineServiceLevelChanged"):
            online[event["procedure_code"]] = event["level"]
    in_force = {code: lv for code, lv in level.items() if code not in gone}
    assert Counter(in_force.values()) == {
        k: v for k, v in scenario.procedures.by_level.items() if v
    }
    at_end = Counter(lv for code, lv in online.items() if code in in_force)
    assert at_end == {
        "FULL": scenario.procedures.online_full,
        "PARTIAL": scenario.procedures.online_partial,
    }


def _stream_digest(events: list[tuple[str, dict[str, Any]]]) -> str:
    ids: dict[str, int] = {}
    digest = hashlib.sha256()
    for agency, event in events:
        known = event_type(event["envelope"]["event_type"])
        schema_id = ids.setdefault(known.name, 100 + len(ids))
        digest.update(agency.encode())
        digest.update(encode(event, schema_id, known.schema))
    return digest.hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes_same_figures(small) -> None:
    scenario, simulation, events = small
    _, again = _simulate(scenario, seed=1)
    assert _stream_digest(again) == _stream_digest(events)
    other_simulation, other = _simulate(scenario, seed=2)
    assert _stream_digest(other) != _stream_digest(events)
    assert _classified(other_simulation, other, scenario.year) == _classified(
        simulation, events, scenario.year
    )


def test_no_raw_identifier_of_the_simulated_people_is_in_any_event(small) -> None:
    _, _, events = small
    text = repr([event for _, event in events])
    pool = [person(1, n) for n in range(200)]
    for someone in pool:
        assert someone.citizen_id not in text
        assert someone.phone not in text
        assert someone.name not in text


def test_scaled_hcmc_year_plans_exact_fates() -> None:
    """The city's year at 1/1000, generated and counted (no fold: the small test does that)."""
    scenario = load_scenario(HCMC).scaled(0.001)
    simulation, events = _simulate(scenario)
    planned = simulation.planned
    d = scenario.dossiers
    assert planned["on_time"] == d.resolved_on_time
    assert planned["overdue"] == d.resolved_overdue
    assert planned["open"] == d.closing_backlog
    received = sum(1 for _, e in events if e["envelope"]["event_type"] == "DossierReceived")
    assert received == d.received + d.opening_backlog


def test_overdue_dossiers_that_cannot_end_late_within_the_year_are_refused() -> None:
    """All 100 dossiers overdue: those received in November and December cannot be."""
    text = (
        SMALL.read_text()
        .replace('"opening_backlog": 37', '"opening_backlog": 0')
        .replace('"received": 3000', '"received": 100')
        .replace('"resolved_on_time": 2700', '"resolved_on_time": 0')
        .replace('"resolved_overdue": 95', '"resolved_overdue": 100')
        .replace('"withdrawn": 41', '"withdrawn": 0')
        .replace('"received_online": 1234', '"received_online": 10')
    )
    scenario = parse_scenario(text, source="test")
    with pytest.raises(ScenarioError, match=r"dossiers\.resolved_overdue: 100 overdue"):
        _simulate(scenario)
