"""``dossierhub health`` on the real broker: a consumer group that stopped fails the check,
and so does a dead-letter topic growing faster than allowed.

The earlier readings that the status and the growth rate compare against are written to the
state files a previous run would have left (an older lag sample, an older dead-letter count),
so the test needs no waiting."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from dossierhub.monitoring.health import dead_letter_state_path
from dossierhub.monitoring.lag import PartitionLag
from dossierhub.monitoring.state import save_window, window_path
from dossierhub.monitoring.status import LagWindow, StatusPolicy
from dossierhub.stack import Stack
from schemas.topics import DEADLETTER
from tests.helpers import run_cli
from tests.monitoring_helpers import commit_offset

pytestmark = pytest.mark.timeout(180)

THRESHOLDS = {"DOSSIERHUB_LAG_STALL_SECONDS": "30", "DOSSIERHUB_LAG_STOP_SECONDS": "60"}


def _lagging_group(bootstrap: str) -> tuple[str, str]:
    """A group without members, committed at 1 of 4 on a new one-partition topic."""
    topic, group = f"test.health.{uuid.uuid4().hex[:8]}", f"test-health-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(4):
        producer.produce(topic, f"v{i}".encode(), partition=0)
    assert producer.flush(30) == 0
    commit_offset(bootstrap, group, TopicPartition(topic, 0, 1))
    return topic, group


def _health(stack: Stack, *args: str) -> tuple[int, dict[str, dict[str, object]]]:
    result = run_cli("health", "--format", "json", *args, home=stack.settings.home, env=THRESHOLDS)
    assert "Traceback" not in result.stderr, result.stderr
    checks = {c["component"]: c for c in json.loads(result.stdout)["checks"]}
    return result.returncode, checks


@pytest.mark.usefixtures("applied_contract")
def test_a_stopped_group_and_a_dead_letter_burst_fail_health(stack: Stack) -> None:
    topic, group = _lagging_group(stack.kafka.bootstrap)

    code, checks = _health(stack, "--group", group)
    assert checks[f"group {group}"]["ok"] is True  # one reading: no trend yet
    assert (
        checks[f"group {group}"]["detail"]
        == "OK, lag 3, time lag " + str(checks[f"group {group}"]["detail"]).split("time lag ")[1]
    )
    assert checks["dead letters"]["ok"] is True

    # what a run 45 s ago would have left: the same committed offset, the same lag
    window = LagWindow(StatusPolicy(stall_after_s=30, stop_after_s=60))
    window.add([PartitionLag(group, topic, 0, 1, 0, 4, assigned=False)], time.time() - 45)
    save_window(window, window_path(stack.settings, stack.kafka.bootstrap))
    code, checks = _health(stack, "--group", group)
    assert code == 1
    assert checks[f"group {group}"]["ok"] is False
    assert str(checks[f"group {group}"]["detail"]).startswith("ERR, lag 3")
    assert f"{topic}[0] STOP" in str(checks[f"group {group}"]["detail"])  # nobody owns it

    # a dead-letter count 1,000 lower one minute ago: 1,000/min, above the default 60/min
    state = dead_letter_state_path(stack.settings, stack.kafka.bootstrap, DEADLETTER)
    total = json.loads(state.read_text())["total"]
    state.write_text(json.dumps({"at": time.time() - 60, "total": total - 1000}))
    code, checks = _health(stack, "--group", group, "--max-dead-letters-per-minute", "60")
    assert code == 1
    dead = checks["dead letters"]
    assert dead["ok"] is False
    assert "above 60/min" in str(dead["detail"])
