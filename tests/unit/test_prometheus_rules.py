"""The Prometheus files in deploy/prometheus/: valid for promtool, the alert rules pass their
promtool unit tests, and they only refer to series the hub exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.monitoring_helpers import exported_series_names, names_in_expression

PROMETHEUS = REPO / "deploy" / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:  # not a skip: the rules would go untested without anyone noticing
        pytest.fail("promtool not found: deploy/local/setup.sh installs Debian's prometheus")
    return found


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=60, check=False)


def test_config_and_rules_are_valid(promtool: str) -> None:
    done = _run(promtool, "check", "config", "prometheus.yml", cwd=PROMETHEUS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 rules found" in done.stdout


def test_alert_rules_pass_their_promtool_tests(promtool: str) -> None:
    done = _run(promtool, "test", "rules", "tests/dossierhub.test.yml", cwd=PROMETHEUS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_a_promtool_test() -> None:
    rules = (PROMETHEUS / "rules" / "dossierhub.rules.yml").read_text()
    tests = (PROMETHEUS / "tests" / "dossierhub.test.yml").read_text()
    alerts = set(re.findall(r"^\s*- alert: (\w+)", rules, re.MULTILINE))
    tested = set(re.findall(r"^\s*alertname: (\w+)", tests, re.MULTILINE))
    assert len(alerts) == 8
    assert alerts == tested


def test_rules_refer_only_to_series_the_hub_exports() -> None:
    rules = (PROMETHEUS / "rules" / "dossierhub.rules.yml").read_text()
    expressions = re.findall(r"expr: \|?\s*\n?(.+?)\n\s+(?:for|labels):", rules, re.DOTALL)
    assert len(expressions) == 8
    used = set().union(*(names_in_expression(e) for e in expressions))
    assert {"kafka_consumergroup_group_max_lag_seconds", "dossierhub_deadletter_total"} <= used
    assert used - exported_series_names() == set()
