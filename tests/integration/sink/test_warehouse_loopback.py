"""chDB allows one process per database path: while a sink holds the embedded warehouse,
``dossierhub warehouse query`` still answers, through the holder's loopback server."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from dossierhub.stack import Stack
from schemas.topics import DOSSIER_EVENTS
from sinks.warehouse.loopback import ENDPOINT_FILE
from tests.helpers import REPO, run_cli
from tests.sink_helpers import create_topic, publish, synthetic_events

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("applied_contract")]


def _count(home: Path, env: dict[str, str], topic: str) -> int:
    sql = f"SELECT count() AS n FROM events_dossier WHERE src_topic = '{topic}'"
    result = run_cli("warehouse", "query", sql, "--format", "json", home=home, env=env)
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)[0]["n"])


def test_queries_while_the_sink_holds_the_embedded_warehouse(stack: Stack, tmp_path: Path) -> None:
    topic = f"test.sink.loopback.{uuid.uuid4().hex[:10]}"
    create_topic(stack.kafka.bootstrap, topic, partitions=2)
    publish(stack.kafka.bootstrap, stack.registry.url, topic, list(synthetic_events(1_500)))
    path = tmp_path / "warehouse"
    env = {
        "DOSSIERHUB_WAREHOUSE_URL": f"chdb://{path}",
        "DOSSIERHUB_KAFKA_BOOTSTRAP": stack.kafka.bootstrap,
        "DOSSIERHUB_REGISTRY_URL": stack.registry.url,
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIERHUB_")}
    sink = subprocess.Popen(
        [sys.executable, "-m", "dossierhub.cli", "sink", "--route", f"{topic}={DOSSIER_EVENTS}"],
        cwd=REPO,
        env={**clean, **env, "DOSSIERHUB_HOME": str(tmp_path), "DOSSIERHUB_LOG_LEVEL": "INFO"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in sink.stderr or []], daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        seen: list[str] = []
        while not any("read-only queries served" in line for line in seen):
            assert time.monotonic() < deadline, "".join(seen)
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                assert sink.poll() is None, "".join(seen)
        assert (path / ENDPOINT_FILE).exists()

        # the sink is still running: queries go through it until everything is there
        while (loaded := _count(tmp_path, env, topic)) < 1_500:
            assert time.monotonic() < deadline, loaded
            time.sleep(0.2)
        assert loaded == 1_500
        assert sink.poll() is None

        # anything but reading is refused by the server too
        refused = run_cli("warehouse", "query", "DROP TABLE sink_ranges", home=tmp_path, env=env)
        assert refused.returncode == 2
        # and a second process cannot open the path itself: that is why the server exists
        direct = run_cli("warehouse", "migrate", home=tmp_path, env=env)
        assert direct.returncode == 2
        assert "cannot open" in direct.stderr
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=60)
    assert sink.returncode == 0
    assert not (path / ENDPOINT_FILE).exists()
    assert _count(tmp_path, env, topic) == 1_500  # the sink is gone: opened directly
