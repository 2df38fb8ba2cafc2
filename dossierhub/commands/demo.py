"""``dossierhub demo`` — the main job, end to end, on the local stack.

The city's 2023 at 1/1000 of its volume (``--scale``): the simulator publishes the year through
the SDK, the processors and the sink run until idle, and the annual report is computed from the
warehouse, reconciled with the published report, and written as an HTML page. Each stage says
what it did; the demo exits non-zero if a stage failed or a figure does not reconcile.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from dossierhub.commands._output import print_table
from dossierhub.endpoints import Endpoints
from dossierhub.settings import PROJECT_ROOT, Settings
from dossierhub.stack import Stack, chdb_status

_STAGES = 7
_SCENARIO = PROJECT_ROOT / "scenarios" / "hcmc-2023.json"
# The city's published figures sit beside the project (shared reference data, not copied in).
_PUBLISHED = PROJECT_ROOT.parent / "shared" / "reference" / "hcmc-2023-published-figures.json"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="run the hub end to end on the local stack")
    parser.add_argument(
        "--scale", default="0.001", help="fraction of the city's 2023 dossiers (default 0.001)"
    )
    parser.add_argument("--seed", default="1", help="the simulator's seed (default 1)")
    parser.add_argument(
        "--against",
        type=Path,
        default=_PUBLISHED,
        help=f"published figures to reconcile with (default {_PUBLISHED})",
    )
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

    _stage(2, "topics, from schemas/topics.py, for every agency of the 2023 directory")
    _apply_topics(endpoints, _indent)

    _stage(3, "event contract registered (FULL_TRANSITIVE on every subject)")
    _apply_schemas(endpoints, _indent)

    _stage(4, f"the city's 2023 at scale {args.scale}, published through the SDK")
    simulated = _simulate(settings, endpoints, args, _indent)

    _stage(5, "stream processors and sink until idle (validator, dossier state, aggregates)")
    processors_ok = _run_processors(settings, _indent)
    _topic_counts(endpoints, _indent)

    _stage(6, f"the annual report from the warehouse ({settings.effective_warehouse_url})")
    reconciled = _report(settings, args)

    _stage(7, "the report as a page")
    page_ok = _page(settings)

    print(
        f"\ndemo: done in {time.monotonic() - started:.0f}s.\n"
        "Query the warehouse with: .venv/bin/dossierhub warehouse query 'SELECT …'\n"
        "Stop the services with: .venv/bin/dossierhub stack down"
    )
    healthy = all(s.get("healthy") for s in statuses)
    return 0 if all((healthy, simulated, processors_ok, reconciled, page_ok)) else 1


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """A hub command in a child process (Faust and chDB want a process of their own)."""
    env = {**os.environ, "DOSSIERHUB_HOME": str(settings.home)}
    argv = [sys.executable, "-m", "dossierhub.cli", *args]
    return subprocess.run(argv, env=env, text=True, capture_output=True, check=False)


def _simulate(
    settings: Settings, endpoints: Endpoints, args: argparse.Namespace, say: Callable[[str], None]
) -> bool:
    if _messages(endpoints, "hub.dossier.events") or _messages(endpoints, "hub.dossier.intake"):
        say("already simulated in this home: the year is on the broker (make clean starts over)")
        return True
    env = {**os.environ, "DOSSIERHUB_HOME": str(settings.home)}
    argv = [
        sys.executable, "-m", "dossierhub.cli", "simulate", "--scenario", str(_SCENARIO),
        "--scale", args.scale, "--seed", args.seed,
    ]  # fmt: skip
    with subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as child:
        assert child.stderr is not None
        assert child.stdout is not None
        for line in child.stderr:
            if line.startswith("simulate:") or line.startswith("error:"):
                say(line.rstrip())
        summary = child.stdout.read()
    if child.returncode != 0:
        return False
    result = json.loads(summary)
    say(
        f"{result['events']:,} events from {result['agencies']} agencies in "
        f"{result['seconds']}s ({result['events_per_s']:,}/s); dossiers' drawn fates: "
        + ", ".join(f"{n:,} {fate}" for fate, n in result["planned_fates"].items())
    )
    return True


def _report(settings: Settings, args: argparse.Namespace) -> bool:
    extra = ["--against", str(args.against), "--scale", args.scale] if args.against.exists() else []
    result = _cli(settings, "report", "--year", "2023", "--format", "table", *extra)
    print(result.stdout, end="", flush=True)
    if result.returncode == 2 or result.stderr.strip().startswith("error:"):
        print(result.stderr, end="", file=sys.stderr)
    if not extra:
        _indent(f"no published figures at {args.against}: reconciliation skipped")
    return result.returncode == 0


def _page(settings: Settings) -> bool:
    result = _cli(settings, "report", "--year", "2023", "--format", "html")
    if result.returncode != 0:
        print(result.stderr, end="", file=sys.stderr)
        return False
    _indent(f"written: {settings.home / 'reports' / 'report-2023.html'} (open it in a browser)")
    return True


def _apply_topics(endpoints: Endpoints, say: Callable[[str], None]) -> None:
    from datetime import date

    from dossierhub.directory import load_directory
    from schemas.admin import apply_hub_topics

    agencies = [a.code for a in load_directory(date(2023, 12, 31)).agencies]
    counts = Counter(r.status for r in apply_hub_topics(endpoints.kafka_config(), agencies))
    say(f"{len(agencies)} agencies: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


def _apply_schemas(endpoints: Endpoints, say: Callable[[str], None]) -> None:
    from schemas.evolution import apply_schemas
    from schemas.registry import Registry

    reports = apply_schemas(Registry(endpoints.registry_url))
    counts = Counter(r.status for r in reports)
    say(f"{len(reports)} subjects: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


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
    from schemas import topics

    for name in (topics.DOSSIER_EVENTS, topics.DOSSIER_OUTCOMES, topics.DEADLETTER):
        say(f"{_messages(endpoints, name):8,d} messages on {name}")


def _messages(endpoints: Endpoints, topic: str, *, wait_s: float = 30.0) -> int:
    """Messages on ``topic`` now (log-end minus log-start, all partitions); 0 if it is absent.

    A topic created a moment ago may have no leader yet: retried until ``wait_s`` is spent.
    """
    import uuid

    from confluent_kafka import Consumer, KafkaException, TopicPartition

    from dossierhub.errors import ServiceError

    consumer = Consumer({**endpoints.kafka_config(), "group.id": f"demo-count-{uuid.uuid4().hex}"})
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                metadata = consumer.list_topics(timeout=10)
                partitions = metadata.topics[topic].partitions if topic in metadata.topics else {}
                total = 0
                for partition in partitions:
                    low, high = consumer.get_watermark_offsets(
                        TopicPartition(topic, partition), timeout=10
                    )
                    total += high - low
                return total
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    raise ServiceError("kafka", f"cannot count {topic}: {exc}") from exc
                time.sleep(0.5)  # leader election after the topic was created
    finally:
        consumer.close()
