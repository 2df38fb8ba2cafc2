"""``/metrics`` and ``/healthz`` on a Faust worker's own web server.

The processors call :func:`register_metrics_views` once, after building their ``faust.App``;
the pages are then served wherever that app's web server listens (127.0.0.1:``web_port``).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import faust
from faust.web import Request, Response, View

from .http import Health
from .metrics import CONTENT_TYPE

__all__ = ["register_metrics_views"]


def register_metrics_views(
    app: faust.App,
    render: Callable[[], bytes],
    *,
    health: Health = lambda: (True, "ok"),
) -> None:
    """Serve ``render()`` (e.g. ``StageMetrics().render``) at ``/metrics`` and ``health()`` at
    ``/healthz`` (200, or 503 with the reason)."""

    # aiohttp refuses a charset inside content_type=, so the exposition's full Content-Type
    # (which carries one) goes in as a header
    headers = {"Content-Type": CONTENT_TYPE}

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(render(), headers=dict(headers))

    @app.page("/healthz")
    class Healthz(View):
        async def get(self, request: Request) -> Response:
            ok, reason = health()
            body = json.dumps({"healthy": ok, "reason": reason}).encode()
            return self.bytes(
                body, status=200 if ok else 503, headers={"Content-Type": "application/json"}
            )
