"""What the hub's metrics are called, for the tests of the rules and the dashboard."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from dossierhub.monitoring.lag import PartitionLag
from dossierhub.monitoring.metrics import LagMetrics, StageMetrics
from dossierhub.monitoring.report import build_report
from dossierhub.monitoring.status import LagWindow, StatusPolicy

#: series Prometheus adds itself to every target
_SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def exported_series_names() -> set[str]:
    """Every series name the exporter and the stages expose (``_total``, ``_bucket``… included),
    rendered from metrics holding one value each."""
    stages = StageMetrics()
    stages.event_in("validator")
    stages.event_out("validator", "t")
    stages.dead_letter("validator", "r")
    stages.sink_inserted("t", rows=1, seconds=0.1)
    stages.sink_retried("t")
    stages.warehouse_newest("t", datetime.now(UTC))
    stages.open_dossiers.labels("a").set(1)
    stages.overdue_without_apology.labels("a").set(1)
    lag = LagMetrics("c")
    lags = [PartitionLag("g", "t", 0, 1, 0, 2, oldest_ms=0, assigned=True)]
    window = LagWindow(StatusPolicy())
    window.add(lags, 1.0)
    lag.update(build_report(lags, window, 1.0))
    names = set(_SCRAPE_SERIES)
    for text in (stages.render(), lag.render()):
        for family in text_string_to_metric_families(text.decode()):
            names.update(sample.name for sample in family.samples)
    return names


_NAME = re.compile(r"\b((?:kafka|dossierhub)_[a-z_]+|up)\b")


def names_in_expression(expr: str) -> set[str]:
    """The hub's series names a PromQL expression refers to (label names such as
    ``cluster_name`` are not prefixed kafka_/dossierhub_, so they do not match)."""
    return set(_NAME.findall(expr))


_COORDINATOR_NOT_READY = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
}


def commit_offset(bootstrap: str, group: str, tp: TopicPartition, timeout_s: float = 60) -> None:
    """Commit ``tp.offset`` for ``group`` without joining it; retried while the broker is not
    ready to coordinate groups yet (a fresh cluster creates __consumer_offsets on first use)."""
    deadline = time.monotonic() + timeout_s
    committer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        while True:
            try:
                committer.commit(offsets=[tp], asynchronous=False)
                return
            except KafkaException as exc:
                error = exc.args[0]
                waiting = error.retriable() or error.code() in _COORDINATOR_NOT_READY
                if not waiting or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        committer.close()
