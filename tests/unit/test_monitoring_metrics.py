"""The lag report's JSON shape and the metrics' exposition text, without a broker."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from dossierhub.monitoring.lag import PartitionLag
from dossierhub.monitoring.metrics import LagMetrics, StageMetrics
from dossierhub.monitoring.report import LagReport, build_report
from dossierhub.monitoring.status import LagWindow, StatusPolicy

NOW = 1_800_000_000.0


def report_of(*lags: PartitionLag) -> LagReport:
    window = LagWindow(StatusPolicy(stall_after_s=10, stop_after_s=20))
    window.add(lags, NOW)
    return build_report(lags, window, NOW)


def samples(text: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


LAGS = (
    PartitionLag("g1", "t", 0, 10, 0, 15, oldest_ms=int((NOW - 42.5) * 1000), assigned=True),
    PartitionLag("g1", "t", 1, 7, 0, 7, assigned=True),
    PartitionLag("g2", "t", 0, None, 3, 5, assigned=False),
)


def test_report_json_has_the_documented_shape() -> None:
    report = report_of(*LAGS)
    data = report.as_dict()
    assert data["at"] == "2027-01-15T08:00:00+00:00"
    g1, g2 = data["groups"]
    assert {k: g1[k] for k in ("group", "status", "lag", "time_lag_s")} == {
        "group": "g1",
        "status": "OK",
        "lag": 5,
        "time_lag_s": 42.5,
    }
    assert g1["partitions"][0] == {
        "topic": "t",
        "partition": 0,
        "committed": 10,
        "end": 15,
        "lag": 5,
        "time_lag_s": 42.5,
        "start": 0,
        "status": "OK",
        "assigned": True,
    }
    assert g1["partitions"][1]["time_lag_s"] == 0.0  # caught up
    # never committed: lag from the log start; its record's time unknown and no history
    assert g2["partitions"][0]["committed"] is None
    assert (g2["lag"], g2["time_lag_s"]) == (2, None)


def test_lag_metrics_use_kafka_lag_exporter_names() -> None:
    metrics = LagMetrics("local")
    metrics.update(report_of(*LAGS))
    got = samples(metrics.render())
    p0 = frozenset({"cluster_name": "local", "group": "g1", "topic": "t", "partition": "0"}.items())
    assert got[("kafka_consumergroup_group_lag", p0)] == 5
    assert got[("kafka_consumergroup_group_lag_seconds", p0)] == 42.5
    assert got[("kafka_consumergroup_group_offset", p0)] == 10
    g1 = frozenset({"cluster_name": "local", "group": "g1"}.items())
    assert got[("kafka_consumergroup_group_sum_lag", g1)] == 5
    assert got[("kafka_consumergroup_group_max_lag", g1)] == 5
    assert got[("kafka_consumergroup_group_max_lag_seconds", g1)] == 42.5
    assert got[("dossierhub_consumergroup_status", g1 | {("status", "OK")})] == 1
    assert got[("dossierhub_consumergroup_status", g1 | {("status", "ERR")})] == 0
    assert got[("dossierhub_consumergroup_partition_status", p0 | {("status", "STALL")})] == 0
    t0 = frozenset({"cluster_name": "local", "topic": "t", "partition": "0"}.items())
    assert got[("kafka_partition_latest_offset", t0)] == 15
    # g2 never committed: no offset series, and no time lag it cannot know
    g2p0 = frozenset({"cluster_name": "local", "group": "g2", "topic": "t", "partition": "0"})
    assert ("kafka_consumergroup_group_offset", g2p0) not in got
    assert not any(
        n == "kafka_consumergroup_group_lag_seconds" and ("group", "g2") in labels
        for n, labels in got
    )


def test_a_group_gone_from_the_next_report_is_gone_from_the_metrics() -> None:
    metrics = LagMetrics("local")
    metrics.update(report_of(*LAGS))
    metrics.update(report_of(LAGS[2]))
    assert not any(("group", "g1") in labels for _, labels in samples(metrics.render()))


def test_stage_metrics_render_what_the_stages_count() -> None:
    metrics = StageMetrics()
    metrics.event_in("validator", 3)
    metrics.event_out("validator", "hub.dossier.intake", 2)
    metrics.dead_letter("validator", "undecodable")
    metrics.sink_inserted("dossier_events", rows=500, seconds=0.2)
    metrics.sink_retried("dossier_events")
    metrics.warehouse_newest("hub.dossier.events", datetime(2020, 1, 1, tzinfo=UTC))
    metrics.open_dossiers.labels("000.00.15.H29").set(12)
    got = samples(metrics.render())
    assert got[("dossierhub_events_in_total", frozenset({("stage", "validator")}))] == 3
    out = frozenset({("stage", "validator"), ("topic", "hub.dossier.intake")})
    assert got[("dossierhub_events_out_total", out)] == 2
    dlq = frozenset({("stage", "validator"), ("reason", "undecodable")})
    assert got[("dossierhub_deadletter_total", dlq)] == 1
    table = frozenset({("table", "dossier_events")})
    assert got[("dossierhub_sink_rows_inserted_total", table)] == 500
    assert got[("dossierhub_sink_batch_size_count", table)] == 1
    assert got[("dossierhub_sink_insert_seconds_sum", table)] == 0.2
    assert got[("dossierhub_sink_exactly_once_retries_total", table)] == 1
    topic = frozenset({("topic", "hub.dossier.events")})
    assert got[("dossierhub_warehouse_freshness_seconds", topic)] > 86400 * 365
    assert got[("dossierhub_open_dossiers", frozenset({("agency", "000.00.15.H29")}))] == 12
