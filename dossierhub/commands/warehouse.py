"""``dossierhub warehouse migrate | query`` — the ClickHouse warehouse (chDB or a server)."""

from __future__ import annotations

import argparse
import csv
import sys

from dossierhub.commands._output import print_json, print_table
from dossierhub.settings import Settings, redact_url


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("warehouse", help="migrate or query the ClickHouse warehouse")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    migrate = actions.add_parser(
        "migrate", help="apply the warehouse migrations not applied yet (idempotent)"
    )
    migrate.add_argument("--format", choices=("table", "json"), default="table")
    migrate.set_defaults(handler=_migrate)
    query = actions.add_parser(
        "query", help="run one read-only query (SELECT/WITH/SHOW/DESCRIBE) and print its rows"
    )
    query.add_argument("sql", help='e.g. "SELECT * FROM v_on_time_rate LIMIT 10"')
    query.add_argument("--format", choices=("table", "json", "csv"), default="table")
    query.set_defaults(handler=_query)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from sinks.warehouse import connect
    from sinks.warehouse.migrate import applied, migrate

    url = settings.effective_warehouse_url
    with connect(url) as warehouse:
        ran = migrate(warehouse)
        versions = applied(warehouse)
    applied_now = [f"{m.version:04d}_{m.name}" for m in ran]
    if args.format == "json":
        print_json(
            {"warehouse": redact_url(url), "applied_now": applied_now, "versions": sorted(versions)}
        )
    else:
        print_table(
            ("warehouse", "applied now", "versions"),
            [
                (
                    redact_url(url),
                    ", ".join(applied_now) or "(up to date)",
                    ", ".join(str(v) for v in sorted(versions)),
                )
            ],
        )
    return 0


def _query(args: argparse.Namespace, settings: Settings) -> int:
    from sinks.warehouse import connect
    from sinks.warehouse.readonly import read_only_query

    # read_only: while the hub holds an embedded warehouse, its loopback server answers
    with connect(settings.effective_warehouse_url, read_only=True) as warehouse:
        names, rows = read_only_query(warehouse, args.sql)
    if args.format == "json":
        print_json([dict(zip(names, row, strict=True)) for row in rows])
    elif args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(rows)
    else:
        print_table(names, rows)
    return 0
