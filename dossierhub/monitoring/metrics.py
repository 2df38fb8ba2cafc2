"""The hub's Prometheus metrics: one place for their names, labels and meaning.

Lag metrics keep the names of kafka-lag-exporter (archived in 2024), which operators' alerts
and dashboards already use: ``kafka_consumergroup_group_lag``, ``…_lag_seconds``,
``…_offset``, ``…_max_lag``, ``…_max_lag_seconds``, ``…_sum_lag``,
``kafka_partition_latest_offset`` and ``kafka_partition_earliest_offset``, labelled
``cluster_name, group, topic, partition`` (its ``member_host``/``consumer_id``/``client_id``
labels are left out: they change at every rebalance and split a series in two). What it did not
have is prefixed ``dossierhub_``.

Each process builds its own metrics on its own registry and serves ``render()``:

* :class:`StageMetrics` — what the processors and the sink count (events in/out per stage,
  dead letters per reason, sink batches, warehouse freshness, open and overdue dossiers);
* :class:`LagMetrics` — the lag of consumer groups from a :class:`LagReport` (the exporter).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .report import LagReport
from .status import GroupStatus, PartitionStatus

__all__ = ["CONTENT_TYPE", "LagMetrics", "StageMetrics", "render"]

#: the Content-Type header to serve :func:`render`'s bytes with
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

#: rows per insert: the sink batches up to tens of thousands
_BATCH_BUCKETS: Final = (1, 10, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000)
#: seconds per insert, from an in-process chDB insert to a slow server one
_INSERT_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def render(registry: CollectorRegistry) -> bytes:
    """The text exposition of ``registry``, to serve as ``CONTENT_TYPE``."""
    return generate_latest(registry)


class StageMetrics:
    """Counters and gauges of the hub's own stages, on ``registry`` (a fresh one by default).

    ``stage`` label values in use: ``validator``, ``dossier``, ``aggregates``, ``sink``.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.events_in = Counter(
            "dossierhub_events_in", "Records a stage read.", ["stage"], registry=r
        )
        self.events_out = Counter(
            "dossierhub_events_out",
            "Records a stage wrote, by destination topic (or table for the sink).",
            ["stage", "topic"],
            registry=r,
        )
        self.dead_letters = Counter(
            "dossierhub_deadletter",
            "Records sent to hub.deadletter, by stage and dh.reason header.",
            ["stage", "reason"],
            registry=r,
        )
        self.inbound_rejected = Counter(
            "dossierhub_inbound_rejected",
            "Inbound records dead-lettered, by the agency whose topic they arrived on and "
            "dh.reason (agency_mismatch: an event claiming another agency than its topic's).",
            ["agency", "reason"],
            registry=r,
        )
        self.sink_batch_size = Histogram(
            "dossierhub_sink_batch_size",
            "Rows per warehouse insert.",
            ["table"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.sink_insert_seconds = Histogram(
            "dossierhub_sink_insert_seconds",
            "Duration of one warehouse insert (with its offset bookkeeping).",
            ["table"],
            buckets=_INSERT_BUCKETS,
            registry=r,
        )
        self.sink_rows = Counter(
            "dossierhub_sink_rows_inserted",
            "Rows inserted into the warehouse.",
            ["table"],
            registry=r,
        )
        self.sink_last_insert = Gauge(
            "dossierhub_sink_last_insert_timestamp_seconds",
            "When the sink last inserted a batch (Unix time).",
            ["table"],
            registry=r,
        )
        self.sink_retries = Counter(
            "dossierhub_sink_exactly_once_retries",
            "Batches retried by the exactly-once protocol (insert repeated, deduplicated).",
            ["table"],
            registry=r,
        )
        self.open_dossiers = Gauge(
            "dossierhub_open_dossiers",
            "Dossiers received and not yet closed.",
            ["agency"],
            registry=r,
        )
        self.overdue_without_apology = Gauge(
            "dossierhub_overdue_without_apology_dossiers",
            "Overdue dossiers for which no apology letter was issued.",
            ["agency"],
            registry=r,
        )
        self._freshness = _Freshness()
        r.register(self._freshness)

    def event_in(self, stage: str, count: int = 1) -> None:
        self.events_in.labels(stage).inc(count)

    def event_out(self, stage: str, topic: str, count: int = 1) -> None:
        self.events_out.labels(stage, topic).inc(count)

    def dead_letter(self, stage: str, reason: str, count: int = 1) -> None:
        self.dead_letters.labels(stage, reason).inc(count)

    def rejected_from(self, agency: str, reason: str) -> None:
        """One record from ``agency``'s inbound topic dead-lettered for ``reason``."""
        self.inbound_rejected.labels(agency, reason).inc()

    def sink_inserted(self, table: str, rows: int, seconds: float) -> None:
        """One committed insert of ``rows`` rows that took ``seconds``."""
        self.sink_batch_size.labels(table).observe(rows)
        self.sink_insert_seconds.labels(table).observe(seconds)
        self.sink_rows.labels(table).inc(rows)
        self.sink_last_insert.labels(table).set(time.time())

    def sink_retried(self, table: str) -> None:
        self.sink_retries.labels(table).inc()

    def warehouse_newest(self, topic: str, event_time: datetime) -> None:
        """The newest event time now stored from ``topic``; freshness is computed from it at
        every scrape, so it keeps growing while nothing new arrives."""
        self._freshness.set(topic, event_time.timestamp())

    def render(self) -> bytes:
        return render(self.registry)


class _Freshness(Collector):
    """``dossierhub_warehouse_newest_event_timestamp_seconds`` as set, and
    ``dossierhub_warehouse_freshness_seconds`` = now - that, at scrape time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._newest: dict[str, float] = {}

    def set(self, topic: str, timestamp: float) -> None:
        with self._lock:
            self._newest[topic] = max(timestamp, self._newest.get(topic, timestamp))

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            newest = dict(self._newest)
        now = time.time()
        stamp = GaugeMetricFamily(
            "dossierhub_warehouse_newest_event_timestamp_seconds",
            "Event time of the newest event stored in the warehouse, per source topic.",
            labels=["topic"],
        )
        age = GaugeMetricFamily(
            "dossierhub_warehouse_freshness_seconds",
            "Now minus the newest event time stored in the warehouse, per source topic.",
            labels=["topic"],
        )
        for topic, timestamp in sorted(newest.items()):
            stamp.add_metric([topic], timestamp)
            age.add_metric([topic], max(0.0, now - timestamp))
        yield stamp
        yield age


class LagMetrics(Collector):
    """Consumer-group lag from the latest :class:`LagReport`, in kafka-lag-exporter's names.

    Every scrape renders one report whole (no half-updated label sets), and a group or
    partition that disappeared disappears from the metrics with the next report.
    """

    def __init__(self, cluster_name: str, registry: CollectorRegistry | None = None) -> None:
        self.cluster_name = cluster_name
        self.registry = registry if registry is not None else CollectorRegistry()
        self._lock = threading.Lock()
        self._report: LagReport | None = None
        self.poll_seconds = Gauge(
            "dossierhub_lag_poll_seconds",
            "Duration of the last lag reading.",
            registry=self.registry,
        )
        self.poll_errors = Counter(
            "dossierhub_lag_poll_errors", "Lag readings that failed.", registry=self.registry
        )
        self.registry.register(self)

    def update(self, report: LagReport) -> None:
        with self._lock:
            self._report = report

    def render(self) -> bytes:
        return render(self.registry)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            report = self._report
        p_labels = ["cluster_name", "group", "topic", "partition"]
        g_labels = ["cluster_name", "group"]
        t_labels = ["cluster_name", "topic", "partition"]
        families = {
            "offset": GaugeMetricFamily(
                "kafka_consumergroup_group_offset",
                "Last committed offset of a consumer group on a partition.",
                labels=p_labels,
            ),
            "lag": GaugeMetricFamily(
                "kafka_consumergroup_group_lag",
                "Messages a consumer group is behind on a partition.",
                labels=p_labels,
            ),
            "lag_s": GaugeMetricFamily(
                "kafka_consumergroup_group_lag_seconds",
                "Age of the oldest record a consumer group has not consumed on a partition.",
                labels=p_labels,
            ),
            "max_lag": GaugeMetricFamily(
                "kafka_consumergroup_group_max_lag",
                "Largest partition lag of a consumer group.",
                labels=g_labels,
            ),
            "max_lag_s": GaugeMetricFamily(
                "kafka_consumergroup_group_max_lag_seconds",
                "Largest partition time lag of a consumer group.",
                labels=g_labels,
            ),
            "sum_lag": GaugeMetricFamily(
                "kafka_consumergroup_group_sum_lag",
                "Sum of a consumer group's partition lags.",
                labels=g_labels,
            ),
            "latest": GaugeMetricFamily(
                "kafka_partition_latest_offset", "Log end offset of a partition.", labels=t_labels
            ),
            "earliest": GaugeMetricFamily(
                "kafka_partition_earliest_offset",
                "Log start offset of a partition.",
                labels=t_labels,
            ),
            "group_status": GaugeMetricFamily(
                "dossierhub_consumergroup_status",
                "1 for a consumer group's current Burrow-style status (OK, WARN, ERR), else 0.",
                labels=[*g_labels, "status"],
            ),
            "partition_status": GaugeMetricFamily(
                "dossierhub_consumergroup_partition_status",
                "1 for a partition's current status (OK, WARN, STALL, STOP, REWIND), else 0.",
                labels=[*p_labels, "status"],
            ),
        }
        if report is not None:
            self._fill(report, families)
        yield from families.values()

    def _fill(self, report: LagReport, families: dict[str, GaugeMetricFamily]) -> None:
        cluster = self.cluster_name
        partitions_seen: set[tuple[str, int]] = set()
        for group in report.groups:
            g = [cluster, group.group]
            families["sum_lag"].add_metric(g, group.lag)
            families["max_lag"].add_metric(g, max((p.lag.lag for p in group.partitions), default=0))
            if group.time_lag_s is not None:
                families["max_lag_s"].add_metric(g, group.time_lag_s)
            for status in GroupStatus:
                families["group_status"].add_metric([*g, status], float(group.status == status))
            for part in group.partitions:
                p = part.lag
                labels = [*g, p.topic, str(p.partition)]
                if p.committed is not None:
                    families["offset"].add_metric(labels, p.committed)
                families["lag"].add_metric(labels, p.lag)
                if part.time_lag_s is not None:
                    families["lag_s"].add_metric(labels, part.time_lag_s)
                for pstatus in PartitionStatus:
                    families["partition_status"].add_metric(
                        [*labels, pstatus], float(part.status == pstatus)
                    )
                if (p.topic, p.partition) not in partitions_seen:
                    partitions_seen.add((p.topic, p.partition))
                    t = [cluster, p.topic, str(p.partition)]
                    families["latest"].add_metric(t, p.end)
                    families["earliest"].add_metric(t, p.start)
