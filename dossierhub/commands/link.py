"""``dossierhub link add | list | sync`` — the warehouse's links to other databases (PostgreSQL).

A link is a PostgreSQL table imported into the warehouse incrementally (``sinks/link.py`` says
why an import and not a table function): ``add`` records it and creates ``link_<name>``,
``sync`` brings the rows changed since the last sync, ``list`` shows every link and its last
sync. ``sync --every SECONDS`` repeats until Ctrl-C / SIGTERM (or schedule ``link sync`` with
cron / a systemd timer).
"""

from __future__ import annotations

import argparse
import signal
import sys

from dossierhub.commands._output import print_json, print_table
from dossierhub.commands._stopping import stop_requested
from dossierhub.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "link", help="link other databases (PostgreSQL) into the warehouse: add, list, sync"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="record a link to a PostgreSQL table and create link_<NAME> in the warehouse",
        description="Reads the table's columns (raw personal-data columns are not imported), "
        "creates link_<NAME>_rows and the view link_<NAME> (one row per key, the newest), and "
        "records the link in the warehouse's `links` table. Nothing is imported until `sync`.",
    )
    add.add_argument("name", help="lower-case letters, digits and _; the view is link_<NAME>")
    add.add_argument(
        "--dsn",
        required=True,
        help="libpq URI or key=value string without a password (use ~/.pgpass or PGPASSFILE), "
        "e.g. postgresql://registry@db.example:5432/registry",
    )
    add.add_argument("--table", required=True, help="[schema.]table, e.g. business_registry")
    add.add_argument("--key", required=True, help="the column dossiers carry, e.g. id_hash")
    add.add_argument(
        "--watermark",
        default="updated_at",
        help="timestamp column the source sets on every change (default updated_at)",
    )
    add.add_argument("--format", choices=("table", "json"), default="table")
    add.set_defaults(handler=_add)
    listing = actions.add_parser("list", help="every link and its last sync")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=_list)
    sync = actions.add_parser(
        "sync", help="import the rows changed since the last sync (all links, or the named ones)"
    )
    sync.add_argument("names", nargs="*", metavar="NAME")
    sync.add_argument(
        "--every",
        type=float,
        metavar="SECONDS",
        help="sync again every SECONDS until Ctrl-C / SIGTERM (one line per sync)",
    )
    sync.add_argument("--format", choices=("table", "json"), default="table")
    sync.set_defaults(handler=_sync)


def _add(args: argparse.Namespace, settings: Settings) -> int:
    from sinks.link import add_link
    from sinks.warehouse import connect
    from sinks.warehouse.migrate import migrate

    with connect(settings.effective_warehouse_url) as warehouse:
        migrate(warehouse)
        link = add_link(
            warehouse,
            args.name,
            dsn=args.dsn,
            table=args.table,
            key=args.key,
            watermark=args.watermark,
        )
    summary = {
        "name": link.name,
        "view": link.view,
        "table": link.source_table,
        "key": link.key_column,
        "watermark_column": link.watermark_column,
        "columns": list(link.columns),
    }
    if args.format == "json":
        print_json(summary)
    else:
        print_table(("link", "view", "source", "key", "columns"), [
            (link.name, link.view, link.source_table, link.key_column, ", ".join(link.columns))
        ])  # fmt: skip
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from sinks.link import list_links
    from sinks.warehouse import connect

    with connect(settings.effective_warehouse_url, read_only=True) as warehouse:
        statuses = list_links(warehouse)
    if args.format == "json":
        print_json([s.as_dict() for s in statuses])
    else:
        print_table(
            ("link", "source", "key", "syncs", "last sync (UTC)", "watermark", "rows imported"),
            [
                (
                    s.link.name,
                    s.link.source_table,
                    s.link.key_column,
                    s.syncs,
                    s.last_synced_at or "never",
                    s.watermark or "-",
                    s.rows_imported,
                )
                for s in statuses
            ],
        )
    return 0


def _sync(args: argparse.Namespace, settings: Settings) -> int:
    from sinks.link import sync_all
    from sinks.warehouse import connect

    with (
        connect(settings.effective_warehouse_url) as warehouse,
        stop_requested(signal.SIGINT, signal.SIGTERM) as stop,
    ):
        while True:
            results = sync_all(warehouse, args.names)
            if args.format == "json":
                print_json([r.as_dict() for r in results])
            else:
                print_table(
                    ("link", "rows", "watermark", "seconds"),
                    [(r.name, r.rows, r.watermark or "-", f"{r.seconds:.2f}") for r in results],
                )
            sys.stdout.flush()
            if args.every is None or stop.wait(args.every):
                return 0
