"""``dossierhub demo`` — the main job, end to end, on the local stack.

Each stage prints what it did. Stages that later issues add (the simulated city year, the
annual report) are named at the end as not yet part of the run, so the demo never claims more
than it did.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable

from dossierhub.commands._output import print_table
from dossierhub.endpoints import Endpoints
from dossierhub.settings import Settings
from dossierhub.stack import Stack, chdb_status

_STAGES = 6


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="run the hub end to end on the local stack")
    parser.set_defaults(handler=_run)


def _stage(number: int, title: str) -> None:
    print(f"\n== {number}/{_STAGES} {title}", flush=True)


def _indent(line: str) -> None:
    if line:
        print(f"   {line}", flush=True)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    started = time.monotonic()
    _stage(1, f"local stack in {settings.home}")
    stack = Stack(settings)
    stack.up(progress=_indent)
    statuses = [s.as_dict() for s in stack.status()] + [chdb_status(settings)]
    print_table(
        ["service", "healthy", "version", "url"],
        [[s["name"], s.get("healthy"), s.get("version"), s.get("url")] for s in statuses],
    )
    endpoints = Endpoints.resolve(settings)

    _stage(2, "topics, from schemas/topics.py")
    _apply_topics(endpoints, _indent)

    _stage(3, "event contract registered (FULL_TRANSITIVE on every subject)")
    _apply_schemas(endpoints, _indent)

    _stage(4, "one example of every agency event type, published through the SDK")
    _publish_examples(settings, endpoints, _indent)

    _stage(5, "stream processors and sink until idle (validator, dossier state, aggregates)")
    processors_ok = _run_processors(settings, _indent)
    _topic_counts(endpoints, _indent)

    _stage(6, f"warehouse tables ({settings.effective_warehouse_url})")
    _warehouse_counts(settings)

    print(
        f"\ndemo: done in {time.monotonic() - started:.0f}s. Not yet part of the demo (coming "
        "with their issues): the simulated city year and the annual report.\n"
        "Query the warehouse with: .venv/bin/dossierhub warehouse query 'SELECT …'\n"
        "Stop the services with: .venv/bin/dossierhub stack down"
    )
    return 0 if processors_ok and all(s.get("healthy") for s in statuses) else 1


def _warehouse_counts(settings: Settings) -> None:
    from sinks.tables import table_specs
    from sinks.warehouse import connect

    with connect(settings.effective_warehouse_url) as warehouse:
        rows = [
            [spec.name, warehouse.query(f"SELECT count() FROM {spec.name}")[0][0]]
            for spec in table_specs()
        ]
    print_table(["table", "rows"], rows)


def _apply_topics(endpoints: Endpoints, say: Callable[[str], None]) -> None:
    from schemas.admin import TopicAdmin, replication_factor_for
    from schemas.examples import example_events
    from schemas.topics import all_topics

    agencies = sorted({e["envelope"]["agency_code"] for e in example_events().values()})
    # (includes the city committee's code: it issues the procedure publication decisions)
    admin = TopicAdmin(endpoints.kafka_config())
    replication = replication_factor_for(admin.broker_count(), None)
    results = admin.apply(all_topics(replication, agencies))
    counts = Counter(r.status for r in results)
    say(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))


def _apply_schemas(endpoints: Endpoints, say: Callable[[str], None]) -> None:
    from schemas.evolution import apply_schemas
    from schemas.registry import Registry

    reports = apply_schemas(Registry(endpoints.registry_url))
    counts = Counter(r.status for r in reports)
    say(f"{len(reports)} subjects: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


def _publish_examples(settings: Settings, endpoints: Endpoints, say: Callable[[str], None]) -> None:
    from producers import Publisher
    from schemas import Family, event_type
    from schemas.examples import example_events
    from schemas.registry import SchemaIds

    ids = SchemaIds.connect(endpoints.registry_url)
    by_agency: dict[str, list[dict[str, object]]] = {}
    for name, event in example_events().items():
        if event_type(name).family is Family.DERIVED:
            continue  # outcomes, alerts and aggregates come from the hub, never from an agency
        by_agency.setdefault(str(event["envelope"]["agency_code"]), []).append(event)
    for agency, events in sorted(by_agency.items()):
        publisher = Publisher(
            agency,
            bootstrap=endpoints.kafka_bootstrap,
            schema_id_of=ids.id_of,
            delivery_timeout_s=settings.delivery_timeout_s,
            producer_config=dict(endpoints.kafka_security),  # SASL in secured mode
        )
        for event in events:
            publisher.publish(event)
        say(f"{publisher.flush():3d} acknowledged on {publisher.topic}")


def _run_processors(settings: Settings, say: Callable[[str], None]) -> bool:
    """``dossierhub run --until-idle`` in a child process: Faust owns its event loop and exit."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "DOSSIERHUB_HOME": str(settings.home)}
    argv = [sys.executable, "-m", "dossierhub.cli", "run", "--until-idle", "--timeout", "600"]
    with subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True) as child:
        assert child.stderr is not None
        for line in child.stderr:
            if line.startswith("processors:"):
                say(line.rstrip())
    return child.returncode == 0


def _topic_counts(endpoints: Endpoints, say: Callable[[str], None]) -> None:
    """Messages now on the hub's output topics (log-end minus log-start, all partitions)."""
    import uuid

    from confluent_kafka import Consumer, TopicPartition

    from schemas import topics

    consumer = Consumer({**endpoints.kafka_config(), "group.id": f"demo-count-{uuid.uuid4().hex}"})
    try:
        metadata = consumer.list_topics(timeout=10)
        for name in (topics.DOSSIER_EVENTS, topics.DOSSIER_OUTCOMES, topics.DEADLETTER):
            partitions = metadata.topics[name].partitions if name in metadata.topics else {}
            total = 0
            for partition in partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(name, partition), timeout=10
                )
                total += high - low
            say(f"{total:6d} messages on {name}")
    finally:
        consumer.close()
