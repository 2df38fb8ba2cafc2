"""ClickHouse unavailable: the sink backs off and retries, logs the state changes only (not
every retry), stores nothing twice and catches up once the server is there.

The server here is a second ClickHouse of its own (not the session's), so stopping and
starting it disturbs no other test.
"""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path

import pytest

from dossierhub.settings import Settings
from dossierhub.stack import Stack
from schemas.topics import DOSSIER_EVENTS
from sinks.sink import Sink, SinkOptions, SinkStats
from sinks.warehouse import connect
from tests.sink_helpers import create_topic, publish, synthetic_events

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("applied_contract")]


def test_the_sink_waits_for_clickhouse_and_catches_up(
    stack: Stack, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    topic = f"test.sink.outage.{uuid.uuid4().hex[:10]}"
    create_topic(stack.kafka.bootstrap, topic, partitions=2)
    publish(stack.kafka.bootstrap, stack.registry.url, topic, list(synthetic_events(2_000)))

    own = Stack(Settings(home=tmp_path / "ch")).clickhouse  # ports chosen, nothing started
    local = Settings(
        home=settings.home,
        warehouse_url=own.url,
        sink_batch_rows=500,
        kafka_bootstrap=stack.kafka.bootstrap,
        registry_url=stack.registry.url,
    )
    options = SinkOptions(
        batch_rows=500, routes={topic: DOSSIER_EVENTS}, group_id=topic, max_backoff_s=0.5
    )
    result: list[SinkStats] = []
    sink = Sink(local, options)
    caplog.set_level(logging.INFO, logger="sinks.sink")
    runner = threading.Thread(target=lambda: result.append(sink.run_until_idle(timeout_s=240)))
    runner.start()
    try:
        # the sink is retrying against a port where nothing listens yet
        retrying = threading.Event()
        for _ in range(200):
            if sink.stats.retries >= 3:
                retrying.set()
                break
            runner.join(0.05)
        assert retrying.is_set(), "the sink never retried"
        own.start()
        runner.join(timeout=240)
    finally:
        own.stop()
    assert not runner.is_alive()
    stats = result[0]
    assert stats.rows == 2_000
    messages = [r.getMessage() for r in caplog.records if r.name == "sinks.sink"]
    assert sum("warehouse unavailable" in m for m in messages) == 1, messages
    assert sum("available again" in m for m in messages) == 1, messages
    own.start()
    try:
        with connect(own.url) as warehouse:
            rows = warehouse.query(
                f"SELECT count(), uniqExact(src_partition, src_offset) FROM events_dossier "
                f"WHERE src_topic = '{topic}'"
            )
        assert rows == [(2_000, 2_000)]
    finally:
        own.stop()
