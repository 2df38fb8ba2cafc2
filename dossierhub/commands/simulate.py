"""``dossierhub simulate --scenario FILE [--seed N] [--scale X]`` — a calibrated year on the broker.

    dossierhub simulate --scenario scenarios/hcmc-2023.json --scale 0.001
    dossierhub simulate --scenario scenarios/hcmc-2023.json --scale 0.001 --dry-run

Publishes, through the publisher SDK, every event of the scenario's year on its agency's
inbound topic (creating the agencies' topics and registering the contract first, both
idempotent), shows progress on stderr, and prints a JSON summary on stdout: events per
canonical topic and type, the counts the events realize, the dossiers' drawn fates, and the
scenario's targets beside them. ``--dry-run`` generates and counts without a broker.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from dossierhub.settings import Settings

_PROGRESS_EVERY_S = 2.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="publish a deterministic year of events that realizes a scenario file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scenario", type=Path, required=True, help="scenario JSON file")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same events (default 1)")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every dossier count (round half up); procedures and feedback as is",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="generate and count the events, publish nothing"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from dossierhub.directory import load_directory
    from producers import Pseudonymizer
    from producers.scenario import load_scenario
    from producers.simulation import Simulation
    from producers.simulation.tally import Tally

    scenario = load_scenario(args.scenario)
    if args.scale != 1:
        scenario = scenario.scaled(args.scale)
    directory = load_directory(date(scenario.year, 12, 31))
    pseudonymizer = Pseudonymizer.from_settings(settings)
    simulation = Simulation(
        scenario, directory, seed=args.seed, pseudonymize=pseudonymizer.applicant
    )
    tally = Tally(scenario.year)
    started = time.monotonic()
    events = simulation.stream()
    if args.dry_run:
        for agency, event in _with_progress(events, tally, started, "generated"):
            del agency, event
    else:
        _publish(settings, simulation, _with_progress(events, tally, started, "sent"))
    seconds = time.monotonic() - started
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "year": scenario.year,
        "seed": args.seed,
        "scale": args.scale,
        "published": not args.dry_run,
        **tally.summary(),
        "planned_fates": dict(sorted(simulation.planned.items())),
        "targets": scenario.targets(),
        "seconds": round(seconds, 1),
        "events_per_s": round(tally.events / seconds) if seconds else None,
    }
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


def _with_progress(events: Any, tally: Any, started: float, verb: str) -> Any:
    """Pass the events through, counting them and printing a line every few seconds."""
    next_line = time.monotonic() + _PROGRESS_EVERY_S
    for agency, event in events:
        tally.observe(agency, event)
        yield agency, event
        now = time.monotonic()
        if now >= next_line:
            next_line = now + _PROGRESS_EVERY_S
            rate = tally.events / (now - started)
            print(
                f"simulate: {tally.events:,} events {verb} ({rate:,.0f}/s), "
                f"event time {tally.last_time:%Y-%m-%d}",
                file=sys.stderr,
                flush=True,
            )


def _publish(settings: Settings, simulation: Any, events: Any) -> None:
    from collections import Counter

    from dossierhub.endpoints import Endpoints
    from producers.fleet import PublisherFleet
    from producers.simulation import PRODUCER_SYSTEM
    from schemas.admin import apply_hub_topics
    from schemas.evolution import apply_schemas
    from schemas.registry import Registry, SchemaIds

    endpoints = Endpoints.resolve(settings)
    agencies = [a.code for a in simulation.agencies]
    results = apply_hub_topics(endpoints.kafka_config(), agencies)
    created = Counter(r.status for r in results)
    print(
        f"simulate: topics of {len(agencies)} agencies: "
        + ", ".join(f"{n} {s}" for s, n in sorted(created.items())),
        file=sys.stderr,
    )
    apply_schemas(Registry(endpoints.registry_url))
    fleet = PublisherFleet(
        bootstrap=endpoints.kafka_bootstrap,
        schema_id_of=SchemaIds.connect(endpoints.registry_url).id_of,
        producer_system=PRODUCER_SYSTEM,
        delivery_timeout_s=settings.delivery_timeout_s,
        producer_config=endpoints.kafka_security,
    )
    with fleet:
        for agency, event in events:
            fleet.publish(agency, event)
