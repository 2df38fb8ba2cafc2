"""``dossierhub exporter`` — serves the lag of every consumer group on the cluster (ours or
not) as Prometheus metrics, in kafka-lag-exporter's names, at ``/metrics``."""

from __future__ import annotations

import argparse
import logging
import signal
import time

from dossierhub.commands._stopping import stop_requested
from dossierhub.endpoints import Endpoints
from dossierhub.errors import HubError
from dossierhub.monitoring import LagMetrics, LagMonitor, LagReader, policy_from
from dossierhub.monitoring.http import MetricsServer
from dossierhub.settings import Settings

_log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "exporter",
        help="serve consumer-group lag as Prometheus metrics (/metrics, /healthz)",
        description="Reads the lag of every consumer group (or those named) every --interval "
        "seconds and serves it at http://HOST:PORT/metrics; /healthz answers 503 while the "
        "last reading failed or is older than three intervals.",
    )
    parser.add_argument(
        "--host", help="address to listen on (default: DOSSIERHUB_HTTP_HOST, 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=9308, help="port (default 9308; 0: any)")
    parser.add_argument("--group", action="append", metavar="G", help="only this group (repeat)")
    parser.add_argument("--interval", type=float, default=10.0, metavar="S", help="poll period")
    parser.add_argument("--cluster-name", default="dossierhub", help="the cluster_name label")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per Kafka request")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    endpoints = Endpoints.resolve(settings)
    monitor = LagMonitor(
        LagReader(endpoints.kafka_config(), timeout_s=args.timeout),
        policy_from(settings),
        groups=args.group,
    )
    metrics = LagMetrics(args.cluster_name)
    last_ok = [0.0]

    def health() -> tuple[bool, str]:
        age = time.monotonic() - last_ok[0]
        if last_ok[0] and age <= 3 * args.interval:
            return True, f"last reading {age:.1f}s ago"
        return False, "no successful lag reading in the last three intervals"

    with (
        stop_requested(signal.SIGINT) as stop,
        MetricsServer(
            metrics.render, host=args.host or settings.http_host, port=args.port, health=health
        ) as server,
    ):
        # the URL on stdout, flushed: a supervisor (or a test) waits for this line
        print(f"exporter: serving {server.url}/metrics", flush=True)
        while not stop.is_set():
            started = time.monotonic()
            try:
                metrics.update(monitor.poll())
                last_ok[0] = time.monotonic()
            except HubError as exc:
                metrics.poll_errors.inc()
                _log.warning("lag reading failed: %s", exc.one_line())
            metrics.poll_seconds.set(time.monotonic() - started)
            stop.wait(max(0.0, args.interval - (time.monotonic() - started)))
    return 0
