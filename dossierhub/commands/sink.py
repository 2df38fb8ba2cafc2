"""``dossierhub sink`` — load the hub's topics into the warehouse, exactly once."""

from __future__ import annotations

import argparse
import signal
import sys

from dossierhub.commands._output import print_json
from dossierhub.commands._stopping import stop_requested
from dossierhub.errors import HubError
from dossierhub.monitoring.http import MetricsServer
from dossierhub.settings import Settings
from sinks.sink import Sink, SinkOptions, SinkStats


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sink",
        help="load the canonical, derived and aggregate topics into the warehouse",
        description="Consumes the hub's topics in batches (DOSSIERHUB_SINK_BATCH_ROWS / "
        "_SECONDS) and loads them into DOSSIERHUB_WAREHOUSE_URL exactly once; migrates the "
        "warehouse first. Prints its counters as JSON when it stops.",
    )
    parser.add_argument(
        "--until-idle", action="store_true", help="stop once every partition is caught up"
    )
    parser.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="with --until-idle: fail after this long"
    )
    parser.add_argument(
        "--group", default=None, help="consumer group for the offset commits lag monitoring reads"
    )
    parser.add_argument(
        "--route",
        action="append",
        default=[],
        metavar="TOPIC=CANONICAL",
        help="read TOPIC into CANONICAL's table instead of the hub's topics (tests, replays; "
        "repeatable)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=9310,
        metavar="PORT",
        help="serve /metrics and /healthz on 127.0.0.1:PORT (default 9310, the port "
        "deploy/prometheus/prometheus.yml scrapes; 0 = a free one)",
    )
    parser.set_defaults(handler=_run)


def parse_routes(pairs: list[str]) -> dict[str, str] | None:
    from dossierhub.errors import ConfigError
    from sinks.tables import SINK_TOPICS

    routes: dict[str, str] = {}
    for pair in pairs:
        source, sep, canonical = pair.partition("=")
        if not sep or not source or canonical not in SINK_TOPICS:
            raise ConfigError(
                "--route", pair, f"expected TOPIC=CANONICAL with CANONICAL one of {SINK_TOPICS}"
            )
        routes[source] = canonical
    return routes or None


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from sinks.sink import DEFAULT_GROUP

    options = SinkOptions.from_settings(
        settings, routes=parse_routes(args.route), group_id=args.group or DEFAULT_GROUP
    )
    sink = Sink(settings, options)
    server = None
    try:
        server = MetricsServer(sink.metrics.render, host=settings.http_host, port=args.metrics_port)
        print(f"sink: metrics on {server.url}/metrics", file=sys.stderr)
    except HubError as exc:  # loading matters more than being watched: say so, go on
        print(f"sink: warning: no /metrics: {exc.one_line()}", file=sys.stderr)
    try:
        stats = _load(sink, args)
    finally:
        if server is not None:
            server.close()
    print_json(stats.as_dict())
    return 0


def _load(sink: Sink, args: argparse.Namespace) -> SinkStats:
    if args.until_idle:
        return sink.run_until_idle(timeout_s=args.timeout)

    def say(signum: int) -> None:
        print(f"sink: signal {signum}, stopping after the current batch", file=sys.stderr)

    with stop_requested(signal.SIGTERM, signal.SIGINT, say=say) as stop:
        return sink.run(stop)
