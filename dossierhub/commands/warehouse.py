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
    rebuild = actions.add_parser(
        "rebuild",
        help="replay the topics from offset 0 into a fresh warehouse; compare it with the live one",
        description="Loads every sink topic from its first offset into --into (migrated first; "
        "it must hold no loaded ranges), then compares each data table with the live warehouse "
        "(row count and a checksum of the contents). Exit 1 if any table differs.",
    )
    rebuild.add_argument(
        "--into",
        required=True,
        metavar="URL",
        help="chdb:///path or clickhouse://user:password@host:port/database (created if missing)",
    )
    rebuild.add_argument("--format", choices=("table", "json"), default="table")
    rebuild.add_argument(
        "--route", action="append", default=[], metavar="TOPIC=CANONICAL", help=argparse.SUPPRESS
    )
    rebuild.set_defaults(handler=_rebuild)


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
    from dossierhub.stack.clickhouse import analyst_url
    from sinks.warehouse import connect
    from sinks.warehouse.readonly import read_only_query

    # read_only: while the hub holds an embedded warehouse, its loopback server answers; on a
    # server, as the read-only analyst user
    with connect(analyst_url(settings), read_only=True) as warehouse:
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


def _rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from dossierhub.commands.sink import parse_routes
    from sinks.rebuild import compare, fingerprints, rebuild
    from sinks.sink import SinkOptions
    from sinks.warehouse import connect

    _create_database(args.into)
    group = "dossierhub-rebuild-" + args.into.rstrip("/").rsplit("/", 1)[-1]
    options = SinkOptions.from_settings(settings, routes=parse_routes(args.route), group_id=group)
    stats = rebuild(settings, args.into, options)
    # one after the other: a process can hold only one chDB path at a time
    with connect(args.into) as rebuilt:
        rebuilt_tables = fingerprints(rebuilt)
    with connect(settings.effective_warehouse_url, read_only=True) as live:
        comparisons = compare(fingerprints(live), rebuilt_tables)
    if args.format == "json":
        print_json(
            {
                "into": redact_url(args.into),
                "loaded": stats.as_dict(),
                "tables": [c.as_dict() for c in comparisons],
            }
        )
    else:
        print_table(
            ("table", "live rows", "rebuilt rows", "equal"),
            [(c.table, c.live_rows, c.rebuilt_rows, c.equal) for c in comparisons],
        )
    return 0 if all(c.equal for c in comparisons) else 1


def _create_database(url: str) -> None:
    """A server URL's database is created if missing (chDB creates its path itself)."""
    from urllib.parse import urlsplit

    from sinks.warehouse import connect

    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    if parts.scheme != "clickhouse" or not database:
        return
    with connect(parts._replace(path="/default").geturl()) as server:
        server.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
