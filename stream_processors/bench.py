"""``dossierhub bench process``: the processors (validator, dossier state, aggregates) on a real
broker, against the simplest Python pipeline that moves the same records through Kafka.

The bench starts its own throwaway broker and registry (the shared topics of a running hub would
otherwise receive the bench's dossiers), publishes a backlog of synthetic lifecycles, and runs
one worker in this process:

1. **throughput**: the backlog, from the first inbound record taken to the last batch persisted
   (state, slices and outputs acknowledged): ``events_per_s``, and the process's CPU time
   meanwhile per event, ``cpu_us_per_event``;
2. **latency**: once the backlog is done, events are published at ``paced_rate`` per second for
   ``paced_seconds``; each record's latency runs from its inbound timestamp (the producer's) to
   the moment its dossier's state and aggregate slices are acknowledged (``p50/p99_latency_s``).

The reference, measured in the same run on the same broker: a confluent-kafka consumer that
reads the backlog's inbound records and produces each to a scratch topic (no decoding, no
state): the floor of moving these records through Kafka from Python on this machine.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from confluent_kafka import Consumer, Producer

from dossierhub.endpoints import Endpoints
from dossierhub.errors import HubError
from dossierhub.settings import Settings
from dossierhub.stack import Stack
from producers.publisher import Publisher
from producers.synthetic import DEFAULT_START, lifecycles
from schemas.admin import TopicAdmin
from schemas.evolution import apply_schemas
from schemas.registry import Registry, SchemaIds
from schemas.topics import TopicKind, TopicSpec, all_topics, inbound_topic, processor_topics

from .app import build_app, changelog_topics
from .config import ProcessorConfig
from .worker import RunOptions, run_worker

__all__ = ["bench_process"]

_AGENCY: Final = "000.00.15.H29"
_PASSTHROUGH_TOPIC: Final = "hub.bench.passthrough"


def bench_process(
    settings: Settings,
    *,
    events: int = 100_000,
    paced_rate: int = 2_000,
    paced_seconds: float = 15.0,
    batch_size: int = 5_000,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dossierhub-bench-") as home:
        own = dataclasses.replace(
            settings, home=Path(home), kafka_bootstrap=None, registry_url=None
        )
        stack = Stack(own)
        progress("bench: starting a throwaway broker and registry")
        stack.up(only=("kafka", "registry"), progress=lambda line: None)
        try:
            return _bench(
                own,
                events=events,
                paced_rate=paced_rate,
                paced_seconds=paced_seconds,
                batch_size=batch_size,
                progress=progress,
            )
        finally:
            stack.down(progress=lambda line: None)


def _bench(
    settings: Settings,
    *,
    events: int,
    paced_rate: int,
    paced_seconds: float,
    batch_size: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    endpoints = Endpoints.resolve(settings)
    config = dataclasses.replace(
        ProcessorConfig.from_settings(settings, endpoints, replication_factor=1),
        batch_size=batch_size,
    )
    admin = TopicAdmin(endpoints.kafka_config())
    scratch = TopicSpec(_PASSTHROUGH_TOPIC, TopicKind.INTERNAL, 3, 1, {}, "bench passthrough")
    declared = (
        *all_topics(1, [_AGENCY]),
        *processor_topics(1),
        *changelog_topics(config),
        scratch,
    )
    failed = [r for r in admin.apply(declared) if not r.ok]
    if failed:
        raise HubError(f"bench: cannot create the topics: {failed[0].errors}")
    refused = [r for r in apply_schemas(Registry(endpoints.registry_url)) if not r.ok]
    if refused:
        raise HubError(f"bench: cannot register the schemas: {refused[0].detail}")

    backlog = _events(events, seed=1)
    paced = _events(int(paced_rate * paced_seconds), seed=2, days_later=60)
    publisher = Publisher(
        _AGENCY,
        bootstrap=endpoints.kafka_bootstrap,
        schema_id_of=SchemaIds.connect(endpoints.registry_url).id_of,
    )
    progress(f"bench: publishing a backlog of {len(backlog)} events")
    for event in backlog:
        publisher.publish(event)
    publisher.flush()

    progress("bench: reference (consume → produce passthrough)")
    reference = _passthrough(endpoints.kafka_bootstrap, inbound_topic(_AGENCY), len(backlog))

    processors = build_app(config, [inbound_topic(_AGENCY)])
    counters = processors.counters
    marks: dict[str, Any] = {}

    def pace() -> None:
        while counters.first_inbound_at is None:
            time.sleep(0.02)
        cpu_from = time.process_time()
        while counters.intake < len(backlog) or counters.last_persisted_at is None:
            time.sleep(0.02)
        while counters.intake_persisted < len(backlog):
            time.sleep(0.02)
        marks["backlog_done"] = counters.last_persisted_at
        marks["backlog_cpu_s"] = time.process_time() - cpu_from
        marks["paced_from"] = len(counters.latencies)
        progress(f"bench: backlog done; publishing {len(paced)} events at {paced_rate}/s")
        started = time.monotonic()
        for n, event in enumerate(paced):
            due = started + n / paced_rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            publisher.publish(event)
        publisher.flush()

    pacer = threading.Thread(target=pace, name="bench-pacer", daemon=True)
    pacer.start()
    progress(f"bench: running the processors (batch size {batch_size})")
    timeout = 120 + len(backlog) / 200 + paced_seconds * 3
    code = run_worker(
        processors,
        RunOptions(until_idle=True, idle_seconds=3, timeout_seconds=timeout, progress_seconds=10),
    )
    pacer.join(timeout=5)
    if code != 0 or "backlog_done" not in marks or counters.first_inbound_at is None:
        raise HubError(f"bench: the processors did not finish (exit {code})")
    seconds = marks["backlog_done"] - counters.first_inbound_at
    ours = len(backlog) / seconds
    latencies = sorted(list(counters.latencies)[marks["paced_from"] :])
    return {
        "benchmark": "process",
        "events": len(backlog),
        "events_per_s": round(ours, 1),
        "seconds": round(seconds, 3),
        # the process's CPU time over the backlog, per event: less sensitive than the wall
        # time to other jobs on a shared machine (the pacer only polls meanwhile)
        "cpu_us_per_event": round(marks["backlog_cpu_s"] / len(backlog) * 1e6, 1),
        "batch_size": batch_size,
        "paced_rate": paced_rate,
        "paced_events": len(latencies),
        "p50_latency_s": _quantile(latencies, 0.50),
        "p99_latency_s": _quantile(latencies, 0.99),
        "max_latency_s": round(latencies[-1], 4) if latencies else None,
        "outputs": dict(counters.sent),
        "reference": {
            "what": "confluent-kafka consume -> produce passthrough of the same inbound records",
            **reference,
        },
        "ratio": round(ours / reference["events_per_s"], 4),
    }


def _events(count: int, *, seed: int, days_later: int = 0) -> list[dict[str, Any]]:
    start = DEFAULT_START + timedelta(days=days_later)
    dossiers = count // 3 + 1
    made = list(lifecycles(dossiers, agencies=[_AGENCY], seed=seed, start=start))
    return made[:count]


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 4)
    return round(statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1], 4)


def _passthrough(bootstrap: str, topic: str, count: int) -> dict[str, Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-passthrough-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5, "compression.type": "lz4", "acks": "all"}
    )
    consumer.subscribe([topic])
    seen, started = 0, None
    deadline = time.monotonic() + 120
    try:
        while seen < count and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=1.0):
                if message.error() is not None:
                    continue
                if started is None:
                    started = time.monotonic()
                producer.produce(_PASSTHROUGH_TOPIC, message.value(), message.key())
                producer.poll(0)
                seen += 1
        producer.flush(30)
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    if started is None or seen < count:
        raise HubError(f"bench: the passthrough read {seen} of {count} records")
    seconds = time.monotonic() - started
    return {"events_per_s": round(seen / seconds, 1), "seconds": round(seconds, 3)}
