"""``dossierhub bench sink``: the sink's events/s into each backend, exactly-once on, against
the raw insert rate of the same rows into the same backend (the ceiling), measured in one run.

The sink figure is Kafka → decode (fastavro) → columnar rows → range record → INSERT → confirm,
from a topic of synthetic dossier events published first. The ceiling inserts the very same
columnar batches (built beforehand, not timed) straight into a copy of the table: what the
backend takes from this client with no Kafka, decoding or bookkeeping.
"""

from __future__ import annotations

import itertools
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from dossierhub.endpoints import Endpoints
from dossierhub.settings import Settings
from schemas.topics import DOSSIER_EVENTS
from sinks.rows import TableRows
from sinks.sink import Sink, SinkOptions
from sinks.tables import table_for
from sinks.warehouse import ColumnBatch, connect
from sinks.warehouse.migrate import migrate

__all__ = ["bench_sink"]

Progress = Callable[[str], None]


def bench_sink(
    settings: Settings,
    *,
    events: int,
    backends: list[str],
    progress: Progress,
) -> list[dict[str, Any]]:
    endpoints = Endpoints.resolve(settings)
    topic = f"bench.sink.{uuid.uuid4().hex[:10]}"
    _create_topic(endpoints.kafka_bootstrap, topic)
    progress(f"publishing {events} events to {topic} …")
    published = _publish(endpoints, topic, events)
    results = []
    for backend in backends:
        with fresh_warehouse(backend, settings) as url:
            results.append(
                _measure(
                    settings,
                    url,
                    topic=topic,
                    published=published,
                    backend=backend,
                    progress=progress,
                )
            )
    return results


def _create_topic(bootstrap: str, topic: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    from schemas.admin import replication_factor_for

    admin = AdminClient({"bootstrap.servers": bootstrap})
    brokers = len(admin.list_topics(timeout=10).brokers)
    # the partitions of the dossier topic, so the sink cuts as many ranges per batch
    new = NewTopic(topic, 6, replication_factor_for(brokers))
    for future in admin.create_topics([new]).values():
        future.result(timeout=30)


def _publish(endpoints: Endpoints, topic: str, events: int) -> list[dict[str, Any]]:
    from producers import Publisher
    from producers.synthetic import lifecycles
    from schemas.registry import SchemaIds

    agency = "000.00.15.H29"
    published = list(itertools.islice(lifecycles(events // 3 + 1, agencies=[agency]), events))
    with Publisher(
        agency,
        bootstrap=endpoints.kafka_bootstrap,
        schema_id_of=SchemaIds.connect(endpoints.registry_url).id_of,
        topic=topic,
    ) as publisher:
        for event in published:
            publisher.publish(event)
        publisher.flush()
    return published


def _measure(
    settings: Settings,
    url: str,
    *,
    topic: str,
    published: list[dict[str, Any]],
    backend: str,
    progress: Progress,
) -> dict[str, Any]:
    local = replace(settings, warehouse_url=url)
    with connect(url) as warehouse:
        migrate(warehouse)  # outside the timing, as in production
    progress(f"{backend}: sink …")
    options = SinkOptions.from_settings(local, routes={topic: DOSSIER_EVENTS}, group_id=topic)
    stats = Sink(local, options).run_until_idle(timeout_s=1800)
    progress(f"{backend}: raw inserts of the same rows …")
    ceiling_s = _ceiling(url, topic, published, local.sink_batch_rows)
    events = len(published)
    events_per_s = events / stats.seconds
    ceiling = events / ceiling_s
    return {
        "backend": backend,
        "events": events,
        "batch_rows": local.sink_batch_rows,
        "events_per_s": round(events_per_s),
        "sink_seconds": stats.seconds,
        "rows_loaded": stats.rows,
        "batches": stats.batches,
        "ceiling_rows_per_s": round(ceiling),
        "ceiling_seconds": round(ceiling_s, 3),
        "ratio": round(events_per_s / ceiling, 3),
    }


def _ceiling(url: str, topic: str, published: list[dict[str, Any]], batch_rows: int) -> float:
    spec = table_for(DOSSIER_EVENTS)
    batches: list[ColumnBatch] = []
    for start in range(0, len(published), batch_rows):
        rows = TableRows(spec)
        for offset, event in enumerate(published[start : start + batch_rows], start):
            rows.add(event, (topic, 0, offset), 1)
        batch = rows.batch()
        batches.append(ColumnBatch("bench_ceiling", batch.names, batch.types, batch.data))
    with connect(url) as warehouse:
        warehouse.execute(f"CREATE TABLE bench_ceiling AS {spec.name}")
        started = time.monotonic()
        for batch in batches:
            warehouse.insert_columns(batch)
        elapsed = time.monotonic() - started
        warehouse.execute("DROP TABLE bench_ceiling")
    return elapsed


@contextmanager
def fresh_warehouse(backend: str, settings: Settings) -> Iterator[str]:
    """An empty warehouse of ``backend``, removed afterwards."""
    if backend == "chdb":
        with tempfile.TemporaryDirectory(prefix="bench-chdb-") as path:
            yield f"chdb://{Path(path) / 'warehouse'}"
        return
    server = _server_url(settings)
    database = f"bench_{uuid.uuid4().hex[:10]}"
    with connect(server) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    try:
        yield server.rsplit("/", 1)[0] + f"/{database}"
    finally:
        with connect(server) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database}")


def _server_url(settings: Settings) -> str:
    if settings.warehouse_url and settings.warehouse_url.startswith("clickhouse://"):
        return settings.warehouse_url
    from dossierhub.stack import load_ports

    ports = load_ports(settings.home) or {}
    if "clickhouse" not in ports:
        from dossierhub.errors import ConfigError

        raise ConfigError(
            "DOSSIERHUB_WAREHOUSE_URL",
            settings.warehouse_url,
            "no ClickHouse server to benchmark: set a clickhouse:// URL or run `stack up`",
        )
    return f"clickhouse://default@127.0.0.1:{ports['clickhouse']}/default"
