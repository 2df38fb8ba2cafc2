"""``dossierhub bench …`` — benchmarks that print JSON with a reference measured in the same run.

Numbers from this shared 2-core machine are noisy; compare the ``ratio``, not absolute times.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dossierhub.commands._output import print_json
from dossierhub.endpoints import Endpoints, check_kafka
from dossierhub.settings import PROJECT_ROOT, Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("bench", help="run a benchmark and print JSON")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="BENCHMARK")
    produce = kinds.add_parser(
        "produce", help="publisher SDK vs Kafka's ProducerPerformance on the same broker"
    )
    produce.add_argument("--events", type=int, default=200_000, help="events to publish")
    produce.set_defaults(handler=_produce)
    process = kinds.add_parser(
        "process",
        help="processors (validate, fold, aggregate) vs a plain consume→produce passthrough",
        description="Starts a throwaway broker and registry, publishes a backlog of synthetic "
        "dossier lifecycles, and runs one processors worker: events/s on the backlog, then "
        "p50/p99 latency at a paced rate.",
    )
    process.add_argument("--events", type=int, default=100_000, help="backlog events")
    process.add_argument("--paced-rate", type=int, default=2_000, help="events/s, latency phase")
    process.add_argument(
        "--paced-seconds", type=float, default=15.0, help="length of the latency phase"
    )
    process.add_argument(
        "--batch-size", type=int, default=5_000, help="records per batch (the processors' default)"
    )
    process.set_defaults(handler=_process)
    sink = kinds.add_parser(
        "sink",
        help="sink (Kafka → warehouse, exactly once) vs raw inserts of the same rows, per backend",
        description="Publishes synthetic dossier events to a new topic, loads them with the sink "
        "into a fresh chDB and a fresh database on the ClickHouse server, and inserts the same "
        "columnar batches straight into each backend. Batch size: DOSSIERHUB_SINK_BATCH_ROWS.",
    )
    sink.add_argument("--events", type=int, default=200_000, help="events to publish and load")
    sink.add_argument(
        "--backend",
        action="append",
        choices=("chdb", "clickhouse"),
        help="only this backend (repeatable; default both)",
    )
    sink.set_defaults(handler=_sink)
    year = kinds.add_parser(
        "year",
        help="a scenario's whole year end to end (simulate, processors, sink, report)",
        description="On a throwaway broker and registry: publishes the scenario's year, runs "
        "the processors and the sink until idle, computes the report; prints wall time and "
        "events/s per stage, peak memory, disk use, report time and exactness.",
    )
    year.add_argument(
        "--scenario", type=Path, default=PROJECT_ROOT / "scenarios" / "hcmc-2023.json"
    )
    year.add_argument("--scale", type=float, default=1.0, help="dossier count factor (default 1)")
    year.add_argument("--seed", type=int, default=1)
    year.add_argument(
        "--timeout", type=float, default=6 * 3600, help="seconds allowed per stage (default 6 h)"
    )
    year.set_defaults(handler=_year)
    report = kinds.add_parser(
        "report",
        help="the annual report's query time on N generated dossiers vs a full scan",
        description="Fills a fresh warehouse (a temporary chDB, or a new database on the "
        "ClickHouse server) with N dossiers' events and outcomes generated in SQL, then times "
        "the report (best of --runs after a warm-up) against a plain full scan of the tables.",
    )
    report.add_argument(
        "--dossiers", type=int, default=None, help="dossiers to generate (default: the city's year)"
    )
    report.add_argument("--backend", choices=("chdb", "clickhouse"), default="chdb")
    report.add_argument("--runs", type=int, default=3, help="timed runs (the best is reported)")
    report.set_defaults(handler=_report)


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from sinks.report.bench import CITY_YEAR_DOSSIERS, bench_report

    result = bench_report(
        settings,
        dossiers=CITY_YEAR_DOSSIERS if args.dossiers is None else args.dossiers,
        backend=args.backend,
        runs=args.runs,
        progress=_progress,
    )
    print_json(result)
    return 0 if result["report_exact"] else 1


def _year(args: argparse.Namespace, settings: Settings) -> int:
    from dossierhub.commands._bench_year import run_year_bench

    result = run_year_bench(
        args.scenario, scale=args.scale, seed=args.seed, timeout_s=args.timeout, say=_progress
    )
    print_json(result)
    return 0 if result["report_exact"] else 1


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _produce(args: argparse.Namespace, settings: Settings) -> int:
    from dossierhub.stack._toolchain import find_java
    from dossierhub.stack.kafka import kafka_classpath
    from producers.bench import bench_produce
    from schemas.registry import SchemaIds

    endpoints = Endpoints.resolve(settings)
    check_kafka(endpoints.kafka_bootstrap, security=endpoints.kafka_security)
    result = bench_produce(
        bootstrap=endpoints.kafka_bootstrap,
        schema_id_of=SchemaIds.connect(endpoints.registry_url).id_of,
        java=find_java(settings.java),
        kafka_classpath=kafka_classpath(settings),
        events=args.events,
        progress=_progress,
    )
    print_json(result)
    return 0


def _process(args: argparse.Namespace, settings: Settings) -> int:
    from stream_processors.bench import bench_process

    result = bench_process(
        settings,
        events=args.events,
        paced_rate=args.paced_rate,
        paced_seconds=args.paced_seconds,
        batch_size=args.batch_size,
        progress=_progress,
    )
    print_json(result)
    return 0


def _sink(args: argparse.Namespace, settings: Settings) -> int:
    from sinks.bench import bench_sink

    result = bench_sink(
        settings,
        events=args.events,
        backends=args.backend or ["chdb", "clickhouse"],
        progress=_progress,
    )
    print_json(result)
    return 0
