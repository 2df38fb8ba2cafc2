"""Exactly once across ``kill -9``: 200,000 events, at least 20 random kills of the sink
process while it loads, then one run to the end — on each backend the warehouse holds every
event exactly once, and the aggregates equal those of the published events.

The kills are seeded (reproducible) and fall at a random moment after the sink reports it has
started, with small batches so that most land inside a batch: between the pending record, the
inserts and the confirmation. The test also requires that some kill did leave a pending range
behind to settle, so it cannot pass without exercising the recovery.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from dossierhub.stack import Stack
from schemas.topics import DOSSIER_EVENTS
from sinks.warehouse import connect
from tests.helpers import REPO
from tests.sink_helpers import create_topic, expected_counts, publish, synthetic_events

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.usefixtures("applied_contract"),
]

EVENTS = 200_000
KILLS = 20
BATCH_ROWS = 4_000
_STARTED = "sink started"


@pytest.fixture(scope="module")
def crash_topic(stack: Stack, applied_contract: None) -> tuple[str, list[dict[str, Any]]]:
    topic = f"test.sink.crash.{uuid.uuid4().hex[:10]}"
    create_topic(stack.kafka.bootstrap, topic)
    events = list(synthetic_events(EVENTS, seed=11))
    publish(stack.kafka.bootstrap, stack.registry.url, topic, events)
    return topic, events


def _sink_process(home: Path, url: str, topic: str, *, until_idle: bool) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIERHUB_")}
    env.update(
        DOSSIERHUB_HOME=str(home),
        DOSSIERHUB_WAREHOUSE_URL=url,
        DOSSIERHUB_SINK_BATCH_ROWS=str(BATCH_ROWS),
        DOSSIERHUB_LOG_LEVEL="INFO",
    )
    args = ["sink", "--route", f"{topic}={DOSSIER_EVENTS}", "--group", topic]
    if until_idle:
        args += ["--until-idle", "--timeout", "300"]
    return subprocess.Popen(
        [sys.executable, "-m", "dossierhub.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines(stream: Any) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put("")  # end of stream

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_started(lines: queue.Queue[str], log: list[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        log.append(line)
        if _STARTED in line:
            return
        if line == "":
            raise AssertionError("sink exited before starting:\n" + "".join(log[-30:]))
    raise AssertionError("sink did not start in time:\n" + "".join(log[-30:]))


def test_every_event_exactly_once_across_random_kills(
    stack: Stack,
    settings: Any,
    warehouse_url: str,
    crash_topic: tuple[str, list[dict[str, Any]]],
) -> None:
    topic, events = crash_topic
    rng = random.Random(20_261_126)
    log: list[str] = []
    for _ in range(KILLS):
        process = _sink_process(settings.home, warehouse_url, topic, until_idle=False)
        try:
            _wait_started(_lines(process.stderr), log)
            time.sleep(rng.uniform(0.05, 1.2))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL

    final = _sink_process(settings.home, warehouse_url, topic, until_idle=True)
    _out, err = final.communicate(timeout=400)
    assert final.returncode == 0, err[-3000:]

    where = f"src_topic = '{topic}'"
    with connect(warehouse_url) as warehouse:
        total, distinct = warehouse.query(
            f"SELECT count(), uniqExact(src_partition, src_offset) FROM events_dossier "
            f"WHERE {where}"
        )[0]
        assert (total, distinct) == (EVENTS, EVENTS)
        loaded = warehouse.query(
            "SELECT event_type, substring(dossier_code, 15, 6), count() FROM events_dossier "
            f"WHERE {where} GROUP BY event_type, substring(dossier_code, 15, 6)"
        )
        assert {(t, d): n for t, d, n in loaded} == dict(expected_counts(events))
        ids = warehouse.query(f"SELECT uniqExact(event_id) FROM events_dossier WHERE {where}")
        assert ids[0][0] == EVENTS
    # the kills did hit batches in flight: restarts found pending ranges and settled them
    settled = [
        line
        for line in [*log, *err.splitlines()]
        if "were stored; confirmed" in line or "to be loaded again" in line
    ]
    print(f"{len(settled)} pending range(s) settled after {KILLS} kills", file=sys.stderr)
    assert settled
