"""The Grafana dashboard in deploy/grafana/: well-formed, panels on the grid without overlap,
every query valid PromQL (promtool parses it) over series the hub exports, and provisioned."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO
from tests.monitoring_helpers import exported_series_names, names_in_expression

GRAFANA = REPO / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "dossierhub.json"
PANEL_TYPES = {"timeseries", "table", "stat"}
#: Grafana's variables, as a query Prometheus would receive them
_VARIABLES = {"$__rate_interval": "5m", "$cluster": ".*", "$group": ".*"}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def _targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for p in dashboard["panels"] for t in p["targets"]]


def _concrete(expr: str) -> str:
    for variable, value in _VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unknown variable in {expr!r}"
    return expr


def test_dashboard_has_what_grafana_needs(dashboard: dict[str, Any]) -> None:
    for key in ("uid", "title", "schemaVersion", "panels", "templating", "time"):
        assert key in dashboard, key
    assert re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"])
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables == {"datasource", "cluster", "group"}
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["type"] in PANEL_TYPES, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs, panel["title"]
        assert len(refs) == len(set(refs)), panel["title"]


def test_panels_sit_on_the_grid_without_overlapping(dashboard: dict[str, Any]) -> None:
    boxes = []
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        assert min(g["w"], g["h"]) > 0, panel["title"]
        assert min(g["x"], g["y"]) >= 0, panel["title"]
        assert g["x"] + g["w"] <= 24, panel["title"]
        boxes.append((panel["title"], g["x"], g["y"], g["x"] + g["w"], g["y"] + g["h"]))
    for (a, ax0, ay0, ax1, ay1), (b, bx0, by0, bx1, by1) in combinations(boxes, 2):
        assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, f"{a!r} overlaps {b!r}"


def test_dashboard_shows_what_operators_asked_for(dashboard: dict[str, Any]) -> None:
    used = set().union(*(names_in_expression(t["expr"]) for t in _targets(dashboard)))
    for wanted in (
        "kafka_consumergroup_group_sum_lag",  # lag per group
        "kafka_consumergroup_group_max_lag_seconds",  # time lag
        "dossierhub_events_in_total",  # throughput per stage
        "dossierhub_events_out_total",
        "dossierhub_warehouse_freshness_seconds",  # freshness
        "dossierhub_deadletter_total",  # DLQ
    ):
        assert wanted in used, wanted
    assert used - exported_series_names() == set()


def test_every_query_is_valid_promql(dashboard: dict[str, Any], tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: deploy/local/setup.sh installs Debian's prometheus")
    # promtool parses recording rules' expressions: one rule per panel query
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:q{i}", "expr": _concrete(t["expr"])}
                    for i, t in enumerate(_targets(dashboard))
                ],
            }
        ]
    }
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    done = subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_provisioning_points_at_the_dashboard_and_the_datasource() -> None:
    datasources = (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    assert "uid: dossierhub-prometheus" in datasources
    assert "type: prometheus" in datasources
    providers = (GRAFANA / "provisioning" / "dashboards" / "dossierhub.yml").read_text()
    assert "path: /var/lib/grafana/dashboards/dossierhub" in providers
    data = json.loads(DASHBOARD.read_text())
    (source,) = [v for v in data["templating"]["list"] if v["name"] == "datasource"]
    assert source["current"]["value"] == "dossierhub-prometheus"
