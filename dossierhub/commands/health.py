"""``dossierhub health`` — is every component of the hub reachable? Non-zero exit if not."""

from __future__ import annotations

import argparse

from dossierhub.commands._output import print_json, print_table
from dossierhub.endpoints import Endpoints, check_kafka, check_registry
from dossierhub.errors import HubError
from dossierhub.settings import Settings, redact_url


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("health", help="check broker, registry and warehouse")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per check")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    endpoints = Endpoints.resolve(settings)
    checks: list[dict[str, object]] = []

    def record(component: str, target: str, run: object) -> None:
        try:
            detail = run() if callable(run) else run
            checks.append({"component": component, "target": target, "ok": True, "detail": detail})
        except HubError as exc:
            checks.append(
                {"component": component, "target": target, "ok": False, "detail": exc.one_line()}
            )

    record(
        "kafka",
        endpoints.kafka_bootstrap,
        lambda: f"{check_kafka(endpoints.kafka_bootstrap, args.timeout)} broker(s)",
    )
    record(
        "registry",
        endpoints.registry_url,
        lambda: f"{check_registry(endpoints.registry_url, args.timeout)} subject(s)",
    )
    record("warehouse", redact_url(endpoints.warehouse_url), lambda: _warehouse(endpoints))
    healthy = all(c["ok"] for c in checks)
    if args.format == "json":
        print_json({"healthy": healthy, "checks": checks})
    else:
        print_table(
            ["component", "ok", "target", "detail"],
            [[c["component"], c["ok"], c["target"], c["detail"]] for c in checks],
        )
    return 0 if healthy else 1


def _warehouse(endpoints: Endpoints) -> str:
    from sinks.warehouse import connect

    with connect(endpoints.warehouse_url) as warehouse:
        return f"{warehouse.backend} {warehouse.version()}"
