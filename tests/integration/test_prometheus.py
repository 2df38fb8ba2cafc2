"""A real Prometheus (Debian's package) with deploy/prometheus/'s config and rules scrapes
``dossierhub exporter`` on the session stack, and a lag query returns the group's lag."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from dossierhub.stack import Stack
from tests.helpers import REPO
from tests.monitoring_helpers import commit_offset

pytestmark = pytest.mark.timeout(240)

WAIT_S = 90.0  # for each process to answer, and for the query to show the lag


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _wait_until(what: str, check: Any, process: subprocess.Popen[str]) -> Any:
    deadline = time.monotonic() + WAIT_S
    last: object = None
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{what}: process exited with {process.returncode}"
        try:
            result = check()
        except OSError as exc:  # not listening yet
            last = exc
        else:
            if result:
                return result
            last = result
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {WAIT_S}s (last: {last!r})")


@pytest.fixture
def lagging_group(stack: Stack) -> str:
    """A group committed at offset 2 of 7 on a one-partition topic: lag 5."""
    bootstrap = stack.kafka.bootstrap
    topic, group = f"test.prom.{uuid.uuid4().hex[:8]}", f"test-prom-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the result
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(7):
        producer.produce(topic, f"v{i}".encode(), partition=0)
    assert producer.flush(30) == 0
    commit_offset(bootstrap, group, TopicPartition(topic, 0, 2))
    return group


@pytest.fixture
def exporter(stack: Stack, lagging_group: str) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIERHUB_")}
    env["DOSSIERHUB_HOME"] = str(stack.settings.home)
    # the group has no member: it would turn STOP after the stall time; the query below
    # expects OK however slow this machine is
    env["DOSSIERHUB_LAG_STALL_SECONDS"] = env["DOSSIERHUB_LAG_STOP_SECONDS"] = "3600"
    argv = [sys.executable, "-m", "dossierhub.cli", "exporter", "--port", "0"]
    argv += ["--interval", "1", "--group", lagging_group, "--cluster-name", "test"]
    process = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the first line names the URL, or EOF if it died
        assert line.startswith("exporter: serving "), f"exporter said {line!r}"
        url = line.split()[-1]
        _wait_until("exporter /healthz", lambda: _get(url.replace("/metrics", "/healthz")), process)
        yield url.removeprefix("http://").removesuffix("/metrics")
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture
def prometheus(exporter: str, tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not found: deploy/local/setup.sh installs Debian's prometheus")
    source = REPO / "deploy" / "prometheus"
    shutil.copytree(source / "rules", tmp_path / "rules")
    # the deploy file itself, pointed at this test's exporter and scraping every second
    config = (source / "prometheus.yml").read_text()
    assert "127.0.0.1:9308" in config
    assert "scrape_interval: 15s" in config
    config = config.replace("127.0.0.1:9308", exporter).replace(
        "scrape_interval: 15s", "scrape_interval: 1s"
    )
    (tmp_path / "prometheus.yml").write_text(config)
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(
            "prometheus /-/ready",
            lambda: urllib.request.urlopen(f"{url}/-/ready", timeout=5).status == 200,
            process,
        )
        yield url
    finally:
        process.terminate()
        process.wait(30)


def _query(url: str, promql: str) -> list[dict[str, Any]]:
    answer = _get(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def test_prometheus_scrapes_the_exporter_and_sees_the_lag(
    prometheus: str, lagging_group: str
) -> None:
    promql = f'kafka_consumergroup_group_lag{{job="dossierhub-exporter", group="{lagging_group}"}}'
    deadline = time.monotonic() + WAIT_S
    result: list[dict[str, Any]] = []
    while not result and time.monotonic() < deadline:
        result = _query(prometheus, promql)
        time.sleep(0.5)
    assert len(result) == 1, f"no series for {promql} within {WAIT_S}s"
    assert result[0]["metric"]["cluster_name"] == "test"
    assert result[0]["metric"]["partition"] == "0"
    assert result[0]["value"][1] == "5"
    (up,) = _query(prometheus, 'up{job="dossierhub-exporter"}')
    assert up["value"][1] == "1"
    status = _query(prometheus, f'dossierhub_consumergroup_status{{group="{lagging_group}"}} == 1')
    assert [s["metric"]["status"] for s in status] == ["OK"]  # a steady lag: no trend, no stall
    rules = _get(f"{prometheus}/api/v1/rules")["data"]["groups"]
    assert sum(len(g["rules"]) for g in rules) == 8
