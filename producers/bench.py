"""``dossierhub bench produce``: our Avro publisher against Kafka's own ProducerPerformance.

Both run in the same process tree, on the same broker, with the same producer settings
(idempotent, acks=all, lz4, linger 5 ms) and the same record size, one right after the other, so
the ratio means something on a shared, noisy machine where absolute numbers do not.
"""

from __future__ import annotations

import copy
import re
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic

from dossierhub.errors import HubError
from producers.publisher import Publisher, SchemaIdLookup
from schemas import encode, event_type, example_event

__all__ = ["PRODUCER_SETTINGS", "bench_produce", "parse_producer_performance"]

#: the settings both sides use; ours are also the Publisher's defaults
PRODUCER_SETTINGS = {
    "acks": "all",
    "enable.idempotence": "true",
    "compression.type": "lz4",
    "linger.ms": "5",
    "batch.size": "1000000",
}
_PERF_LINE = re.compile(
    r"(?P<records>\d+) records sent, (?P<rps>[\d.]+) records/sec \((?P<mbps>[\d.]+) MB/sec\)"
    r".*?(?P<p50>\d+) ms 50th.*?(?P<p99>\d+) ms 99th"
)


def _events(n: int) -> list[dict[str, Any]]:
    """``n`` distinct DossierReceived events (own dossier code, event id and minute)."""
    template = example_event("DossierReceived")
    events = []
    for i in range(n):
        event = copy.deepcopy(template)
        event["envelope"]["event_id"] = uuid.UUID(int=i + 1)
        event["dossier_code"] = f"000.00.15.H29-230315-{i:07d}"
        event["received_at"] = template["received_at"] + timedelta(seconds=i % 3600)
        events.append(event)
    return events


def parse_producer_performance(output: str) -> dict[str, float]:
    """The summary line of ProducerPerformance (the last one with records/sec)."""
    matches = list(_PERF_LINE.finditer(output))
    if not matches:
        raise HubError(f"ProducerPerformance printed no summary: {output.strip()[-300:]}")
    last = matches[-1]
    return {
        "records": float(last["records"]),
        "records_per_s": float(last["rps"]),
        "mb_per_s": float(last["mbps"]),
        "p50_ms": float(last["p50"]),
        "p99_ms": float(last["p99"]),
    }


def bench_produce(
    *,
    bootstrap: str,
    schema_id_of: SchemaIdLookup,
    java: str,
    kafka_classpath: str,
    events: int = 200_000,
    partitions: int = 3,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    ours_topic = f"hub.bench.produce.{uuid.uuid4().hex[:8]}"
    ref_topic = f"{ours_topic}.reference"
    futures = admin.create_topics(
        [
            NewTopic(t, num_partitions=partitions, replication_factor=1)
            for t in (ours_topic, ref_topic)
        ]
    )
    for future in futures.values():
        future.result(timeout=30)
    try:
        progress(f"bench produce: building {events} DossierReceived events")
        batch = _events(events)
        agency = batch[0]["envelope"]["agency_code"]
        publisher = Publisher(
            agency, bootstrap=bootstrap, schema_id_of=schema_id_of, topic=ours_topic
        )
        publisher.publish(batch[0])  # warm-up: registry lookup, compiled writer, connections
        publisher.flush()
        progress("bench produce: publishing through the SDK (validate, encode, send, ack)")
        started = time.perf_counter()
        for event in batch[1:]:
            publisher.publish(event)
        delivered = publisher.flush()
        elapsed = time.perf_counter() - started
        sent = delivered - 1
        # bytes per record: measured on a sample, encoding is deterministic
        known = event_type("DossierReceived")
        sample = batch[: min(1000, len(batch))]
        avg_size = sum(len(encode(e, 1, known.schema)) for e in sample) / len(sample)
        payload_bytes = int(avg_size * sent)

        progress("bench produce: Kafka's ProducerPerformance, same broker, settings and size")
        reference = _producer_performance(
            java, kafka_classpath, bootstrap, ref_topic, records=sent, size=round(avg_size)
        )
    finally:
        admin.delete_topics([ours_topic, ref_topic])
    events_per_s = sent / elapsed
    return {
        "benchmark": "produce",
        "events": sent,
        "event_type": "DossierReceived",
        "avg_record_bytes": round(avg_size, 1),
        "seconds": round(elapsed, 3),
        "events_per_s": round(events_per_s),
        "mb_per_s": round(payload_bytes / elapsed / 1_048_576, 2),
        "reference": "org.apache.kafka.tools.ProducerPerformance",
        "reference_records_per_s": round(reference["records_per_s"]),
        "reference_mb_per_s": reference["mb_per_s"],
        "ratio": round(events_per_s / reference["records_per_s"], 3),
        "producer_settings": PRODUCER_SETTINGS,
        "target": {"events_per_s": 100_000, "ratio": 0.5},
    }


def _producer_performance(
    java: str, classpath: str, bootstrap: str, topic: str, *, records: int, size: int
) -> dict[str, float]:
    props = [f"bootstrap.servers={bootstrap}", *(f"{k}={v}" for k, v in PRODUCER_SETTINGS.items())]
    argv = [
        java,
        "-Xmx512m",
        "-cp",
        classpath,
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--record-size",
        str(size),
        "--throughput",
        "-1",
        "--producer-props",
        *props,
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        raise HubError(f"ProducerPerformance failed: {result.stderr.strip()[-300:]}")
    return parse_producer_performance(result.stdout)
