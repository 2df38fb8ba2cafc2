"""The calibrated simulator: a deterministic year of events that realizes a scenario exactly.

    from producers.scenario import load_scenario
    from producers.simulation import Simulation

    scenario = load_scenario("scenarios/hcmc-2023.json").scaled(0.001)
    for agency, event in Simulation(scenario, directory, seed=1, pseudonymize=p).stream():
        ...  # publish ``event`` on agency's inbound topic

Same scenario, directory and seed → the same events, byte for byte (event ids are derived, not
random; times come from the plan, not the clock). Events come out in event-time order: the
reference data and catalog first, then dossiers and feedback as the year goes.
"""

from __future__ import annotations

import heapq
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

from producers.scenario import Scenario, ScenarioError
from schemas import make_envelope
from stream_processors.dossier import WorkingCalendar

from .catalog import Catalog, plan_catalog
from .dossiers import Pseudonymize, SimEvent, dossier_events
from .feedback import feedback_events
from .reference import reference_events

__all__ = ["PRODUCER_SYSTEM", "SimEvent", "Simulation"]

PRODUCER_SYSTEM: Final = "dossierhub-simulator"
_NAMESPACE: Final = uuid.UUID("6f1d3a52-8c0e-4b7a-9e55-2d41c7b0a913")


class Simulation:
    def __init__(
        self, scenario: Scenario, directory: Any, *, seed: int, pseudonymize: Pseudonymize
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self._pseudonymize = pseudonymize
        self.agencies = tuple(directory.agencies)
        self.units = tuple(getattr(directory, "units", ()))
        cities = [a.code for a in self.agencies if a.level == "CITY_COMMITTEE"]
        if len(cities) != 1:
            raise ScenarioError(
                "directory", "agencies", f"needs one city committee, has {len(cities)}"
            )
        self.city = cities[0]
        self.departments = [(a.code, a.name) for a in self.agencies if a.level == "CITY_DEPARTMENT"]
        self.calendar = WorkingCalendar(
            extra_days_off=scenario.extra_days_off, make_up_days=scenario.make_up_working_days
        )
        #: each dossier's drawn fate (on_time, overdue, withdrawn, open), counted as generated
        self.planned: Counter[str] = Counter()
        self.catalog: Catalog = plan_catalog(
            scenario.procedures,
            year=scenario.year,
            seed=seed,
            departments=self.departments,
            calendar=self.calendar,
        )

    def stream(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(sending agency, complete event) for every event of the year, in event-time order."""
        for sim in self._merged():
            yield sim.agency, self._event(sim)

    def _merged(self) -> Iterator[SimEvent]:
        s = self.scenario
        reference = reference_events(
            year=s.year, city=self.city, agencies=self.agencies, units=self.units,
            calendar=self.calendar,
        )  # fmt: skip
        catalog = (
            SimEvent(c.at, self.city, c.event_type, c.payload, f"catalog/{n}")
            for n, c in enumerate(self.catalog.events)
        )
        dossiers = dossier_events(
            s.dossiers, year=s.year, seed=self.seed, catalog=self.catalog,
            agencies=self.agencies, calendar=self.calendar, pseudonymize=self._pseudonymize,
            planned=self.planned,
        )  # fmt: skip
        feedback = feedback_events(
            s.feedback, year=s.year, seed=self.seed, city=self.city,
            departments=[code for code, _ in self.departments],
            procedures=[p.code for p in self.catalog.procedures if p.in_force_all_year],
            calendar=self.calendar, pseudonymize=self._pseudonymize,
        )  # fmt: skip
        # heapq.merge keeps the order of the inputs for equal times: deterministic ties
        return heapq.merge(reference, catalog, dossiers, feedback, key=_time)

    def _event(self, sim: SimEvent) -> dict[str, Any]:
        name = f"{self.scenario.name}/{self.scenario.scale!r}/{self.seed}/{sim.label}"
        envelope = make_envelope(
            sim.event_type,
            agency_code=sim.agency,
            occurred_at=sim.at,
            event_id=uuid.uuid5(_NAMESPACE, name),
            producer_system=PRODUCER_SYSTEM,
        )
        return {"envelope": envelope, **sim.payload}


def _time(sim: SimEvent) -> datetime:
    return sim.at
