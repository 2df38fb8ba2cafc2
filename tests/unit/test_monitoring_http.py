"""``/metrics`` and ``/healthz`` as Prometheus and a load balancer read them: from the small
HTTP server (exporter, sink) and from a Faust app's web server (processors), in-process on
loopback."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import faust
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from dossierhub.monitoring.faust_views import register_metrics_views
from dossierhub.monitoring.http import MetricsServer
from dossierhub.monitoring.metrics import CONTENT_TYPE, StageMetrics


def _families(text: str) -> set[str]:
    return {f.name for f in text_string_to_metric_families(text)}


def test_metrics_server_serves_metrics_and_health() -> None:
    metrics = StageMetrics()
    metrics.event_in("sink", 7)
    healthy = [True]
    with MetricsServer(
        metrics.render, health=lambda: (healthy[0], "ok" if healthy[0] else "no batch")
    ) as server:
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as response:
            assert response.headers["Content-Type"] == CONTENT_TYPE
            text = response.read().decode()
        assert "dossierhub_events_in" in _families(text)
        assert 'dossierhub_events_in_total{stage="sink"} 7.0' in text
        with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as response:
            assert json.loads(response.read()) == {"healthy": True, "reason": "ok"}
        healthy[0] = False
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"{server.url}/healthz", timeout=5)
        assert failed.value.code == 503
        assert json.loads(failed.value.read())["reason"] == "no batch"


def test_faust_app_serves_metrics_and_health() -> None:
    app = faust.App("test-metrics-views", broker="memory://", store="memory://")
    metrics = StageMetrics()
    metrics.dead_letter("validator", "undecodable", 2)
    register_metrics_views(app, metrics.render, health=lambda: (False, "lagging"))

    async def scrape() -> tuple[int, str, str, int]:
        async with TestClient(TestServer(app.web.web_app)) as client:
            page = await client.get("/metrics")
            health = await client.get("/healthz")
            return page.status, page.headers["Content-Type"], await page.text(), health.status

    status, content_type, text, health = asyncio.run(scrape())
    assert status == 200
    assert content_type == CONTENT_TYPE
    assert 'dossierhub_deadletter_total{reason="undecodable",stage="validator"} 2.0' in text
    assert health == 503
