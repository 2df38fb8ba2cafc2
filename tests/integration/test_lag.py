"""``dossierhub lag`` on the real broker: a consumer paused while records keep arriving goes
WARN then ERR (its partitions STALL), and OK again once resumed and caught up; its message lag
equals what Kafka's own consumer-groups tool shows for the group at the same moment.

Statuses are evaluated on real readings of the broker; only the clock the window sees is given
(10 s between readings), so the test does not wait out real stall times.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from dossierhub.monitoring import GroupStatus, LagMonitor, LagReader, LagReport, StatusPolicy
from dossierhub.stack import Stack
from dossierhub.stack._toolchain import find_java
from tests.helpers import REPO, run_cli

pytestmark = pytest.mark.timeout(300)

PARTITIONS = 3
#: the records the consumer has not read yet are stamped this long ago
BACKDATE_S = 600.0


@dataclass
class Paused:
    topic: str
    group: str
    consumer: Consumer
    producer: Producer

    def produce(self, per_partition: int, *, age_s: float = 0.0) -> None:
        stamp = int((time.time() - age_s) * 1000)
        for partition in range(PARTITIONS):
            for i in range(per_partition):
                self.producer.produce(
                    self.topic, f"v{i}".encode(), partition=partition, timestamp=stamp
                )
        assert self.producer.flush(30) == 0, "records not acknowledged within 30 s"


def _consume(consumer: Consumer, count: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    seen = 0
    while seen < count:
        assert time.monotonic() < deadline, f"consumed {seen} of {count} in {timeout_s}s"
        message = consumer.poll(1.0)
        if message is not None and message.error() is None:
            seen += 1
    consumer.commit(asynchronous=False)


@pytest.fixture
def paused(stack: Stack) -> Iterator[Paused]:
    bootstrap = stack.kafka.bootstrap
    topic, group = f"test.lag.{uuid.uuid4().hex[:8]}", f"test-lag-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])[
        topic
    ].result(30)
    producer = Producer({"bootstrap.servers": bootstrap})
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    state = Paused(topic, group, consumer, producer)
    try:
        state.produce(4)
        _consume(consumer, 4 * PARTITIONS)
        consumer.pause(consumer.assignment())
        yield state
    finally:
        consumer.close()


def _kafka_tool_lag(stack: Stack, group: str) -> dict[tuple[str, int], tuple[int, int, int]]:
    """(topic, partition) → (current offset, log end, lag) as Kafka's consumer-groups tool
    prints them, run from the broker's own jars."""
    argv = [
        find_java(stack.settings.java),
        "-cp",
        stack.kafka.classpath,
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        "--bootstrap-server",
        stack.kafka.bootstrap,
        "--describe",
        "--group",
        group,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {}
    for line in done.stdout.splitlines():
        cells = line.split()
        if cells[:1] == [group]:  # GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG …
            rows[(cells[1], int(cells[2]))] = (int(cells[3]), int(cells[4]), int(cells[5]))
    return rows


def _group(report: LagReport, group: str) -> Any:
    (found,) = [g for g in report.groups if g.group == group]
    return found


def test_paused_consumer_warns_then_errs_and_recovers(stack: Stack, paused: Paused) -> None:
    # the window's clock: real time at the start, then 10 s per reading (time lag is measured
    # against it too, so it stays a wall clock)
    base, clock = time.time(), [0.0]
    monitor = LagMonitor(
        LagReader({"bootstrap.servers": stack.kafka.bootstrap}),
        StatusPolicy(stall_after_s=30, stop_after_s=120, growth_samples=3),
        groups=[paused.group],
        clock=lambda: base + clock[0],
    )
    lags, statuses = [], []
    for step, age in enumerate((BACKDATE_S, 0.0, 0.0, 0.0)):
        paused.produce(step + 1, age_s=age)
        clock[0] = step * 10.0
        group = _group(monitor.poll(), paused.group)
        lags.append(group.lag)
        statuses.append((str(group.status), sorted({str(p.status) for p in group.partitions})))
    assert lags == [3, 9, 18, 30], "lag grows by what was produced: 1, 2, 3, 4 per partition"
    assert statuses == [
        ("OK", ["OK"]),
        ("OK", ["OK"]),
        ("WARN", ["WARN"]),  # three growing readings
        ("ERR", ["STALL"]),  # owned, committed offset still for 30 s
    ]
    stalled = _group(monitor.poll(), paused.group)
    assert all(p.lag.assigned for p in stalled.partitions)
    # time lag: the oldest unconsumed records were stamped BACKDATE_S ago
    assert all(p.time_lag_s >= BACKDATE_S for p in stalled.partitions)

    paused.consumer.resume(paused.consumer.assignment())
    _consume(paused.consumer, 30)
    clock[0] = 50.0
    recovered = _group(monitor.poll(), paused.group)
    assert (recovered.status, recovered.lag, recovered.time_lag_s) == (GroupStatus.OK, 0, 0.0)
    assert {str(p.status) for p in recovered.partitions} == {"OK"}


def test_lag_figures_equal_kafkas_consumer_groups_tool(stack: Stack, paused: Paused) -> None:
    paused.produce(5, age_s=BACKDATE_S)  # paused: nothing moves while both tools read
    cli = run_cli("lag", "--group", paused.group, "--format", "json", home=stack.settings.home)
    assert cli.returncode == 0, cli.stderr
    kafka = _kafka_tool_lag(stack, paused.group)

    (group,) = json.loads(cli.stdout)["groups"]
    ours = {
        (p["topic"], p["partition"]): (p["committed"], p["end"], p["lag"])
        for p in group["partitions"]
    }
    assert ours == kafka == {(paused.topic, p): (4, 9, 5) for p in range(PARTITIONS)}
    assert group["lag"] == 5 * PARTITIONS
    assert group["time_lag_s"] >= BACKDATE_S
    assert {p["status"] for p in group["partitions"]} == {"OK"}  # one reading: no trend yet


def test_every_group_is_read_without_naming_it(stack: Stack, paused: Paused) -> None:
    paused.produce(2, age_s=BACKDATE_S)
    reader = LagReader({"bootstrap.servers": stack.kafka.bootstrap})
    everything = reader.read()  # what the exporter does without --group
    mine = [p for p in everything if p.group == paused.group]
    assert [(p.topic, p.partition, p.committed, p.end) for p in mine] == [
        (paused.topic, p, 4, 6) for p in range(PARTITIONS)
    ]
    assert all(p.oldest_ms is not None for p in mine)
    # the probe that read those timestamps never joined a group
    assert "dossierhub-lag-probe" not in {p.group for p in reader.read()}
    admin = AdminClient({"bootstrap.servers": stack.kafka.bootstrap})
    listed = {g.group_id for g in admin.list_consumer_groups().result(30).valid}
    assert paused.group in listed
    assert "dossierhub-lag-probe" not in listed


def test_watch_prints_a_json_line_per_reading(stack: Stack, paused: Paused) -> None:
    argv = [sys.executable, "-m", "dossierhub.cli", "lag", "--watch", "--format", "json"]
    argv += ["--interval", "0.2", "--group", paused.group]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIERHUB_")}
    env["DOSSIERHUB_HOME"] = str(stack.settings.home)
    process = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        readings = [json.loads(process.stdout.readline()) for _ in range(3)]
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0  # Ctrl-C ends a watch normally
    assert [r["window_samples"] for r in readings] == [1, 2, 3]
    assert all(r["groups"][0]["group"] == paused.group for r in readings)
