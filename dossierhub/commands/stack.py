"""``dossierhub stack up | down | status`` — the local Kafka, registry and ClickHouse."""

from __future__ import annotations

import argparse

from dossierhub.commands._output import print_json, print_table
from dossierhub.settings import Settings
from dossierhub.stack import SERVICE_NAMES, Stack, chdb_status


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("stack", help="run the local services")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, help_text in (
        ("up", "start the services (idempotent) and wait until they are ready"),
        ("down", "stop the services this stack started"),
        ("status", "show each service: running, healthy, pid, port, version, URL"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument(
            "--only",
            action="append",
            choices=SERVICE_NAMES,
            help="act on this service only (repeatable)",
        )
        if name == "status":
            action.add_argument("--format", choices=("table", "json"), default="table")
        action.set_defaults(handler=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    stack = Stack(settings)
    if args.action == "up":
        stack.up(args.only, progress=_say)
        return 0
    if args.action == "down":
        stack.down(args.only, progress=_say)
        return 0
    statuses = [s.as_dict() for s in stack.status(args.only)]
    if not args.only:
        statuses.append(chdb_status(settings))
    if args.format == "json":
        print_json({"home": str(settings.home), "services": statuses})
    else:
        print_table(
            ["service", "running", "healthy", "pid", "version", "url"],
            [
                [
                    s["name"],
                    s.get("running"),
                    s.get("healthy"),
                    s.get("pid"),
                    s.get("version"),
                    s.get("url"),
                ]
                for s in statuses
            ],
        )
    return 0 if all(s.get("healthy") for s in statuses) else 1


def _say(line: str) -> None:
    if line:
        print(line, flush=True)
