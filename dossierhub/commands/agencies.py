"""``dossierhub agencies add | list | revoke | bootstrap`` — who may publish to the hub.

Needs the secured broker (``DOSSIERHUB_KAFKA_SECURITY=sasl``) and runs as the hub's admin
principal. Credentials are written under ``<home>/credentials/kafka`` (mode 600); commands
print the file's path, never the password.
"""

from __future__ import annotations

import argparse

from dossierhub.commands._output import print_json, print_table
from dossierhub.endpoints import Endpoints
from dossierhub.errors import ConfigError
from dossierhub.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "agencies", help="agency principals and ACLs on the secured broker (sasl mode)"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="create an agency's credential, inbound topic and ACLs (write to its own topic only)",
    )
    add.add_argument("code", metavar="CODE", help="electronic agency code, e.g. 000.00.15.H29")
    add.add_argument(
        "--replication-factor",
        type=int,
        metavar="N",
        help="of a new inbound topic (default: 3, or the number of brokers if fewer)",
    )
    add.set_defaults(handler=_add)
    revoke = actions.add_parser(
        "revoke", help="delete an agency's ACLs and credential (its topic and data stay)"
    )
    revoke.add_argument("code", metavar="CODE")
    revoke.set_defaults(handler=_revoke)
    listing = actions.add_parser("list", help="agencies with a credential or ACLs")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=_list)
    bootstrap = actions.add_parser(
        "bootstrap",
        help="(re)create the hub services' principals with their ACLs (stack up does it)",
    )
    bootstrap.set_defaults(handler=_bootstrap)


def _admin_config(settings: Settings) -> dict[str, object]:
    if settings.kafka_security != "sasl":
        raise ConfigError(
            "DOSSIERHUB_KAFKA_SECURITY",
            settings.kafka_security,
            "agency principals need the secured broker",
            hint="DOSSIERHUB_KAFKA_SECURITY=sasl dossierhub stack up (README, Security)",
        )
    return Endpoints.resolve(settings).kafka_config()


def _add(args: argparse.Namespace, settings: Settings) -> int:
    from dossierhub.security.acls import agency_acls
    from dossierhub.security.services import add_agency
    from schemas.admin import TopicAdmin, replication_factor_for

    acls = agency_acls(args.code)  # a malformed code fails before anything is contacted
    config = _admin_config(settings)
    replicas = replication_factor_for(TopicAdmin(config).broker_count(), args.replication_factor)
    principal, created = add_agency(settings.home, config, args.code, replication_factor=replicas)
    topic = next(a.name for a in acls if a.resource == "topic")
    print(f"agency {args.code}: principal User:{principal.user}, {principal.acls} ACLs")
    print(f"inbound topic {topic}: {'created' if created else 'already there'}")
    print(f"credentials (SCRAM-SHA-512, mode 600): {principal.credentials}")
    return 0


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    from dossierhub.security.services import revoke_agency

    deleted, had_credential = revoke_agency(settings.home, _admin_config(settings), args.code)
    print(
        f"agency {args.code}: {deleted} ACLs deleted, credential "
        f"{'deleted' if had_credential else 'not found'}"
    )
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from dossierhub.security.services import list_agencies

    entries = list_agencies(settings.home, _admin_config(settings))
    if args.format == "json":
        print_json([e.as_dict() for e in entries])
    else:
        print_table(
            ("agency", "principal", "credential", "ACLs"),
            [(e.code, f"User:{e.user}", e.has_credential, e.acls) for e in entries],
        )
    return 0


def _bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    from dossierhub.security.services import provision_services

    for result in provision_services(settings.home, _admin_config(settings)):
        print(f"User:{result.user}: {result.acls} ACLs, credentials {result.credentials}")
    return 0
