"""ClickHouse unavailable or killed: the sink backs off and retries, logs the state changes
only (not every retry), stores nothing twice and catches up once the server is there.

The server here is a second ClickHouse of its own (not the session's), so stopping and
starting it disturbs no other test.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from dossierhub.settings import Settings
from dossierhub.stack import Stack
from schemas.topics import DOSSIER_EVENTS
from sinks.sink import Sink, SinkOptions, SinkStats
from sinks.warehouse import WarehouseError, connect
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


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _server_count(url: str, topic: str) -> int:
    try:
        with connect(url) as warehouse:
            return int(
                warehouse.query(f"SELECT count() FROM events_dossier WHERE src_topic = '{topic}'")[
                    0
                ][0]
            )
    except WarehouseError:
        return -1


def test_clickhouse_killed_mid_load_loses_and_repeats_nothing(
    stack: Stack, settings: Settings, tmp_path: Path
) -> None:
    """kill -9 of the ClickHouse server while the sink loads, then a restart: the batch in
    flight is settled and redone; every event is stored exactly once."""
    topic = f"test.sink.chkill.{uuid.uuid4().hex[:10]}"
    create_topic(stack.kafka.bootstrap, topic, partitions=3)
    publish(stack.kafka.bootstrap, stack.registry.url, topic, list(synthetic_events(6_000)))
    own = Stack(Settings(home=tmp_path / "ch")).clickhouse
    own.start()
    local = Settings(
        home=settings.home,
        warehouse_url=own.url,
        kafka_bootstrap=stack.kafka.bootstrap,
        registry_url=stack.registry.url,
    )
    options = SinkOptions(
        batch_rows=150, routes={topic: DOSSIER_EVENTS}, group_id=topic, max_backoff_s=0.5
    )
    sink = Sink(local, options)
    stop = threading.Event()
    runner = threading.Thread(target=sink.run, args=(stop,))
    runner.start()
    try:
        _wait(lambda: sink.stats.rows >= 1_500, 120, "a part of the load")
        own.process.kill9()
        _wait(lambda: sink.stats.retries >= 2, 60, "the sink to retry")
        own.start()
        _wait(lambda: _server_count(own.url, topic) == 6_000, 180, "the rest of the load")
    finally:
        stop.set()
        runner.join(timeout=60)
        try:
            with connect(own.url) as warehouse:
                rows = warehouse.query(
                    "SELECT count(), uniqExact(src_partition, src_offset) FROM events_dossier "
                    f"WHERE src_topic = '{topic}'"
                )
        finally:
            own.stop()
    assert not runner.is_alive()
    assert rows == [(6_000, 6_000)]
