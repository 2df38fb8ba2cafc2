"""``dossierhub warehouse rebuild``: a replay from offset 0 into a fresh warehouse equals the
live one, table by table; a difference is found; a non-empty target is refused."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from dossierhub.settings import Settings
from dossierhub.stack import Stack
from schemas.topics import DOSSIER_EVENTS
from sinks.rebuild import compare, fingerprints
from sinks.sink import Sink, SinkOptions
from sinks.warehouse import connect
from tests.helpers import run_cli
from tests.sink_helpers import create_topic, publish, synthetic_events

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("applied_contract")]


def test_the_rebuilt_warehouse_equals_the_live_one(
    stack: Stack, settings: Settings, warehouse_url: str, tmp_path: Path
) -> None:
    topic = f"test.sink.rebuild.{uuid.uuid4().hex[:10]}"
    create_topic(stack.kafka.bootstrap, topic, partitions=3)
    publish(stack.kafka.bootstrap, stack.registry.url, topic, list(synthetic_events(1_200)))
    live_settings = Settings(home=settings.home, warehouse_url=warehouse_url, sink_batch_rows=300)
    routes = {topic: DOSSIER_EVENTS}
    Sink(
        live_settings, SinkOptions.from_settings(live_settings, routes=routes, group_id=topic)
    ).run_until_idle(timeout_s=120)

    if warehouse_url.startswith("chdb://"):
        into = f"chdb://{tmp_path / 'rebuilt'}"
    else:
        into = warehouse_url.rsplit("/", 1)[0] + f"/rebuilt_{uuid.uuid4().hex[:10]}"
    env = {
        "DOSSIERHUB_WAREHOUSE_URL": warehouse_url,
        "DOSSIERHUB_KAFKA_BOOTSTRAP": stack.kafka.bootstrap,
        "DOSSIERHUB_REGISTRY_URL": stack.registry.url,
        "DOSSIERHUB_SINK_BATCH_ROWS": "500",  # other batches than the live load: other ranges
    }
    args = ("warehouse", "rebuild", "--into", into, "--route", f"{topic}={DOSSIER_EVENTS}")
    result = run_cli(*args, "--format", "json", home=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["loaded"]["rows"] == 1_200
    tables = {t["table"]: t for t in report["tables"]}
    assert tables["events_dossier"]["rebuilt_rows"] == 1_200
    assert all(t["equal"] for t in report["tables"]), report["tables"]

    with connect(into) as rebuilt:  # a lost row is a difference
        rebuilt.execute("ALTER TABLE events_dossier DELETE WHERE src_offset = 7")
        deadline = time.monotonic() + 60
        while rebuilt.query("SELECT count() FROM events_dossier")[0][0] == 1_200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        rebuilt_tables = fingerprints(rebuilt)
    with connect(warehouse_url) as live:  # one chDB path per process at a time
        differing = [c.table for c in compare(fingerprints(live), rebuilt_tables) if not c.equal]
    assert differing == ["events_dossier"]

    again = run_cli(*args, home=tmp_path, env=env)
    assert again.returncode == 2
    assert "rebuild into a fresh one" in again.stderr
