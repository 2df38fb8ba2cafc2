"""``dossierhub topics apply | list`` — the hub's Kafka topics, from ``schemas/topics.py``.

``apply`` is declarative and idempotent: it creates what is missing, adds partitions and pins
the declared configs, reports each topic as created / updated / unchanged, and exits 1 when a
topic cannot be brought in line (e.g. the declaration asks for fewer partitions than it has).
"""

from __future__ import annotations

import argparse

from dossierhub.commands._output import print_json, print_table
from dossierhub.endpoints import Endpoints
from dossierhub.settings import Settings
from schemas.admin import LISTED_CONFIGS, TopicAdmin, is_declared, replication_factor_for
from schemas.topics import all_topics, inbound_topic


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("topics", help="create and inspect the hub's Kafka topics")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    apply = actions.add_parser(
        "apply", help="create/update every declared topic (idempotent; never deletes)"
    )
    apply.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would change; Kafka validates the requests but applies nothing",
    )
    apply.add_argument(
        "--agency",
        action="append",
        default=[],
        metavar="CODE",
        help="also the inbound topic of this agency, e.g. 000.00.15.H29 (repeatable)",
    )
    apply.add_argument(
        "--replication-factor",
        type=int,
        metavar="N",
        help="replicas per partition (default: 3, or the number of brokers if fewer)",
    )
    apply.add_argument("--timeout", type=float, default=30.0, help="seconds per Kafka request")
    apply.add_argument("--format", choices=("table", "json"), default="table")
    apply.set_defaults(handler=_apply)

    listing = actions.add_parser("list", help="topics with partitions and key configs")
    listing.add_argument("--all", action="store_true", help="also topics the hub does not declare")
    listing.add_argument("--timeout", type=float, default=30.0, help="seconds per Kafka request")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=_list)


def _admin(args: argparse.Namespace, settings: Settings) -> TopicAdmin:
    return TopicAdmin(Endpoints.resolve(settings).kafka_config(), timeout_s=args.timeout)


def _apply(args: argparse.Namespace, settings: Settings) -> int:
    for code in args.agency:  # a typo in a code fails here, before anything is contacted
        inbound_topic(code)
    admin = _admin(args, settings)
    brokers = admin.broker_count()
    replication = replication_factor_for(brokers, args.replication_factor)
    results = admin.apply(all_topics(replication, args.agency), dry_run=args.dry_run)
    ok = all(r.ok for r in results)
    if args.format == "json":
        print_json(
            {
                "ok": ok,
                "dry_run": args.dry_run,
                "brokers": brokers,
                "replication_factor": replication,
                "topics": [r.as_dict() for r in results],
            }
        )
    else:
        rows = [
            [
                r.plan.spec.name,
                r.status,
                r.plan.spec.partitions,
                ", ".join(r.plan.changes()),
                "; ".join([*r.errors, *r.plan.warnings]),
            ]
            for r in results
        ]
        print_table(["topic", "status", "partitions", "changes", "problems"], rows)
        if args.dry_run:
            print("dry run: nothing was changed")
    return 0 if ok else 1


def _list(args: argparse.Namespace, settings: Settings) -> int:
    states = _admin(args, settings).describe()
    shown = [s for s in states.values() if args.all or is_declared(s.name)]
    if args.format == "json":
        records = [
            {
                "topic": s.name,
                "partitions": s.partitions,
                "replication_factor": s.replication_factor,
                "declared": is_declared(s.name),
                "config": {key: s.config.get(key, (None, False))[0] for key in LISTED_CONFIGS},
            }
            for s in shown
        ]
        print_json({"topics": records})
    else:
        print_table(
            ["topic", "partitions", "replicas", *LISTED_CONFIGS],
            [
                [s.name, s.partitions, s.replication_factor]
                + [s.config.get(key, (None, False))[0] for key in LISTED_CONFIGS]
                for s in shown
            ],
        )
    return 0
