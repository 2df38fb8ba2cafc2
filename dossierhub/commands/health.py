"""``dossierhub health`` — is every component of the hub reachable, is every consumer group
moving, is the dead-letter topic quiet? Non-zero exit if not."""

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
    parser.add_argument(
        "--group", action="append", metavar="G", help="check only these consumer groups"
    )
    parser.add_argument(
        "--max-dead-letters-per-minute",
        type=float,
        default=60.0,
        metavar="N",
        help="fail when hub.deadletter grew faster than this since the last check (default 60)",
    )
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
        lambda: f"{_brokers(endpoints, args.timeout)} broker(s)",
    )
    record(
        "registry",
        endpoints.registry_url,
        lambda: f"{check_registry(endpoints.registry_url, args.timeout)} subject(s)",
    )
    record("warehouse", redact_url(endpoints.warehouse_url), lambda: _warehouse(endpoints))
    if checks[0]["ok"]:  # Kafka answers: how are its consumers doing?
        checks.extend(_consumers(args, settings, endpoints))
    healthy = all(c["ok"] for c in checks)
    if args.format == "json":
        print_json({"healthy": healthy, "checks": checks})
    else:
        print_table(
            ["component", "ok", "target", "detail"],
            [[c["component"], c["ok"], c["target"], c["detail"]] for c in checks],
        )
    return 0 if healthy else 1


def _consumers(
    args: argparse.Namespace, settings: Settings, endpoints: Endpoints
) -> list[dict[str, object]]:
    from dossierhub.monitoring.health import dead_letter_check, group_checks
    from schemas.topics import DEADLETTER

    config = endpoints.kafka_config()
    try:
        found = group_checks(settings, config, args.group, args.timeout)
        found.append(
            dead_letter_check(
                settings,
                config,
                DEADLETTER,
                max_per_minute=args.max_dead_letters_per_minute,
                timeout_s=args.timeout,
            )
        )
    except HubError as exc:
        return [
            {
                "component": "consumers",
                "target": endpoints.kafka_bootstrap,
                "ok": False,
                "detail": exc.one_line(),
            }
        ]
    return [c.as_dict() for c in found]


def _warehouse(endpoints: Endpoints) -> str:
    """Reachable (through the running sink, for an embedded warehouse it holds) and migrated."""
    from sinks.warehouse import WarehouseError, connect
    from sinks.warehouse.migrate import migrations

    with connect(endpoints.warehouse_url, read_only=True) as warehouse:
        version = warehouse.version()
        try:
            rows = warehouse.query("SELECT DISTINCT version FROM schema_migrations")
        except WarehouseError:  # no ledger: never migrated
            rows = []
    done = {int(row[0]) for row in rows}
    missing = [f"{m.version:04d}_{m.name}" for m in migrations() if m.version not in done]
    if missing:
        raise HubError(
            f"warehouse {warehouse.backend} {version} is not migrated (missing "
            f"{', '.join(missing)}): run `dossierhub warehouse migrate`"
        )
    return f"{warehouse.backend} {version}, {len(done)} migrations applied"


def _brokers(endpoints: Endpoints, timeout_s: float) -> int:
    return check_kafka(endpoints.kafka_bootstrap, timeout_s, security=endpoints.kafka_security)
