from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dossierhub.errors import HubError
from dossierhub.settings import Settings
from dossierhub.stack import Stack, load_ports
from dossierhub.stack._process import OwnedProcess, port_in_use
from dossierhub.stack._service import render_template
from dossierhub.stack.kafka import _cluster_id


def test_ports_are_chosen_once_and_kept(tmp_path: Path) -> None:
    first = Stack(Settings(home=tmp_path)).ports
    assert len(set(first.values())) == len(first)
    assert load_ports(tmp_path) == first
    assert Stack(Settings(home=tmp_path)).ports == first
    assert not any(port_in_use(p) for p in first.values())


def test_two_homes_get_different_ports(tmp_path: Path) -> None:
    a = Stack(Settings(home=tmp_path / "a")).ports
    b = Stack(Settings(home=tmp_path / "b")).ports
    assert set(a.values()).isdisjoint(b.values())


def test_unknown_service_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(HubError, match="unknown service 'zookeeper'"):
        Stack(Settings(home=tmp_path)).status(["zookeeper"])


def test_cluster_id_is_kafka_shaped() -> None:
    for _ in range(100):
        cid = _cluster_id()
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", cid)


def test_template_requires_every_placeholder(tmp_path: Path) -> None:
    template = tmp_path / "t.in"
    template.write_text("port=${port}\ndir=${dir}\n")
    render_template(template, tmp_path / "out", port=1, dir="/x")
    assert (tmp_path / "out").read_text() == "port=1\ndir=/x\n"
    with pytest.raises(KeyError):
        render_template(template, tmp_path / "out2", port=1)


def test_owned_process_trusts_a_pid_only_with_its_marker(tmp_path: Path) -> None:
    marker = str(tmp_path / "svc")
    owned = OwnedProcess(tmp_path / "svc.pid", marker)
    assert owned.pid() is None
    assert not owned.stop()
    pid = owned.start(
        [sys.executable, "-c", "import time, sys; time.sleep(60)", marker],
        log=tmp_path / "log",
        cwd=tmp_path,
    )
    try:
        assert owned.alive()
        # a stranger's pid in our pid file (e.g. reused after a reboot) is not ours to kill
        stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        (tmp_path / "svc.pid").write_text(f"{stranger.pid}\n")
        assert owned.pid() is None
        assert not owned.stop()
        assert stranger.poll() is None
        stranger.kill()
        stranger.wait()
        (tmp_path / "svc.pid").write_text(f"{pid}\n")
        assert owned.stop(timeout_s=10)
        assert owned.pid() is None
    finally:
        subprocess.run(["kill", "-9", str(pid)], check=False, capture_output=True)


def test_status_of_a_stack_never_started(tmp_path: Path) -> None:
    statuses = Stack(Settings(home=tmp_path)).status()
    assert [s.name for s in statuses] == ["kafka", "registry", "clickhouse"]
    assert not any(s.running or s.healthy for s in statuses)
    assert json.dumps([s.as_dict() for s in statuses])
